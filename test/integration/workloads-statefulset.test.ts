/**
 * StatefulSet controller against the real server with simulated nodes: ordered creation and
 * removal (OrderedReady), Parallel, stable names and labels, ordinals.start, volumeClaimTemplates
 * and the claim retention policy, RollingUpdate by ordinal with a partition, OnDelete, status, events.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../../src/client/index.js';
import { POD_INDEX_LABEL, POD_NAME_LABEL, REVISION_LABEL } from '../../src/controllers/statefulset.js';
import { PODS, PVCS, STATEFULSETS } from '../../src/controllers/util/workload-refs.js';
import type { KubeObject } from '../../src/util/object.js';

const PVS = { group: '', version: 'v1', plural: 'persistentvolumes', namespaced: false, kind: 'PersistentVolume' } as const;
import { addNodes, container, listIn, namespace, startWorkloadCluster, waitForEvent, type WorkloadCluster } from '../support/workload-cluster.js';
import { until } from '../support/workloads.js';

interface StsStatus {
  replicas?: number;
  readyReplicas?: number;
  currentReplicas?: number;
  updatedReplicas?: number;
  availableReplicas?: number;
  currentRevision?: string;
  updateRevision?: string;
  observedGeneration?: number;
}

const claimTemplate = { metadata: { name: 'www' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } };

function statefulSet(name: string, extra: Record<string, unknown> = {}, image = 'registry.example/web:1'): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name },
    spec: {
      serviceName: name,
      replicas: 3,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ ...container('web', image), volumeMounts: [{ name: 'www', mountPath: '/data' }] }], terminationGracePeriodSeconds: 1 },
      },
      volumeClaimTemplates: [claimTemplate],
      ...extra,
    },
  };
}

const ready = (p: KubeObject) =>
  (p.status as { phase?: string })?.phase === 'Running' && !!(p.status as { conditions?: { type: string; status: string }[] })?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
const podsOf = async (client: Client, ns: string, app: string) => listIn(client, PODS, ns, `app=${app}`);
const status = async (client: Client, ns: string, name: string) => {
  const s = await client.resource(STATEFULSETS).get(name, ns);
  return { s, st: (s.status ?? {}) as StsStatus };
};
const imageOf = (p: KubeObject) => (p.spec as { containers: { image: string }[] }).containers[0].image;

async function settled(client: Client, ns: string, name: string, n: number, check: (st: StsStatus) => boolean = () => true): Promise<StsStatus> {
  let last: StsStatus = {};
  await until(
    `statefulset ${name} at ${n} ready`,
    async () => {
      const { s, st } = await status(client, ns, name);
      last = st;
      const pods = await podsOf(client, ns, name);
      return st.observedGeneration === s.metadata.generation && st.replicas === n && st.readyReplicas === n && pods.length === n && pods.every(ready) && check(st);
    },
    30_000,
    50,
  ).catch((e) => {
    throw new Error(`${(e as Error).message}; last status ${JSON.stringify(last)}`);
  });
  return last;
}

/** Polls pods until stopped, recording any violation of `invariant`. */
function watchInvariant(client: Client, ns: string, app: string, invariant: (pods: KubeObject[]) => string | undefined) {
  let stop = false;
  const violations: string[] = [];
  const done = (async () => {
    while (!stop) {
      const v = invariant(await podsOf(client, ns, app));
      if (v) violations.push(v);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async end() {
      stop = true;
      await done;
      return violations;
    },
  };
}

const ordinal = (p: KubeObject) => Number(p.metadata.name!.slice(p.metadata.name!.lastIndexOf('-') + 1));

describe('StatefulSet controller', { timeout: 120_000 }, () => {
  let c: WorkloadCluster;
  before(async () => {
    c = await startWorkloadCluster({ podStartDelayMs: 150 });
    await addNodes(c, 2);
    // The claims have no class and this server has no provisioner: as upstream, a pod whose
    // claim is unbound is not scheduled, so static volumes are there for the claims to bind to.
    for (let i = 0; i < 30; i++) {
      await c.client.resource(PVS).create({
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: `sts-pv-${i}` },
        spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: `/tmp/cairn-sts-pv-${i}` }, persistentVolumeReclaimPolicy: 'Retain' },
      });
    }
  });
  after(async () => c?.stop());

  it('OrderedReady: creates in order, each after the previous is Running and Ready, with stable identity and claims; scales down from the top', async () => {
    const ns = await namespace(c, 'sts-ordered');
    const orderWatch = watchInvariant(c.client, ns, 'web', (pods) => {
      for (const p of pods) for (const q of pods) if (ordinal(q) < ordinal(p) && !ready(q) && !q.metadata.deletionTimestamp) return `${p.metadata.name} exists while ${q.metadata.name} is not ready`;
      const ords = new Set(pods.map(ordinal));
      for (const o of ords) for (let i = 0; i < o; i++) if (!ords.has(i)) return `web-${o} exists without web-${i}`;
      return undefined;
    });
    await c.client.resource(STATEFULSETS).create(statefulSet('web'), { namespace: ns });
    const st = await settled(c.client, ns, 'web', 3);
    assert.deepEqual(await orderWatch.end(), []);
    assert.equal(st.currentReplicas, 3);
    assert.equal(st.updatedReplicas, 3);
    assert.equal(st.availableReplicas, 3);
    assert.ok(st.currentRevision?.startsWith('web-'));
    assert.equal(st.currentRevision, st.updateRevision);

    const pods = (await podsOf(c.client, ns, 'web')).sort((a, b) => ordinal(a) - ordinal(b));
    assert.deepEqual(pods.map((p) => p.metadata.name), ['web-0', 'web-1', 'web-2']);
    for (const [i, p] of pods.entries()) {
      assert.equal(p.metadata.labels?.[POD_NAME_LABEL], `web-${i}`);
      assert.equal(p.metadata.labels?.[POD_INDEX_LABEL], String(i));
      assert.equal(p.metadata.labels?.[REVISION_LABEL], st.updateRevision);
      const spec = p.spec as { hostname?: string; subdomain?: string; volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[] };
      assert.equal(spec.hostname, `web-${i}`);
      assert.equal(spec.subdomain, 'web');
      assert.deepEqual(spec.volumes?.find((v) => v.name === 'www')?.persistentVolumeClaim, { claimName: `www-web-${i}` });
    }
    const claims = await listIn(c.client, PVCS, ns);
    assert.deepEqual(claims.map((x) => x.metadata.name).sort(), ['www-web-0', 'www-web-1', 'www-web-2']);
    assert.equal(claims[0].metadata.labels?.app, 'web');
    assert.ok(claims.every((x) => !x.metadata.ownerReferences?.length), 'Retain/Retain: claims have no owners');
    await waitForEvent(c.client, ns, 'web', 'SuccessfulCreate: create Pod web-0 in StatefulSet web successful');
    await waitForEvent(c.client, ns, 'web', 'SuccessfulCreate: create Claim www-web-0 Pod web-0 in StatefulSet web success');

    // Scale down: highest ordinal first, one at a time; claims stay.
    const downWatch = watchInvariant(c.client, ns, 'web', (ps) => {
      const ords = new Set(ps.map(ordinal));
      return ords.has(2) && !ords.has(1) ? 'web-1 went before web-2' : undefined;
    });
    await c.client.resource(STATEFULSETS).patch('web', { spec: { replicas: 1 } }, 'merge', { namespace: ns });
    await settled(c.client, ns, 'web', 1);
    assert.deepEqual(await downWatch.end(), []);
    assert.deepEqual((await podsOf(c.client, ns, 'web')).map((p) => p.metadata.name), ['web-0']);
    assert.equal((await listIn(c.client, PVCS, ns)).length, 3, 'claims are retained on scale down');
    await waitForEvent(c.client, ns, 'web', 'SuccessfulDelete: delete Pod web-2 in StatefulSet web successful');
    // Scale up again: the same claims serve the same ordinals.
    await c.client.resource(STATEFULSETS).patch('web', { spec: { replicas: 2 } }, 'merge', { namespace: ns });
    await settled(c.client, ns, 'web', 2);
  });

  it('Parallel with ordinals.start: every pod at once, named from the start ordinal', async () => {
    const ns = await namespace(c, 'sts-parallel');
    let allBeforeReady = false;
    const w = watchInvariant(c.client, ns, 'par', (pods) => {
      if (pods.length === 3 && !pods.some(ready)) allBeforeReady = true;
      return undefined;
    });
    await c.client.resource(STATEFULSETS).create(statefulSet('par', { podManagementPolicy: 'Parallel', ordinals: { start: 5 } }), { namespace: ns });
    await settled(c.client, ns, 'par', 3);
    await w.end();
    assert.ok(allBeforeReady, 'all three pods existed before any was ready');
    assert.deepEqual((await podsOf(c.client, ns, 'par')).map((p) => p.metadata.name).sort(), ['par-5', 'par-6', 'par-7']);
    assert.deepEqual((await listIn(c.client, PVCS, ns)).map((x) => x.metadata.name).sort(), ['www-par-5', 'www-par-6', 'www-par-7']);
    // Parallel scale down removes both at once.
    await c.client.resource(STATEFULSETS).patch('par', { spec: { replicas: 1 } }, 'merge', { namespace: ns });
    await settled(c.client, ns, 'par', 1);
    assert.deepEqual((await podsOf(c.client, ns, 'par')).map((p) => p.metadata.name), ['par-5']);
  });

  it('RollingUpdate by ordinal from the highest, stopping at the partition; pods below it are recreated at the current revision', async () => {
    const ns = await namespace(c, 'sts-roll');
    await c.client.resource(STATEFULSETS).create(statefulSet('roll', { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } } }), { namespace: ns });
    const first = await settled(c.client, ns, 'roll', 3);
    const order: string[] = [];
    const w = watchInvariant(c.client, ns, 'roll', (pods) => {
      for (const p of pods) if (imageOf(p).endsWith(':2') && !order.includes(p.metadata.name!)) order.push(p.metadata.name!);
      const unready = pods.filter((p) => !ready(p) || p.metadata.deletionTimestamp).length + (3 - pods.length);
      return unready > 1 ? `${unready} pods unavailable at once` : undefined;
    });
    await c.client.resource(STATEFULSETS).patch('roll', { spec: { template: { spec: { containers: [{ name: 'web', image: 'registry.example/web:2', volumeMounts: [{ name: 'www', mountPath: '/data' }] }] } } } }, 'strategic', { namespace: ns });
    const mid = await settled(c.client, ns, 'roll', 3, (st) => st.updatedReplicas === 2);
    assert.deepEqual(await w.end(), []);
    assert.deepEqual(order, ['roll-2', 'roll-1']);
    assert.equal(mid.currentRevision, first.currentRevision);
    assert.notEqual(mid.updateRevision, first.updateRevision);
    assert.equal(mid.currentReplicas, 1);
    const byName = new Map((await podsOf(c.client, ns, 'roll')).map((p) => [p.metadata.name, p]));
    assert.equal(imageOf(byName.get('roll-0')!), 'registry.example/web:1');

    // Below the partition a deleted pod comes back at the current revision.
    await c.client.resource(PODS).delete('roll-0', { namespace: ns });
    await until('roll-0 recreated', async () => {
      const p = (await podsOf(c.client, ns, 'roll')).find((x) => x.metadata.name === 'roll-0');
      return !!p && p.metadata.uid !== byName.get('roll-0')!.metadata.uid && ready(p);
    });
    const again = (await podsOf(c.client, ns, 'roll')).find((x) => x.metadata.name === 'roll-0')!;
    assert.equal(imageOf(again), 'registry.example/web:1');
    assert.equal(again.metadata.labels?.[REVISION_LABEL], first.currentRevision);

    // Partition 0 completes the rollout; the update revision becomes current.
    await c.client.resource(STATEFULSETS).patch('roll', { spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } } } }, 'merge', { namespace: ns });
    const done = await settled(c.client, ns, 'roll', 3, (st) => st.updatedReplicas === 3 && st.currentRevision === st.updateRevision);
    assert.equal(done.currentReplicas, 3);
    assert.ok((await podsOf(c.client, ns, 'roll')).every((p) => imageOf(p) === 'registry.example/web:2'));
  });

  it('OnDelete: only deleted pods come back from the new template', async () => {
    const ns = await namespace(c, 'sts-ondelete');
    await c.client.resource(STATEFULSETS).create(statefulSet('od', { replicas: 2, updateStrategy: { type: 'OnDelete' } }), { namespace: ns });
    await settled(c.client, ns, 'od', 2);
    await c.client.resource(STATEFULSETS).patch('od', { spec: { template: { spec: { containers: [{ name: 'web', image: 'registry.example/web:2', volumeMounts: [{ name: 'www', mountPath: '/data' }] }] } } } }, 'strategic', { namespace: ns });
    await settled(c.client, ns, 'od', 2, (st) => st.updatedReplicas === 0 && st.currentRevision !== st.updateRevision);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((await podsOf(c.client, ns, 'od')).every((p) => imageOf(p) === 'registry.example/web:1'));
    await c.client.resource(PODS).delete('od-1', { namespace: ns });
    await settled(c.client, ns, 'od', 2, (st) => st.updatedReplicas === 1);
    const byName = new Map((await podsOf(c.client, ns, 'od')).map((p) => [p.metadata.name, p]));
    assert.equal(imageOf(byName.get('od-1')!), 'registry.example/web:2');
    assert.equal(imageOf(byName.get('od-0')!), 'registry.example/web:1');
  });

  it('persistentVolumeClaimRetentionPolicy Delete: claims owned by the set, and by condemned pods on scale down', async () => {
    const ns = await namespace(c, 'sts-retention');
    await c.client.resource(STATEFULSETS).create(statefulSet('ret', { replicas: 2, persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete', whenScaled: 'Delete' } }), { namespace: ns });
    await settled(c.client, ns, 'ret', 2);
    const { s } = await status(c.client, ns, 'ret');
    await until('claims owned by the set', async () => {
      const claims = await listIn(c.client, PVCS, ns);
      return claims.length === 2 && claims.every((x) => x.metadata.ownerReferences?.some((r) => r.kind === 'StatefulSet' && r.uid === s.metadata.uid));
    });
    await c.client.resource(STATEFULSETS).patch('ret', { spec: { replicas: 1 } }, 'merge', { namespace: ns });
    await settled(c.client, ns, 'ret', 1);
    await until('the condemned claim is garbage collected', async () => (await listIn(c.client, PVCS, ns)).map((x) => x.metadata.name).join() === 'www-ret-0');
    await c.client.resource(STATEFULSETS).delete('ret', { namespace: ns, propagationPolicy: 'Background' });
    await until('claims go with the set', async () => (await listIn(c.client, PVCS, ns)).length === 0, 30_000);
  });
});
