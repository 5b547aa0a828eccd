/**
 * DaemonSet controller against the real server, with simulated nodes as kubelets and the
 * scheduler binding the pinned pods: placement by nodeSelector, node affinity and taints (with
 * the default daemon tolerations), node changes, RollingUpdate with maxUnavailable and maxSurge,
 * OnDelete, status and events.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../../src/client/index.js';
import { REVISION_HASH_LABEL, TEMPLATE_GENERATION_LABEL } from '../../src/controllers/daemonset.js';
import { DAEMONSETS, NODES, PODS } from '../../src/controllers/util/workload-refs.js';
import type { KubeObject } from '../../src/util/object.js';
import { addNodes, container, listIn, namespace, startWorkloadCluster, waitForEvent, type WorkloadCluster } from '../support/workload-cluster.js';
import { until } from '../support/workloads.js';

interface DsStatus {
  desiredNumberScheduled?: number;
  currentNumberScheduled?: number;
  numberReady?: number;
  updatedNumberScheduled?: number;
  numberAvailable?: number;
  numberMisscheduled?: number;
  numberUnavailable?: number;
  observedGeneration?: number;
}

function daemonSet(name: string, podSpec: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [container()], terminationGracePeriodSeconds: 1, ...podSpec } },
      ...extra,
    },
  };
}

const statusOf = async (client: Client, ns: string, name: string) => {
  const ds = await client.resource(DAEMONSETS).get(name, ns);
  return { ds, st: (ds.status ?? {}) as DsStatus };
};
const nodeOfPod = (p: KubeObject) => (p.spec as { nodeName?: string }).nodeName;
const livePods = async (client: Client, ns: string, app: string) => (await listIn(client, PODS, ns, `app=${app}`)).filter((p) => !p.metadata.deletionTimestamp);

async function settled(client: Client, ns: string, name: string, desired: number): Promise<DsStatus> {
  let last: DsStatus = {};
  await until(
    `daemonset ${name} settled at ${desired}`,
    async () => {
      const { ds, st } = await statusOf(client, ns, name);
      last = st;
      const pods = await livePods(client, ns, name);
      return (
        st.observedGeneration === ds.metadata.generation &&
        st.desiredNumberScheduled === desired &&
        st.numberAvailable === desired &&
        st.updatedNumberScheduled === desired &&
        st.currentNumberScheduled === desired &&
        (st.numberMisscheduled ?? 0) === 0 &&
        pods.length === desired
      );
    },
    30_000,
    100,
  ).catch((e) => {
    throw new Error(`${(e as Error).message}; last status ${JSON.stringify(last)}`);
  });
  return last;
}

describe('DaemonSet controller', { timeout: 120_000 }, () => {
  let c: WorkloadCluster;
  let nodes: string[];
  before(async () => {
    c = await startWorkloadCluster();
    // ssd: 0, 1; hdd: 2; ssd + untolerated taint: 3; ssd + cordoned (tolerated by default): 4
    nodes = [
      ...(await addNodes(c, 2, { labels: { disk: 'ssd' } })),
      ...(await addNodes(c, 1, { labels: { disk: 'hdd' } })),
      ...(await addNodes(c, 1, { labels: { disk: 'ssd' }, taints: [{ key: 'dedicated', value: 'infra', effect: 'NoSchedule' }] })),
      ...(await addNodes(c, 1, { labels: { disk: 'ssd' }, taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] })),
    ];
  });
  after(async () => c?.stop());

  it('places one pod per eligible node: nodeSelector, taints vs tolerations, default daemon tolerations, node pinning', async () => {
    const ns = await namespace(c, 'ds-place');
    await c.client.resource(DAEMONSETS).create(daemonSet('agent', { nodeSelector: { disk: 'ssd' } }), { namespace: ns });
    const st = await settled(c.client, ns, 'agent', 3);
    assert.equal(st.numberReady, 3);
    assert.equal(st.numberUnavailable, 0);
    const pods = await livePods(c.client, ns, 'agent');
    assert.deepEqual(pods.map(nodeOfPod).sort(), [nodes[0], nodes[1], nodes[4]].sort());
    for (const p of pods) {
      const spec = p.spec as { affinity?: { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: unknown[] } } }; tolerations?: { key?: string; effect?: string }[] };
      assert.deepEqual(spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms, [
        { matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeOfPod(p)] }] },
      ]);
      const keys = (spec.tolerations ?? []).map((t) => `${t.key}:${t.effect}`);
      for (const k of [
        'node.kubernetes.io/not-ready:NoExecute',
        'node.kubernetes.io/unreachable:NoExecute',
        'node.kubernetes.io/disk-pressure:NoSchedule',
        'node.kubernetes.io/memory-pressure:NoSchedule',
        'node.kubernetes.io/pid-pressure:NoSchedule',
        'node.kubernetes.io/unschedulable:NoSchedule',
      ])
        assert.ok(keys.includes(k), `toleration ${k} in ${keys.join(', ')}`);
      assert.equal(p.metadata.labels?.[TEMPLATE_GENERATION_LABEL], '1');
      assert.ok(p.metadata.labels?.[REVISION_HASH_LABEL]);
      assert.equal(p.metadata.ownerReferences?.[0]?.kind, 'DaemonSet');
      assert.equal(p.metadata.ownerReferences?.[0]?.controller, true);
    }
    await waitForEvent(c.client, ns, 'agent', /^SuccessfulCreate: Created pod: agent-/);

    // A toleration for the dedicated taint adds node 3 (a template change: generation 2).
    const ds = await c.client.resource(DAEMONSETS).get('agent', ns);
    (ds.spec as { template: { spec: Record<string, unknown> } }).template.spec.tolerations = [{ key: 'dedicated', operator: 'Equal', value: 'infra', effect: 'NoSchedule' }];
    await c.client.resource(DAEMONSETS).update(ds);
    await settled(c.client, ns, 'agent', 4);
    const after = await livePods(c.client, ns, 'agent');
    assert.ok(after.every((p) => p.metadata.labels?.[TEMPLATE_GENERATION_LABEL] === '2'));
    assert.ok(after.map(nodeOfPod).includes(nodes[3]));
  });

  it('follows node changes: labels added and removed, NoExecute taints, and required node affinity', async () => {
    const ns = await namespace(c, 'ds-nodes');
    const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }] } } };
    await c.client.resource(DAEMONSETS).create(daemonSet('zonal', { affinity }), { namespace: ns });
    const nodeApi = c.client.resource(NODES);
    const label = async (n: string, labels: Record<string, string | null>) => nodeApi.patch(n, { metadata: { labels } }, 'merge');
    await until('no zonal pods yet', async () => ((await statusOf(c.client, ns, 'zonal')).st.observedGeneration ?? 0) >= 1);
    assert.equal((await livePods(c.client, ns, 'zonal')).length, 0);
    await label(nodes[0], { zone: 'a' });
    await label(nodes[2], { zone: 'b' });
    await settled(c.client, ns, 'zonal', 2);
    assert.deepEqual((await livePods(c.client, ns, 'zonal')).map(nodeOfPod).sort(), [nodes[0], nodes[2]].sort());

    // The label goes: the pod goes.
    await label(nodes[0], { zone: null });
    await settled(c.client, ns, 'zonal', 1);
    // An untolerated NoExecute taint evicts; a NoSchedule one would not.
    await nodeApi.patch(nodes[2], { spec: { taints: [{ key: 'maintenance', effect: 'NoSchedule' }] } }, 'merge');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await livePods(c.client, ns, 'zonal')).length, 1, 'a NoSchedule taint leaves the running pod');
    assert.equal((await statusOf(c.client, ns, 'zonal')).st.numberMisscheduled, 1);
    await nodeApi.patch(nodes[2], { spec: { taints: [{ key: 'maintenance', effect: 'NoExecute' }] } }, 'merge');
    await until('pod evicted by NoExecute', async () => (await livePods(c.client, ns, 'zonal')).length === 0);
    await nodeApi.patch(nodes[2], { spec: { taints: null }, metadata: { labels: { zone: null } } }, 'merge');
  });

  it('rolls out with maxUnavailable, never more than that many nodes without an available pod', async () => {
    const ns = await namespace(c, 'ds-roll');
    await c.client.resource(DAEMONSETS).create(daemonSet('roll', {}, { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } } }), { namespace: ns });
    await settled(c.client, ns, 'roll', 4); // every node but the tainted one
    const ds = await c.client.resource(DAEMONSETS).get('roll', ns);
    (ds.spec as { template: { spec: { containers: unknown[] } } }).template.spec.containers = [container('app', 'registry.example/app:2')];
    await c.client.resource(DAEMONSETS).update(ds);
    let minAvailable = Infinity;
    let done = false;
    const watcher = (async () => {
      while (!done) {
        const pods = await livePods(c.client, ns, 'roll');
        const readyNodes = new Set(pods.filter((p) => (p.status as { conditions?: { type: string; status: string }[] })?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True')).map(nodeOfPod));
        minAvailable = Math.min(minAvailable, readyNodes.size);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await settled(c.client, ns, 'roll', 4);
    done = true;
    await watcher;
    assert.ok(minAvailable >= 3, `at least 3 of 4 nodes kept a ready pod (saw ${minAvailable})`);
    const pods = await livePods(c.client, ns, 'roll');
    assert.ok(pods.every((p) => ((p.spec as { containers: { image: string }[] }).containers[0].image === 'registry.example/app:2')));
    await waitForEvent(c.client, ns, 'roll', /^SuccessfulDelete: Deleted pod: roll-/);
  });

  it('rolls out with maxSurge: the new pod is up before the old one goes', async () => {
    const ns = await namespace(c, 'ds-surge');
    await c.client.resource(DAEMONSETS).create(daemonSet('surge', {}, { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } } }), { namespace: ns });
    await settled(c.client, ns, 'surge', 4);
    const ds = await c.client.resource(DAEMONSETS).get('surge', ns);
    (ds.spec as { template: { spec: { containers: unknown[] } } }).template.spec.containers = [container('app', 'registry.example/app:2')];
    await c.client.resource(DAEMONSETS).update(ds);
    let minReadyNodes = Infinity;
    let maxPods = 0;
    let done = false;
    const watcher = (async () => {
      while (!done) {
        const pods = await livePods(c.client, ns, 'surge');
        const readyNodes = new Set(pods.filter((p) => (p.status as { conditions?: { type: string; status: string }[] })?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True')).map(nodeOfPod));
        minReadyNodes = Math.min(minReadyNodes, readyNodes.size);
        maxPods = Math.max(maxPods, pods.length);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await settled(c.client, ns, 'surge', 4);
    done = true;
    await watcher;
    assert.equal(minReadyNodes, 4, 'no node was ever without a ready pod');
    assert.ok(maxPods <= 5, `at most one surge pod at a time (saw ${maxPods} pods)`);
  });

  it('OnDelete: a template change replaces only pods that are deleted', async () => {
    const ns = await namespace(c, 'ds-ondelete');
    await c.client.resource(DAEMONSETS).create(daemonSet('od', { nodeSelector: { disk: 'ssd' } }, { updateStrategy: { type: 'OnDelete' } }), { namespace: ns });
    await settled(c.client, ns, 'od', 3);
    const before = await livePods(c.client, ns, 'od');
    const ds = await c.client.resource(DAEMONSETS).get('od', ns);
    (ds.spec as { template: { spec: { containers: unknown[] } } }).template.spec.containers = [container('app', 'registry.example/app:2')];
    await c.client.resource(DAEMONSETS).update(ds);
    await until('status shows 0 updated', async () => {
      const { ds: d, st } = await statusOf(c.client, ns, 'od');
      return st.observedGeneration === d.metadata.generation && st.updatedNumberScheduled === 0;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual((await livePods(c.client, ns, 'od')).map((p) => p.metadata.uid).sort(), before.map((p) => p.metadata.uid).sort());
    await c.client.resource(PODS).delete(before[0].metadata.name!, { namespace: ns });
    await until('deleted pod replaced from the new template', async () => {
      const pods = await livePods(c.client, ns, 'od');
      return pods.length === 3 && pods.filter((p) => p.metadata.labels?.[TEMPLATE_GENERATION_LABEL] === '2').length === 1;
    });
    await until('updatedNumberScheduled 1', async () => (await statusOf(c.client, ns, 'od')).st.updatedNumberScheduled === 1);
  });
});
