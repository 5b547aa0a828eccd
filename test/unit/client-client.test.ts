import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiHandler, ApiRequest } from '../../src/api/types.js';
import {
  ApiDiscovery,
  Client,
  ClientError,
  InProcessTransport,
  StaticDiscovery,
  StatusError,
  isAlreadyExists,
  isConflict,
  isGone,
  isInvalid,
  isNotFound,
  objectKey,
  resourcePath,
  splitKey,
  type ResourceRef,
} from '../../src/client/index.js';

const PODS: ResourceRef = { group: '', version: 'v1', plural: 'pods', namespaced: true, kind: 'Pod' };
const DEPLOYMENTS: ResourceRef = { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true, kind: 'Deployment' };
const NODES: ResourceRef = { group: '', version: 'v1', plural: 'nodes', namespaced: false, kind: 'Node' };

interface Seen {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType?: string;
  body?: unknown;
  user?: string;
}

function recorder(answer: (req: ApiRequest) => { status: number; body: unknown } = (r) => ({ status: 200, body: { metadata: {}, echo: r.path } })) {
  const seen: Seen[] = [];
  const handler: ApiHandler = async (req) => {
    seen.push({
      method: req.method,
      path: req.path,
      query: Object.fromEntries(req.query),
      contentType: req.headers['content-type'],
      body: req.body ? JSON.parse(req.body.toString('utf8')) : undefined,
      user: req.user?.name,
    });
    return answer(req);
  };
  const client = new Client(new InProcessTransport(handler, { name: 'alice', groups: ['dev'] }));
  return { seen, client, last: () => seen.at(-1)! };
}

test('paths follow Kubernetes for core, groups, cluster-scoped and subresources', () => {
  assert.equal(resourcePath(PODS, 'default', 'web'), '/api/v1/namespaces/default/pods/web');
  assert.equal(resourcePath(PODS, undefined), '/api/v1/pods');
  assert.equal(resourcePath(DEPLOYMENTS, 'prod', 'api', 'scale'), '/apis/apps/v1/namespaces/prod/deployments/api/scale');
  assert.equal(resourcePath(NODES, 'ignored', 'n1', 'status'), '/api/v1/nodes/n1/status');
  assert.equal(resourcePath(PODS, 'a b', 'x/y'), '/api/v1/namespaces/a%20b/pods/x%2Fy');
  assert.throws(() => resourcePath(PODS, undefined, 'web'), /namespace is required/);
  assert.equal(objectKey({ metadata: { name: 'a', namespace: 'ns' } }), 'ns/a');
  assert.equal(objectKey({ metadata: { name: 'n1' } }), 'n1');
  assert.deepEqual(splitKey('ns/a'), { namespace: 'ns', name: 'a' });
  assert.deepEqual(splitKey('n1'), { name: 'n1' });
});

test('get, list, create, update, updateStatus send the right requests', async () => {
  const { client, seen, last } = recorder();
  const pods = client.resource(PODS);
  await pods.get('web', 'default');
  assert.deepEqual(last(), { method: 'GET', path: '/api/v1/namespaces/default/pods/web', query: {}, contentType: undefined, body: undefined, user: 'alice' });
  await pods.list({ labelSelector: 'app=web', fieldSelector: 'spec.nodeName=n1', limit: 10, continue: 'tok', resourceVersion: '5', resourceVersionMatch: 'NotOlderThan' });
  assert.equal(last().path, '/api/v1/pods');
  assert.deepEqual(last().query, { labelSelector: 'app=web', fieldSelector: 'spec.nodeName=n1', limit: '10', continue: 'tok', resourceVersion: '5', resourceVersionMatch: 'NotOlderThan' });
  await pods.create({ metadata: { name: 'p', namespace: 'ns1' } }, { dryRun: true, fieldManager: 'me', fieldValidation: 'Strict' });
  assert.equal(last().method, 'POST');
  assert.equal(last().path, '/api/v1/namespaces/ns1/pods');
  assert.deepEqual(last().query, { dryRun: 'All', fieldManager: 'me', fieldValidation: 'Strict' });
  assert.equal(last().contentType, 'application/json');
  assert.deepEqual(last().body, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns1' } });
  await assert.rejects(pods.create({ metadata: { name: 'p' } }), /needs a namespace/);
  await client.resource(DEPLOYMENTS).update({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'ns', resourceVersion: '7' } });
  assert.equal(last().method, 'PUT');
  assert.equal(last().path, '/apis/apps/v1/namespaces/ns/deployments/d');
  await client.resource(NODES).updateStatus({ metadata: { name: 'n1' }, status: {} });
  assert.equal(last().path, '/api/v1/nodes/n1/status');
  assert.equal(seen.length, 5);
});

