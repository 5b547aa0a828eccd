/**
 * CustomResourceDefinitions through @kubernetes/client-node: a structural schema with defaults,
 * enum, pattern, minimum, required, a preserve-unknown-fields subtree, printer columns, status
 * and scale subresources and two versions (v1beta1 served, v1 served+storage). Instances are
 * pruned, defaulted and validated (422 with field paths), served at both versions, and go with
 * the CRD, whose kind then leaves discovery.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiextensionsV1Api, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { startTestServer, testStore, type TestServer } from '../support/server.js';
import { apiError, clientsFor, patchAs, PatchStrategy, raw, randomSuffix, until, type Clients } from '../support/client-node.js';

let server: TestServer;
let c: Clients;
let ext: ApiextensionsV1Api;
const ns = `crd-${randomSuffix()}`;
const group = 'stable.example.com';
const plural = 'crontabs';

const schema = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      required: ['cronSpec'],
      properties: {
        cronSpec: { type: 'string', pattern: '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$' },
        image: { type: 'string', default: 'busybox:latest' },
        replicas: { type: 'integer', minimum: 1, maximum: 10, default: 1 },
        policy: { type: 'string', enum: ['Allow', 'Forbid', 'Replace'], default: 'Allow' },
        config: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        nested: { type: 'object', default: {}, properties: { depth: { type: 'integer', default: 3 } } },
      },
    },
    status: { type: 'object', properties: { replicas: { type: 'integer' }, selector: { type: 'string' } } },
  },
};

/**
 * client-node's V1JSONSchemaProps model names `default`, `enum` and the `x-kubernetes-*`
 * extensions `_default`, `_enum` and `x_kubernetes_*`; its serializer drops the JSON names. So a
 * schema written as JSON is renamed into the model's names before it goes through the client.
 */
function asModel(schema: unknown): any {
  if (Array.isArray(schema)) return schema.map(asModel);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'default') out._default = v;
    else if (k === 'enum') out._enum = v;
    else if (k.startsWith('x-kubernetes-')) out[k.replace(/-/g, '_')] = v;
    else if (k === 'properties') out[k] = Object.fromEntries(Object.entries(v as object).map(([name, sub]) => [name, asModel(sub)]));
    else if (k === 'items' || k === 'additionalProperties') out[k] = asModel(v);
    else out[k] = v;
  }
  return out;
}

