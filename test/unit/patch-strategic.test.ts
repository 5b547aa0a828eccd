import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../src/api/errors.js';
import { applyStrategicMergePatch } from '../../src/registry/patch/strategic-merge-patch.js';
import { deploymentSchema, nginxDeployment, podSchema, resolver, serviceSchema } from './patch-fixtures.test.js';

const smp = (obj: object, patch: unknown, schema = deploymentSchema) => applyStrategicMergePatch(obj, patch, { schema, resolver }) as Record<string, any>;
const containers = (d: Record<string, any>) => d.spec.template.spec.containers;

function apiError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError, `expected ApiError, got ${e}`);
    return e;
  }
  assert.fail('expected an error');
}

test('smp: containers merge by name, env by name, ports by containerPort; input untouched', () => {
  const d = nginxDeployment();
  const before = structuredClone(d);
  const out = smp(d, {
    spec: {
      template: {
        spec: {
          containers: [
            { name: 'nginx', image: 'nginx:1.26', env: [{ name: 'LOG', value: 'debug' }], ports: [{ containerPort: 443 }] },
            { name: 'sidecar', image: 'busybox' },
          ],
        },
      },
    },
  });
  assert.deepEqual(containers(out), [
    {
      name: 'nginx',
      image: 'nginx:1.26',
      // Without $setElementOrder upstream places new items before server-only ones.
      ports: [{ containerPort: 443 }, { containerPort: 80 }],
      env: [
        { name: 'MODE', value: 'prod' },
        { name: 'LOG', value: 'debug' },
      ],
    },
    { name: 'sidecar', image: 'busybox' },
  ]);
  assert.deepEqual(d, before);
});

test('smp: null deletes a field; maps merge; lists without a strategy replace', () => {
  const d = nginxDeployment();
  d.spec.template.spec.containers[0].args = ['-a', '-b'];
  const out = smp(d, {
    metadata: { labels: { tier: 'web', app: null } },
    spec: { replicas: null, template: { spec: { containers: [{ name: 'nginx', args: ['-c'] }] } } },
  });
  assert.deepEqual(out.metadata.labels, { tier: 'web' });
  assert.equal('replicas' in out.spec, false);
  assert.deepEqual(containers(out)[0].args, ['-c']);
});

test('smp: $patch delete and replace in lists; $patch replace and delete on maps', () => {
  const d = nginxDeployment();
  d.spec.template.spec.containers.push({ name: 'sidecar', image: 'busybox' });
  const del = smp(d, { spec: { template: { spec: { containers: [{ name: 'nginx', $patch: 'delete' }] } } } });
  assert.deepEqual(containers(del).map((c: { name: string }) => c.name), ['sidecar']);

  const rep = smp(d, { spec: { template: { spec: { containers: [{ name: 'only', image: 'x' }, { $patch: 'replace' }] } } } });
  assert.deepEqual(containers(rep), [{ name: 'only', image: 'x' }]);

  const mapRep = smp(d, { metadata: { labels: { $patch: 'replace', fresh: 'yes' } } });
  assert.deepEqual(mapRep.metadata.labels, { fresh: 'yes' });

  const mapDel = smp(d, { spec: { selector: { $patch: 'delete' } } });
  assert.deepEqual(mapDel.spec.selector, {});
});

test('smp: primitive merge lists are a union in upstream order; $deleteFromPrimitiveList removes', () => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', finalizers: ['a.io/x', 'b.io/y'] }, spec: { containers: [] } };
  const union = smp(pod, { metadata: { finalizers: ['b.io/y', 'c.io/z'] } }, podSchema);
  assert.deepEqual(union.metadata.finalizers, ['a.io/x', 'b.io/y', 'c.io/z']);
  const removed = smp(pod, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a.io/x'] } }, podSchema);
  assert.deepEqual(removed.metadata.finalizers, ['b.io/y']);
});

