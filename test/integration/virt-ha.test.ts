/**
 * VM high availability on a 3-node `cairn up` cluster with `cairn ceph up`, through the real
 * kubectl: a VirtualMachine (runStrategy Always) booting from a Ceph RBD DataVolume (ReadWriteMany
 * Block, reached through librbd on every node)
 *  1. live-migrates without copying its disk (migrationMethod LiveMigration): what the guest wrote
 *     before is there after, and its console's tick counter goes on;
 *  2. loses its node (network cut, then every process of the node killed: agent, QEMU, its OSD):
 *     the node goes NotReady and the VM stays put — nothing may start a second writer on its
 *     disk while the old one might run; once the node is declared lost with the non-graceful
 *     shutdown taint (`node.kubernetes.io/out-of-service`), the pod GC force-deletes the launcher,
 *     the VMI fails (NodeUnresponsive) and a new one boots on the surviving node, reading what
 *     the guest wrote before the loss.
 * The VM keeps off node-1, which carries Ceph's only monitor, so the loss leaves the mon and two
 * of three OSDs (pools size 3, min_size 2): Ceph goes on serving I/O.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { loseNode } from '../support/node-loss.js';
import { until } from '../support/until.js';
import { DISK_MARK_CGIS, fetchFromPod, type GuestDiskServer, serveGuestDisk, VM_BOOT_MS, type VmiJson, waitVmiRunning, userDataBlock } from '../support/virt.js';

const NS = 'ha';
const VM = 'ha';
/** Ceph's mon and mgr run on node-1: the VM never does, so losing its node never loses them. */
const MON_NODE = 'node-1';

const USER_DATA = `#cloud-config
write_files:
${DISK_MARK_CGIS}`;

const vmManifest = (base: string) => `
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: ${VM}
spec:
  runStrategy: Always
  dataVolumeTemplates:
  - metadata:
      name: ${VM}-root
    spec:
      source:
        http:
          url: ${base}/disk.qcow2
      storage:
        storageClassName: ceph-rbd
        resources:
          requests:
            storage: 64Mi
  template:
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions:
              - key: kubernetes.io/hostname
                operator: NotIn
                values: [${MON_NODE}]
      domain:
        memory:
          guest: 128Mi
        devices:
          disks:
          - name: root
            disk:
              bus: virtio
          # A read-only CD-ROM: made again on the target, so no disk of this VM is copied.
          - name: cloudinit
            cdrom:
              bus: sata
      volumes:
      - name: root
        dataVolume:
          name: ${VM}-root
      - name: cloudinit
        cloudInitNoCloud:
          userData: |
${userDataBlock(USER_DATA)}
`;

interface HaVmi extends VmiJson {
  status?: VmiJson['status'] & { reason?: string; migrationMethod?: string; migrationState?: { completed?: boolean; failed?: boolean; migrationUid?: string; sourceNode?: string; targetNode?: string } };
}

let cluster: CairnCluster;
let disk: GuestDiskServer;

const getVmi = async () => JSON.parse(await cluster.ok(['get', 'vmi', '-n', NS, VM, '-o', 'json'])) as HaVmi;
const ipOf = (v: VmiJson) => v.status!.interfaces![0]!.ipAddress!;
const fromClient = (url: string) => fetchFromPod(cluster, NS, 'client', url);

/** The serial console of the guest's one QEMU: `tick N` numbers, and whether it booted there. */
function guestConsole(): { ticks: number[]; booted: boolean } {
  const pids = execFileSync('pgrep', ['-f', `guest=${NS}_${VM},`], { encoding: 'utf8' }).trim().split('\n');
  assert.equal(pids.length, 1, `one QEMU runs the guest: ${pids.join(', ')}`);
  const serial = readFileSync(`/proc/${pids[0]}/root/var/run/kubevirt-private/serial.log`, 'utf8');
  return { ticks: [...serial.matchAll(/cairn-guest: tick (\d+)/g)].map((m) => Number(m[1])), booted: /cairn-guest: init/.test(serial) };
}

async function vmimPhase(uid: string): Promise<string | undefined> {
  const list = JSON.parse(await cluster.ok(['get', 'vmim', '-n', NS, '-o', 'json'])) as { items: { metadata: { uid: string }; status?: { phase?: string } }[] };
  return list.items.find((m) => m.metadata.uid === uid)?.status?.phase;
}

