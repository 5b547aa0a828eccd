/**
 * A live migration whose target node dies mid-way, on a 3-node `cairn up` cluster, seen with the
 * real kubectl: a VM (containerDisk, copied over NBD) migrates under a MigrationPolicy slow enough
 * to be mid-stream when the target node loses power (test/support/node-loss.ts: its link cut
 * first, so the source sees the stream stop — no FIN, no RST — then every process of it killed).
 * The source gives up on the silent peer, cancels and reports: the VMIM is Failed with the
 * source's reason, the VMI Running on the source with migrationState failed/completed/
 * endTimestamp, the guest never stopped (its console's ticks go on, no second boot), and its pod
 * IP still answers — from a pod on the source node and from one on the third node, whose agent
 * routes it to the source. The target pod left on the dead node blocks nothing: a second migration goes to the
 * third node and Succeeds, keeping the IP. A pod IP handoff claim the dead node could not withdraw
 * goes once its pod is gone.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { loseNode } from '../support/node-loss.js';
import { CONTAINER_DISK, fetchFromPod, importContainerDisk, waitVmiRunning, type VmiJson, userDataBlock } from '../support/virt.js';
import { until } from '../support/until.js';

const NS = 'migfault';
const VM = 'survivor';
const MIGRATION_MS = 240_000;

let cluster: CairnCluster;

const USER_DATA = `#cloud-config
write_files:
- path: /www/cgi-bin/alive
  permissions: '0755'
  content: |
    #!/bin/sh
    echo "Content-Type: text/plain"
    echo
    echo "alive $(cat /proc/uptime)"
`;

// 1 MiB/s for 96 MiB of guest memory: a minute or more of streaming, time to pull the plug.
const POLICY = `
apiVersion: migrations.kubevirt.io/v1alpha1
kind: MigrationPolicy
metadata:
  name: migfault-slow
spec:
  bandwidthPerMigration: 1Mi
  selectors:
    virtualMachineInstanceSelector:
      migration: slow
`;

const vmManifest = () => `
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: ${VM}
spec:
  runStrategy: Always
  template:
    metadata:
      labels:
        migration: slow
    spec:
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

const vmim = (name: string) => JSON.stringify({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name, namespace: NS }, spec: { vmiName: VM } });

interface MigrationState {
  migrationUid?: string;
  sourceNode?: string;
  targetNode?: string;
  targetPod?: string;
  startTimestamp?: string;
  endTimestamp?: string;
  completed?: boolean;
  failed?: boolean;
  failureReason?: string;
}
interface Vmi extends VmiJson {
  status?: VmiJson['status'] & { migrationState?: MigrationState };
}
interface Vmim {
  metadata: { name: string; uid: string };
  status?: { phase?: string; migrationState?: MigrationState };
}
interface PodJson {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status: { phase?: string };
}

const HANDOFFS = 'cairn.io/pod-ip-handoffs';
const handoffsOf = async (node: string) => cluster.ok(['get', 'node', node, '-o', `jsonpath={.metadata.annotations.cairn\\.io/pod-ip-handoffs}`]);

const getVmi = async () => JSON.parse(await cluster.ok(['get', 'vmi', '-n', NS, VM, '-o', 'json'])) as Vmi;
const getVmim = async (name: string) => JSON.parse(await cluster.ok(['get', 'vmim', '-n', NS, name, '-o', 'json'])) as Vmim;

/** The guest's console ticks (`cairn-guest: tick N`) and boots, read from its (one remaining) QEMU's serial log. */
function consoleOf(): { ticks: number[]; boots: number } {
  const pids = execFileSync('pgrep', ['-f', `guest=${NS}_${VM},`], { encoding: 'utf8' }).trim().split('\n');
  assert.equal(pids.length, 1, `one QEMU of the VM runs: ${pids.join(', ')}`);
  const serial = readFileSync(`/proc/${pids[0]}/root/var/run/kubevirt-private/serial.log`, 'utf8');
  return { ticks: [...serial.matchAll(/cairn-guest: tick (\d+)/g)].map((m) => Number(m[1])), boots: [...serial.matchAll(/cairn-guest: init/g)].length };
}

