/**
 * Deployment and ReplicaSet controllers against the real server: a rolling update watched event
 * by event (maxSurge/maxUnavailable hold in every intermediate state), Recreate, scaling,
 * revisionHistoryLimit, rollback by template, pause/resume, the progress deadline, and
 * adoption/release of orphans. Pods are made Ready by a stand-in kubelet.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '../../src/client/index.js';
import { DEPLOYMENTS, REPLICASETS, type Deployment, type ReplicaSet } from '../../src/controllers/deployment/util.js';
import type { KubeObject } from '../../src/util/object.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { adminClient, createNamespace, EVENTS, type FakeKubelet, PODS, startFakeKubelet, until } from '../support/workloads.js';

let server: TestServer;
let client: Client;
const kubelets: FakeKubelet[] = [];

before(async () => {
  server = await startTestServer();
  client = adminClient(server);
});
after(async () => {
  await Promise.all(kubelets.map((k) => k.stop()));
  await server?.stop();
});

const deployments = () => client.resource<Deployment>(DEPLOYMENTS);
const replicaSets = () => client.resource<ReplicaSet>(REPLICASETS);
const pods = () => client.resource(PODS);

let nsCounter = 0;
async function namespace(opts: { skip?: (p: KubeObject) => boolean; delayMs?: number | (() => number) } = {}): Promise<string> {
  const ns = `deploy-${++nsCounter}-${Date.now().toString(36)}`;
  await createNamespace(client, ns);
  kubelets.push(startFakeKubelet(client, ns, { delayMs: opts.delayMs ?? (() => 10 + Math.random() * 60), skip: opts.skip }));
  return ns;
}

function deployment(ns: string, name: string, spec: Record<string, unknown> = {}, image = 'nginx:1.0', podLabels: Record<string, string> = {}): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name, ...podLabels } }, spec: { containers: [{ name: 'web', image }] } },
      ...spec,
    },
  } as Deployment;
}

const getD = (ns: string, name: string) => deployments().get(name, ns);
async function rsOf(ns: string, d: string): Promise<ReplicaSet[]> {
  const dep = await getD(ns, d);
  return (await replicaSets().list({ namespace: ns })).items.filter((rs) => rs.metadata.ownerReferences?.some((r) => r.uid === dep.metadata.uid));
}
const livePods = async (ns: string) => (await pods().list({ namespace: ns })).items.filter((p) => !p.metadata.deletionTimestamp);
const isReady = (p: KubeObject) => ((p.status as { conditions?: { type: string; status: string }[] })?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** kubectl rollout status's "done": the spec observed and every replica updated and available. */
async function rolledOut(ns: string, name: string): Promise<boolean> {
  const d = await getD(ns, name);
  const s = d.status ?? {};
  const r = d.spec.replicas ?? 0;
  return (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) && (s.updatedReplicas ?? 0) === r && (s.replicas ?? 0) === r && (s.availableReplicas ?? 0) === r;
}
const waitRolledOut = (ns: string, name: string, ms = 20_000) => until(`${ns}/${name} rolled out`, () => rolledOut(ns, name), ms);

const cond = (d: Deployment, type: string) => d.status?.conditions?.find((c) => c.type === type);

async function setImage(ns: string, name: string, image: string): Promise<void> {
  await deployments().patch(name, { spec: { template: { spec: { containers: [{ name: 'web', image }] } } } }, 'strategic', { namespace: ns });
}

