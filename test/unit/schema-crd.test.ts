import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crdStatusConditions, customResourceDefinitionKind, kindsFromCRD } from '../../src/kinds/apiextensions/customresourcedefinition.js';
import { fieldErrorText } from '../../src/registry/field-errors.js';
import type { KubeObject } from '../../src/util/object.js';

const cronTabCRD = (): KubeObject => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'crontabs.stable.example.com' },
  spec: {
    group: 'stable.example.com',
    scope: 'Namespaced',
    names: { plural: 'crontabs', kind: 'CronTab', shortNames: ['ct'] },
    versions: [
      {
        name: 'v1', served: true, storage: true,
        schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { cronSpec: { type: 'string' }, replicas: { type: 'integer', default: 1 } } }, status: { type: 'object', properties: { replicas: { type: 'integer' } } } } } },
        subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' } },
        additionalPrinterColumns: [
          { name: 'Spec', type: 'string', jsonPath: '.spec.cronSpec' },
          { name: 'Replicas', type: 'integer', jsonPath: '{.spec.replicas}' },
          { name: 'Created', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
      },
      { name: 'v2', served: false, storage: false, schema: { openAPIV3Schema: { type: 'object' } } },
    ],
  },
});

test('CRD defaults and validation', () => {
  const crd = cronTabCRD();
  customResourceDefinitionKind.strategy!.defaults!(crd);
  const spec = crd.spec as any;
  assert.deepEqual(spec.conversion, { strategy: 'None' });
  assert.equal(spec.names.singular, 'crontab');
  assert.equal(spec.names.listKind, 'CronTabList');
  assert.deepEqual(customResourceDefinitionKind.strategy!.validate!(crd), []);

  const bad = cronTabCRD();
  (bad.metadata as any).name = 'wrong';
  (bad.spec as any).group = 'nodots';
  (bad.spec as any).versions[1].storage = true;
  (bad.spec as any).versions[0].subresources.scale.specReplicasPath = '.status.x';
  (bad.spec as any).versions[0].additionalPrinterColumns[0].type = 'float';
  const texts = customResourceDefinitionKind.strategy!.validate!(bad).map(fieldErrorText);
  assert.ok(texts.includes('spec.group: Invalid value: "nodots": should be a domain with at least one dot'), texts.join('\n'));
  assert.ok(texts.some((t) => t.startsWith('spec.versions: Invalid value') && t.endsWith('must have exactly one version marked as storage version')));
  assert.ok(texts.includes('spec.versions[0].subresources.scale.specReplicasPath: Invalid value: ".status.x": should be a json path under .spec'));
  assert.ok(texts.some((t) => t.startsWith('spec.versions[0].additionalPrinterColumns[0].type: Unsupported value: "float"')));
});

test('kindsFromCRD: one kind per served version, printer columns, scale, custom strategy', () => {
  const crd = cronTabCRD();
  customResourceDefinitionKind.strategy!.defaults!(crd);
  const kinds = kindsFromCRD(crd);
  assert.equal(kinds.length, 1);
  const k = kinds[0];
  assert.equal(k.group, 'stable.example.com');
  assert.equal(k.version, 'v1');
  assert.equal(k.listKind, 'CronTabList');
  assert.equal(k.namespaced, true);
  assert.deepEqual(k.shortNames, ['ct']);
  assert.equal(k.storageVersion, 'v1');
  assert.equal(k.statusSubresource, true);
  assert.deepEqual(k.scale, { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' });
  assert.deepEqual(k.printer!.columns.map((c) => c.name), ['Name', 'Spec', 'Replicas', 'Created']);
  const obj: KubeObject = { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: 'x', creationTimestamp: '2024-01-01T00:00:00Z' }, spec: { cronSpec: '* * * * */5', junk: 1 } };
  k.strategy!.defaults!(obj);
  assert.deepEqual(obj.spec, { cronSpec: '* * * * */5', replicas: 1 });
  // Date columns are rendered by the server as an age, as upstream's CRD table convertor does.
  assert.deepEqual(k.printer!.cells(obj, new Date('2024-01-01T00:05:00Z')), ['x', '* * * * */5', 1, '5m']);
  (obj.spec as any).replicas = 'many';
  assert.deepEqual(k.strategy!.validate!(obj).map(fieldErrorText), ['spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"']);

  const noCols = cronTabCRD();
  delete (noCols.spec as any).versions[0].additionalPrinterColumns;
  assert.deepEqual(kindsFromCRD(noCols)[0].printer!.columns.map((c) => c.name), ['Name', 'Age']);
});

test('crdStatusConditions: accepted names, conflicts, stable transition times', () => {
  const crd = cronTabCRD();
  const t0 = new Date('2024-01-01T00:00:00Z');
  const s = crdStatusConditions(crd, [], t0);
  assert.deepEqual(s.conditions.map((c) => [c.type, c.status, c.reason]), [['NamesAccepted', 'True', 'NoConflicts'], ['Established', 'True', 'InitialNamesAccepted']]);
  assert.equal(s.acceptedNames.plural, 'crontabs');
  crd.status = { conditions: s.conditions, acceptedNames: s.acceptedNames };
  const again = crdStatusConditions(crd, [], new Date('2025-01-01T00:00:00Z'));
  assert.equal(again.conditions[0].lastTransitionTime, '2024-01-01T00:00:00Z');

  const other = cronTabCRD();
  other.metadata.name = 'crontabs2.stable.example.com';
  const conflicted = crdStatusConditions(other, [crd], t0);
  assert.equal(conflicted.conditions[0].status, 'False');
  assert.equal(conflicted.conditions[0].reason, 'PluralConflict');
  assert.equal(conflicted.conditions[1].status, 'False');
});
