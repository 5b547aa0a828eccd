/**
 * Live migration on a 2-node `cairn up` cluster, driven with the real kubectl and `cairn vm`: a
 * VirtualMachine booted from a containerDisk (its disk copied to the target over NBD while memory
 * streams between the node namespaces) moves to the other node with `cairn vm migrate`, keeping
 * its pod IP and an open HTTP stream from a client pod on the node it left; the data it wrote to
 * its disk is there after the move, and its serial console's tick counter goes on (no reboot); QEMU's
 * downtime is reported; `kubectl drain` of its new node (evictionStrategy
 * LiveMigrate) moves it back instead of stopping it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { CONTAINER_DISK, DISK_MARK_CGIS, fetchFromPod, importContainerDisk, waitVmiRunning, type VmiJson, userDataBlock } from '../support/virt.js';
import { until } from '../support/until.js';

const NS = 'mig';
const MIGRATION_MS = 300_000;

let cluster: CairnCluster;

const USER_DATA = `#cloud-config
write_files:
- path: /www/cgi-bin/ticks
  permissions: '0755'
  content: |
    #!/bin/sh
    echo "Content-Type: text/plain"
    echo
    i=0
    while true; do echo "tick $i"; i=$((i+1)); sleep 1; done
${DISK_MARK_CGIS}`;

const vmManifest = () => `
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: mover
spec:
  runStrategy: Always
  template:
    metadata:
      labels:
        app: mover
    spec:
      evictionStrategy: LiveMigrate
      domain:
        memory:
          guest: 96Mi
        devices:
          disks:
          - name: root
            disk:
              bus: virtio
          - name: cloudinit
            disk:
              bus: virtio
      volumes:
      - name: root
        containerDisk:
          image: ${CONTAINER_DISK}
          imagePullPolicy: IfNotPresent
      - name: cloudinit
        cloudInitNoCloud:
          userData: |
${userDataBlock(USER_DATA)}
`;

interface MigratingVmi extends VmiJson {
  status?: VmiJson['status'] & { migrationState?: { completed?: boolean; failed?: boolean; sourceNode?: string; targetNode?: string; targetPod?: string; migrationUid?: string }; migrationMethod?: string };
}

const getVmi = async () => JSON.parse(await cluster.ok(['get', 'vmi', '-n', NS, 'mover', '-o', 'json'])) as MigratingVmi;

const fetchFromClient = (url: string) => fetchFromPod(cluster, NS, 'client', url);

/** The ticks the client pod's open HTTP stream has received so far (`tick N` lines), and whether wget ended. */
async function ticks(): Promise<{ last: number; count: number; ended: boolean }> {
  const out = await cluster.ok(['exec', '-n', NS, 'client', '--', 'cat', '/tmp/ticks']);
  const nums = [...out.matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1]));
  return { last: nums.at(-1) ?? -1, count: nums.length, ended: /^wget-exit/m.test(out) };
}

async function migrationOf(uid?: string): Promise<{ phase?: string; name: string }> {
  const list = JSON.parse(await cluster.ok(['get', 'vmim', '-n', NS, '-o', 'json'])) as { items: { metadata: { name: string; uid: string }; status?: { phase?: string } }[] };
  const m = uid ? list.items.find((i) => i.metadata.uid === uid) : list.items.at(-1);
  return { phase: m?.status?.phase, name: m?.metadata.name ?? '' };
}

async function waitMigrated(from: string, why: string): Promise<MigratingVmi> {
  return until(
    why,
    async () => {
      const v = await getVmi();
      const ms = v.status?.migrationState;
      if (ms?.failed) assert.fail(`the migration failed: ${JSON.stringify(ms)}`);
      return v.status?.phase === 'Running' && ms?.completed && v.status.nodeName !== from && (await migrationOf(ms.migrationUid)).phase === 'Succeeded' ? v : undefined;
    },
    MIGRATION_MS,
    1000,
  );
}