describe('VM high availability on Ceph', { timeout: 1_500_000 }, () => {
  before(async () => {
    cluster = await upCluster({ nodes: 3, label: 'virtha' });
    const ceph = await cluster.cairn('ceph', 'up', '--data-dir', cluster.dir);
    assert.equal(ceph.code, 0, `cairn ceph up:\n${ceph.stdout}\n${ceph.stderr}`);
    await cluster.ok(['create', 'namespace', NS]);
    disk = await serveGuestDisk(cluster);
    // The client reaching the guest lives beside the mon: it survives every node loss here.
    const client = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', namespace: NS }, spec: { nodeName: MON_NODE, containers: [{ name: 'c', image: cluster.busybox, command: ['sleep', '3600'] }] } };
    await cluster.ok(['apply', '-f', '-'], { input: JSON.stringify(client) });
  });

  after(async () => {
    await disk?.close();
    await cluster?.down();
  });

  it('live-migrates a VM whose disk is a Ceph RBD claim without copying the disk', async () => {
    await cluster.ok(['apply', '-n', NS, '-f', '-'], { input: vmManifest(disk.base) });
    const pvc = await until('the DataVolume\'s claim', async () => {
      const r = await cluster.kubectl(['get', 'pvc', '-n', NS, `${VM}-root`, '-o', 'json']);
      return r.code === 0 && (JSON.parse(r.stdout) as { spec: { accessModes: string[]; volumeMode: string; storageClassName: string } });
    }, 60_000, 1000);
    assert.deepEqual([pvc.spec.storageClassName, pvc.spec.accessModes, pvc.spec.volumeMode], ['ceph-rbd', ['ReadWriteMany'], 'Block']);
    const v = await waitVmiRunning(cluster, NS, VM);
    const source = v.status!.nodeName!;
    assert.notEqual(source, MON_NODE);
    await until('LiveMigratable=True', async () => (await getVmi()).status?.conditions?.find((c) => c.type === 'LiveMigratable')?.status === 'True', 60_000, 1000);
    const mark = `before-migration-${Date.now()}`;
    assert.equal((await fromClient(`http://${ipOf(v)}/cgi-bin/mark?${mark}`)).trim(), mark);
    const ticksBefore = guestConsole().ticks.at(-1) ?? 0;

    const r = await cluster.cairn('vm', 'migrate', VM, '-n', NS, '--kubeconfig', cluster.kubeconfig);
    assert.equal(r.code, 0, r.stderr);
    const moved = await until(
      'the VMI migrated',
      async () => {
        const x = await getVmi();
        const ms = x.status?.migrationState;
        if (ms?.failed) assert.fail(`the migration failed: ${JSON.stringify(ms)}`);
        return ms?.completed && x.status?.nodeName !== source && (await vmimPhase(ms.migrationUid!)) === 'Succeeded' ? x : undefined;
      },
      VM_BOOT_MS,
      1000,
    );
    assert.equal(moved.metadata.uid, v.metadata.uid, 'the same VMI');
    assert.equal(moved.status!.migrationMethod, 'LiveMigration', 'the shared disk is not copied (no block migration)');
    assert.notEqual(moved.status!.nodeName, MON_NODE);
    assert.equal((await fromClient(`http://${ipOf(moved)}/cgi-bin/read-mark`)).trim(), mark, 'what the guest wrote before the move');
    // The target's QEMU never booted the guest: its console counts on from the source's.
    const after_ = await until('ticks on the target', () => (guestConsole().ticks.length ? guestConsole() : undefined), 60_000, 1000);
    assert.equal(after_.booted, false);
    assert.ok(after_.ticks[0]! >= ticksBefore, `ticks go on: ${ticksBefore} then ${after_.ticks[0]}`);
  });

  it('a lost node\'s VM comes back on another node once the node is declared out of service, with its disk data', async () => {
    const v = (await waitVmiRunning(cluster, NS, VM)) as HaVmi;
    const victim = v.status!.nodeName!;
    const mark = `before-loss-${Date.now()}`;
    assert.equal((await fromClient(`http://${ipOf(v)}/cgi-bin/mark?${mark}`)).trim(), mark);
    const uptimeTicks = guestConsole().ticks.at(-1)!;

    const lost = await loseNode(cluster, victim);
    assert.ok(lost.killed.length > 0);
    await until(`${victim} NotReady`, async () => {
      const n = await cluster.json<{ status: { conditions: { type: string; status: string }[] } }>(['get', 'node', victim]);
      return n.status.conditions.find((c) => c.type === 'Ready')?.status === 'Unknown';
    }, 120_000, 1000);
    // Not yet declared lost: nothing may start a second writer on the disk.
    await new Promise((r) => setTimeout(r, 5000));
    const waiting = await getVmi();
    assert.equal(waiting.metadata.uid, v.metadata.uid);
    assert.equal(waiting.status?.phase, 'Running', 'the VMI stays while its launcher pod may still run');

    await cluster.ok(['taint', 'node', victim, 'node.kubernetes.io/out-of-service=nodeshutdown:NoExecute']);
    const again = (await waitVmiRunning(cluster, NS, VM, v.metadata.uid)) as HaVmi;
    const survivor = again.status!.nodeName!;
    assert.ok(survivor !== victim && survivor !== MON_NODE, `restarted on ${survivor}`);

    const events = await cluster.ok(['get', 'events', '-n', NS, '--field-selector', `involvedObject.uid=${v.metadata.uid},reason=NodeUnresponsive`]);
    assert.match(events, new RegExp(`virt-handler on node ${victim} is not responsive, marking VMI as failed`));
    const pods = JSON.parse(await cluster.ok(['get', 'pods', '-n', NS, '-l', `vm.kubevirt.io/name=${VM}`, '-o', 'json'])) as { items: { spec: { nodeName: string } }[] };
    assert.deepEqual(pods.items.map((p) => p.spec.nodeName), [survivor], 'the lost node\'s launcher pod was force-deleted');

    assert.equal((await fromClient(`http://${ipOf(again)}/cgi-bin/read-mark`)).trim(), mark, 'what the guest wrote before its node was lost');
    const fresh = await until('ticks on the new QEMU', () => (guestConsole().ticks.length ? guestConsole() : undefined), 60_000, 1000);
    assert.equal(fresh.booted, true, 'the guest booted again');
    assert.equal(fresh.ticks[0], 1, `its tick counter started over (it was at ${uptimeTicks})`);
  });
});