/** A busybox pod pinned to `node` to fetch from. */
async function clientOn(name: string, node: string): Promise<void> {
  await cluster.ok(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS }, spec: { nodeName: node, restartPolicy: 'Never', terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: cluster.busybox, command: ['sleep', '3600'] }] } }) });
  await cluster.ok(['wait', '-n', NS, '--for=condition=Ready', `pod/${name}`, '--timeout=120s']);
}

describe('a migration whose target node dies', { timeout: 900_000 }, () => {
  before(async () => {
    cluster = await upCluster({ nodes: 3, label: 'migfault' });
    await cluster.ok(['create', 'namespace', NS]);
    await importContainerDisk(cluster);
  });

  after(async () => {
    await cluster?.down();
  });

  it('fails, the VM runs on at the source with its IP; a later migration to the third node succeeds', async () => {
    await cluster.ok(['apply', '-f', '-'], { input: POLICY });
    await cluster.ok(['apply', '-n', NS, '-f', '-'], { input: vmManifest() });
    const v = await waitVmiRunning(cluster, NS, VM);
    const source = v.status!.nodeName!;
    const ip = v.status!.interfaces![0]!.ipAddress!;
    await until('LiveMigratable=True', async () => (await getVmi()).status?.conditions?.find((c) => c.type === 'LiveMigratable')?.status === 'True', 60_000, 1000);
    await clientOn('at-source', source);
    assert.match(await fetchFromPod(cluster, NS, 'at-source', `http://${ip}/cgi-bin/alive`), /^alive /);

    // The first migration, mid-stream: the target has published its ports and the source streams.
    await cluster.ok(['create', '-f', '-'], { input: vmim('to-die') });
    const running = await until(
      'migration to-die Running',
      async () => {
        const m = await getVmim('to-die');
        if (m.status?.phase === 'Failed' || m.status?.phase === 'Succeeded') assert.fail(`migration to-die ended before the node was lost: ${JSON.stringify(m.status)}`);
        return m.status?.phase === 'Running' ? m : undefined;
      },
      MIGRATION_MS,
      1000,
    );
    const target = running.status!.migrationState!.targetNode!;
    assert.notEqual(target, source);
    const targetPod = JSON.parse(await cluster.ok(['get', 'pod', '-n', NS, running.status!.migrationState!.targetPod!, '-o', 'json'])) as PodJson;
    assert.equal(targetPod.spec.nodeName, target);
    const third = ['node-1', 'node-2', 'node-3'].find((n) => n !== source && n !== target)!;
    // Some streaming first (the disk mirror, then memory at 1 MiB/s).
    await new Promise((r) => setTimeout(r, 5000));
    assert.equal((await getVmim('to-die')).status?.phase, 'Running', 'still migrating when the node goes');

    const lost = await loseNode(cluster, target);
    const lostAt = Date.now();
    assert.ok(lost.killed.length > 0, 'the target node had processes');

    // The source notices the silent target, cancels and reports; the controller fails the VMIM.
    const failed = await until(
      'migration to-die Failed',
      async () => {
        const m = await getVmim('to-die');
        if (m.status?.phase === 'Succeeded') assert.fail('the migration to a dead node succeeded');
        return m.status?.phase === 'Failed' ? m : undefined;
      },
      180_000,
      1000,
    );
    console.log(`# target ${target} lost mid-migration: VMIM Failed ${((Date.now() - lostAt) / 1000).toFixed(1)} s later (${failed.status?.migrationState?.failureReason})`);
    assert.match(await cluster.ok(['get', 'vmim', '-n', NS, 'to-die']), /\s+Failed\s+survivor/);
    const after1 = await getVmi();
    const ms = after1.status!.migrationState!;
    assert.equal(after1.status!.phase, 'Running');
    assert.equal(after1.status!.nodeName, source, 'the VMI stays on the source node');
    assert.equal(after1.metadata.uid, v.metadata.uid, 'the same VMI');
    assert.equal(ms.migrationUid, failed.metadata.uid);
    assert.equal(ms.failed, true);
    assert.equal(ms.completed, true);
    assert.ok(ms.endTimestamp, 'endTimestamp set');
    assert.match(ms.failureReason ?? '', /^Live migration failed: /);
    assert.equal(failed.status?.migrationState?.failureReason, ms.failureReason, 'the VMIM shows the same state');
    const events = await cluster.ok(['get', 'events', '-n', NS, '--field-selector', `involvedObject.name=to-die,reason=FailedMigration`]);
    assert.match(events, /source node reported migration failed/);

    // The guest never stopped: its console ticks on, booted once.
    const c1 = consoleOf();
    await until('the guest console to tick on', () => (consoleOf().ticks.at(-1)! >= c1.ticks.at(-1)! + 3 ? true : undefined), 60_000, 1000);
    assert.equal(consoleOf().boots, 1, 'no second boot');
    // Its pod IP answers: on the source node, and from the third node (whose agent routes it to the source).
    assert.match(await fetchFromPod(cluster, NS, 'at-source', `http://${ip}/cgi-bin/alive`), /^alive /);
    await clientOn('at-third', third);
    assert.match(await fetchFromPod(cluster, NS, 'at-third', `http://${ip}/cgi-bin/alive`), /^alive /);

    // The target pod on the dead node (deleted by the controller, no agent to end it) holds
    // nothing back: a second migration, at full speed, goes to the third node.
    assert.equal(ms.targetPod, targetPod.metadata.name);
    await cluster.ok(['delete', 'migrationpolicy', 'migfault-slow']);
    await cluster.ok(['create', '-f', '-'], { input: vmim('to-third') });
    const done = await until(
      'migration to-third Succeeded',
      async () => {
        const m = await getVmim('to-third');
        if (m.status?.phase === 'Failed') assert.fail(`the second migration failed: ${JSON.stringify(m.status)}`);
        return m.status?.phase === 'Succeeded' ? m : undefined;
      },
      MIGRATION_MS,
      1000,
    );
    assert.equal(done.status!.migrationState!.targetNode, third);
    const moved = await getVmi();
    assert.equal(moved.status!.nodeName, third);
    assert.equal(moved.status!.interfaces![0]!.ipAddress, ip, 'the VM keeps its pod IP');
    // Now the source node routes it away, to the third.
    assert.match(await fetchFromPod(cluster, NS, 'at-source', `http://${ip}/cgi-bin/alive`), /^alive /);
    assert.match(await fetchFromPod(cluster, NS, 'at-third', `http://${ip}/cgi-bin/alive`), /^alive /);
    // The guest came over running: the target's console goes on counting from where the source was, no boot.
    const onThird = await until('the source QEMU to quit', () => { try { return consoleOf(); } catch { return undefined; } }, 120_000, 1000);
    assert.equal(onThird.boots, 0, 'no boot on the third node');
    assert.ok(onThird.ticks.length > 0 && onThird.ticks[0]! > c1.ticks.at(-1)!, `the console counts on: ${onThird.ticks.slice(0, 3).join(', ')} after ${c1.ticks.at(-1)}`);

    // Had the target died just after taking the address over, its claim (the newest, listed on its
    // Node) would have drawn every node's route for the address; no agent of its can withdraw it.
    // Once the node is NotReady and the claim's pod is gone from the API, the controller manager
    // drops it, and the address is routed to where the VM runs again.
    await until(`${target} NotReady`, async () => /NotReady/.test(await cluster.ok(['get', 'node', target])), 120_000, 1000);
    // What an admin does for a dead node's pods (Cairn's API may have removed it already).
    await cluster.ok(['delete', 'pod', '-n', NS, targetPod.metadata.name, '--force', '--grace-period=0', '--ignore-not-found']);
    const claim = [{ ip, podUid: targetPod.metadata.uid, since: new Date().toISOString() }];
    await cluster.ok(['annotate', 'node', target, '--overwrite', `${HANDOFFS}=${JSON.stringify(claim)}`]);
    await until(`the claim on ${target} to go`, async () => (await handoffsOf(target)) === '', 60_000, 500);
    assert.match(await fetchFromPod(cluster, NS, 'at-source', `http://${ip}/cgi-bin/alive`), /^alive /);
    assert.match(await fetchFromPod(cluster, NS, 'at-third', `http://${ip}/cgi-bin/alive`), /^alive /);
  });
});
