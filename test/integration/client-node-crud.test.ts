/**
 * CRUD and object metadata as @kubernetes/client-node sees them: generateName, uid,
 * creationTimestamp, resourceVersion, generation, defaults, AlreadyExists / NotFound Status
 * objects, optimistic concurrency, unconditional update, immutable fields.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1ConfigMap, V1Deployment, V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';
import { startTestServer, testStore, type TestServer } from '../support/server.js';
import { apiError, clientsFor, patchAs, PatchStrategy, randomSuffix, type Clients } from '../support/client-node.js';

let server: TestServer;
let c: Clients;
const ns = `crud-${randomSuffix()}`;

const deployment = (name: string, replicas = 1): V1Deployment => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, labels: { app: name } },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } },
  },
});

describe(`client-node CRUD and metadata (${testStore()})`, () => {
  before(async () => {
    // API semantics only: no controllers racing the assertions (status writers, garbage collector).
    server = await startTestServer({ server: { controllers: false } });
    c = clientsFor(server);
    await c.core.createNamespace({ body: { metadata: { name: ns } } });
  });
  after(async () => server?.stop());

  test('generateName, uid, creationTimestamp, monotonic resourceVersion', async () => {
    const a = await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { generateName: 'gen-' }, data: { k: 'v' } } });
    const b = await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { generateName: 'gen-' }, data: { k: 'v' } } });
    for (const o of [a, b]) {
      assert.match(o.metadata!.name!, /^gen-[a-z0-9]{5}$/);
      assert.equal(o.metadata!.generateName, 'gen-');
      assert.match(o.metadata!.uid!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.ok(o.metadata!.creationTimestamp instanceof Date, 'creationTimestamp parses as a date');
      assert.ok(Math.abs(o.metadata!.creationTimestamp!.getTime() - Date.now()) < 60_000);
      assert.match(o.metadata!.resourceVersion!, /^[0-9]+$/);
    }
    assert.notEqual(a.metadata!.name, b.metadata!.name);
    assert.notEqual(a.metadata!.uid, b.metadata!.uid);
    assert.ok(Number(b.metadata!.resourceVersion) > Number(a.metadata!.resourceVersion));

    const got = await c.core.readNamespacedConfigMap({ name: a.metadata!.name!, namespace: ns });
    assert.equal(got.metadata!.uid, a.metadata!.uid);
    assert.equal(got.metadata!.resourceVersion, a.metadata!.resourceVersion);
    got.data = { k: 'v2' };
    const upd = await c.core.replaceNamespacedConfigMap({ name: got.metadata!.name!, namespace: ns, body: got });
    assert.ok(Number(upd.metadata!.resourceVersion) > Number(b.metadata!.resourceVersion));
    assert.equal(upd.metadata!.uid, a.metadata!.uid, 'uid survives updates');
    assert.equal(upd.metadata!.creationTimestamp!.getTime(), a.metadata!.creationTimestamp!.getTime());
    // A client may not move creationTimestamp or uid.
    const tampered = { ...upd, metadata: { ...upd.metadata, creationTimestamp: new Date('2001-01-01T00:00:00Z') } };
    const upd2 = await c.core.replaceNamespacedConfigMap({ name: got.metadata!.name!, namespace: ns, body: tampered });
    assert.equal(upd2.metadata!.creationTimestamp!.getTime(), a.metadata!.creationTimestamp!.getTime());
  });

  test('generation bumps on spec changes only (deployment)', async () => {
    const d = await c.apps.createNamespacedDeployment({ namespace: ns, body: deployment('gen') });
    assert.equal(d.metadata!.generation, 1);
    // Metadata change: same generation.
    const m = await c.apps.patchNamespacedDeployment(
      { name: 'gen', namespace: ns, body: { metadata: { labels: { extra: 'yes' }, annotations: { a: 'b' } } } },
      patchAs(PatchStrategy.MergePatch),
    );
    assert.equal(m.metadata!.generation, 1);
    assert.notEqual(m.metadata!.resourceVersion, d.metadata!.resourceVersion);
    // Status change through /status: same generation.
    const s = await c.apps.patchNamespacedDeploymentStatus(
      { name: 'gen', namespace: ns, body: { status: { observedGeneration: 1, replicas: 1 } } },
      patchAs(PatchStrategy.MergePatch),
    );
    assert.equal(s.metadata!.generation, 1);
    assert.equal(s.status!.replicas, 1);
    // Spec change: generation 2.
    const sp = await c.apps.patchNamespacedDeployment({ name: 'gen', namespace: ns, body: { spec: { replicas: 3 } } }, patchAs(PatchStrategy.MergePatch));
    assert.equal(sp.metadata!.generation, 2);
    // A PUT that changes nothing in spec keeps it.
    sp.metadata!.labels = { ...sp.metadata!.labels, more: 'x' };
    const put = await c.apps.replaceNamespacedDeployment({ name: 'gen', namespace: ns, body: sp });
    assert.equal(put.metadata!.generation, 2);
    // Template change through PUT: 3.
    put.spec!.template.spec!.containers[0].image = 'nginx:1.28';
    const put2 = await c.apps.replaceNamespacedDeployment({ name: 'gen', namespace: ns, body: put });
    assert.equal(put2.metadata!.generation, 3);
  });

  test('defaults: deployment, service, pod', async () => {
    const d = await c.apps.createNamespacedDeployment({
      namespace: ns,
      body: { ...deployment('defaults'), spec: { ...deployment('defaults').spec!, replicas: undefined } },
    });
    assert.equal(d.spec!.replicas, 1);
    assert.equal(d.spec!.strategy!.type, 'RollingUpdate');
    assert.equal(d.spec!.strategy!.rollingUpdate!.maxSurge, '25%');
    assert.equal(d.spec!.strategy!.rollingUpdate!.maxUnavailable, '25%');
    assert.equal(d.spec!.revisionHistoryLimit, 10);
    assert.equal(d.spec!.progressDeadlineSeconds, 600);
    const tc = d.spec!.template.spec!.containers[0];
    assert.equal(tc.terminationMessagePath, '/dev/termination-log');
    assert.equal(tc.imagePullPolicy, 'IfNotPresent');
    assert.equal(d.spec!.template.spec!.restartPolicy, 'Always');
    assert.equal(d.spec!.template.spec!.dnsPolicy, 'ClusterFirst');

    const svc = await c.core.createNamespacedService({
      namespace: ns,
      body: { metadata: { name: 'svc' }, spec: { selector: { app: 'x' }, ports: [{ port: 80 }] } },
    });
    assert.equal(svc.spec!.type, 'ClusterIP');
    assert.equal(svc.spec!.ports![0].protocol, 'TCP');
    assert.equal(svc.spec!.ports![0].targetPort, 80);
    assert.equal(svc.spec!.sessionAffinity, 'None');
    // A cluster IP allocated from the Service CIDR 10.96.0.0/12.
    assert.match(svc.spec!.clusterIP ?? '', /^10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+$/);
    assert.deepEqual(svc.spec!.clusterIPs, [svc.spec!.clusterIP]);
    assert.deepEqual(svc.spec!.ipFamilies, ['IPv4']);
    assert.equal(svc.spec!.ipFamilyPolicy, 'SingleStack');
    assert.equal(svc.spec!.internalTrafficPolicy, 'Cluster');

    const pod = await c.core.createNamespacedPod({
      namespace: ns,
      body: { metadata: { name: 'pod' }, spec: { containers: [{ name: 'c', image: 'busybox', ports: [{ containerPort: 8080 }] }] } },
    });
    const ps = pod.spec!;
    assert.equal(ps.restartPolicy, 'Always');
    assert.equal(ps.terminationGracePeriodSeconds, 30);
    assert.equal(ps.dnsPolicy, 'ClusterFirst');
    assert.equal(ps.schedulerName, 'default-scheduler');
    assert.deepEqual({ ...ps.securityContext }, {});
    assert.equal(ps.containers[0].imagePullPolicy, 'Always', ':latest (no tag) pulls Always');
    assert.equal(ps.containers[0].terminationMessagePolicy, 'File');
    assert.equal(ps.containers[0].ports![0].protocol, 'TCP');
    assert.equal(ps.enableServiceLinks, true);
    assert.equal(ps.serviceAccountName ?? 'default', 'default');
    assert.equal(pod.status?.phase, 'Pending');
    assert.equal(pod.status?.qosClass, 'BestEffort');
  });

  test('409 AlreadyExists and 404 NotFound as Status objects', async () => {
    await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'dup' } } });
    const exists = await apiError(c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'dup' } } }), 409, 'AlreadyExists');
    assert.equal(exists.status, 'Failure');
    assert.equal(exists.message, 'configmaps "dup" already exists');
    assert.deepEqual(exists.details, { name: 'dup', kind: 'configmaps' });

    const nf = await apiError(c.core.readNamespacedConfigMap({ name: 'nope', namespace: ns }), 404, 'NotFound');
    assert.equal(nf.message, 'configmaps "nope" not found');
    assert.deepEqual(nf.details, { name: 'nope', kind: 'configmaps' });
    const nfApps = await apiError(c.apps.readNamespacedDeployment({ name: 'nope', namespace: ns }), 404, 'NotFound');
    assert.equal(nfApps.message, 'deployments.apps "nope" not found');
    assert.deepEqual(nfApps.details, { name: 'nope', group: 'apps', kind: 'deployments' });
    await apiError(c.core.deleteNamespacedConfigMap({ name: 'nope', namespace: ns }), 404, 'NotFound');
    await apiError(c.core.replaceNamespacedConfigMap({ name: 'nope', namespace: ns, body: { metadata: { name: 'nope' } } }), 404, 'NotFound');
    // Creating in a namespace that does not exist.
    const nsGone = await apiError(c.core.createNamespacedConfigMap({ namespace: 'no-such-ns', body: { metadata: { name: 'x' } } }), 404, 'NotFound');
    assert.equal(nsGone.message, 'namespaces "no-such-ns" not found');
  });

  test('optimistic concurrency: stale resourceVersion → 409 Conflict; no resourceVersion → unconditional', async () => {
    const cm = await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'occ' }, data: { v: '1' } } });
    const stale = structuredClone(cm) as V1ConfigMap;
    const fresh = await c.core.replaceNamespacedConfigMap({ name: 'occ', namespace: ns, body: { ...cm, data: { v: '2' } } });
    stale.data = { v: 'stale' };
    const conflict = await apiError(c.core.replaceNamespacedConfigMap({ name: 'occ', namespace: ns, body: stale }), 409, 'Conflict');
    assert.equal(conflict.message, 'Operation cannot be fulfilled on configmaps "occ": the object has been modified; please apply your changes to the latest version and try again');
    assert.deepEqual(conflict.details, { name: 'occ', kind: 'configmaps' });
    // A merge patch carrying a stale resourceVersion also conflicts.
    await apiError(
      c.core.patchNamespacedConfigMap(
        { name: 'occ', namespace: ns, body: { metadata: { resourceVersion: cm.metadata!.resourceVersion }, data: { v: 'p' } } },
        patchAs(PatchStrategy.MergePatch),
      ),
      409,
      'Conflict',
    );
    // Unconditional update: no resourceVersion in the body.
    const uncond = await c.core.replaceNamespacedConfigMap({ name: 'occ', namespace: ns, body: { metadata: { name: 'occ' }, data: { v: '3' } } });
    assert.equal(uncond.data!.v, '3');
    assert.ok(Number(uncond.metadata!.resourceVersion) > Number(fresh.metadata!.resourceVersion));
    assert.equal(uncond.metadata!.uid, cm.metadata!.uid);
    // Deployments do not allow unconditional update? They do (AllowUnconditionalUpdate is true for apps).
    await c.apps.createNamespacedDeployment({ namespace: ns, body: deployment('uncond') });
    const d = await c.apps.replaceNamespacedDeployment({ name: 'uncond', namespace: ns, body: deployment('uncond', 2) });
    assert.equal(d.spec!.replicas, 2);
  });

  test('immutable fields → 422 Invalid with field paths', async () => {
    // Secret with immutable: true.
    const sec: V1Secret = await c.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'imm' }, immutable: true, stringData: { a: 'b' } } });
    assert.deepEqual(sec.data, { a: Buffer.from('b').toString('base64') });
    assert.equal(sec.type, 'Opaque');
    const secErr = await apiError(
      c.core.replaceNamespacedSecret({ name: 'imm', namespace: ns, body: { ...sec, data: { a: Buffer.from('c').toString('base64') } } }),
      422,
      'Invalid',
    );
    assert.deepEqual(secErr.details?.causes?.map((x) => x.field), ['data']);
    assert.equal(secErr.details?.kind, 'Secret');
    assert.equal(secErr.details?.name, 'imm');
    assert.match(secErr.message!, /^Secret "imm" is invalid: data: Forbidden: field is immutable when `immutable` is set/);
    const secErr2 = await apiError(c.core.replaceNamespacedSecret({ name: 'imm', namespace: ns, body: { ...sec, immutable: false } }), 422, 'Invalid');
    assert.ok(secErr2.details?.causes?.some((x) => x.field === 'immutable'), JSON.stringify(secErr2));

    // ConfigMap with immutable: true.
    const cm = await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'immcm' }, immutable: true, data: { a: 'b' } } });
    const cmErr = await apiError(c.core.replaceNamespacedConfigMap({ name: 'immcm', namespace: ns, body: { ...cm, data: { a: 'c' } } }), 422, 'Invalid');
    assert.deepEqual(cmErr.details?.causes?.map((x) => x.field), ['data']);
    // Metadata is still mutable.
    const relabeled = await c.core.replaceNamespacedConfigMap({ name: 'immcm', namespace: ns, body: { ...cm, metadata: { ...cm.metadata, labels: { l: '1' } } } });
    assert.deepEqual(relabeled.metadata!.labels, { l: '1' });

    // Service clusterIP.
    const svc: V1Service = await c.core.createNamespacedService({
      namespace: ns,
      body: { metadata: { name: 'immsvc' }, spec: { clusterIP: '10.96.200.199', ports: [{ port: 80 }] } },
    });
    assert.deepEqual(svc.spec!.clusterIPs, ['10.96.200.199']);
    const other = '10.96.200.200';
    const svcErr = await apiError(
      c.core.replaceNamespacedService({ name: 'immsvc', namespace: ns, body: { ...svc, spec: { ...svc.spec, clusterIP: other, clusterIPs: [other] } } }),
      422,
      'Invalid',
    );
    assert.ok(svcErr.details?.causes?.some((x) => x.field === 'spec.clusterIPs[0]' || x.field === 'spec.clusterIP'), JSON.stringify(svcErr));
    // Upstream's validateUpgradeDowngradeClusterIPs wording.
    assert.equal(svcErr.message, 'Service "immsvc" is invalid: spec.clusterIPs[0]: Invalid value: ["10.96.200.200"]: may not change once set');

    // Deployment selector (apps/v1).
    const d = await c.apps.createNamespacedDeployment({ namespace: ns, body: deployment('immsel') });
    d.spec!.selector = { matchLabels: { app: 'immsel', tier: 'x' } };
    d.spec!.template.metadata!.labels = { app: 'immsel', tier: 'x' };
    const dErr = await apiError(c.apps.replaceNamespacedDeployment({ name: 'immsel', namespace: ns, body: d }), 422, 'Invalid');
    assert.deepEqual(dErr.details?.causes?.map((x) => x.field), ['spec.selector']);
    assert.equal(dErr.details?.group, 'apps');
    assert.equal(dErr.details?.kind, 'Deployment');
    assert.match(dErr.message!, /spec\.selector: Invalid value: .*field is immutable/);

    // Validation on create: 422 with the field path.
    const bad = await apiError(
      c.apps.createNamespacedDeployment({ namespace: ns, body: { ...deployment('bad', -1) } }),
      422,
      'Invalid',
    );
    assert.ok(bad.details?.causes?.some((x) => x.field === 'spec.replicas'), JSON.stringify(bad));
    const badPod = await apiError(
      c.core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'Bad_Name' }, spec: { containers: [{ name: 'c', image: 'x' }] } } }),
      422,
      'Invalid',
    );
    assert.ok(badPod.details?.causes?.some((x) => x.field === 'metadata.name'), JSON.stringify(badPod));
  });

  test('pod: most of spec is immutable', async () => {
    const pod: V1Pod = await c.core.createNamespacedPod({
      namespace: ns,
      body: { metadata: { name: 'immpod' }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] } },
    });
    // Image is mutable.
    pod.spec!.containers[0].image = 'busybox:2';
    const upd = await c.core.replaceNamespacedPod({ name: 'immpod', namespace: ns, body: pod });
    assert.equal(upd.spec!.containers[0].image, 'busybox:2');
    upd.spec!.restartPolicy = 'Never';
    const err = await apiError(c.core.replaceNamespacedPod({ name: 'immpod', namespace: ns, body: upd }), 422, 'Invalid');
    assert.equal(err.details?.causes?.[0]?.field, 'spec');
    assert.match(err.message!, /pod updates may not change fields other than/);
  });
});