test('smp: $setElementOrder orders a merged list (as kubectl apply sends it)', () => {
  const d = nginxDeployment();
  d.spec.template.spec.containers.push({ name: 'b', image: 'b' }, { name: 'c', image: 'c' });
  // kubectl apply: the last-applied had [nginx, b, c]; the new config is [c, nginx, d] without b.
  const out = smp(d, {
    spec: {
      template: {
        spec: {
          '$setElementOrder/containers': [{ name: 'c' }, { name: 'nginx' }, { name: 'd' }],
          containers: [{ name: 'd', image: 'd' }, { name: 'b', $patch: 'delete' }],
        },
      },
    },
  });
  assert.deepEqual(containers(out).map((c: { name: string }) => c.name), ['c', 'nginx', 'd']);
});

test('smp: $retainKeys clears fields not listed (Deployment strategy switch to Recreate)', () => {
  const d = nginxDeployment();
  d.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };
  const out = smp(d, { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } });
  assert.deepEqual(out.spec.strategy, { type: 'Recreate' });
  const bad = apiError(() => smp(d, { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: {} } } }));
  assert.equal(bad.code, 400);
  assert.equal(bad.message, 'invalid patch format of retainKeys');
});

test('smp: volumes (merge,retainKeys) merge by name; service ports by port', () => {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p' },
    spec: { containers: [{ name: 'a' }], volumes: [{ name: 'cfg', configMap: { name: 'c1' } }, { name: 'tmp', emptyDir: {} }] },
  };
  const out = smp(pod, { spec: { volumes: [{ name: 'cfg', $retainKeys: ['name', 'hostPath'], hostPath: { path: '/etc' } }] } }, podSchema);
  assert.deepEqual(out.spec.volumes, [{ name: 'cfg', hostPath: { path: '/etc' } }, { name: 'tmp', emptyDir: {} }]);

  const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 80, targetPort: 8080 }] } };
  const svcOut = smp(svc, { spec: { ports: [{ port: 443, targetPort: 8443 }] } }, serviceSchema);
  assert.deepEqual(svcOut.spec.ports, [{ port: 443, targetPort: 8443 }, { port: 80, targetPort: 8080 }]);
  const ordered = smp(svc, { spec: { '$setElementOrder/ports': [{ port: 80 }, { port: 443 }], ports: [{ port: 443, targetPort: 8443 }] } }, serviceSchema);
  assert.deepEqual(ordered.spec.ports.map((p: { port: number }) => p.port), [80, 443]);
});

test('smp: without a schema maps merge and lists replace', () => {
  const out = applyStrategicMergePatch({ spec: { a: { x: 1 }, l: [1, 2] } }, { spec: { a: { y: 2 }, l: [3] } }, { schema: undefined, resolver }) as Record<string, any>;
  assert.deepEqual(out, { spec: { a: { x: 1, y: 2 }, l: [3] } });
});

test('smp: custom resources are refused with 415', () => {
  const e = apiError(() => applyStrategicMergePatch({}, {}, { schema: undefined, resolver, customResource: true }));
  assert.equal(e.code, 415);
  assert.equal(e.reason, 'UnsupportedMediaType');
  assert.match(e.message, /accepted media types include: application\/json-patch\+json, application\/merge-patch\+json, application\/apply-patch\+yaml/);
});

test('smp: errors map like upstream (missing merge key 500, bad directive format 400, lists of lists 422)', () => {
  const d = nginxDeployment();
  const noKey = apiError(() => smp(d, { spec: { template: { spec: { containers: [{ image: 'x' }] } } } }));
  assert.equal(noKey.code, 500);
  assert.equal(noKey.message, 'map: map[image:x] does not contain declared merge key: name');
  const badOrder = apiError(() => smp(d, { spec: { template: { spec: { $setElementOrder: [] } } } }));
  assert.equal(badOrder.code, 400);
  assert.equal(badOrder.message, 'invalid patch format of setElementOrder list');
  const lol = apiError(() => smp({ metadata: { finalizers: [['a']] } }, { metadata: { finalizers: [['b']] } }, podSchema));
  assert.equal(lol.code, 422);
  assert.equal(apiError(() => smp(d, [1])).code, 400);
});
