/**
 * The migration controller and VMI controller in a test server's controller manager, with the test
 * playing the scheduler, the kubelets and both VirtHandlers through the API: a VMIM runs Pending →
 * … → Succeeded while the VMI follows the guest to the target node; its admission refusals; a
 * target pod unschedulable past its timeout fails the migration; the pods/eviction of a
 * LiveMigrate VMI's launcher pod answers 429 and starts an evacuation migration, while a launcher
 * that ended is evicted as usual; the KubeVirt CR's migration configuration is what migrations get
 * (its outbound limit holds one back until raised, its bandwidth is handed to the nodes).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../../src/client/index.js';
import { isConflict } from '../../src/client/index.js';
import type { KubeObject } from '../../src/util/object.js';
import { VMIS } from '../../src/virt/controllers/vm-api.js';
import type { Vmi } from '../../src/virt/launcher/vmi-types.js';
import { KUBEVIRTS } from '../../src/virt/api/kubevirt-cr.js';
import { type MigrationState, migrationStateOf, type VirtualMachineInstanceMigration, VMIMS } from '../../src/virt/migration/migration-state.js';
import { adminClient, createNamespace, eventsFor, R, refused, waitFor } from '../support/objects.js';
import { startTestServer, type TestServer } from '../support/server.js';

const NS = 'migctl';
let server: TestServer;
let c: Client;

const vmiObject = (name: string, evictionStrategy = 'None'): KubeObject => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachineInstance',
  metadata: { name, namespace: NS, labels: { app: name } },
  spec: { domain: { devices: {}, resources: { requests: { memory: '64Mi' } } }, evictionStrategy },
});
const vmimObject = (name: string, vmiName: string, annotations?: Record<string, string>): KubeObject => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachineInstanceMigration',
  metadata: { name, namespace: NS, ...(annotations ? { annotations } : {}) },
  spec: { vmiName },
});
const getVmi = (name: string) => c.resource(VMIS).get(name, NS) as Promise<Vmi>;
const getVmim = (name: string) => c.resource(VMIMS).get(name, NS) as unknown as Promise<VirtualMachineInstanceMigration>;
const launchers = async (vmi: Vmi) => (await c.resource(R.pods).list({ namespace: NS, labelSelector: `kubevirt.io/created-by=${vmi.metadata.uid}` })).items;
const phaseOf = async (name: string) => (await getVmim(name)).status?.phase;

/** Read-modify-write with retries, as a node component writes the whole VMI. */
async function updateVmi(name: string, change: (v: Vmi) => void): Promise<void> {
  for (let i = 0; ; i++) {
    const v = await getVmi(name);
    change(v);
    try {
      await c.resource(VMIS).update(v, { namespace: NS });
      return;
    } catch (e) {
      if (!isConflict(e) || i > 20) throw e;
    }
  }
}
const setState = (name: string, fields: Partial<MigrationState>) => updateVmi(name, (v) => (v.status!.migrationState = { ...v.status!.migrationState, ...fields }));

/** The scheduler and kubelet: bind the pod and report its compute container running. */
async function runPod(pod: KubeObject, node: string, ip: string, phase = 'Running'): Promise<void> {
  if (!((await c.resource(R.pods).get(pod.metadata.name!, NS)).spec as { nodeName?: string }).nodeName) {
    await c.resource(R.pods).createSubresource(pod.metadata.name!, 'binding', { apiVersion: 'v1', kind: 'Binding', metadata: { name: pod.metadata.name, namespace: NS }, target: { kind: 'Node', name: node } } as KubeObject, { namespace: NS });
  }
  const cur = await c.resource(R.pods).get(pod.metadata.name!, NS);
  const state = phase === 'Running' ? { running: { startedAt: '2026-01-01T00:00:00Z' } } : { terminated: { exitCode: 0, reason: 'Completed' } };
  await c.resource(R.pods).updateStatus({ ...cur, status: { phase, podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'PodScheduled', status: 'True' }], containerStatuses: [{ name: 'compute', state }] } });
}

/** A VMI running on node-1 as the handler reports it: Running and LiveMigratable. */
async function runningVmi(name: string, evictionStrategy?: string, node = 'node-1'): Promise<{ vmi: Vmi; source: KubeObject }> {
  await c.resource(VMIS).create(vmiObject(name, evictionStrategy), { namespace: NS });
  const created = await getVmi(name);
  const [pod] = await waitFor(async () => {
    const l = await launchers(created);
    return l.length ? l : undefined;
  }, `${name}'s launcher pod`);
  await runPod(pod, node, '10.244.1.7');
  await waitFor(async () => (await getVmi(name)).status?.phase === 'Scheduled', `${name} Scheduled`);
  await updateVmi(name, (v) => {
    v.status!.phase = 'Running';
    v.status!.conditions = [...(v.status!.conditions ?? []), { type: 'LiveMigratable', status: 'True' }];
  });
  return { vmi: await getVmi(name), source: pod };
}

