import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SchemaCatalog } from '../../src/schema/catalog.js';
import { applyDefaults, findDuplicateFields, findUnknownFields, pruneUnknownFields, validateStructuralSchema, validateValue } from '../../src/schema/structural.js';
import type { JSONSchema } from '../../src/schema/types.js';
import { fieldErrorText } from '../../src/registry/field-errors.js';
import { FieldPath } from '../../src/registry/field-errors.js';

const catalog = new SchemaCatalog();
const noRefs = { resolve: () => undefined };
const pod = catalog.get('io.k8s.api.core.v1.Pod')!;

const crSchema: JSONSchema = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      properties: {
        replicas: { type: 'integer', minimum: 0, maximum: 10, default: 1 },
        mode: { type: 'string', enum: ['a', 'b'] },
        name: { type: 'string', maxLength: 5, pattern: '^[a-z]+$' },
        when: { type: 'string', format: 'date-time' },
        port: { 'x-kubernetes-int-or-string': true },
        tags: { type: 'array', items: { type: 'string' }, maxItems: 2, uniqueItems: true },
        opts: { type: 'object', properties: { debug: { type: 'boolean', default: false } }, default: {} },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        items: { type: 'array', items: { type: 'object', properties: { w: { type: 'integer', default: 5 } } } },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        child: { type: 'object', 'x-kubernetes-embedded-resource': true, properties: { spec: { type: 'object' } } },
      },
      required: ['mode'],
    },
  },
};

test('unknown fields of built-ins, with upstream paths', () => {
  const obj = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', bogus: 1, labels: { a: 'b' } },
    spec: { containers: [{ name: 'c', image: 'i', imagePullPolice: 'x', resources: { limits: { cpu: '1' } } }], foo: true },
  };
  assert.deepEqual(findUnknownFields(obj, pod, catalog), ['metadata.bogus', 'spec.containers[0].imagePullPolice', 'spec.foo']);
});

test('unknown fields of custom resources honour preserve-unknown-fields and embedded resources', () => {
  const obj = {
    apiVersion: 'x/v1', kind: 'K', metadata: { name: 'a' },
    spec: { mode: 'a', zzz: 1, free: { any: { thing: 1 } }, child: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'n' }, spec: {}, extra: 1 } },
    status: {},
  };
  assert.deepEqual(findUnknownFields(obj, crSchema, catalog), ['spec.zzz', 'spec.child.extra', 'status']);
  const removed = pruneUnknownFields(obj, crSchema, catalog);
  assert.deepEqual(removed, ['spec.zzz', 'spec.child.extra', 'status']);
  assert.deepEqual(obj.spec.free, { any: { thing: 1 } });
  assert.equal('status' in obj, false);
});

test('structural defaults: absent fields, nested, array items, nullable', () => {
  const obj: Record<string, any> = { spec: { mode: 'a', items: [{}, { w: 2 }], replicas: null } };
  applyDefaults(obj, crSchema, noRefs);
  assert.equal(obj.spec.replicas, 1);
  assert.deepEqual(obj.spec.opts, { debug: false });
  assert.deepEqual(obj.spec.items, [{ w: 5 }, { w: 2 }]);
  const nullable: JSONSchema = { type: 'object', properties: { x: { type: 'string', nullable: true, default: 'd' } } };
  const o2: Record<string, unknown> = { x: null };
  applyDefaults(o2, nullable, noRefs);
  assert.equal(o2.x, null);
});

test('value validation messages match upstream', () => {
  const texts = (obj: unknown) => validateValue(obj, crSchema, noRefs).map(fieldErrorText);
  assert.deepEqual(texts({ spec: { mode: 'a', replicas: 'string' } }), [
    'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"',
  ]);
  assert.deepEqual(texts({ spec: { mode: 'x' } }), ['spec.mode: Unsupported value: "x": supported values: "a", "b"']);
  assert.deepEqual(texts({ spec: {} }), ['spec.mode: Required value']);
  assert.deepEqual(texts({ spec: { mode: 'a', replicas: 11 } }), ['spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10']);
  assert.deepEqual(texts({ spec: { mode: 'a', name: 'ABCDEFG' } }), [
    'spec.name: Too long: must have at most 5 bytes',
    "spec.name: Invalid value: \"ABCDEFG\": spec.name in body should match '^[a-z]+$'",
  ]);
  assert.deepEqual(texts({ spec: { mode: 'a', tags: ['a', 'a', 'b'] } }), ['spec.tags: Too many: must have at most 2 items', 'spec.tags[1]: Duplicate value: "a"']);
  assert.deepEqual(texts({ spec: { mode: 'a', when: 'yesterday' } }), ['spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"']);
  assert.deepEqual(texts({ spec: { mode: 'a', port: 80, labels: { a: 'b' } } }), []);
  assert.equal(texts({ spec: { mode: 'a', port: true } }).length, 1);
  const oneOf: JSONSchema = { type: 'object', oneOf: [{ required: ['a'] }, { required: ['b'] }] };
  assert.equal(validateValue({ a: 1, b: 2 }, oneOf, noRefs).length, 1);
  assert.equal(validateValue({ a: 1 }, oneOf, noRefs).length, 0);
});

