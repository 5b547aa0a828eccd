/**
 * Deployment lifecycle against the real server: revisionHistoryLimit, rollback by template (the
 * old ReplicaSet is reused with the next revision), pause/resume, progressDeadlineSeconds, and
 * ReplicaSet/Deployment adoption and release of orphans. Pods are made Ready by a stand-in kubelet.
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
async function namespace(skip?: (p: KubeObject) => boolean): Promise<string> {
  const ns = `life-${++nsCounter}-${Date.now().toString(36)}`;
  await createNamespace(client, ns);
  kubelets.push(startFakeKubelet(client, ns, { delayMs: () => 5 + Math.random() * 30, skip }));
  return ns;
}

function deployment(ns: string, name: string, spec: Record<string, unknown> = {}, image = 'nginx:1'): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'web', image }] } },
      ...spec,
    },
  } as Deployment;
}

const getD = (ns: string, name: string) => deployments().get(name, ns);
async function rsOf(ns: string, d: string): Promise<ReplicaSet[]> {
  const dep = await getD(ns, d);
  return (await replicaSets().list({ namespace: ns })).items.filter((rs) => rs.metadata.ownerReferences?.some((r) => r.uid === dep.metadata.uid));
}
const rev = (o: KubeObject) => o.metadata.annotations?.['deployment.kubernetes.io/revision'];
const imageOf = (rs: ReplicaSet) => (rs.spec.template!.spec as { containers: { image: string }[] }).containers[0].image;
async function rolledOut(ns: string, name: string): Promise<boolean> {
  const d = await getD(ns, name);
  const s = d.status ?? {};
  const r = d.spec.replicas ?? 0;
  return (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) && (s.updatedReplicas ?? 0) === r && (s.replicas ?? 0) === r && (s.availableReplicas ?? 0) === r;
}
const waitRolledOut = (ns: string, name: string, ms = 20_000) => until(`${ns}/${name} rolled out`, () => rolledOut(ns, name), ms);
const cond = (d: Deployment, type: string) => d.status?.conditions?.find((c) => c.type === type);
const setImage = (ns: string, name: string, image: string) =>
  deployments().patch(name, { spec: { template: { spec: { containers: [{ name: 'web', image }] } } } }, 'strategic', { namespace: ns });

describe('deployment lifecycle', () => {
  test('revisionHistoryLimit keeps that many old ReplicaSets and deletes the oldest', async () => {
    const ns = await namespace();
    await deployments().create(deployment(ns, 'hist', { revisionHistoryLimit: 2 }));
    await waitRolledOut(ns, 'hist');
    for (const v of [2, 3, 4, 5]) {
      await setImage(ns, 'hist', `nginx:${v}`);
      await until('observed', async () => {
        const d = await getD(ns, 'hist');
        return (d.status?.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
      });
      await waitRolledOut(ns, 'hist');
    }
    await until('history trimmed to 2 old + current', async () => (await rsOf(ns, 'hist')).length === 3);
    const rss = await rsOf(ns, 'hist');
    assert.deepEqual(rss.map(rev).sort(), ['3', '4', '5']);
    assert.equal(rev(await getD(ns, 'hist')), '5');
    assert.equal(imageOf(rss.find((r) => rev(r) === '5')!), 'nginx:5');
  });

  test('a rollback by template reuses the old ReplicaSet with the next revision and records revision-history', async () => {
    const ns = await namespace();
    await deployments().create(deployment(ns, 'rb'));
    await waitRolledOut(ns, 'rb');
    const [first] = await rsOf(ns, 'rb');
    await setImage(ns, 'rb', 'nginx:2');
    await until('revision 2', async () => rev(await getD(ns, 'rb')) === '2');
    await waitRolledOut(ns, 'rb');
    // What `kubectl rollout undo` does: copy the old ReplicaSet's template back.
    await setImage(ns, 'rb', 'nginx:1');
    await until('revision 3 on the reused ReplicaSet', async () => rev(await replicaSets().get(first.metadata.name!, ns)) === '3');
    await waitRolledOut(ns, 'rb');
    const rss = await rsOf(ns, 'rb');
    assert.equal(rss.length, 2, 'no third ReplicaSet');
    const reused = rss.find((r) => r.metadata.uid === first.metadata.uid)!;
    assert.equal(reused.metadata.annotations!['deployment.kubernetes.io/revision-history'], '1');
    assert.equal(reused.spec.replicas, 2);
    assert.equal(rev(await getD(ns, 'rb')), '3');
    assert.equal(rss.find((r) => r.metadata.uid !== first.metadata.uid)!.spec.replicas, 0);
    // And once more forward and back: the history grows.
    await setImage(ns, 'rb', 'nginx:2');
    await until('revision 4', async () => rev(await getD(ns, 'rb')) === '4');
    await waitRolledOut(ns, 'rb');
    await setImage(ns, 'rb', 'nginx:1');
    await until('revision 5', async () => rev(await replicaSets().get(first.metadata.name!, ns)) === '5');
    assert.equal((await replicaSets().get(first.metadata.name!, ns)).metadata.annotations!['deployment.kubernetes.io/revision-history'], '1,3');
  });

  test('a paused Deployment does not roll out template changes but still scales; resume rolls out', async () => {
    const ns = await namespace();
    await deployments().create(deployment(ns, 'pz'));
    await waitRolledOut(ns, 'pz');
    await deployments().patch('pz', { spec: { paused: true } }, 'merge', { namespace: ns });
    await until('paused condition', async () => cond(await getD(ns, 'pz'), 'Progressing')?.reason === 'DeploymentPaused');
    const pausedCond = cond(await getD(ns, 'pz'), 'Progressing')!;
    assert.deepEqual([pausedCond.status, pausedCond.message], ['Unknown', 'Deployment is paused']);
    await setImage(ns, 'pz', 'nginx:2');
    await deployments().patch('pz', { spec: { replicas: 4 } }, 'merge', { namespace: ns });
    await until('scaled while paused', async () => {
      const rss = await rsOf(ns, 'pz');
      return rss.length === 1 && rss[0].spec.replicas === 4;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await rsOf(ns, 'pz')).length, 1, 'no new ReplicaSet while paused');
    assert.equal(imageOf((await rsOf(ns, 'pz'))[0]), 'nginx:1');
    await deployments().patch('pz', { spec: { paused: false } }, 'merge', { namespace: ns });
    await until('revision 2', async () => rev(await getD(ns, 'pz')) === '2');
    await waitRolledOut(ns, 'pz');
    const rss = await rsOf(ns, 'pz');
    assert.equal(imageOf(rss.find((r) => rev(r) === '2')!), 'nginx:2');
    await until('completed', async () => cond(await getD(ns, 'pz'), 'Progressing')?.reason === 'NewReplicaSetAvailable');
  });

  test('progressDeadlineSeconds: a rollout that makes no progress gets ProgressDeadlineExceeded', async () => {
    const ns = await namespace((p) => p.metadata.labels?.broken === 'true');
    await deployments().create(deployment(ns, 'slow', { progressDeadlineSeconds: 2, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } }));
    await waitRolledOut(ns, 'slow');
    await deployments().patch('slow', { spec: { template: { metadata: { labels: { broken: 'true' } } } } }, 'strategic', { namespace: ns });
    await until('Progressing=False ProgressDeadlineExceeded', async () => cond(await getD(ns, 'slow'), 'Progressing')?.reason === 'ProgressDeadlineExceeded', 10_000);
    const d = await getD(ns, 'slow');
    const c = cond(d, 'Progressing')!;
    const newRs = (await rsOf(ns, 'slow')).find((r) => rev(r) === '2')!;
    assert.equal(c.status, 'False');
    assert.equal(c.message, `ReplicaSet "${newRs.metadata.name}" has timed out progressing.`);
    // maxUnavailable 0: the old pods stay and the Deployment stays available.
    assert.equal(cond(d, 'Available')?.status, 'True');
    assert.equal(d.status!.availableReplicas, 2);
    assert.equal(d.status!.updatedReplicas, 1);
    assert.equal(d.status!.unavailableReplicas, 1);
  });

  test('a ReplicaSet adopts matching orphan pods and releases pods relabelled away; a Deployment adopts an orphan ReplicaSet', async () => {
    const ns = await namespace((p) => p.metadata.labels?.hold === 'x');
    const orphan = await pods().create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'stray', namespace: ns, labels: { app: 'solo' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    const rs = await replicaSets().create({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'solo', namespace: ns, labels: { app: 'solo' } },
      spec: { replicas: 2, selector: { matchLabels: { app: 'solo' } }, template: { metadata: { labels: { app: 'solo' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
    } as ReplicaSet);
    await until('orphan adopted', async () => (await pods().get('stray', ns)).metadata.ownerReferences?.[0]?.uid === rs.metadata.uid);
    const ref = (await pods().get('stray', ns)).metadata.ownerReferences![0];
    assert.deepEqual([ref.kind, ref.name, ref.controller, ref.blockOwnerDeletion], ['ReplicaSet', 'solo', true, true]);
    await until('2 pods, one created', async () => (await pods().list({ namespace: ns })).items.filter((p) => !p.metadata.deletionTimestamp).length === 2);
    await until('rs status', async () => (await replicaSets().get('solo', ns)).status?.readyReplicas === 2);

    // Relabel the adopted pod away: released (no controller ref) and replaced.
    await pods().patch('stray', { metadata: { labels: { app: 'elsewhere' } } }, 'merge', { namespace: ns });
    await until('released', async () => !(await pods().get('stray', ns)).metadata.ownerReferences?.length);
    await until('replaced', async () => (await pods().list({ namespace: ns, labelSelector: 'app=solo' })).items.length === 2);
    assert.equal(orphan.metadata.uid, (await pods().get('stray', ns)).metadata.uid);

    // Scaling down deletes not-ready pods first.
    await until('replacement ready', async () => {
      const r = await replicaSets().get('solo', ns);
      return r.status?.readyReplicas === 2 && r.status.replicas === 2;
    });
    await pods().create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'unready', namespace: ns, labels: { app: 'solo', hold: 'x' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    await until('the unready surplus pod deleted', async () => !(await pods().list({ namespace: ns })).items.some((p) => p.metadata.name === 'unready'));
    await until('back to 2 pods', async () => (await pods().list({ namespace: ns, labelSelector: 'app=solo' })).items.filter((p) => !p.metadata.deletionTimestamp).length === 2);
    const events = (await client.resource(EVENTS).list({ namespace: ns })).items as unknown as { reason: string; message: string }[];
    assert.ok(events.some((e) => e.reason === 'SuccessfulDelete' && e.message === 'Deleted pod: unready'), JSON.stringify(events.map((e) => e.message)));

    // An orphan ReplicaSet matching a new Deployment's selector is adopted by it.
    await replicaSets().patch('solo', { spec: { replicas: 0 } }, 'merge', { namespace: ns });
    const d = await deployments().create(deployment(ns, 'adopter', { selector: { matchLabels: { app: 'solo' } }, template: { metadata: { labels: { app: 'solo' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } }));
    await until('rs adopted by deployment', async () => (await replicaSets().get('solo', ns)).metadata.ownerReferences?.[0]?.uid === d.metadata.uid);
    await waitRolledOut(ns, 'adopter');
  });
});