before(async () => {
  server = await startTestServer({ server: { controllerOptions: { only: ['virtualmachineinstance', 'virtualmachineinstancemigration'] } } });
  c = adminClient(server);
  await createNamespace(c, NS);
});

after(async () => {
  await server?.stop();
});

describe('live migration, controller side', () => {
  it('refuses migrations of a missing or not running VMI, a second one in flight, and spec changes, with KubeVirt\'s messages', async () => {
    const missing = await refused(c.resource(VMIMS).create(vmimObject('m-missing', 'nope'), { namespace: NS }), 400);
    assert.equal(missing.message, `admission webhook "migration-create-validator.kubevirt.io" denied the request: the VMI "${NS}/nope" does not exist`);
    await c.resource(VMIS).create(vmiObject('pending'), { namespace: NS });
    const pending = await refused(c.resource(VMIMS).create(vmimObject('m-pending', 'pending'), { namespace: NS }), 400);
    assert.match(pending.message!, /Cannot migrate VMI that is not running \(phase (Pending|Scheduling)\)/);
    const noName = await refused(c.resource(VMIMS).create(vmimObject('m-noname', ''), { namespace: NS }), 422);
    assert.deepEqual(noName.details?.causes, [{ reason: 'FieldValueRequired', message: 'vmiName is missing', field: 'spec.vmiName' }]);

    await runningVmi('busy');
    await updateVmi('busy', (v) => {
      v.status!.conditions = v.status!.conditions!.map((x) => (x.type === 'LiveMigratable' ? { type: 'LiveMigratable', status: 'False', reason: 'DisksNotLiveMigratable', message: 'cannot migrate VMI: PVC d is not shared' } : x));
    });
    const notMigratable = await refused(c.resource(VMIMS).create(vmimObject('m-nm', 'busy'), { namespace: NS }), 400);
    assert.match(notMigratable.message!, /denied the request: Cannot migrate VMI, Reason: DisksNotLiveMigratable, Message: cannot migrate VMI: PVC d is not shared$/);
    await updateVmi('busy', (v) => (v.status!.conditions = v.status!.conditions!.filter((x) => x.type !== 'LiveMigratable')));
    const first = await c.resource(VMIMS).create(vmimObject('m-first', 'busy'), { namespace: NS });
    assert.equal(first.metadata.labels?.['kubevirt.io/vmi-name'], 'busy');
    assert.deepEqual(first.metadata.finalizers, ['kubevirt.io/migrationJobFinalize']);
    const second = await refused(c.resource(VMIMS).create(vmimObject('m-second', 'busy'), { namespace: NS }), 400);
    assert.match(second.message!, new RegExp(`in-flight migration detected. Active migration job \\(${first.metadata.uid}\\) is currently already in progress for VMI busy.`));
    const changed = await refused(c.resource(VMIMS).update({ ...first, spec: { vmiName: 'other' } }, { namespace: NS }), 422);
    assert.match(changed.message!, /update of Migration object's spec is restricted/);
    // Deleted before the hand-off: Failed, its target pod deleted, then gone.
    await c.resource(VMIMS).delete('m-first', { namespace: NS });
    await waitFor(() => getVmim('m-first').then(() => false, () => true), 'm-first gone');
    const busy = await getVmi('busy');
    await waitFor(async () => (await launchers(busy)).length === 1, 'the target pod deleted');
  });

  it('runs a migration through every phase; the VMI follows the guest to the target node', async () => {
    const { vmi, source } = await runningVmi('mover');
    await c.resource(VMIMS).create(vmimObject('m1', 'mover'), { namespace: NS });
    const target = await waitFor(async () => (await launchers(vmi)).find((p) => p.metadata.labels?.['kubevirt.io/migrationJobUID']), 'the target pod');
    assert.equal(target.metadata.annotations?.['cairn.io/pod-ip-handoff'], '10.244.1.7');
    const anti = (target.spec as { affinity?: { podAntiAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: unknown[] } } }).affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    assert.deepEqual(anti, [{ labelSelector: { matchLabels: { 'kubevirt.io/created-by': vmi.metadata.uid } }, topologyKey: 'kubernetes.io/hostname' }]);
    await waitFor(async () => (await phaseOf('m1')) === 'Scheduling', 'Scheduling');
    // Only one target pod, however often the controller looks.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await launchers(vmi)).length, 2);

    await runPod(target, 'node-2', '10.244.1.7');
    await waitFor(async () => (await phaseOf('m1')) === 'PreparingTarget', 'PreparingTarget');
    const handed = await getVmi('mover');
    const state = handed.status?.migrationState as unknown as MigrationState;
    assert.deepEqual([state.sourceNode, state.sourcePod, state.targetNode, state.targetPod], ['node-1', source.metadata.name, 'node-2', target.metadata.name]);
    assert.equal(state.migrationConfiguration.parallelMigrationsPerCluster, 5);
    assert.equal(handed.metadata.labels?.['kubevirt.io/migrationTargetNodeName'], 'node-2');
    assert.deepEqual(Object.values(handed.status?.activePods ?? {}).sort(), ['node-1', 'node-2']);

    await setState('mover', { targetNodeAddress: '192.168.50.2', targetDirectMigrationNodePorts: { '40000': 49152 } });
    await waitFor(async () => (await phaseOf('m1')) === 'TargetReady', 'TargetReady');
    await setState('mover', { startTimestamp: '2026-01-01T00:00:01Z', mode: 'PreCopy' });
    await waitFor(async () => (await phaseOf('m1')) === 'Running', 'Running');
    await setState('mover', { completed: true, endTimestamp: '2026-01-01T00:00:02Z' });
    // The source's QEMU exits once it handed the guest over: that is not the guest ending.
    await runPod(source, 'node-1', '10.244.1.7', 'Succeeded');
    await setState('mover', { targetNodeDomainReadyTimestamp: '2026-01-01T00:00:03Z' });
    await waitFor(async () => (await phaseOf('m1')) === 'Succeeded', 'Succeeded');

    const moved = await getVmi('mover');
    assert.equal(moved.status?.phase, 'Running');
    assert.equal(moved.status?.nodeName, 'node-2');
    assert.equal(moved.metadata.labels?.['kubevirt.io/nodeName'], 'node-2');
    assert.equal(moved.metadata.labels?.['kubevirt.io/migrationTargetNodeName'], undefined);
    assert.equal(moved.status?.migrationMethod, 'LiveMigration');
    // The finalizer goes in a write after the Succeeded status.
    const vmim = await waitFor(async () => {
      const m = await getVmim('m1');
      return m.metadata.finalizers === undefined && m;
    }, 'the finalizer removed');
    assert.equal(vmim.status?.migrationState?.completed, true);
    assert.deepEqual(vmim.status?.phaseTransitionTimestamps?.map((t) => t.phase), ['Pending', 'Scheduling', 'Scheduled', 'PreparingTarget', 'TargetReady', 'Running', 'Succeeded']);
    await waitFor(async () => (await eventsFor(c, NS, 'm1')).some((e) => e.reason === 'SuccessfulMigration' && e.message === 'Source node reported migration succeeded'), 'the SuccessfulMigration event');
    assert.equal((await getVmi('mover')).status?.phase, 'Running');
  });

  it('fails a migration whose target pod stays unschedulable past its timeout, with KubeVirt\'s messages', async () => {
    const { vmi } = await runningVmi('stuck');
    await c.resource(VMIMS).create(vmimObject('m-stuck', 'stuck', { 'kubevirt.io/migrationUnschedulablePodTimeoutSeconds': '1' }), { namespace: NS });
    const target = await waitFor(async () => (await launchers(vmi)).find((p) => p.metadata.labels?.['kubevirt.io/migrationJobUID']), 'the target pod');
    const cur = await c.resource(R.pods).get(target.metadata.name!, NS);
    await c.resource(R.pods).updateStatus({ ...cur, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/2 nodes are available' }] } });
    await waitFor(async () => (await phaseOf('m-stuck')) === 'Failed', 'Failed', 15_000);
    const events = await eventsFor(c, NS, 'm-stuck');
    assert.ok(events.some((e) => e.reason === 'migrationTargetPodUnschedulable' && e.message === `Migration target pod for VMI [${NS}/stuck] is currently unschedulable.`), JSON.stringify(events));
    assert.ok(events.some((e) => e.reason === 'SuccessfulDelete' && e.message === `unschedulable pod ${NS}/${target.metadata.name} timeout period exceeded`));
    assert.ok(events.some((e) => e.reason === 'FailedMigration' && e.message === 'Migration target pod was removed during active migration.'));
    const still = await getVmi('stuck');
    assert.deepEqual([still.status?.phase, still.status?.nodeName], ['Running', 'node-1']);
  });

  it('evicting a LiveMigrate VMI\'s launcher pod answers 429 and starts an evacuation; an ended launcher is evicted', async () => {
    const { vmi, source } = await runningVmi('drained', 'LiveMigrate');
    const evict = (pod: KubeObject) => c.resource(R.pods).createSubresource(pod.metadata.name!, 'eviction', { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod.metadata.name, namespace: NS } } as KubeObject, { namespace: NS });
    const first = await refused(evict(source), 429);
    assert.equal(first.message, `admission webhook "virt-launcher-eviction-interceptor.kubevirt.io" denied the request: Eviction triggered evacuation of VMI "${NS}/drained"`);
    const migrations = (await c.resource(VMIMS).list({ namespace: NS })).items.filter((m) => (m.spec as { vmiName: string }).vmiName === 'drained');
    assert.equal(migrations.length, 1);
    assert.match(migrations[0].metadata.name!, /^kubevirt-evacuation-/);
    assert.equal(migrations[0].metadata.annotations?.['kubevirt.io/evacuationMigration'], 'node-1');
    assert.equal((await getVmi('drained')).status?.evacuationNodeName, 'node-1');
    // Retried by drain: still 429, no second migration.
    const again = await refused(evict(source), 429);
    assert.match(again.message!, /Evacuation in progress: Eviction triggered evacuation of VMI/);
    assert.equal((await c.resource(VMIMS).list({ namespace: NS })).items.filter((m) => (m.spec as { vmiName: string }).vmiName === 'drained').length, 1);
    // The target pod is refused too (it does not carry the guest yet); a launcher that ended is evicted.
    const target = await waitFor(async () => (await launchers(vmi)).find((p) => p.metadata.labels?.['kubevirt.io/migrationJobUID']), 'the evacuation target pod');
    await refused(evict(target), 429);
    await runPod(source, 'node-1', '10.244.1.7', 'Succeeded');
    await evict(source);
    await waitFor(() => c.resource(R.pods).get(source.metadata.name!, NS).then(() => false, () => true), 'the ended source pod evicted');
  });

  it('the KubeVirt CR is Deployed and its migration configuration is what migrations get: the outbound limit, the bandwidth', async () => {
    // On node-3, so what the tests before left in flight from node-1 does not count against the limit.
    await createNamespace(c, 'kubevirt');
    await c.resource(KUBEVIRTS).create({ apiVersion: 'kubevirt.io/v1', kind: 'KubeVirt', metadata: { name: 'kubevirt', namespace: 'kubevirt' }, spec: { configuration: { migrations: { parallelOutboundMigrationsPerNode: 1, bandwidthPerMigration: '32Mi', allowPostCopy: true } } } } as KubeObject, { namespace: 'kubevirt' });
    await waitFor(async () => ((await c.resource(KUBEVIRTS).get('kubevirt', 'kubevirt')).status as { phase?: string } | undefined)?.phase === 'Deployed', 'the KubeVirt CR Deployed');
    const a = await runningVmi('kv-a', undefined, 'node-3');
    const b = await runningVmi('kv-b', undefined, 'node-3');
    await c.resource(VMIMS).create(vmimObject('m-kv-a', 'kv-a'), { namespace: NS });
    const targetA = await waitFor(async () => (await launchers(a.vmi)).find((p) => p.metadata.labels?.['kubevirt.io/migrationJobUID']), 'kv-a\'s target pod');
    await c.resource(VMIMS).create(vmimObject('m-kv-b', 'kv-b'), { namespace: NS });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await launchers(b.vmi)).length, 1, 'kv-b waits: one outbound migration per node');
    assert.equal((await phaseOf('m-kv-b')) ?? 'Pending', 'Pending');

    await runPod(targetA, 'node-4', '10.244.1.7');
    await waitFor(async () => (await phaseOf('m-kv-a')) === 'PreparingTarget', 'PreparingTarget');
    const config = migrationStateOf(await getVmi('kv-a'))!.migrationConfiguration;
    assert.deepEqual([config.parallelOutboundMigrationsPerNode, config.bandwidthPerMigration, config.allowPostCopy, config.parallelMigrationsPerCluster], [1, '32Mi', true, 5]);

    // Raising the limit lets the waiting migration go at once.
    const kv = await c.resource(KUBEVIRTS).get('kubevirt', 'kubevirt');
    await c.resource(KUBEVIRTS).update({ ...kv, spec: { configuration: { migrations: { parallelOutboundMigrationsPerNode: 2 } } } }, { namespace: 'kubevirt' });
    await waitFor(async () => (await launchers(b.vmi)).some((p) => p.metadata.labels?.['kubevirt.io/migrationJobUID']), 'kv-b\'s target pod once the limit is 2');
  });
});
