import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../src/api/errors.js';
import { applyJsonPatch } from '../../src/registry/patch/json-patch.js';
import { applyMergePatch } from '../../src/registry/patch/merge-patch.js';
import { decodeApplyBody, decodeJsonBody } from '../../src/registry/patch/decode.js';
import { nginxDeployment } from './patch-fixtures.test.js';

function apiError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError, `expected ApiError, got ${e}`);
    return e;
  }
  assert.fail('expected an error');
}

const causeOf = (e: ApiError) => ((e as Error & { cause?: Error }).cause as Error | undefined)?.message;

test('json patch: add, replace, remove, move, copy and test on a Deployment', () => {
  const d = nginxDeployment();
  const before = structuredClone(d);
  const out = applyJsonPatch(d, [
    { op: 'test', path: '/spec/replicas', value: 2 },
    { op: 'replace', path: '/spec/replicas', value: 5 },
    { op: 'add', path: '/metadata/labels/app.kubernetes.io~1name', value: 'web' },
    { op: 'add', path: '/spec/template/spec/containers/0/env/-', value: { name: 'NEW', value: '1' } },
    { op: 'remove', path: '/spec/template/spec/containers/0/env/0' },
    { op: 'copy', from: '/metadata/labels', path: '/metadata/annotations' },
    { op: 'move', from: '/metadata/annotations/app', path: '/metadata/annotations/moved' },
  ]);
  assert.equal(out.spec.replicas, 5);
  assert.deepEqual(out.metadata.labels, { app: 'web', 'app.kubernetes.io/name': 'web' });
  assert.deepEqual(out.metadata.annotations, { 'app.kubernetes.io/name': 'web', moved: 'web' });
  assert.deepEqual(
    out.spec.template.spec.containers[0].env.map((e: { name: string }) => e.name),
    ['LOG', 'NEW'],
  );
  assert.deepEqual(d, before, 'input not mutated');
});

test('json patch: insert at index, negative index and replace of a missing member (upstream quirks)', () => {
  const out = applyJsonPatch({ a: [1, 2, 3], m: {} }, [
    { op: 'add', path: '/a/1', value: 9 },
    { op: 'remove', path: '/a/-1' },
    { op: 'replace', path: '/m/new', value: 'x' },
  ]);
  assert.deepEqual(out, { a: [1, 9, 2], m: { new: 'x' } });
});

test('json patch: a failed test op is 422 Invalid with the generic upstream message', () => {
  const e = apiError(() => applyJsonPatch(nginxDeployment(), [{ op: 'test', path: '/spec/replicas', value: 3 }]));
  assert.equal(e.code, 422);
  assert.equal(e.reason, 'Invalid');
  assert.equal(e.message, 'the server rejected our request due to an error in our request');
  assert.equal(causeOf(e), 'testing value /spec/replicas failed: test failed');
});

test('json patch: paths that do not exist are 422', () => {
  const e1 = apiError(() => applyJsonPatch(nginxDeployment(), [{ op: 'remove', path: '/metadata/labels/nope' }]));
  assert.equal(e1.code, 422);
  assert.equal(causeOf(e1), "error in remove for path: '/metadata/labels/nope': Unable to remove nonexistent key: nope: missing value");
  const e2 = apiError(() => applyJsonPatch(nginxDeployment(), [{ op: 'add', path: '/status/conditions/0', value: {} }]));
  assert.equal(causeOf(e2), 'add operation does not apply: doc is missing path: "/status/conditions/0": missing value');
  const e3 = apiError(() => applyJsonPatch(nginxDeployment(), [{ op: 'replace', path: '/spec/template/spec/containers/4/image', value: 'x' }]));
  assert.equal(causeOf(e3), 'replace operation does not apply: doc is missing path: /spec/template/spec/containers/4/image: missing value');
  const e4 = apiError(() => applyJsonPatch({ a: [] }, [{ op: 'add', path: '/a/5', value: 1 }]));
  assert.equal(causeOf(e4), "error in add for path: '/a/5': Unable to access invalid index: 5: invalid index referenced");
  const e5 = apiError(() => applyJsonPatch({}, [{ op: 'frob', path: '/a' }]));
  assert.equal(causeOf(e5), 'Unexpected kind: frob');
});

test('json patch: a malformed patch document is 400, too many operations 413', () => {
  const e = apiError(() => applyJsonPatch({}, { op: 'add', path: '/a', value: 1 }));
  assert.equal(e.code, 400);
  assert.equal(e.reason, 'BadRequest');
  assert.equal(e.message, 'json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  assert.equal(apiError(() => applyJsonPatch({}, ['x'])).message, 'json: cannot unmarshal string into Go value of type jsonpatch.Operation');
  const big = Array.from({ length: 10001 }, () => ({ op: 'test', path: '/a', value: null }));
  const e2 = apiError(() => applyJsonPatch({}, big));
  assert.equal(e2.code, 413);
  assert.match(e2.message, /The allowed maximum operations in a JSON patch is 10000, got 10001/);
  assert.equal(apiError(() => decodeJsonBody('{nope')).code, 400);
});

test('json patch: no prototype pollution through __proto__ or constructor', () => {
  const out = applyJsonPatch({ metadata: {} } as Record<string, any>, [
    { op: 'add', path: '/__proto__', value: { polluted: true } },
    { op: 'add', path: '/metadata/__proto__', value: { polluted: true } },
  ]);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.deepEqual(Object.keys(out.metadata), ['__proto__']);
  const e = apiError(() => applyJsonPatch({}, [{ op: 'add', path: '/constructor/prototype/polluted', value: true }]));
  assert.equal(e.code, 422);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('merge patch: maps merge, null deletes, lists replace, input untouched', () => {
  const d = nginxDeployment();
  const before = structuredClone(d);
  const out = applyMergePatch(d, {
    metadata: { labels: { tier: 'front', app: null } },
    spec: { replicas: 3, template: { spec: { containers: [{ name: 'nginx', image: 'nginx:1.26', args: null }] } } },
  });
  assert.deepEqual(out.metadata.labels, { tier: 'front' });
  assert.equal(out.spec.replicas, 3);
  assert.deepEqual(out.spec.template.spec.containers, [{ name: 'nginx', image: 'nginx:1.26' }], 'list replaced, nulls pruned');
  assert.deepEqual(d, before);
});

test('merge patch: bad documents', () => {
  assert.equal(apiError(() => applyMergePatch({}, 'x')).message, 'Invalid JSON Patch');
  assert.equal(apiError(() => applyMergePatch({}, null)).code, 400);
  assert.equal(apiError(() => applyMergePatch({}, [1])).code, 422);
  const out = applyMergePatch({} as Record<string, any>, JSON.parse('{"__proto__": {"polluted": true}}'));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(out.__proto__ === Object.prototype, false);
});

test('apply body: YAML is decoded; malformed YAML is 400', () => {
  assert.deepEqual(decodeApplyBody('apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n'), { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a' } });
  const e = apiError(() => decodeApplyBody('a: [1'));
  assert.equal(e.code, 400);
  assert.match(e.message, /^error decoding YAML: /);
});
