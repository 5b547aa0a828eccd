import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SchemaCatalog } from '../../src/schema/catalog.js';
import { OpenAPIV3Publisher } from '../../src/schema/openapi-v3.js';
import { customResourceDefinitionKind, kindsFromCRD } from '../../src/kinds/apiextensions/customresourcedefinition.js';
import type { KindDefinition } from '../../src/kinds/types.js';
import { derefSchema, type JSONSchema } from '../../src/schema/types.js';

const podKind: KindDefinition = { group: '', version: 'v1', kind: 'Pod', listKind: 'PodList', plural: 'pods', singular: 'pod', namespaced: true, statusSubresource: true };
const deployKind: KindDefinition = { group: 'apps', version: 'v1', kind: 'Deployment', listKind: 'DeploymentList', plural: 'deployments', singular: 'deployment', namespaced: true, statusSubresource: true, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' } };
const crd = {
  metadata: { name: 'crontabs.stable.example.com' },
  spec: { group: 'stable.example.com', scope: 'Namespaced', names: { plural: 'crontabs', kind: 'CronTab' }, versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { cronSpec: { type: 'string' } } } } } } }] },
};

function setup() {
  const catalog = new SchemaCatalog();
  catalog.setKinds([podKind, deployKind, customResourceDefinitionKind, ...kindsFromCRD(crd as any)]);
  return { catalog, pub: new OpenAPIV3Publisher(catalog) };
}

test('index lists each group-version with a content hash', () => {
  const { pub } = setup();
  const idx = pub.index();
  assert.deepEqual(Object.keys(idx.paths).sort(), ['api/v1', 'apis/apiextensions.k8s.io/v1', 'apis/apps/v1', 'apis/stable.example.com/v1']);
  assert.match(idx.paths['apis/apps/v1'].serverRelativeURL, /^\/openapi\/v3\/apis\/apps\/v1\?hash=[0-9A-F]{128}$/);
});

test('group-version document: operations with GVK and fieldValidation, reachable components', () => {
  const { pub } = setup();
  const doc = JSON.parse(pub.document('api/v1')!.json);
  assert.equal(doc.openapi, '3.0.0');
  const item = doc.paths['/api/v1/namespaces/{namespace}/pods/{name}'];
  assert.deepEqual(item.patch['x-kubernetes-group-version-kind'], { group: '', version: 'v1', kind: 'Pod' });
  assert.equal(item.patch['x-kubernetes-action'], 'patch');
  assert.ok(item.patch.parameters.some((p: { name: string }) => p.name === 'fieldValidation'));
  assert.ok(doc.paths['/api/v1/namespaces/{namespace}/pods/{name}/status'].patch.parameters.some((p: { name: string }) => p.name === 'fieldValidation'));
  assert.ok(doc.paths['/api/v1/pods'].get);
  const schemas = doc.components.schemas as Record<string, JSONSchema>;
  for (const n of ['io.k8s.api.core.v1.Pod', 'io.k8s.api.core.v1.PodList', 'io.k8s.api.core.v1.Container', 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', 'io.k8s.apimachinery.pkg.api.resource.Quantity', 'io.k8s.apimachinery.pkg.apis.meta.v1.Patch'])
    assert.ok(schemas[n], n);
  assert.equal(schemas['io.k8s.api.apps.v1.Deployment'], undefined);
  // Every $ref in the document resolves within it.
  const text = pub.document('api/v1')!.json;
  for (const m of text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) assert.ok(schemas[m[1]], m[1]);
  // explain path: pod.spec.containers.resources.limits is a map of Quantity.
  const resolver = { resolve: (r: string) => schemas[r.replace('#/components/schemas/', '')] };
  const spec = derefSchema(schemas['io.k8s.api.core.v1.Pod'].properties!.spec, resolver)!;
  const container = derefSchema(spec.properties!.containers.items, resolver)!;
  const resources = derefSchema(container.properties!.resources, resolver)!;
  assert.equal(resources.properties!.limits.additionalProperties && (resources.properties!.limits.additionalProperties as JSONSchema).$ref, '#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity');
});

test('apps/v1 carries the scale subresource; CRD documents wrap the schema', () => {
  const { pub } = setup();
  const apps = JSON.parse(pub.document('apis/apps/v1')!.json);
  assert.deepEqual(apps.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale'].patch['x-kubernetes-group-version-kind'], { group: 'autoscaling', version: 'v1', kind: 'Scale' });
  assert.ok(apps.components.schemas['io.k8s.api.autoscaling.v1.Scale']);
  const cr = JSON.parse(pub.document('apis/stable.example.com/v1')!.json);
  const s = cr.components.schemas['com.example.stable.v1.CronTab'];
  assert.deepEqual(s['x-kubernetes-group-version-kind'], [{ group: 'stable.example.com', version: 'v1', kind: 'CronTab' }]);
  assert.deepEqual(Object.keys(s.properties).sort(), ['apiVersion', 'kind', 'metadata', 'spec']);
  assert.ok(cr.components.schemas['com.example.stable.v1.CronTabList']);
  assert.ok(cr.components.schemas['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta']);
  const patchTypes = Object.keys(cr.paths['/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}'].patch.requestBody.content);
  assert.ok(!patchTypes.includes('application/strategic-merge-patch+json'));
});

test('documents are cached until the kinds change', () => {
  const { catalog, pub } = setup();
  const a = pub.document('api/v1');
  assert.equal(pub.document('api/v1'), a);
  catalog.setKinds([podKind]);
  assert.equal(pub.document('apis/apps/v1'), undefined);
  assert.notEqual(pub.document('api/v1'), a);
});
