/**
 * Node failure with simulated nodes and short timings: a node that stops heartbeating becomes
 * Ready=Unknown with the unreachable taints, its pods are marked not ready and evicted after
 * their tolerationSeconds; DefaultTolerationSeconds admission; recovery removes the taints.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isConflict } from '../../src/client/index.js';
import type { KubeObject } from '../../src/util/object.js';
import { conditionOf, eventsFor, NODES, pod, PODS, type SimCluster, startSimCluster, until, waitBound, waitUnschedulable } from '../support/sim-cluster.js';

interface Taint {
  key: string;
  effect: string;
  timeAdded?: string;
}
const taintsOf = (n: KubeObject) => ((n.spec as { taints?: Taint[] }).taints ?? []).map((t) => `${t.key}:${t.effect}`).sort();

describe('node lifecycle', () => {
  let c: SimCluster;
  before(async () => {
    c = await startSimCluster({
      nodes: 2,
      settings: { nodeMonitorGracePeriodMs: 1500, nodeMonitorPeriodMs: 200 },
      sim: { leaseRenewIntervalMs: 250, nodeStatusCheckIntervalMs: 300 },
    });
  });
  after(async () => c?.stop());

  it('adds default tolerations for not-ready and unreachable (300 s) at pod creation', async () => {
    const p = await c.client.resource(PODS).create(pod('defaults'));
    assert.deepEqual((p.spec as { tolerations: unknown[] }).tolerations, [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ]);
    const own = await c.client.resource(PODS).create(pod('own-tol', { spec: { tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 }] } }));
    assert.deepEqual((own.spec as { tolerations: unknown[] }).tolerations, [
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 },
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ]);
  });

  it('a silent node becomes Unknown, tainted unreachable, its pods not ready and evicted after tolerationSeconds', async () => {
    const on0 = (name: string, tolerations?: unknown[]) =>
      pod(name, { spec: { nodeSelector: { 'kubernetes.io/hostname': 'sim-0000' }, ...(tolerations ? { tolerations } : {}) } });
    await c.client.resource(PODS).create(on0('short', [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 1 }]));
    await c.client.resource(PODS).create(on0('long'));
    await c.client.resource(PODS).create(on0('forever', [{ operator: 'Exists' }]));
    await c.client.resource(PODS).create(on0('intolerant', [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 0 }]));
    for (const n of ['short', 'long', 'forever', 'intolerant'])
      await until(`${n} ready`, async () => conditionOf(await c.client.resource(PODS).get(n, 'default'), 'Ready')?.status === 'True');

    c.sim.stopNode('sim-0000');
    const node = await until('node Unknown', async () => {
      const n = await c.client.resource(NODES).get('sim-0000');
      return conditionOf(n, 'Ready')?.status === 'Unknown' ? n : undefined;
    }, 10_000);
    const ready = conditionOf(node, 'Ready')!;
    assert.equal(ready.reason, 'NodeStatusUnknown');
    assert.equal(ready.message, 'Kubelet stopped posting node status.');
    assert.equal(conditionOf(node, 'MemoryPressure')?.status, 'Unknown');
    const tainted = await until('unreachable taints', async () => {
      const n = await c.client.resource(NODES).get('sim-0000');
      return taintsOf(n).length === 2 ? n : undefined;
    });
    assert.deepEqual(taintsOf(tainted), ['node.kubernetes.io/unreachable:NoExecute', 'node.kubernetes.io/unreachable:NoSchedule']);
    assert.ok((tainted.spec as { taints: Taint[] }).taints.find((t) => t.effect === 'NoExecute')!.timeAdded);
    // The other node is untouched.
    assert.equal(conditionOf(await c.client.resource(NODES).get('sim-0001'), 'Ready')?.status, 'True');

    const deleting = async (n: string) => !!(await c.client.resource(PODS).get(n, 'default')).metadata.deletionTimestamp;
    await until('intolerant evicted', () => deleting('intolerant'), 5000);
    await until('short evicted', () => deleting('short'), 5000);
    const short = await c.client.resource(PODS).get('short', 'default');
    assert.equal(conditionOf(short, 'DisruptionTarget')?.reason, 'DeletionByTaintManager');
    assert.equal(conditionOf(short, 'Ready')?.status, 'False', 'pods of an unreachable node are marked not ready');
    assert.ok((await eventsFor(c.client, 'short', 'TaintManagerEviction')).length > 0);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await deleting('long'), false, 'tolerates for 300 s');
    assert.equal(await deleting('forever'), false, 'tolerates forever');

    // The scheduler keeps new pods away from it.
    await c.client.resource(PODS).create(on0('new'));
    assert.equal(
      await waitUnschedulable(c.client, 'new'),
      "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
    );

    // It comes back: Ready again, taints gone, the pending pod is scheduled.
    c.sim.startNode('sim-0000');
    await until('node Ready', async () => {
      const n = await c.client.resource(NODES).get('sim-0000');
      return conditionOf(n, 'Ready')?.status === 'True' && taintsOf(n).length === 0;
    }, 10_000);
    await waitBound(c.client, 'new');
  });

  it('a node reporting Ready=False gets the not-ready taints', async () => {
    c.sim.stopNode('sim-0001');
    for (;;) {
      const n = await c.client.resource(NODES).get('sim-0001');
      const st = structuredClone(n.status) as { conditions: { type: string; status: string; reason?: string }[] };
      for (const x of st.conditions) if (x.type === 'Ready') Object.assign(x, { status: 'False', reason: 'KubeletNotReady' });
      try {
        await c.client.resource(NODES).updateStatus({ ...n, status: st } as KubeObject);
        break;
      } catch (e) {
        if (!isConflict(e)) throw e;
      }
    }
    await until('not-ready taints', async () => {
      const n = await c.client.resource(NODES).get('sim-0001');
      return taintsOf(n).join() === 'node.kubernetes.io/not-ready:NoExecute,node.kubernetes.io/not-ready:NoSchedule';
    });
    c.sim.startNode('sim-0001');
    await until('taints gone', async () => taintsOf(await c.client.resource(NODES).get('sim-0001')).length === 0, 10_000);
  });
});