const crd: V1CustomResourceDefinition = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${plural}.${group}` },
  spec: {
    group,
    scope: 'Namespaced',
    names: { plural, singular: 'crontab', kind: 'CronTab', listKind: 'CronTabList', shortNames: ['ct'] },
    versions: ['v1beta1', 'v1'].map((name) => ({
      name,
      served: true,
      storage: name === 'v1',
      schema: { openAPIV3Schema: asModel(schema) },
      subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' } },
      additionalPrinterColumns: [
        { name: 'Spec', type: 'string', jsonPath: '.spec.cronSpec' },
        { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas' },
        { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
      ],
    })),
  },
};

type CronTab = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; generation?: number; uid?: string };
  spec: Record<string, any>;
  status?: Record<string, any>;
};

const ref = (version: string) => ({ group, version, namespace: ns, plural });
const crontab = (name: string, spec: Record<string, unknown>, version = 'v1'): CronTab => ({ apiVersion: `${group}/${version}`, kind: 'CronTab', metadata: { name }, spec });

describe(`client-node CustomResourceDefinitions (${testStore()})`, () => {
  before(async () => {
    // API semantics only: no controllers racing the assertions (status writers, garbage collector).
    server = await startTestServer({ server: { controllers: false } });
    c = clientsFor(server);
    ext = c.kc.makeApiClient(ApiextensionsV1Api);
    await c.core.createNamespace({ body: { metadata: { name: ns } } });
  });
  after(async () => server?.stop());

  test('create the CRD; it becomes Established and appears in discovery at both versions', async () => {
    const created = await ext.createCustomResourceDefinition({ body: crd });
    assert.equal(created.spec.conversion?.strategy, 'None', 'defaulted conversion');
    await until(async () => {
      const got = await ext.readCustomResourceDefinition({ name: crd.metadata!.name! });
      return got.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
    }, 'Established');
    const got = await ext.readCustomResourceDefinition({ name: crd.metadata!.name! });
    assert.ok(got.status?.conditions?.some((x) => x.type === 'NamesAccepted' && x.status === 'True'));
    assert.deepEqual(got.status?.acceptedNames?.shortNames, ['ct']);
    assert.deepEqual(got.status?.storedVersions, ['v1']);
    assert.ok(got.metadata!.finalizers?.includes('customresourcecleanup.apiextensions.k8s.io'));

    for (const v of ['v1beta1', 'v1']) {
      const res = await raw(c.kc, 'GET', `/apis/${group}/${v}`);
      assert.equal(res.status, 200, res.text);
      const r = res.json.resources.find((x: { name: string }) => x.name === plural);
      assert.ok(r, `${plural} in /apis/${group}/${v}`);
      assert.equal(r.kind, 'CronTab');
      assert.equal(r.namespaced, true);
      assert.deepEqual(r.shortNames, ['ct']);
      assert.ok(res.json.resources.some((x: { name: string }) => x.name === `${plural}/status`));
      assert.ok(res.json.resources.some((x: { name: string }) => x.name === `${plural}/scale`));
    }
    const groups = await raw(c.kc, 'GET', '/apis');
    const g = groups.json.groups.find((x: { name: string }) => x.name === group);
    assert.ok(g);
    assert.equal(g.preferredVersion.version, 'v1');
    assert.deepEqual(g.versions.map((x: { version: string }) => x.version).sort(), ['v1', 'v1beta1']);
  });

  test('instances: defaults applied, unknown fields pruned, preserve-unknown-fields subtree kept', async () => {
    const obj = crontab('defaults', { cronSpec: '*/5 * * * *', bogus: 'dropped', config: { anything: { goes: [1, 2] } }, nested: { extra: 1 } });
    (obj as Record<string, unknown>).topLevelJunk = 'dropped too';
    const created = (await c.custom.createNamespacedCustomObject({ ...ref('v1'), body: obj })) as CronTab;
    assert.equal(created.spec.image, 'busybox:latest');
    assert.equal(created.spec.replicas, 1);
    assert.equal(created.spec.policy, 'Allow');
    assert.deepEqual(created.spec.nested, { depth: 3 }, 'nested default, nested unknown pruned');
    assert.equal(created.spec.bogus, undefined);
    assert.equal((created as Record<string, unknown>).topLevelJunk, undefined);
    assert.deepEqual(created.spec.config, { anything: { goes: [1, 2] } });
    assert.equal(created.metadata.generation, 1);
    // And stored that way.
    const got = (await c.custom.getNamespacedCustomObject({ ...ref('v1'), name: 'defaults' })) as CronTab;
    assert.deepEqual(got.spec, created.spec);
    // Status given on create is dropped (status subresource).
    const withStatus = (await c.custom.createNamespacedCustomObject({
      ...ref('v1'),
      body: { ...crontab('withstatus', { cronSpec: '* * * * *' }), status: { replicas: 5 } },
    })) as CronTab;
    assert.equal(withStatus.status, undefined);
    // Warn reports what was pruned.
    const res = await raw(c.kc, 'POST', `/apis/${group}/v1/namespaces/${ns}/${plural}`, crontab('warned', { cronSpec: '* * * * *', nope: 1 }));
    assert.equal(res.status, 201, res.text);
    assert.match(String(res.headers.warning), /unknown field \\"spec\.nope\\"/);
    // Strict refuses it.
    const strict = await raw(c.kc, 'POST', `/apis/${group}/v1/namespaces/${ns}/${plural}?fieldValidation=Strict`, crontab('strict', { cronSpec: '* * * * *', nope: 1 }));
    assert.equal(strict.status, 400, strict.text);
    assert.match(strict.json.message, /unknown field "spec\.nope"/);
  });

  test('validation: 422 Invalid with field paths for enum, pattern, minimum/maximum, required, type', async () => {
    const bad = await apiError(
      c.custom.createNamespacedCustomObject({
        ...ref('v1'),
        body: crontab('bad', { cronSpec: 'not a cron', replicas: 0, policy: 'Sometimes', image: 5 }),
      }),
      422,
      'Invalid',
    );
    assert.equal(bad.details?.group, group);
    assert.equal(bad.details?.kind, 'CronTab');
    assert.equal(bad.details?.name, 'bad');
    const fields = (bad.details?.causes ?? []).map((x) => x.field).sort();
    assert.deepEqual(fields, ['spec.cronSpec', 'spec.image', 'spec.policy', 'spec.replicas']);
    const byField = Object.fromEntries((bad.details?.causes ?? []).map((x) => [x.field, x as { reason?: string; message?: string }]));
    assert.equal(byField['spec.policy'].reason, 'FieldValueNotSupported');
    assert.match(byField['spec.policy'].message!, /supported values: "Allow", "Forbid", "Replace"/);
    assert.equal(byField['spec.replicas'].reason, 'FieldValueInvalid');
    assert.match(byField['spec.replicas'].message!, /should be greater than or equal to 1/);
    assert.match(byField['spec.cronSpec'].message!, /should match/);
    assert.equal(byField['spec.image'].reason, 'FieldValueTypeInvalid');
    assert.match(bad.message!, /^CronTab\.stable\.example\.com "bad" is invalid: \[/);

    const missing = await apiError(c.custom.createNamespacedCustomObject({ ...ref('v1'), body: crontab('missing', {}) }), 422, 'Invalid');
    assert.deepEqual(
      (missing.details?.causes ?? []).map((x) => [x.field, (x as { reason?: string }).reason]),
      [['spec.cronSpec', 'FieldValueRequired']],
    );
    const tooMany = await apiError(
      c.custom.createNamespacedCustomObject({ ...ref('v1'), body: crontab('toomany', { cronSpec: '* * * * *', replicas: 11 }) }),
      422,
      'Invalid',
    );
    assert.match(tooMany.message!, /spec\.replicas: Invalid value: 11: spec\.replicas in body should be less than or equal to 10/);
    // Updates are validated, too.
    const ok = (await c.custom.createNamespacedCustomObject({ ...ref('v1'), body: crontab('upd', { cronSpec: '* * * * *' }) })) as CronTab;
    await apiError(
      c.custom.patchNamespacedCustomObject({ ...ref('v1'), name: 'upd', body: { spec: { policy: 'Nope' } } }, patchAs(PatchStrategy.MergePatch)),
      422,
      'Invalid',
    );
    const stillOk = (await c.custom.getNamespacedCustomObject({ ...ref('v1'), name: 'upd' })) as CronTab;
    assert.equal(stillOk.metadata.resourceVersion, ok.metadata.resourceVersion);
  });

  test('served at both versions; objects read and written through either', async () => {
    const viaBeta = (await c.custom.createNamespacedCustomObject({ ...ref('v1beta1'), body: crontab('beta', { cronSpec: '0 * * * *' }, 'v1beta1') })) as CronTab;
    assert.equal(viaBeta.apiVersion, `${group}/v1beta1`);
    assert.equal(viaBeta.spec.replicas, 1);
    const asV1 = (await c.custom.getNamespacedCustomObject({ ...ref('v1'), name: 'beta' })) as CronTab;
    assert.equal(asV1.apiVersion, `${group}/v1`);
    assert.equal(asV1.metadata.uid, viaBeta.metadata.uid);
    const asBeta = (await c.custom.getNamespacedCustomObject({ ...ref('v1beta1'), name: 'defaults' })) as CronTab;
    assert.equal(asBeta.apiVersion, `${group}/v1beta1`);
    const listBeta = (await c.custom.listNamespacedCustomObject({ ...ref('v1beta1') })) as { apiVersion: string; kind: string; items: CronTab[] };
    assert.equal(listBeta.kind, 'CronTabList');
    assert.equal(listBeta.apiVersion, `${group}/v1beta1`);
    assert.ok(listBeta.items.every((i) => i.apiVersion === `${group}/v1beta1`));
    const listV1 = (await c.custom.listNamespacedCustomObject({ ...ref('v1') })) as { items: CronTab[] };
    assert.deepEqual(listV1.items.map((i) => i.metadata.name).sort(), listBeta.items.map((i) => i.metadata.name).sort());
    // Update through v1beta1 of an object created through v1.
    const upd = (await c.custom.patchNamespacedCustomObject(
      { ...ref('v1beta1'), name: 'defaults', body: { spec: { replicas: 4 } } },
      patchAs(PatchStrategy.MergePatch),
    )) as CronTab;
    assert.equal(upd.spec.replicas, 4);
    assert.equal(upd.metadata.generation, 2);
    // Printer columns in a Table.
    const table = await raw(c.kc, 'GET', `/apis/${group}/v1/namespaces/${ns}/${plural}/defaults`, undefined, {
      accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
    });
    assert.equal(table.status, 200, table.text);
    assert.equal(table.json.kind, 'Table');
    assert.deepEqual(
      table.json.columnDefinitions.map((x: { name: string }) => x.name),
      ['Name', 'Spec', 'Replicas', 'Age'],
    );
    assert.deepEqual(table.json.rows[0].cells.slice(0, 3), ['defaults', '*/5 * * * *', 4]);
    // Status and scale subresources.
    await c.custom.patchNamespacedCustomObjectStatus(
      { ...ref('v1'), name: 'defaults', body: { status: { replicas: 2, selector: 'app=cron' }, spec: { replicas: 9 } } },
      patchAs(PatchStrategy.MergePatch),
    );
    const scale = (await c.custom.getNamespacedCustomObjectScale({ ...ref('v1beta1'), name: 'defaults' })) as { spec: { replicas: number }; status: { replicas: number; selector: string } };
    assert.deepEqual(scale.spec, { replicas: 4 }, '/status ignored spec');
    assert.deepEqual(scale.status, { replicas: 2, selector: 'app=cron' });
  });

  test('deleting the CRD removes its instances and the kind leaves discovery', async () => {
    const before = (await c.custom.listNamespacedCustomObject({ ...ref('v1') })) as { items: CronTab[] };
    assert.ok(before.items.length >= 3);
    await ext.deleteCustomResourceDefinition({ name: crd.metadata!.name! });
    await until(async () => (await raw(c.kc, 'GET', `/apis/${group}/v1/namespaces/${ns}/${plural}`)).status === 404, 'the kind to stop being served', 15_000);
    await until(async () => {
      try {
        await ext.readCustomResourceDefinition({ name: crd.metadata!.name! });
        return false;
      } catch {
        return true;
      }
    }, 'the CRD to be gone', 15_000);
    const groups = await raw(c.kc, 'GET', '/apis');
    assert.equal(
      groups.json.groups.find((x: { name: string }) => x.name === group),
      undefined,
      'the group left /apis',
    );
    assert.equal((await raw(c.kc, 'GET', `/apis/${group}/v1`)).status, 404);
    const agg = await raw(c.kc, 'GET', '/apis', undefined, { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' });
    assert.equal(agg.status, 200);
    assert.equal(
      agg.json.items.find((x: { metadata: { name: string } }) => x.metadata.name === group),
      undefined,
    );
    // Re-creating the CRD serves an empty collection: the instances were deleted, not hidden.
    await ext.createCustomResourceDefinition({ body: crd });
    await until(async () => (await raw(c.kc, 'GET', `/apis/${group}/v1/namespaces/${ns}/${plural}`)).status === 200, 'served again');
    const again = (await c.custom.listNamespacedCustomObject({ ...ref('v1') })) as { items: CronTab[] };
    assert.deepEqual(again.items, []);
  });
});
