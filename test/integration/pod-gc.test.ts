/**
 * The pod garbage collector with simulated nodes and short timings, as upstream's podgc: pods
 * stuck terminating on a lost node stay until the node is declared out of service
 * (`node.kubernetes.io/out-of-service`), then are marked Failed and force-deleted; pods on a
 * deleted Node go after the quarantine with DisruptionTarget/DeletionByPodGC; a terminating pod
 * never scheduled is marked Failed; terminated pods beyond the threshold go oldest first.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isConflict } from '../../src/client/index.js';
import type { ClusterSettings } from '../../src/controllers/context.js';
import type { PodGcSettings } from '../../src/controllers/pod-gc.js';
import type { KubeObject } from '../../src/util/object.js';
import { conditionOf, NODES, pod, PODS, type SimCluster, startSimCluster, until, waitBound, waitUnschedulable } from '../support/sim-cluster.js';

const SWEEP_MS = 300;
const QUARANTINE_MS = 1500;
const settings: Partial<ClusterSettings> & PodGcSettings = {
  nodeMonitorGracePeriodMs: 1500,
  nodeMonitorPeriodMs: 200,
  podGcPeriodMs: SWEEP_MS,
  podGcQuarantineMs: QUARANTINE_MS,
  terminatedPodGcThreshold: 3,
};

const phaseOf = (p: KubeObject) => (p.status as { phase?: string } | undefined)?.phase;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pod garbage collector', () => {
  let c: SimCluster;
  /** The last state of every pod deleted since the start, by name (what a watcher sees in DELETED). */
  const gone = new Map<string, KubeObject>();
  const watching = new AbortController();

  before(async () => {
    c = await startSimCluster({ nodes: 2, settings, sim: { leaseRenewIntervalMs: 250, nodeStatusCheckIntervalMs: 300 } });
    void (async () => {
      for await (const ev of c.client.resource(PODS).watch({ namespace: 'default', signal: watching.signal })) if (ev.type === 'DELETED') gone.set(ev.object.metadata.name!, ev.object);
    })().catch(() => undefined);
  });
  after(async () => {
    watching.abort();
    await c?.stop();
  });

  const pods = () => c.client.resource(PODS);
  const onNode = (name: string, node: string, spec: Record<string, unknown> = {}) => pod(name, { spec: { nodeSelector: { 'kubernetes.io/hostname': node }, ...spec } });
  const exists = async (name: string) => (await pods().list({ namespace: 'default' })).items.some((p) => p.metadata.name === name);
  const waitGone = (name: string, ms = 10_000) => until(`pod ${name} deleted`, () => gone.get(name), ms);
  async function updateNode(name: string, change: (n: KubeObject) => void): Promise<void> {
    for (;;) {
      const n = await c.client.resource(NODES).get(name);
      change(n);
      try {
        await c.client.resource(NODES).update(n);
        return;
      } catch (e) {
        if (!isConflict(e)) throw e;
      }
    }
  }
  const taints = (n: KubeObject) => ((n.spec ??= {}) as { taints?: { key: string; value?: string; effect: string }[] });

  it('force-deletes terminating pods of a lost node once it is tainted out-of-service, not before', async () => {
    // Both tolerate the unreachable taint forever: only the out-of-service taint (or a user) removes them.
    const tolerant = { tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' }] };
    await pods().create(onNode('stuck', 'sim-0000', tolerant));
    await pods().create(onNode('bystander', 'sim-0000', tolerant));
    for (const n of ['stuck', 'bystander']) await until(`${n} Running`, async () => phaseOf(await pods().get(n, 'default')) === 'Running');

    c.sim.stopNode('sim-0000');
    await until('node Unknown', async () => conditionOf(await c.client.resource(NODES).get('sim-0000'), 'Ready')?.status === 'Unknown', 10_000);
    await pods().delete('stuck', { namespace: 'default' });
    // Several sweeps: no kubelet finishes the deletion, and the collector leaves it to one.
    await sleep(4 * SWEEP_MS);
    const waiting = await pods().get('stuck', 'default');
    assert.ok(waiting.metadata.deletionTimestamp, 'terminating');
    assert.equal(phaseOf(waiting), 'Running', 'a NotReady node without the out-of-service taint keeps its terminating pods');
    assert.equal(await exists('bystander'), true);

    // The admin declares the node lost (kubectl taint node sim-0000 node.kubernetes.io/out-of-service=nodeshutdown:NoExecute).
    await updateNode('sim-0000', (n) => (taints(n).taints = [...(taints(n).taints ?? []), { key: 'node.kubernetes.io/out-of-service', value: 'nodeshutdown', effect: 'NoExecute' }]));
    const stuck = await waitGone('stuck');
    assert.ok(stuck.metadata.deletionTimestamp);
    // The bystander does not tolerate the new taint: the taint manager evicts it, pod GC finishes it.
    const bystander = await waitGone('bystander');
    assert.equal(conditionOf(bystander, 'DisruptionTarget')?.reason, 'DeletionByTaintManager');

    await updateNode('sim-0000', (n) => (taints(n).taints = (taints(n).taints ?? []).filter((t) => t.key !== 'node.kubernetes.io/out-of-service')));
    c.sim.startNode('sim-0000');
    await until('node Ready', async () => conditionOf(await c.client.resource(NODES).get('sim-0000'), 'Ready')?.status === 'True', 10_000);
  });

  it('deletes the pods of a deleted Node after the quarantine, with DisruptionTarget DeletionByPodGC', async () => {
    await pods().create(onNode('orphan', 'sim-0001'));
    await until('orphan Running', async () => phaseOf(await pods().get('orphan', 'default')) === 'Running');
    const deletedAt = Date.now();
    await c.client.resource(NODES).delete('sim-0001');
    const last = await waitGone('orphan', 10_000);
    assert.ok(Date.now() - deletedAt >= QUARANTINE_MS, `deleted ${Date.now() - deletedAt} ms after its node, within the quarantine`);
    assert.equal(phaseOf(last), 'Failed');
    const cond = conditionOf(last, 'DisruptionTarget');
    assert.deepEqual([cond?.status, cond?.reason, cond?.message], ['True', 'DeletionByPodGC', 'PodGC: node no longer exists']);
  });

  it('marks a terminating pod that was never scheduled Failed', async () => {
    await pods().create(pod('nowhere', { spec: { nodeSelector: { 'kubernetes.io/hostname': 'no-such-node' } } }));
    await waitUnschedulable(c.client, 'nowhere');
    // A finalizer keeps it after the force deletion, so its final phase shows.
    const p = await pods().get('nowhere', 'default');
    await pods().update({ ...p, metadata: { ...p.metadata, finalizers: ['example.com/hold'] } });
    await pods().delete('nowhere', { namespace: 'default' });
    await until('nowhere Failed', async () => phaseOf(await pods().get('nowhere', 'default')) === 'Failed', 5000);
    const held = await pods().get('nowhere', 'default');
    await pods().update({ ...held, metadata: { ...held.metadata, finalizers: [] } });
    await waitGone('nowhere');
  });

  it('keeps at most the threshold of terminated pods, deleting the oldest', async () => {
    const names = ['done-a', 'done-b', 'done-c', 'done-d', 'done-e'];
    for (const n of names) {
      await pods().create(pod(n, { annotations: { 'sim.cairn.io/exit-after': '0s' }, spec: { restartPolicy: 'Never', nodeSelector: { 'kubernetes.io/hostname': 'sim-0000' } } }));
    }
    for (const n of names) await waitBound(c.client, n).catch(async (e) => assert.fail(`${(e as Error).message}: ${JSON.stringify((await pods().get(n, 'default')).status)} ${JSON.stringify((await c.client.resource(NODES).get('sim-0000')).spec)}`));
    await until('two deleted', () => gone.has('done-a') && gone.has('done-b'), 10_000);
    await sleep(3 * SWEEP_MS);
    const left = (await pods().list({ namespace: 'default' })).items.filter((p) => p.metadata.name!.startsWith('done-'));
    assert.deepEqual(left.map((p) => `${p.metadata.name}:${phaseOf(p)}`).sort(), ['done-c:Succeeded', 'done-d:Succeeded', 'done-e:Succeeded']);
  });
});
