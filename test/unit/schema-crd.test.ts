import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crdStatusConditions, customResourceDefinitionKind, kindsFromCRD } from '../../src/kinds/apiextensions/customresourcedefinition.js';
import { fieldErrorText } from '../../src/registry/field-errors.js';
import { decodeObject, rawServedJson } from '../../src/registry/codec.js';
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
          { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas' },
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

  const braces = cronTabCRD();
  (braces.spec as any).versions[0].additionalPrinterColumns[1].jsonPath = '{.spec.replicas}';
  assert.deepEqual(customResourceDefinitionKind.strategy!.validate!(braces).map(fieldErrorText), [
    'spec.versions[0].additionalPrinterColumns[1].jsonPath: Invalid value: "{.spec.replicas}": must be a simple json path starting with .',
  ]);
});

/** A CRD in KubeVirt's style: bare root metadata, an embedded template, a condition-filtered column. */
const vmLikeCRD = (): KubeObject => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'machines.example.com' },
  spec: {
    group: 'example.com',
    scope: 'Namespaced',
    names: { plural: 'machines', kind: 'Machine' },
    versions: [
      {
        name: 'v1', served: true, storage: true,
        additionalPrinterColumns: [
          { name: 'Ready', type: 'string', jsonPath: ".status.conditions[?(@.type=='Ready')].status" },
          { name: 'IP', type: 'string', jsonPath: '.status.interfaces[0].ipAddress' },
          { name: 'Names', type: 'string', jsonPath: '.status.interfaces[*].name' },
        ],
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              metadata: { type: 'object' },
              spec: {
                type: 'object',
                properties: {
                  size: { type: 'string', default: 'small' },
                  template: { type: 'object', 'x-kubernetes-embedded-resource': true, 'x-kubernetes-preserve-unknown-fields': true },
                },
              },
              status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
            },
          },
        },
      },
    ],
  },
});

test('KubeVirt-style CRDs: metadata kept, embedded resources named, filtered columns, defaults on read', () => {
  const crd = vmLikeCRD();
  customResourceDefinitionKind.strategy!.defaults!(crd);
  assert.deepEqual(customResourceDefinitionKind.strategy!.validate!(crd), []);
  const [k] = kindsFromCRD(crd);
  const obj: KubeObject = {
    apiVersion: 'example.com/v1', kind: 'Machine',
    metadata: { name: 'm', namespace: 'default', labels: { a: 'b' }, creationTimestamp: '2024-01-01T00:00:00Z' },
    spec: { template: { apiVersion: 'v1', kind: 'Thing', metadata: { name: 't' }, x: 1 } },
    status: { conditions: [{ type: 'Paused', status: 'False' }, { type: 'Ready', status: 'True' }], interfaces: [{ name: 'default', ipAddress: '10.0.0.5' }, { name: 'second' }] },
  };
  k.strategy!.defaults!(obj);
  assert.deepEqual(obj.metadata, { name: 'm', namespace: 'default', labels: { a: 'b' }, creationTimestamp: '2024-01-01T00:00:00Z' });
  assert.deepEqual(obj.spec, { size: 'small', template: { apiVersion: 'v1', kind: 'Thing', metadata: { name: 't' }, x: 1 } });
  assert.deepEqual(k.strategy!.validate!(obj), []);
  assert.deepEqual(k.printer!.cells(obj, new Date()), ['m', 'True', '10.0.0.5', 'default']);

  // An embedded resource must say what it is, as upstream requires below the root.
  (obj.spec as any).template = { metadata: { name: 't' } };
  assert.deepEqual(k.strategy!.validate!(obj).map(fieldErrorText), ['spec.template.apiVersion: Required value', 'spec.template.kind: Required value']);

  // Objects stored before a default existed get it when read, as upstream defaults on read.
  const kv = { key: '/machines/default/old', value: new TextEncoder().encode('{"apiVersion":"example.com/v1","kind":"Machine","metadata":{"name":"old"},"spec":{}}'), createRevision: 5, modRevision: 5 };
  assert.equal(rawServedJson(k, kv), undefined, 'the unparsed fast path would skip defaulting');
  assert.deepEqual(decodeObject(k, kv).spec, { size: 'small' });
  assert.equal(kindsFromCRD(cronTabCRD())[0].strategy!.defaultsOnRead !== undefined, true);
  const noDefaults = vmLikeCRD();
  delete (noDefaults.spec as any).versions[0].schema.openAPIV3Schema.properties.spec.properties.size.default;
  assert.equal(kindsFromCRD(noDefaults)[0].strategy!.defaultsOnRead, undefined);
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