describe('live migration', { timeout: 1_500_000 }, () => {
  before(async () => {
    cluster = await upCluster({ nodes: 2, label: 'vmmig' });
    await cluster.ok(['create', 'namespace', NS]);
    await importContainerDisk(cluster);
  });

  after(async () => {
    await cluster?.down();
  });

  it('cairn vm migrate moves a running VM to the other node: same IP, an open TCP stream goes on, its disk data is there', async () => {
    await cluster.ok(['apply', '-n', NS, '-f', '-'], { input: vmManifest() });
    const v = await waitVmiRunning(cluster, NS, 'mover');
    const source = v.status!.nodeName!;
    const ip = v.status!.interfaces![0]!.ipAddress!;
    await until('LiveMigratable=True', async () => (await getVmi()).status?.conditions?.find((c) => c.type === 'LiveMigratable')?.status === 'True', 60_000, 1000);

    // A client on the node the VM leaves: after the move its packets cross to the other node.
    const client = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'client', namespace: NS },
      spec: { nodeName: source, restartPolicy: 'Never', containers: [{ name: 'c', image: cluster.busybox, command: ['sleep', '3600'] }] },
    };
    await cluster.ok(['apply', '-f', '-'], { input: JSON.stringify(client) });
    await cluster.ok(['wait', '-n', NS, '--for=condition=Ready', 'pod/client', '--timeout=120s']);
    const mark = `m${Date.now()}`;
    assert.equal((await fetchFromClient(`http://${ip}/cgi-bin/mark?${mark}`)).trim(), mark);
    // The open stream: one HTTP response that never ends, a line a second.
    await cluster.ok(['exec', '-n', NS, 'client', '--', 'sh', '-c', `(wget -qO- http://${ip}/cgi-bin/ticks > /tmp/ticks 2>&1; echo wget-exit $? >> /tmp/ticks) > /dev/null 2>&1 &`]);
    const streaming = await until('ticks arriving', async () => ((await ticks()).count >= 3 ? await ticks() : undefined), 60_000, 1000);

    const r = await cluster.cairn('vm', 'migrate', 'mover', '-n', NS, '--kubeconfig', cluster.kubeconfig);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /was scheduled to migrate/);
    const moved = await waitMigrated(source, 'the VMI migrated to the other node');
    const target = moved.status!.nodeName!;
    assert.notEqual(target, source);
    assert.equal(moved.status!.migrationState!.sourceNode, source);
    assert.equal(moved.status!.migrationState!.targetNode, target);
    assert.equal(moved.status!.interfaces![0]!.ipAddress, ip, 'the VM keeps its pod IP');
    assert.equal(moved.metadata.uid, v.metadata.uid, 'the same VMI');
    assert.equal(moved.status!.migrationMethod, 'BlockMigration', 'the containerDisk was copied');

    // The launcher pods: the source ended cleanly, the target runs on the other node.
    const pods = JSON.parse(await cluster.ok(['get', 'pods', '-n', NS, '-l', 'vm.kubevirt.io/name=mover', '-o', 'json'])) as { items: { metadata: { name: string }; spec: { nodeName: string }; status: { phase: string } }[] };
    const targetPod = pods.items.find((p) => p.metadata.name === moved.status!.migrationState!.targetPod);
    assert.equal(targetPod?.spec.nodeName, target);
    assert.equal(targetPod?.status.phase, 'Running');
    await until('the source launcher pod Succeeded', async () => {
      const p = JSON.parse(await cluster.ok(['get', 'pods', '-n', NS, '-l', 'vm.kubevirt.io/name=mover', '-o', 'json'])) as typeof pods;
      return p.items.find((x) => x.spec.nodeName === source)?.status.phase === 'Succeeded';
    }, 120_000, 1000);

    // The stream never broke: the same wget still receives ticks, counting on from before.
    const afterMove = await until('ticks after the move', async () => {
      const t = await ticks();
      return t.last >= streaming.last + 5 ? t : undefined;
    }, 120_000, 1000);
    assert.equal(afterMove.ended, false, 'the client\'s connection is still open');
    assert.equal(afterMove.count, afterMove.last + 1, 'no tick lost or repeated');
    // What the guest wrote to its disk before the move, read from the disk (caches dropped) after it.
    assert.equal((await fetchFromClient(`http://${ip}/cgi-bin/read-mark`)).trim(), mark);

    const table = await cluster.ok(['get', 'vmim', '-n', NS]);
    assert.match(table, /^NAME\s+PHASE\s+VMI/m);
    assert.match(table, /\s+Succeeded\s+mover$/m);
    // The source node reports QEMU's own figures.
    const events = await cluster.ok(['get', 'events', '-n', NS, '--field-selector', `involvedObject.uid=${v.metadata.uid},reason=Migrated`]);
    const figures = /migrated to node (\S+)\. \(downtime (\d+) ms, total (\d+) ms\)/.exec(events);
    assert.ok(figures, events);
    assert.equal(figures[1], target);
    console.log(`# migration ${source} → ${target}: QEMU downtime ${figures[2]} ms, total ${figures[3]} ms`);

    // The guest never rebooted: the target QEMU's serial console shows the tick counter going on, no init.
    const qemu = execFileSync('pgrep', ['-f', `guest=${NS}_mover,`], { encoding: 'utf8' }).trim().split('\n');
    assert.equal(qemu.length, 1, 'one QEMU left: the source has quit');
    const serial = readFileSync(`/proc/${qemu[0]}/root/var/run/kubevirt-private/serial.log`, 'utf8');
    const serialTicks = [...serial.matchAll(/cairn-guest: tick (\d+)/g)].map((m) => Number(m[1]));
    assert.ok(serialTicks.length > 0 && serialTicks[0]! > 5, `the target's console goes on counting: ${serialTicks.slice(0, 3).join(', ')}`);
    assert.doesNotMatch(serial, /cairn-guest: init/);
  });

  it('kubectl drain of the VM\'s node migrates it away (evictionStrategy LiveMigrate) instead of stopping it', async () => {
    const v = await getVmi();
    const node = v.status!.nodeName!;
    const ip = v.status!.interfaces![0]!.ipAddress!;
    const before = await ticks();
    try {
      await cluster.ok(['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--pod-selector', 'kubevirt.io=virt-launcher', '--timeout', `${MIGRATION_MS / 1000}s`], { timeoutMs: MIGRATION_MS + 30_000 });
      const moved = await waitMigrated(node, 'the VMI migrated off the drained node');
      assert.equal(moved.metadata.uid, v.metadata.uid, 'the same VMI: migrated, not restarted');
      assert.equal(moved.status!.interfaces![0]!.ipAddress, ip);
      const evac = await cluster.ok(['get', 'vmim', '-n', NS, '-o', 'name']);
      assert.match(evac, /kubevirt-evacuation-/);
      const t = await until('ticks after the drain', async () => {
        const x = await ticks();
        return x.last >= before.last + 5 ? x : undefined;
      }, 120_000, 1000);
      assert.equal(t.ended, false);
      assert.equal(t.count, t.last + 1, 'no tick lost or repeated');
    } finally {
      await cluster.ok(['uncordon', node]);
    }
  });
});