describe('deployment controller', () => {
  test('a new Deployment gets a hashed ReplicaSet with revision annotations, pods owned by it, and upstream status', async () => {
    const ns = await namespace();
    await deployments().create(deployment(ns, 'web'));
    await waitRolledOut(ns, 'web');
    const [rs] = await rsOf(ns, 'web');
    const hash = rs.metadata.labels!['pod-template-hash'];
    assert.match(hash, /^[bcdfghjklmnpqrstvwxz2456789]+$/);
    assert.equal(rs.metadata.name, `web-${hash}`);
    assert.deepEqual(rs.spec.selector, { matchLabels: { app: 'web', 'pod-template-hash': hash } });
    assert.equal(rs.spec.template!.metadata!.labels!['pod-template-hash'], hash);
    assert.equal(rs.metadata.annotations!['deployment.kubernetes.io/revision'], '1');
    assert.equal(rs.metadata.annotations!['deployment.kubernetes.io/desired-replicas'], '3');
    assert.equal(rs.metadata.annotations!['deployment.kubernetes.io/max-replicas'], '4');
    const ref = rs.metadata.ownerReferences![0];
    assert.deepEqual({ kind: ref.kind, name: ref.name, controller: ref.controller, blockOwnerDeletion: ref.blockOwnerDeletion }, { kind: 'Deployment', name: 'web', controller: true, blockOwnerDeletion: true });

    const ps = await livePods(ns);
    assert.equal(ps.length, 3);
    for (const p of ps) {
      assert.ok(p.metadata.name!.startsWith(`web-${hash}-`), p.metadata.name);
      assert.deepEqual(p.metadata.labels, { app: 'web', 'pod-template-hash': hash });
      const pr = p.metadata.ownerReferences![0];
      assert.deepEqual([pr.kind, pr.name, pr.uid, pr.controller, pr.blockOwnerDeletion], ['ReplicaSet', rs.metadata.name, rs.metadata.uid, true, true]);
    }
    await until('rs status', async () => {
      const cur = await replicaSets().get(rs.metadata.name!, ns);
      const st = cur.status ?? {};
      return st.replicas === 3 && st.fullyLabeledReplicas === 3 && st.readyReplicas === 3 && st.availableReplicas === 3 && st.observedGeneration === cur.metadata.generation;
    });

    const d = await getD(ns, 'web');
    assert.equal(d.metadata.annotations!['deployment.kubernetes.io/revision'], '1');
    assert.equal(d.status!.unavailableReplicas ?? 0, 0);
    assert.equal(d.status!.readyReplicas, 3);
    assert.equal(d.status!.observedGeneration, d.metadata.generation);
    await until('NewReplicaSetAvailable', async () => cond(await getD(ns, 'web'), 'Progressing')?.reason === 'NewReplicaSetAvailable');
    const d2 = await getD(ns, 'web');
    assert.deepEqual(
      [cond(d2, 'Available')?.status, cond(d2, 'Available')?.reason, cond(d2, 'Available')?.message],
      ['True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.'],
    );
    assert.equal(cond(d2, 'Progressing')?.message, `ReplicaSet "${rs.metadata.name}" has successfully progressed.`);

    // Events: the Deployment scaled its ReplicaSet, the ReplicaSet created pods.
    const events = (await client.resource(EVENTS).list({ namespace: ns })).items as unknown as { reason: string; message: string; involvedObject: { kind: string } }[];
    assert.ok(events.some((e) => e.involvedObject.kind === 'Deployment' && e.reason === 'ScalingReplicaSet' && e.message === `Scaled up replica set ${rs.metadata.name} from 0 to 3`), JSON.stringify(events));
    const created = events.filter((e) => e.involvedObject.kind === 'ReplicaSet' && e.reason === 'SuccessfulCreate');
    assert.equal(created.length, 3);
    for (const e of created) assert.match(e.message, new RegExp(`^Created pod: web-${hash}-[a-z0-9]{5}$`));
  });

  for (const [label, replicas, strategy] of [
    ['maxSurge 2, maxUnavailable 1, 6 replicas', 6, { maxSurge: 2, maxUnavailable: 1 }],
    ['maxSurge 1, maxUnavailable 0, 4 replicas', 4, { maxSurge: 1, maxUnavailable: 0 }],
    ['maxSurge 0, maxUnavailable 2, 5 replicas', 5, { maxSurge: 0, maxUnavailable: 2 }],
    ['25%/25% defaults, 8 replicas', 8, undefined],
  ] as const) {
    test(`rolling update (${label}) holds the surge and availability bounds in every watched state`, async () => {
      const ns = await namespace();
      const spec: Record<string, unknown> = { replicas };
      if (strategy) spec.strategy = { type: 'RollingUpdate', rollingUpdate: strategy };
      await deployments().create(deployment(ns, 'web', spec));
      await waitRolledOut(ns, 'web');
      const surge = strategy ? strategy.maxSurge : Math.ceil(replicas * 0.25);
      const unavailable = strategy ? strategy.maxUnavailable : Math.floor(replicas * 0.25);
      const maxTotal = replicas + surge;
      const minAvailable = replicas - unavailable;

      // Watch pods and ReplicaSets from the settled state through the whole rollout.
      const ac = new AbortController();
      const podState = new Map<string, KubeObject>();
      const rsState = new Map<string, ReplicaSet>();
      const violations: string[] = [];
      const podSteps: string[] = [];
      const rsSteps: string[] = [];
      const podList = await pods().list({ namespace: ns });
      for (const p of podList.items) podState.set(p.metadata.name!, p);
      const rsList = await replicaSets().list({ namespace: ns });
      for (const r of rsList.items) rsState.set(r.metadata.name!, r);
      const checkPods = (why: string) => {
        const live = [...podState.values()].filter((p) => !p.metadata.deletionTimestamp);
        const available = live.filter(isReady).length;
        podSteps.push(`${live.length}/${available}`);
        if (live.length > maxTotal) violations.push(`${why}: ${live.length} pods > ${maxTotal}`);
        if (available < minAvailable) violations.push(`${why}: ${available} available < ${minAvailable}`);
      };
      const checkRs = (why: string) => {
        const sizes = [...rsState.values()].map((r) => r.spec.replicas ?? 0);
        const total = sizes.reduce((a, b) => a + b, 0);
        rsSteps.push(sizes.join('+'));
        if (total > maxTotal) violations.push(`${why}: ReplicaSets want ${total} > ${maxTotal}`);
      };
      checkPods('start');
      checkRs('start');
      const podWatch = (async () => {
        try {
          for await (const ev of pods().watch({ namespace: ns, resourceVersion: podList.metadata.resourceVersion, signal: ac.signal })) {
            if (ev.type === 'BOOKMARK' || ev.type === 'ERROR') continue;
            const p = ev.object as KubeObject;
            if (ev.type === 'DELETED') podState.delete(p.metadata.name!);
            else podState.set(p.metadata.name!, p);
            checkPods(`${ev.type} pod ${p.metadata.name}`);
          }
        } catch (e) {
          if (!ac.signal.aborted) throw e;
        }
      })();
      const rsWatch = (async () => {
        try {
          for await (const ev of replicaSets().watch({ namespace: ns, resourceVersion: rsList.metadata.resourceVersion, signal: ac.signal })) {
            if (ev.type === 'BOOKMARK' || ev.type === 'ERROR') continue;
            const r = ev.object as ReplicaSet;
            if (ev.type === 'DELETED') rsState.delete(r.metadata.name!);
            else rsState.set(r.metadata.name!, r);
            checkRs(`${ev.type} rs ${r.metadata.name}`);
          }
        } catch (e) {
          if (!ac.signal.aborted) throw e;
        }
      })();

      await setImage(ns, 'web', 'nginx:2.0');
      await until('new generation observed', async () => {
        const d = await getD(ns, 'web');
        return (d.status?.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
      });
      await waitRolledOut(ns, 'web', 30_000);
      // Let the last deletions arrive on the watch.
      await until('old pods gone', () => [...podState.values()].filter((p) => !p.metadata.deletionTimestamp).length === replicas);
      ac.abort();
      await Promise.all([podWatch, rsWatch]);

      assert.deepEqual(violations, [], `pod steps (live/available): ${podSteps.join(' ')}\nrs steps: ${rsSteps.join(' ')}`);
      // It really went step by step: the new ReplicaSet passed through intermediate sizes.
      const rss = await rsOf(ns, 'web');
      assert.equal(rss.length, 2);
      const newRs = rss.find((r) => r.metadata.annotations!['deployment.kubernetes.io/revision'] === '2')!;
      const oldRs = rss.find((r) => r.metadata.annotations!['deployment.kubernetes.io/revision'] === '1')!;
      assert.equal(newRs.spec.replicas, replicas);
      assert.equal(oldRs.spec.replicas, 0);
      const live = await livePods(ns);
      assert.ok(live.every((p) => p.metadata.labels!['pod-template-hash'] === newRs.metadata.labels!['pod-template-hash']));
      assert.ok(podSteps.length > replicas * 2, `too few steps: ${podSteps.join(' ')}`);
      const d = await getD(ns, 'web');
      assert.equal(d.metadata.annotations!['deployment.kubernetes.io/revision'], '2');
    });
  }

  test('Recreate scales the old ReplicaSet to zero and waits for its pods before creating the new one', async () => {
    const ns = await namespace();
    await deployments().create(deployment(ns, 'db', { replicas: 3, strategy: { type: 'Recreate' } }));
    await waitRolledOut(ns, 'db');
    const ac = new AbortController();
    const list = await pods().list({ namespace: ns });
    const live = new Map<string, KubeObject>(list.items.map((p) => [p.metadata.name!, p]));
    const violations: string[] = [];
    const watch = (async () => {
      try {
        for await (const ev of pods().watch({ namespace: ns, resourceVersion: list.metadata.resourceVersion, signal: ac.signal })) {
          if (ev.type === 'BOOKMARK' || ev.type === 'ERROR') continue;
          const p = ev.object as KubeObject;
          if (ev.type === 'DELETED') live.delete(p.metadata.name!);
          else live.set(p.metadata.name!, p);
          const hashes = new Set([...live.values()].map((x) => x.metadata.labels!['pod-template-hash']));
          if (hashes.size > 1) violations.push(`old and new pods together: ${[...live.keys()].join(',')}`);
        }
      } catch (e) {
        if (!ac.signal.aborted) throw e;
      }
    })();
    await setImage(ns, 'db', 'postgres:2');
    await until('new generation observed', async () => {
      const d = await getD(ns, 'db');
      return (d.status?.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
    });
    await waitRolledOut(ns, 'db');
    ac.abort();
    await watch;
    assert.deepEqual(violations, []);
    const events = (await client.resource(EVENTS).list({ namespace: ns })).items as unknown as { reason: string; message: string }[];
    const scaling = events.filter((e) => e.reason === 'ScalingReplicaSet').map((e) => e.message.replace(/db-[a-z0-9]+/, 'db-X'));
    assert.deepEqual(scaling, ['Scaled up replica set db-X from 0 to 3', 'Scaled down replica set db-X from 3 to 0', 'Scaled up replica set db-X from 0 to 3']);
  });

  test('scaling up and down resizes the ReplicaSet; scaling mid-rollout is proportional', async () => {
    const ns = await namespace({ skip: (p) => p.metadata.labels?.stuck === 'yes' });
    await deployments().create(deployment(ns, 'api', { replicas: 2 }));
    await waitRolledOut(ns, 'api');
    const scale = await deployments().getScale('api', ns);
    scale.spec.replicas = 6;
    await deployments().updateScale('api', scale);
    await waitRolledOut(ns, 'api');
    assert.equal((await livePods(ns)).length, 6);
    await deployments().patch('api', { spec: { replicas: 1 } }, 'merge', { namespace: ns });
    await waitRolledOut(ns, 'api');
    await until('one pod', async () => (await livePods(ns)).length === 1);
    const [rs] = await rsOf(ns, 'api');
    assert.equal(rs.metadata.annotations!['deployment.kubernetes.io/desired-replicas'], '1');

    // Mid-rollout (new pods never become ready), scaling spreads over both ReplicaSets.
    await deployments().patch('api', { spec: { replicas: 10, strategy: { rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } } } }, 'merge', { namespace: ns });
    await waitRolledOut(ns, 'api');
    await deployments().patch('api', { spec: { template: { metadata: { labels: { stuck: 'yes' } } } } }, 'strategic', { namespace: ns });
    await until('rollout stalls with both ReplicaSets active', async () => {
      const rss = await rsOf(ns, 'api');
      // The stall: old 8 (= 10 - maxUnavailable), new 5 (= 13 - 8), none of the new ones ready.
      const sizes = Object.fromEntries(rss.map((r) => [r.metadata.annotations!['deployment.kubernetes.io/revision'], r.spec.replicas]));
      return sizes['1'] === 8 && sizes['2'] === 5;
    });
    await deployments().patch('api', { spec: { replicas: 20 } }, 'merge', { namespace: ns });
    await until('proportional scale to 20+surge', async () => {
      const rss = await rsOf(ns, 'api');
      return rss.reduce((n, r) => n + (r.spec.replicas ?? 0), 0) === 23 && rss.every((r) => r.metadata.annotations!['deployment.kubernetes.io/desired-replicas'] === '20');
    });
    // Before: old 8 + new 5 of 13 allowed; now 23 allowed, split in proportion to max-replicas 13:
    // old round(8*23/13)=14, new round(5*23/13)=9.
    const rss = await rsOf(ns, 'api');
    const sizes = Object.fromEntries(rss.map((r) => [r.metadata.annotations!['deployment.kubernetes.io/revision'], r.spec.replicas]));
    const evs = (await client.resource(EVENTS).list({ namespace: ns })).items as unknown as { reason: string; message: string }[];
    assert.deepEqual(sizes, { '1': 14, '2': 9 }, evs.filter((e) => e.reason === "ScalingReplicaSet").map((e) => e.message).join('\n') + JSON.stringify(rss.map((r) => r.metadata.annotations)));
    for (const r of rss) assert.equal(r.metadata.annotations!['deployment.kubernetes.io/max-replicas'], '23');
  });
});