test('patch types, delete options, deleteCollection, scale', async () => {
  const { client, last } = recorder();
  const deps = client.resource(DEPLOYMENTS);
  const cases = [
    ['json', 'application/json-patch+json'],
    ['merge', 'application/merge-patch+json'],
    ['strategic', 'application/strategic-merge-patch+json'],
    ['apply', 'application/apply-patch+yaml'],
  ] as const;
  for (const [type, ct] of cases) {
    await deps.patch('d', [{ op: 'add', path: '/x', value: 1 }], type, { namespace: 'ns', fieldManager: 'cairn', force: type === 'apply' ? true : undefined });
    assert.equal(last().contentType, ct);
    assert.equal(last().method, 'PATCH');
  }
  assert.deepEqual(last().query, { fieldManager: 'cairn', force: 'true' });
  await assert.rejects(deps.patch('d', {}, 'apply', { namespace: 'ns' }), /requires a fieldManager/);
  await deps.patch('d', { status: { x: 1 } }, 'merge', { namespace: 'ns', subresource: 'status' });
  assert.equal(last().path, '/apis/apps/v1/namespaces/ns/deployments/d/status');

  await deps.delete('d', { namespace: 'ns', propagationPolicy: 'Foreground', gracePeriodSeconds: 0, preconditions: { uid: 'u1' }, dryRun: true });
  assert.equal(last().method, 'DELETE');
  assert.deepEqual(last().body, { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Foreground', gracePeriodSeconds: 0, preconditions: { uid: 'u1' }, dryRun: ['All'] });
  await deps.deleteCollection({ namespace: 'ns', labelSelector: 'a=b', propagationPolicy: 'Background' });
  assert.equal(last().path, '/apis/apps/v1/namespaces/ns/deployments');
  assert.deepEqual(last().query, { labelSelector: 'a=b' });

  await deps.getScale('d', 'ns');
  assert.equal(last().path, '/apis/apps/v1/namespaces/ns/deployments/d/scale');
  await deps.updateScale('d', { metadata: { name: 'd', namespace: 'ns', resourceVersion: '3' }, spec: { replicas: 5 } });
  assert.equal(last().method, 'PUT');
  assert.deepEqual(last().body, { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'd', namespace: 'ns', resourceVersion: '3' }, spec: { replicas: 5 } });
});

test('non-2xx answers become StatusErrors with the is* helpers', async () => {
  const statuses: Record<string, { code: number; reason: string }> = {
    missing: { code: 404, reason: 'NotFound' },
    dup: { code: 409, reason: 'AlreadyExists' },
    stale: { code: 409, reason: 'Conflict' },
    bad: { code: 422, reason: 'Invalid' },
    old: { code: 410, reason: 'Expired' },
  };
  const { client } = recorder((req) => {
    const name = req.path.split('/').at(-1)!;
    const s = statuses[name];
    return s ? { status: s.code, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `${name} failed`, details: { name }, ...s } } : { status: 503, body: 'overloaded' };
  });
  const pods = client.resource(PODS);
  const err = async (name: string) => pods.get(name, 'ns').then(() => assert.fail('expected an error'), (e: unknown) => e);
  const nf = await err('missing');
  assert.ok(nf instanceof StatusError);
  assert.equal(nf.code, 404);
  assert.equal(nf.message, 'missing failed');
  assert.equal(nf.details?.name, 'missing');
  assert.ok(isNotFound(nf) && !isConflict(nf));
  assert.ok(isAlreadyExists(await err('dup')) && !isConflict(await err('dup')));
  assert.ok(isConflict(await err('stale')));
  assert.ok(isInvalid(await err('bad')));
  assert.ok(isGone(await err('old')));
  const other = await err('x');
  assert.ok(other instanceof StatusError);
  assert.equal(other.reason, 'ServiceUnavailable');
  assert.match(other.message, /503.*overloaded/);
  assert.ok(!isNotFound(new Error('x')));
});

test('in-process transport isolates objects and ends watches on abort', async () => {
  const shared = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' } };
  let handlerSignal: AbortSignal | undefined;
  const handler: ApiHandler = async (req) => {
    if (req.query.get('watch') === 'true') {
      handlerSignal = req.signal;
      return {
        status: 200,
        stream: (async function* () {
          yield { type: 'ADDED', object: shared };
          await new Promise(() => {}); // a server that never sends more
        })(),
      };
    }
    return { status: 200, body: shared };
  };
  const client = new Client(new InProcessTransport(handler, { name: 'x', groups: [] }));
  const pods = client.resource(PODS);
  const got = await pods.get('p', 'ns');
  got.metadata.name = 'changed';
  assert.equal(shared.metadata.name, 'p', 'the server object is not shared');
  const ac = new AbortController();
  const events: string[] = [];
  const done = (async () => {
    for await (const ev of pods.watch({ namespace: 'ns', signal: ac.signal })) {
      events.push(ev.type);
      ac.abort();
    }
  })();
  await done;
  assert.deepEqual(events, ['ADDED']);
  assert.equal(handlerSignal?.aborted, true, 'the server side of the watch was told to stop');
});

test('resourceFor via static and API discovery', async () => {
  const staticClient = new Client(
    new InProcessTransport(async () => ({ status: 500, body: {} }), { name: 'x', groups: [] }),
    new StaticDiscovery([{ group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments', namespaced: true }]),
  );
  assert.deepEqual((await staticClient.resourceFor('apps/v1', 'Deployment')).ref.plural, 'deployments');
  await assert.rejects(staticClient.resourceFor('v1', 'Pod'), ClientError);

  let fetches = 0;
  const transport = new InProcessTransport(
    async (req) => {
      fetches++;
      if (req.path === '/api/v1')
        return {
          status: 200,
          body: {
            kind: 'APIResourceList',
            groupVersion: 'v1',
            resources: [
              { name: 'pods', namespaced: true, kind: 'Pod' },
              { name: 'pods/status', namespaced: true, kind: 'Pod' },
              { name: 'nodes', namespaced: false, kind: 'Node' },
            ],
          },
        };
      return { status: 404, body: { kind: 'Status', code: 404, reason: 'NotFound' } };
    },
    { name: 'x', groups: [] },
  );
  const apiClient = new Client(transport, new ApiDiscovery(transport));
  assert.deepEqual((await apiClient.resourceFor('v1', 'Node')).ref, { group: '', version: 'v1', plural: 'nodes', namespaced: false, kind: 'Node' });
  assert.equal((await apiClient.resourceFor('v1', 'Pod')).ref.plural, 'pods');
  assert.equal(fetches, 1, 'cached per group-version');
  await assert.rejects(apiClient.resourceFor('example.com/v1', 'Widget'), /no resource for kind "Widget"/);
});
