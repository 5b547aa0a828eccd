/**
 * Deletion and field validation as a client sees them, through @kubernetes/client-node (and raw
 * HTTPS where the library would hide the behaviour: response headers, bodies with unknown or
 * duplicate fields): finalizers, propagation policies, preconditions, dryRun, deletecollection;
 * fieldValidation Strict / Warn / Ignore.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1ConfigMap, V1Deployment } from '@kubernetes/client-node';
import { startTestServer, testStore, type TestServer } from '../support/server.js';
import { apiError, clientsFor, patchAs, PatchStrategy, raw, randomSuffix, Recorder, warningTexts, type Clients } from '../support/client-node.js';

let server: TestServer;
let c: Clients;
const ns = `del-${randomSuffix()}`;
const cmPath = `/api/v1/namespaces/${ns}/configmaps`;

const deployment = (name: string): V1Deployment => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } },
  },
});

async function exists(name: string): Promise<boolean> {
  try {
    await c.core.readNamespacedConfigMap({ name, namespace: ns });
    return true;
  } catch {
    return false;
  }
}

describe(`client-node deletion and field validation (${testStore()})`, () => {
  before(async () => {
    // API semantics only: no controllers racing the assertions (status writers, garbage collector).
    server = await startTestServer({ server: { controllers: false } });
    c = clientsFor(server);
    await c.core.createNamespace({ body: { metadata: { name: ns } } });
  });
  after(async () => server?.stop());

  test('finalizers hold an object with deletionTimestamp until they are removed; then DELETED', async () => {
    const cm = await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'fin', finalizers: ['example.com/hold', 'example.com/two'] } } });
    const w = await Recorder.start(c.watch, cmPath, { resourceVersion: cm.metadata!.resourceVersion, fieldSelector: 'metadata.name=fin' });
    try {
      // DELETE answers 200 with the object, now marked (upstream answers 202 only for orphanDependents=false).
      const del = await raw(c.kc, 'DELETE', `${cmPath}/fin`);
      assert.equal(del.status, 200, del.text);
      assert.equal(del.json.kind, 'ConfigMap');
      assert.ok(del.json.metadata.deletionTimestamp);
      assert.equal(del.json.metadata.deletionGracePeriodSeconds, 0);
      const marked = await c.core.readNamespacedConfigMap({ name: 'fin', namespace: ns });
      assert.ok(marked.metadata!.deletionTimestamp instanceof Date);
      assert.deepEqual(marked.metadata!.finalizers, ['example.com/hold', 'example.com/two']);
      // Deleting again changes nothing.
      const again = await raw(c.kc, 'DELETE', `${cmPath}/fin`);
      assert.equal(again.status, 200);
      assert.equal(again.json.metadata.resourceVersion, marked.metadata!.resourceVersion);
      // New finalizers may not be added while deleting; data may still change.
      const upd = await c.core.patchNamespacedConfigMap({ name: 'fin', namespace: ns, body: { data: { still: 'writable' } } }, patchAs(PatchStrategy.MergePatch));
      assert.equal(upd.data!.still, 'writable');
      assert.ok(upd.metadata!.deletionTimestamp);
      // Removing one finalizer: still there.
      await c.core.patchNamespacedConfigMap(
        { name: 'fin', namespace: ns, body: { metadata: { finalizers: ['example.com/two'] } } },
        patchAs(PatchStrategy.MergePatch),
      );
      assert.ok(await exists('fin'));
      // Removing the last one: gone.
      await c.core.patchNamespacedConfigMap({ name: 'fin', namespace: ns, body: [{ op: 'remove', path: '/metadata/finalizers' }] });
      assert.equal(await exists('fin'), false);
      const evs = await w.waitFor((e) => e.some((x) => x.type === 'DELETED'), 'DELETED');
      assert.deepEqual(
        evs.map((e) => e.type),
        ['MODIFIED', 'MODIFIED', 'MODIFIED', 'DELETED'],
      );
      assert.ok(evs[0].object.metadata.deletionTimestamp, 'the first MODIFIED carries deletionTimestamp');
      assert.deepEqual(evs[3].object.data, { still: 'writable' });
    } finally {
      w.stop();
    }
  });

  test('a bound pod in its grace period survives updates (its kubelet finishes it with grace 0); a finalizer removed later does not end it early', async () => {
    const pods = `/api/v1/namespaces/${ns}/pods`;
    const body = { metadata: { name: 'graceful', finalizers: ['example.com/hold'] }, spec: { nodeName: 'node-x', terminationGracePeriodSeconds: 30, containers: [{ name: 'main', image: 'busybox' }] } };
    await c.core.createNamespacedPod({ namespace: ns, body });
    const del = await raw(c.kc, 'DELETE', `${pods}/graceful`);
    assert.equal(del.status, 200, del.text);
    assert.equal(del.json.metadata.deletionGracePeriodSeconds, 30);
    // A status write (what a node lifecycle or pod GC does) and the last finalizer's removal: still there, Terminating.
    await c.core.patchNamespacedPodStatus({ name: 'graceful', namespace: ns, body: { status: { phase: 'Running' } } }, patchAs(PatchStrategy.MergePatch));
    await c.core.patchNamespacedPod({ name: 'graceful', namespace: ns, body: [{ op: 'remove', path: '/metadata/finalizers' }] });
    const pod = await c.core.readNamespacedPod({ name: 'graceful', namespace: ns });
    assert.ok(pod.metadata!.deletionTimestamp);
    assert.equal(pod.status!.phase, 'Running');
    // The kubelet's delete with grace 0 ends it.
    const done = await raw(c.kc, 'DELETE', `${pods}/graceful`, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 });
    assert.equal(done.status, 200, done.text);
    await apiError(c.core.readNamespacedPod({ name: 'graceful', namespace: ns }), 404);
  });

  test('propagationPolicy Orphan / Foreground are recorded as the orphan / foregroundDeletion finalizers', async () => {
    await c.apps.createNamespacedDeployment({ namespace: ns, body: deployment('orph') });
    await c.apps.createNamespacedDeployment({ namespace: ns, body: deployment('fore') });
    await c.apps.createNamespacedDeployment({ namespace: ns, body: deployment('back') });
    await c.apps.deleteNamespacedDeployment({ name: 'orph', namespace: ns, propagationPolicy: 'Orphan' });
    await c.apps.deleteNamespacedDeployment({ name: 'fore', namespace: ns, body: { propagationPolicy: 'Foreground' } });
    await c.apps.deleteNamespacedDeployment({ name: 'back', namespace: ns, propagationPolicy: 'Background' });
    const orph = await c.apps.readNamespacedDeployment({ name: 'orph', namespace: ns });
    assert.deepEqual(orph.metadata!.finalizers, ['orphan']);
    assert.ok(orph.metadata!.deletionTimestamp);
    assert.equal(orph.metadata!.generation, 2, 'marking for deletion bumps generation');
    const fore = await c.apps.readNamespacedDeployment({ name: 'fore', namespace: ns });
    assert.deepEqual(fore.metadata!.finalizers, ['foregroundDeletion']);
    assert.ok(fore.metadata!.deletionTimestamp);
    await apiError(c.apps.readNamespacedDeployment({ name: 'back', namespace: ns }), 404, 'NotFound');
    // orphanDependents=false (the old spelling of Background/Foreground) answers 202 for a held object.
    await c.apps.createNamespacedDeployment({ namespace: ns, body: { ...deployment('od'), metadata: { name: 'od', finalizers: ['example.com/x'] } } });
    const od = await raw(c.kc, 'DELETE', `/apis/apps/v1/namespaces/${ns}/deployments/od`, { kind: 'DeleteOptions', apiVersion: 'v1', orphanDependents: false });
    assert.equal(od.status, 202, od.text);
    // An unknown policy: 422.
    await c.apps.createNamespacedDeployment({ namespace: ns, body: deployment('badpol') });
    await apiError(c.apps.deleteNamespacedDeployment({ name: 'badpol', namespace: ns, propagationPolicy: 'Sometimes' }), 422, 'Invalid');
    // Removing the finalizer lets it go.
    await c.apps.patchNamespacedDeployment({ name: 'orph', namespace: ns, body: { metadata: { finalizers: null } } }, patchAs(PatchStrategy.MergePatch));
    await apiError(c.apps.readNamespacedDeployment({ name: 'orph', namespace: ns }), 404, 'NotFound');
  });

  test('delete preconditions: uid or resourceVersion mismatch → 409 Conflict', async () => {
    const cm = await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'pre' } } });
    const badUid = await apiError(
      c.core.deleteNamespacedConfigMap({ name: 'pre', namespace: ns, body: { preconditions: { uid: '00000000-0000-0000-0000-000000000000' } } }),
      409,
      'Conflict',
    );
    assert.match(badUid.message!, /Precondition failed: UID in precondition: 00000000-0000-0000-0000-000000000000, UID in object meta: /);
    const badRv = await apiError(c.core.deleteNamespacedConfigMap({ name: 'pre', namespace: ns, body: { preconditions: { resourceVersion: '1' } } }), 409, 'Conflict');
    assert.match(badRv.message!, /Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: /);
    assert.ok(await exists('pre'));
    const ok = await c.core.deleteNamespacedConfigMap({
      name: 'pre',
      namespace: ns,
      body: { preconditions: { uid: cm.metadata!.uid, resourceVersion: cm.metadata!.resourceVersion } },
    });
    assert.equal(ok.status, 'Success');
    assert.equal(ok.details?.uid, cm.metadata!.uid);
    assert.equal(ok.details?.name, 'pre');
    assert.equal(ok.details?.kind, 'configmaps');
    assert.equal(await exists('pre'), false);
  });

  test('dryRun=All for create, update, patch and delete changes nothing', async () => {
    const list0 = await c.core.listNamespacedConfigMap({ namespace: ns });
    const dry = await c.core.createNamespacedConfigMap({ namespace: ns, dryRun: 'All', body: { metadata: { name: 'dry' }, data: { a: '1' } } });
    assert.equal(dry.metadata!.name, 'dry');
    assert.ok(dry.metadata!.uid, 'dry-run create fills server fields');
    assert.ok(dry.metadata!.creationTimestamp);
    assert.equal(await exists('dry'), false);
    // generateName works in dry run, too.
    const dryGen = await c.core.createNamespacedConfigMap({ namespace: ns, dryRun: 'All', body: { metadata: { generateName: 'dry-' } } });
    assert.match(dryGen.metadata!.name!, /^dry-/);

    const real = await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'wet' }, data: { a: '1' } } });
    // Dry-run create of an existing name is still AlreadyExists.
    await apiError(c.core.createNamespacedConfigMap({ namespace: ns, dryRun: 'All', body: { metadata: { name: 'wet' } } }), 409, 'AlreadyExists');
    const dryPut = await c.core.replaceNamespacedConfigMap({ name: 'wet', namespace: ns, dryRun: 'All', body: { ...real, data: { a: 'put' } } });
    assert.equal(dryPut.data!.a, 'put');
    const dryPatch = await c.core.patchNamespacedConfigMap(
      { name: 'wet', namespace: ns, dryRun: 'All', body: { data: { a: 'patch' } } },
      patchAs(PatchStrategy.MergePatch),
    );
    assert.equal(dryPatch.data!.a, 'patch');
    const dryApply = await c.core.patchNamespacedConfigMap(
      { name: 'wet', namespace: ns, dryRun: 'All', fieldManager: 'dry', force: true, body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'wet' }, data: { a: 'apply' } } },
      patchAs(PatchStrategy.ServerSideApply),
    );
    assert.equal(dryApply.data!.a, 'apply');
    await c.core.deleteNamespacedConfigMap({ name: 'wet', namespace: ns, dryRun: 'All' });
    const after = await c.core.readNamespacedConfigMap({ name: 'wet', namespace: ns });
    assert.deepEqual(after.data, { a: '1' });
    assert.equal(after.metadata!.resourceVersion, real.metadata!.resourceVersion);
    // Dry-run deletecollection, too.
    await c.core.deleteCollectionNamespacedConfigMap({ namespace: ns, dryRun: 'All' });
    assert.ok(await exists('wet'));
    // Invalid dryRun value: 400.
    await apiError(c.core.createNamespacedConfigMap({ namespace: ns, dryRun: 'Some', body: { metadata: { name: 'x' } } }), 400, 'BadRequest');
    // Nothing was written: same items, and only 'wet' added since.
    const list1 = await c.core.listNamespacedConfigMap({ namespace: ns });
    assert.equal(list1.items.length, list0.items.length + 1);
  });

  test('deletecollection with a label selector deletes exactly the matches', async () => {
    for (const [name, tier] of [
      ['dc1', 'a'],
      ['dc2', 'a'],
      ['dc3', 'b'],
    ])
      await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name, labels: { dc: tier } } } });
    await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'dc4', labels: { dc: 'a' }, finalizers: ['example.com/keep'] } } });
    const out = await raw(c.kc, 'DELETE', `${cmPath}?labelSelector=${encodeURIComponent('dc=a')}`);
    assert.equal(out.status, 200, out.text);
    assert.equal(out.json.kind, 'ConfigMapList');
    assert.deepEqual(out.json.items.map((o: V1ConfigMap) => o.metadata!.name).sort(), ['dc1', 'dc2', 'dc4']);
    assert.equal(await exists('dc1'), false);
    assert.equal(await exists('dc2'), false);
    assert.ok(await exists('dc3'));
    const held = await c.core.readNamespacedConfigMap({ name: 'dc4', namespace: ns });
    assert.ok(held.metadata!.deletionTimestamp, 'finalizers hold collection deletes too');
    // Through the typed client.
    const st = await c.core.deleteCollectionNamespacedConfigMap({ namespace: ns, labelSelector: 'dc=b' });
    assert.ok(st);
    assert.equal(await exists('dc3'), false);
    await apiError(c.core.deleteCollectionNamespacedConfigMap({ namespace: ns, labelSelector: 'dc in (' }), 400, 'BadRequest');
  });

  test('fieldValidation=Strict: 400 naming unknown and duplicate fields', async () => {
    const unknown = await raw(c.kc, 'POST', `/apis/apps/v1/namespaces/${ns}/deployments?fieldValidation=Strict`, {
      ...deployment('strict'),
      spec: { ...deployment('strict').spec, bogus: 1, template: { ...deployment('strict').spec!.template, spec: { containers: [{ name: 'c', image: 'x', nope: true }] } } },
    });
    assert.equal(unknown.status, 400, unknown.text);
    assert.equal(unknown.json.reason, 'BadRequest');
    assert.match(unknown.json.message, /strict decoding error: /);
    assert.match(unknown.json.message, /unknown field "spec\.bogus"/);
    assert.match(unknown.json.message, /unknown field "spec\.template\.spec\.containers\[0\]\.nope"/);
    // Duplicate fields (only expressible in raw JSON).
    const dupBody = `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup","name":"dup"},"data":{"a":"1","a":"2"}}`;
    const dup = await raw(c.kc, 'POST', `${cmPath}?fieldValidation=Strict`, dupBody);
    assert.equal(dup.status, 400, dup.text);
    assert.match(dup.json.message, /duplicate field "metadata\.name"/);
    assert.match(dup.json.message, /duplicate field "data\.a"/);
    // Both kinds at once: both named.
    const both = await raw(c.kc, 'POST', `${cmPath}?fieldValidation=Strict`, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"both"},"extra":1,"data":{"a":"1","a":"2"}}`);
    assert.equal(both.status, 400, both.text);
    assert.match(both.json.message, /unknown field "extra"/);
    assert.match(both.json.message, /duplicate field "data\.a"/);
    assert.equal(await exists('dup'), false);
    // Strict on update and patch.
    await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'strict-upd' } } });
    const put = await raw(c.kc, 'PUT', `${cmPath}/strict-upd?fieldValidation=Strict`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'strict-upd' }, oops: 1 });
    assert.equal(put.status, 400, put.text);
    assert.match(put.json.message, /unknown field "oops"/);
    const patch = await raw(c.kc, 'PATCH', `${cmPath}/strict-upd?fieldValidation=Strict`, { oops: 1 }, { 'content-type': 'application/merge-patch+json' });
    assert.equal(patch.status, 400, patch.text);
    assert.match(patch.json.message, /unknown field "oops"/);
    // Through client-node's typed client a valid body passes Strict.
    const ok = await c.core.createNamespacedConfigMap({ namespace: ns, fieldValidation: 'Strict', body: { metadata: { name: 'strict-ok' }, data: { a: 'b' } } });
    assert.equal(ok.metadata!.name, 'strict-ok');
    // An unknown fieldValidation value: 400.
    await apiError(c.core.createNamespacedConfigMap({ namespace: ns, fieldValidation: 'Loose', body: { metadata: { name: 'x' } } }), 400, 'BadRequest');
  });

  test('fieldValidation=Warn (the default): success with Warning headers; Ignore: silent', async () => {
    const body = `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"warn","labels":{"a":"1","a":"1"}},"extra":{"x":1},"data":{"k":"v"}}`;
    const warn = await raw(c.kc, 'POST', `${cmPath}?fieldValidation=Warn`, body);
    assert.equal(warn.status, 201, warn.text);
    const texts = warningTexts(warn.headers.warning);
    assert.ok(texts.includes('unknown field "extra"'), JSON.stringify(texts));
    assert.ok(texts.includes('duplicate field "metadata.labels.a"'), JSON.stringify(texts));
    assert.equal(warn.json.extra, undefined, 'unknown fields are dropped');
    assert.deepEqual(warn.json.data, { k: 'v' });
    // Default is Warn.
    const dflt = await raw(c.kc, 'POST', cmPath, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"warn2"},"extra":1}`);
    assert.equal(dflt.status, 201);
    assert.deepEqual(warningTexts(dflt.headers.warning), ['unknown field "extra"']);
    // Warn on a typed client call: client-node hands back the headers with WithHttpInfo.
    const info = await c.core.createNamespacedConfigMapWithHttpInfo({ namespace: ns, body: { metadata: { name: 'warn3' } } });
    assert.equal(info.httpStatusCode, 201);
    assert.equal(info.headers['warning'], undefined, 'no warnings for a clean body');
    // Ignore: no warnings, unknown fields dropped, duplicates: last wins.
    const ign = await raw(c.kc, 'POST', `${cmPath}?fieldValidation=Ignore`, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ign"},"extra":1,"data":{"a":"1","a":"2"}}`);
    assert.equal(ign.status, 201, ign.text);
    assert.equal(ign.headers.warning, undefined);
    assert.equal(ign.json.extra, undefined);
    assert.deepEqual(ign.json.data, { a: '2' });
  });
});