test('structural schema rules with upstream paths', () => {
  const path = FieldPath.root('spec').child('versions').index(0).child('schema', 'openAPIV3Schema');
  const errs = validateStructuralSchema(
    {
      type: 'object',
      properties: {
        metadata: { type: 'object', properties: { labels: { type: 'object' } } },
        spec: { properties: { a: { type: 'string', default: 5 } } },
        r: { $ref: '#/definitions/x', type: 'string' },
        both: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: { type: 'string' } },
        arr: { type: 'array' },
        ok: { 'x-kubernetes-preserve-unknown-fields': true, properties: { any: {} } },
        u: { type: 'object', anyOf: [{ type: 'string' }] },
      },
    } as JSONSchema,
    path,
  ).map(fieldErrorText);
  assert.deepEqual(errs, [
    'spec.versions[0].schema.openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified',
    'spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields',
    'spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[a].default: Invalid value: "integer": in body must be of type string: "integer"',
    'spec.versions[0].schema.openAPIV3Schema.properties[r].$ref: Forbidden: $ref is not supported',
    'spec.versions[0].schema.openAPIV3Schema.properties[both].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive',
    'spec.versions[0].schema.openAPIV3Schema.properties[arr].items: Required value: must be specified',
    'spec.versions[0].schema.openAPIV3Schema.properties[u].anyOf[0].type: Forbidden: must be empty to be structural',
  ]);
  assert.deepEqual(validateStructuralSchema({ type: 'object', properties: { spec: { type: 'object', properties: { o: { type: 'object', properties: { x: { type: 'string' } }, default: { x: 'a', y: 1 } } } } } }).map(fieldErrorText), [
    'openAPIV3Schema.properties[spec].properties[o].default: Invalid value: {"x":"a","y":1}: must not have unknown fields, got: y',
  ]);
  assert.deepEqual(validateStructuralSchema({ type: 'string' }).map(fieldErrorText), ['openAPIV3Schema.type: Invalid value: "string": must be object at the root']);
});

test('duplicate fields in JSON and YAML bodies', () => {
  assert.deepEqual(findDuplicateFields('{"a":1,"b":{"c":[{"d":1,"d":2}]},"a":{"x":"}"}}'), ['b.c[0].d', 'a']);
  assert.deepEqual(findDuplicateFields('metadata:\n  name: a\n  name: b\nspec:\n  x: 1\n', 'application/yaml'), ['metadata.name']);
  assert.deepEqual(findDuplicateFields('{"a": "\\"a\\"", "b": [1, 2]}'), []);
});

test('int-or-string nodes may spell their types as anyOf [integer, string], as generators write Quantity', () => {
  const quantity = { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }], pattern: '^[0-9]+(Mi|Gi)?$' } as JSONSchema;
  const viaAllOf = { 'x-kubernetes-int-or-string': true, allOf: [{ anyOf: [{ type: 'integer' }, { type: 'string' }] }, { pattern: '^[0-9]+$' }] } as JSONSchema;
  const schema = { type: 'object', properties: { spec: { type: 'object', properties: { memory: quantity, port: viaAllOf } } } } as JSONSchema;
  assert.deepEqual(validateStructuralSchema(schema).map(fieldErrorText), []);
  // Only that exact pattern, and only under x-kubernetes-int-or-string.
  const notIntOrString = { type: 'object', properties: { x: { anyOf: [{ type: 'integer' }, { type: 'string' }] } } } as JSONSchema;
  assert.deepEqual(validateStructuralSchema(notIntOrString).map(fieldErrorText), [
    'openAPIV3Schema.properties[x].type: Required value: must not be empty for specified object fields',
    'openAPIV3Schema.properties[x].anyOf[0].type: Forbidden: must be empty to be structural',
    'openAPIV3Schema.properties[x].anyOf[1].type: Forbidden: must be empty to be structural',
  ]);
  const otherTypes = { type: 'object', properties: { x: { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'string' }, { type: 'integer' }] } } } as JSONSchema;
  assert.equal(validateStructuralSchema(otherTypes).length, 2);
  assert.deepEqual(validateValue({ spec: { memory: '64Mi', port: 8080 } }, schema, noRefs), []);
  assert.equal(validateValue({ spec: { memory: '64 apples' } }, schema, noRefs).length, 1);
});

test('the envelope of a resource is never pruned by its schema: root and embedded metadata, apiVersion, kind', () => {
  // KubeVirt's CRDs declare a bare `metadata: {type: object}`, which must not empty metadata.
  const schema = {
    type: 'object',
    properties: {
      metadata: { type: 'object' },
      spec: {
        type: 'object',
        properties: {
          template: { type: 'object', 'x-kubernetes-embedded-resource': true, properties: { metadata: { type: 'object' }, spec: { type: 'object', properties: { a: { type: 'string' } } } } },
          free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { typed: { type: 'object', properties: { x: { type: 'integer' } } } } },
        },
      },
    },
  } as JSONSchema;
  const obj = {
    apiVersion: 'x/v1',
    kind: 'K',
    metadata: { name: 'n', labels: { a: 'b' }, bogus: 1 },
    spec: {
      template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 't', annotations: { k: 'v' }, junk: true }, spec: { a: 'x', b: 'y' } },
      free: { anything: { goes: 1 }, typed: { x: 1, y: 2 } },
    },
  };
  assert.deepEqual(pruneUnknownFields(obj, schema, catalog), ['metadata.bogus', 'spec.template.metadata.junk', 'spec.template.spec.b', 'spec.free.typed.y']);
  assert.deepEqual(obj.metadata, { name: 'n', labels: { a: 'b' } });
  assert.deepEqual(obj.spec.template, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 't', annotations: { k: 'v' } }, spec: { a: 'x' } });
  assert.deepEqual(obj.spec.free, { anything: { goes: 1 }, typed: { x: 1 } });
});
