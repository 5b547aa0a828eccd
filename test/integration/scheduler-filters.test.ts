/**
 * The scheduler against the real server and simulated nodes: every filter, the
 * FailedScheduling message in upstream's form, retries when the cluster changes, the
 * Scheduled event, binding conflicts and evictions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isConflict, StatusError } from '../../src/client/index.js';
import type { KubeObject } from '../../src/util/object.js';
import { conditionOf, eventsFor, NAMESPACES, nodeNameOf, pod, PODS, type SimCluster, startSimCluster, until, waitBound, waitUnschedulable } from '../support/sim-cluster.js';

const TOLERATE_ALL = [{ operator: 'Exists' }];

describe('scheduler filters', () => {
  let c: SimCluster;
  const ns = async (name: string) => {
    await c.client.resource(NAMESPACES).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  };
  const create = (p: KubeObject) => c.client.resource(PODS).create(p);
  before(async () => {
    c = await startSimCluster();
    await c.sim.addNodes(1, { namePrefix: 'small-', cpu: '1', memory: '2Gi', labels: { zone: 'a', disk: 'ssd' } });
    await c.sim.addNodes(1, { namePrefix: 'big-', cpu: '8', memory: '32Gi', labels: { zone: 'b' } });
    await c.sim.addNodes(1, { namePrefix: 'cp-', cpu: '4', memory: '8Gi', labels: { zone: 'c' }, taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] });
  });
  after(async () => c?.stop());

  it('nodeSelector and required node affinity', async () => {
    await create(pod('sel', { spec: { nodeSelector: { disk: 'ssd' } } }));
    await create(
      pod('aff', {
        spec: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }] }] } } } },
      }),
    );
    assert.equal(nodeNameOf(await waitBound(c.client, 'sel')), 'small-0000');
    assert.equal(nodeNameOf(await waitBound(c.client, 'aff')), 'big-0000');
  });

  it('preferred node affinity and least-allocated scoring', async () => {
    await create(
      pod('pref', {
        spec: { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, preference: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] } }] } } },
      }),
    );
    assert.equal(nodeNameOf(await waitBound(c.client, 'pref')), 'small-0000');
    // No preference: the node with the most room wins.
    await create(pod('roomy', { cpu: '500m', memory: '1Gi', spec: { nodeSelector: {}, affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }] } } } } }));
    assert.equal(nodeNameOf(await waitBound(c.client, 'roomy')), 'big-0000');
  });

  it('taints and tolerations; the FailedScheduling message and condition', async () => {
    await create(pod('tol', { spec: { nodeSelector: { zone: 'c' }, tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }] } }));
    assert.equal(nodeNameOf(await waitBound(c.client, 'tol')), 'cp-0000');
    await create(pod('notol', { spec: { nodeSelector: { zone: 'c' } } }));
    const msg = await waitUnschedulable(c.client, 'notol');
    assert.equal(
      msg,
      "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
    );
    const evs = await until('FailedScheduling event', async () => {
      const e = await eventsFor(c.client, 'notol', 'FailedScheduling');
      return e.length ? e : undefined;
    });
    const ev = evs[0] as unknown as { type: string; message: string; source: { component: string } };
    assert.equal(ev.type, 'Warning');
    assert.equal(ev.message, msg);
    assert.equal(ev.source.component, 'default-scheduler');
  });

  it('resources: requests against allocatable minus what bound pods request', async () => {
    await create(pod('cpu6', { cpu: '6' }));
    assert.equal(nodeNameOf(await waitBound(c.client, 'cpu6')), 'big-0000');
    await create(pod('cpu3', { cpu: '3' }));
    const msg = await waitUnschedulable(c.client, 'cpu3');
    assert.equal(
      msg,
      '0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.',
    );
    await create(pod('mem', { memory: '40Gi', spec: { tolerations: TOLERATE_ALL } }));
    assert.match(await waitUnschedulable(c.client, 'mem'), /^0\/3 nodes are available: 3 Insufficient memory\./);
    // Freeing room retries the pending pod.
    await c.client.resource(PODS).delete('cpu6', { namespace: 'default', gracePeriodSeconds: 0 });
    assert.equal(nodeNameOf(await waitBound(c.client, 'cpu3')), 'big-0000');
  });

  it('pods capacity and ephemeral-storage', async () => {
    await create(pod('eph', { spec: { tolerations: TOLERATE_ALL, containers: [{ name: 'c', image: 'x', resources: { requests: { 'ephemeral-storage': '200Gi' } } }] } }));
    assert.match(await waitUnschedulable(c.client, 'eph'), /3 Insufficient ephemeral-storage\./);
  });

  it('host port conflicts', async () => {
    const ports = [{ containerPort: 80, hostPort: 8080 }];
    await create(pod('hp1', { ports, spec: { nodeSelector: { zone: 'a' } } }));
    await waitBound(c.client, 'hp1');
    await create(pod('hp2', { ports, spec: { nodeSelector: { zone: 'a' } } }));
    assert.match(await waitUnschedulable(c.client, 'hp2'), /1 node\(s\) didn't have free ports for the requested pod ports/);
    await create(pod('hp3', { ports: [{ containerPort: 80, hostPort: 8080, protocol: 'UDP' }], spec: { nodeSelector: { zone: 'a' } } }));
    assert.equal(nodeNameOf(await waitBound(c.client, 'hp3')), 'small-0000');
  });

  it('pod anti-affinity by hostname, and existing pods’ anti-affinity', async () => {
    await ns('anti');
    const anti = { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'one' } }, topologyKey: 'kubernetes.io/hostname' }] } };
    for (let i = 0; i < 3; i++) await create(pod(`one-${i}`, { ns: 'anti', labels: { app: 'one' }, spec: { affinity: anti, tolerations: TOLERATE_ALL } }));
    const nodes = new Set<string>();
    for (let i = 0; i < 3; i++) nodes.add(nodeNameOf(await waitBound(c.client, `one-${i}`, 'anti')));
    assert.equal(nodes.size, 3);
    await create(pod('one-3', { ns: 'anti', labels: { app: 'one' }, spec: { affinity: anti, tolerations: TOLERATE_ALL } }));
    assert.match(await waitUnschedulable(c.client, 'one-3', 'anti'), /3 node\(s\) didn't match pod anti-affinity rules/);
    // A pod without terms but matched by the others' anti-affinity is kept away too.
    await create(pod('plain', { ns: 'anti', labels: { app: 'one' }, spec: { tolerations: TOLERATE_ALL } }));
    assert.match(await waitUnschedulable(c.client, 'plain', 'anti'), /3 node\(s\) didn't satisfy existing pods anti-affinity rules/);
  });

  it('pod affinity by zone', async () => {
    await ns('aff');
    await create(pod('db', { ns: 'aff', labels: { app: 'db' }, spec: { nodeSelector: { zone: 'b' } } }));
    await waitBound(c.client, 'db', 'aff');
    const affinity = { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'zone' }] } };
    for (let i = 0; i < 3; i++) await create(pod(`cache-${i}`, { ns: 'aff', spec: { affinity, tolerations: TOLERATE_ALL } }));
    for (let i = 0; i < 3; i++) assert.equal(nodeNameOf(await waitBound(c.client, `cache-${i}`, 'aff')), 'big-0000');
    // Nothing matches: unschedulable with the affinity reason.
    const none = { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'nothing' } }, topologyKey: 'zone' }] } };
    await create(pod('lonely', { ns: 'aff', spec: { affinity: none, tolerations: TOLERATE_ALL } }));
    assert.match(await waitUnschedulable(c.client, 'lonely', 'aff'), /3 node\(s\) didn't match pod affinity rules/);
    // The first pod of a self-matching group may go anywhere.
    const self = { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'self' } }, topologyKey: 'zone' }] } };
    await create(pod('self-0', { ns: 'aff', labels: { app: 'self' }, spec: { affinity: self, tolerations: TOLERATE_ALL } }));
    await waitBound(c.client, 'self-0', 'aff');
  });

  it('topology spread constraints (DoNotSchedule)', async () => {
    await ns('spread');
    const tsc = [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'ts' } } }];
    for (let i = 0; i < 6; i++) await create(pod(`ts-${i}`, { ns: 'spread', labels: { app: 'ts' }, spec: { topologySpreadConstraints: tsc, tolerations: TOLERATE_ALL } }));
    const count = new Map<string, number>();
    for (let i = 0; i < 6; i++) {
      const n = nodeNameOf(await waitBound(c.client, `ts-${i}`, 'spread'));
      count.set(n, (count.get(n) ?? 0) + 1);
    }
    assert.deepEqual([...count.values()], [2, 2, 2]);
    // A node missing the key: pods spreading on a key no node has cannot go anywhere.
    await create(
      pod('nokey', { ns: 'spread', labels: { app: 'nk' }, spec: { tolerations: TOLERATE_ALL, topologySpreadConstraints: [{ ...tsc[0], topologyKey: 'rack', labelSelector: { matchLabels: { app: 'nk' } } }] } }),
    );
    assert.match(await waitUnschedulable(c.client, 'nokey', 'spread'), /3 node\(s\) didn't match pod topology spread constraints \(missing required label\)/);
  });

  it('topology spread constraints (ScheduleAnyway) and owner spreading prefer emptier nodes', async () => {
    await ns('soft');
    const owner = await c.client.resource({ group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap' }).create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner', namespace: 'soft' } });
    const ownerReferences = [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid!, controller: true }];
    const sel = { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }] } } } };
    for (let i = 0; i < 6; i++) {
      const p = pod(`own-${i}`, { ns: 'soft', spec: sel });
      p.metadata.ownerReferences = ownerReferences;
      await create(p);
    }
    const count = new Map<string, number>();
    for (let i = 0; i < 6; i++) {
      const n = nodeNameOf(await waitBound(c.client, `own-${i}`, 'soft'));
      count.set(n, (count.get(n) ?? 0) + 1);
    }
    assert.equal(count.size, 2, JSON.stringify([...count]));
    assert.ok(Math.abs((count.get('small-0000') ?? 0) - (count.get('big-0000') ?? 0)) <= 2, JSON.stringify([...count]));
    const soft = [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: 'soft' } } }];
    for (let i = 0; i < 4; i++) await create(pod(`soft-${i}`, { ns: 'soft', labels: { app: 'soft' }, spec: { ...sel, topologySpreadConstraints: soft } }));
    const zones = new Map<string, number>();
    for (let i = 0; i < 4; i++) {
      const n = nodeNameOf(await waitBound(c.client, `soft-${i}`, 'soft'));
      zones.set(n, (zones.get(n) ?? 0) + 1);
    }
    assert.deepEqual([...zones.values()].sort(), [2, 2]);
  });

  it('leaves pods of other schedulers alone, and unschedulable pods go when a node is added', async () => {
    await create(pod('other', { spec: { schedulerName: 'my-scheduler' } }));
    await create(pod('huge', { cpu: '30' }));
    await waitUnschedulable(c.client, 'huge');
    await c.sim.addNodes(1, { namePrefix: 'huge-', cpu: '32', memory: '64Gi' });
    assert.equal(nodeNameOf(await waitBound(c.client, 'huge')), 'huge-0000');
    const other = await c.client.resource(PODS).get('other', 'default');
    assert.equal(nodeNameOf(other), '');
    assert.equal(conditionOf(other, 'PodScheduled'), undefined);
    assert.equal((await eventsFor(c.client, 'other', 'FailedScheduling')).length, 0);
  });

  it('records Scheduled events', async () => {
    const p = await waitBound(c.client, 'sel');
    const ev = await until('Scheduled event', async () => (await eventsFor(c.client, 'sel', 'Scheduled'))[0]);
    assert.equal((ev as unknown as { message: string }).message, `Successfully assigned default/sel to ${nodeNameOf(p)}`);
    assert.equal(conditionOf(p, 'PodScheduled')?.status, 'True');
  });
});

describe('pods/binding and pods/eviction', () => {
  let c: SimCluster;
  before(async () => {
    c = await startSimCluster({ nodes: 2 });
  });
  after(async () => c?.stop());
  const post = (path: string, body: unknown) => c.client.transport.request({ method: 'POST', path, body });

  it('binds an unbound pod once; a second binding is a 409 Conflict', async () => {
    await c.client.resource(PODS).create(pod('manual', { spec: { schedulerName: 'nobody' } }));
    const r = await post('/api/v1/namespaces/default/pods/manual/binding', { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'manual' }, target: { apiVersion: 'v1', kind: 'Node', name: 'sim-0001' } });
    assert.equal(r.status, 201);
    const p = await c.client.resource(PODS).get('manual', 'default');
    assert.equal(nodeNameOf(p), 'sim-0001');
    assert.equal(conditionOf(p, 'PodScheduled')?.status, 'True');
    await assert.rejects(
      post('/api/v1/namespaces/default/pods/manual/binding', { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'manual' }, target: { name: 'sim-0000' } }),
      (e: unknown) => {
        assert.ok(isConflict(e));
        assert.equal((e as StatusError).status.message, 'Operation cannot be fulfilled on pods/binding "manual": pod manual is already assigned to node "sim-0001"');
        return true;
      },
    );
    await assert.rejects(post('/api/v1/namespaces/default/pods/manual/binding', { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'other' }, target: { name: 'sim-0000' } }), (e: unknown) => {
      assert.equal((e as StatusError).status.message, 'name in URL does not match name in Binding object');
      return true;
    });
  });

  it('an eviction deletes the pod', async () => {
    await c.client.resource(PODS).create(pod('evictme'));
    await until('running', async () => ((await c.client.resource(PODS).get('evictme', 'default')).status as { phase?: string }).phase === 'Running');
    const r = await post('/api/v1/namespaces/default/pods/evictme/eviction', { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'evictme', namespace: 'default' } });
    assert.equal(r.status, 201);
    await until('gone', async () => {
      try {
        await c.client.resource(PODS).get('evictme', 'default');
        return false;
      } catch {
        return true;
      }
    });
  });
});
