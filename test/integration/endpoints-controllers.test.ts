/**
 * Endpoints and EndpointSlice controllers against a real server: pods whose status the test sets
 * as a kubelet would; ready and not-ready addresses, named targetPorts per pod, hostname and
 * subdomain, publishNotReadyAddresses, slices of at most 100 endpoints, selector-less Services
 * keeping user-written Endpoints (and their mirrored slices), and the allocation errors the API
 * server gives Services.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../../src/client/index.js';
import type { KubeObject } from '../../src/util/object.js';
import { adminClient, createNamespace, podObject, R, refused, setPodStatus, waitFor } from '../support/objects.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let c: Client;
const NS = 'ep-test';

type Subset = { addresses?: { ip: string; hostname?: string; nodeName?: string; targetRef?: { name?: string } }[]; notReadyAddresses?: { ip: string }[]; ports?: { name?: string; port: number }[] };
type Slice = KubeObject & { addressType: string; endpoints?: { addresses: string[]; conditions: { ready?: boolean; serving?: boolean; terminating?: boolean }; hostname?: string; nodeName?: string; targetRef?: { name?: string } }[]; ports?: { name?: string; port: number }[] };

const endpointsOf = async (name: string) => {
  try {
    return (await c.resource(R.endpoints).get(name, NS)) as KubeObject & { subsets?: Subset[] };
  } catch {
    return undefined;
  }
};
const slicesOf = async (name: string, managedBy = 'endpointslice-controller.k8s.io') =>
  (await c.resource(R.endpointslices).list({ namespace: NS, labelSelector: `kubernetes.io/service-name=${name},endpointslice.kubernetes.io/managed-by=${managedBy}` })).items as Slice[];

function service(name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec };
}

before(async () => {
  server = await startTestServer();
  c = adminClient(server);
  await createNamespace(c, NS);
});
after(async () => {
  await server?.stop();
});

describe('endpoints', () => {
  it('lists ready and not-ready pods with named targetPorts resolved per pod', async () => {
    const pods = c.resource(R.pods);
    const a = await pods.create(podObject(NS, 'web-a', { labels: { app: 'web' }, nodeName: 'n1', ports: [{ name: 'http', containerPort: 8080 }] }));
    const b = await pods.create(podObject(NS, 'web-b', { labels: { app: 'web' }, nodeName: 'n2', ports: [{ name: 'http', containerPort: 9090 }] }));
    const other = await pods.create(podObject(NS, 'other', { labels: { app: 'other' }, ports: [{ name: 'http', containerPort: 80 }] }));
    await setPodStatus(c, a, '10.244.1.5', true);
    await setPodStatus(c, b, '10.244.2.7', false);
    await setPodStatus(c, other, '10.244.3.3', true);
    await c.resource(R.services).create(service('web', { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] }));

    const ep = await waitFor(async () => {
      const e = await endpointsOf('web');
      return e?.subsets?.length === 2 ? e : undefined;
    }, 'web endpoints with two subsets');
    const bySubsetPort = new Map(ep.subsets!.map((s) => [s.ports![0].port, s]));
    assert.deepEqual(bySubsetPort.get(8080)!.addresses!.map((x) => [x.ip, x.nodeName, x.targetRef?.name]), [['10.244.1.5', 'n1', 'web-a']]);
    assert.equal(bySubsetPort.get(8080)!.notReadyAddresses, undefined);
    assert.deepEqual(bySubsetPort.get(9090)!.notReadyAddresses!.map((x) => x.ip), ['10.244.2.7']);
    assert.equal(bySubsetPort.get(9090)!.ports![0].name, 'http');
    assert.equal(ep.metadata.labels?.['endpoints.kubernetes.io/managed-by'], 'endpoint-controller');

    const slices = await waitFor(async () => {
      const s = await slicesOf('web');
      return s.length === 2 && s.every((x) => x.endpoints?.length === 1) ? s : undefined;
    }, 'two slices for web');
    const s8080 = slices.find((s) => s.ports?.[0].port === 8080)!;
    assert.equal(s8080.addressType, 'IPv4');
    assert.deepEqual(s8080.endpoints![0].addresses, ['10.244.1.5']);
    assert.deepEqual(s8080.endpoints![0].conditions, { ready: true, serving: true, terminating: false });
    assert.equal(s8080.endpoints![0].nodeName, 'n1');
    assert.equal(s8080.endpoints![0].targetRef?.name, 'web-a');
    assert.equal(s8080.metadata.ownerReferences?.[0].kind, 'Service');
    const s9090 = slices.find((s) => s.ports?.[0].port === 9090)!;
    assert.deepEqual(s9090.endpoints![0].conditions, { ready: false, serving: false, terminating: false });

    // b becomes ready: it moves to addresses.
    await setPodStatus(c, b, '10.244.2.7', true);
    await waitFor(async () => (await endpointsOf('web'))?.subsets?.every((s) => s.addresses?.length === 1 && !s.notReadyAddresses), 'b ready');
    await waitFor(async () => (await slicesOf('web')).every((s) => s.endpoints?.[0]?.conditions.ready === true), 'b ready in slices');

    // Nothing changes: nothing is written.
    const before = (await endpointsOf('web'))!.metadata.resourceVersion;
    const slicesBefore = (await slicesOf('web')).map((s) => s.metadata.resourceVersion).sort();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await endpointsOf('web'))!.metadata.resourceVersion, before);
    assert.deepEqual((await slicesOf('web')).map((s) => s.metadata.resourceVersion).sort(), slicesBefore);

    // A pod deleted disappears.
    await pods.delete('web-a', { namespace: NS, gracePeriodSeconds: 0 });
    await waitFor(async () => {
      const e = await endpointsOf('web');
      return e?.subsets?.length === 1 && e.subsets[0].addresses?.[0].ip === '10.244.2.7';
    }, 'web-a gone from endpoints');
    await waitFor(async () => {
      const s = await slicesOf('web');
      return s.length === 1 && s[0].endpoints?.length === 1 && s[0].endpoints[0].addresses[0] === '10.244.2.7';
    }, 'web-a gone from slices');
  });

  it('publishes not-ready pods with publishNotReadyAddresses, and hostnames of a subdomain', async () => {
    const p = await c.resource(R.pods).create(podObject(NS, 'db-0', { labels: { app: 'db' }, hostname: 'db-0', subdomain: 'db' }));
    await setPodStatus(c, p, '10.244.1.20', false);
    await c.resource(R.services).create(service('db', { clusterIP: 'None', selector: { app: 'db' }, publishNotReadyAddresses: true, ports: [{ port: 5432 }] }));
    const ep = await waitFor(async () => (await endpointsOf('db'))?.subsets?.[0]?.addresses?.length ? await endpointsOf('db') : undefined, 'db endpoints');
    assert.deepEqual(ep.subsets![0].addresses!.map((a) => [a.ip, a.hostname]), [['10.244.1.20', 'db-0']]);
    assert.equal(ep.metadata.labels?.['service.kubernetes.io/headless'], '');
    const slices = await waitFor(async () => ((await slicesOf('db'))[0]?.endpoints?.length ? slicesOf('db') : undefined), 'db slices');
    assert.equal(slices[0].endpoints![0].hostname, 'db-0');
    assert.deepEqual(slices[0].endpoints![0].conditions, { ready: true, serving: true, terminating: false });
    assert.equal(slices[0].metadata.labels?.['service.kubernetes.io/headless'], '');
  });

  it('keeps user-written Endpoints of a Service without a selector and mirrors them into slices', async () => {
    await c.resource(R.services).create(service('ext', { ports: [{ name: 'pg', port: 5432 }] }));
    await c.resource(R.endpoints).create({
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'ext', namespace: NS },
      subsets: [{ addresses: [{ ip: '192.0.2.10' }], notReadyAddresses: [{ ip: '192.0.2.11' }], ports: [{ name: 'pg', port: 5432 }] }],
    } as KubeObject);
    const mirrored = await waitFor(async () => ((await slicesOf('ext', 'endpointslicemirroring-controller.k8s.io'))[0]?.endpoints?.length === 2 ? slicesOf('ext', 'endpointslicemirroring-controller.k8s.io') : undefined), 'mirrored slice');
    const byIP = new Map(mirrored[0].endpoints!.map((e) => [e.addresses[0], e.conditions.ready]));
    assert.equal(byIP.get('192.0.2.10'), true);
    assert.equal(byIP.get('192.0.2.11'), false);
    await new Promise((r) => setTimeout(r, 300));
    const ep = await endpointsOf('ext');
    assert.deepEqual(ep!.subsets![0].addresses!.map((a) => a.ip), ['192.0.2.10']);
    assert.equal((await slicesOf('ext')).length, 0, 'the endpointslice controller leaves selector-less Services alone');
    // The API server's own Endpoints are not mirrored.
    const k = await c.resource(R.endpointslices).list({ namespace: 'default', labelSelector: 'kubernetes.io/service-name=kubernetes' });
    assert.equal(k.items.length, 0);
  });

  it('splits more than 100 endpoints into slices of at most 100', async () => {
    await c.resource(R.services).create(service('big', { selector: { app: 'big' }, ports: [{ port: 80 }] }));
    const pods = c.resource(R.pods);
    await Promise.all(
      Array.from({ length: 130 }, async (_, i) => {
        const p = await pods.create(podObject(NS, `big-${i}`, { labels: { app: 'big' } }));
        await setPodStatus(c, p, `10.245.${Math.floor(i / 200)}.${(i % 200) + 1}`, true);
      }),
    );
    const slices = await waitFor(async () => {
      const s = await slicesOf('big');
      return s.reduce((n, x) => n + (x.endpoints?.length ?? 0), 0) === 130 ? s : undefined;
    }, '130 endpoints in slices', 20_000);
    assert.ok(slices.every((s) => (s.endpoints?.length ?? 0) <= 100));
    assert.equal(slices.length, 2);
    const ep = await waitFor(async () => ((await endpointsOf('big'))?.subsets?.[0]?.addresses?.length === 130 ? endpointsOf('big') : undefined), '130 addresses');
    assert.ok(ep);
  });

  it('keeps an empty placeholder slice and empty Endpoints for a Service with no pods', async () => {
    await c.resource(R.services).create(service('lonely', { selector: { app: 'nobody' }, ports: [{ port: 80 }] }));
    const slices = await waitFor(async () => ((await slicesOf('lonely')).length === 1 ? slicesOf('lonely') : undefined), 'placeholder slice');
    assert.deepEqual(slices[0].endpoints ?? [], []);
    const ep = await waitFor(() => endpointsOf('lonely'), 'empty endpoints');
    assert.deepEqual(ep.subsets ?? [], []);
  });
});

describe('service allocation errors', () => {
  it('refuses a used NodePort and an out-of-range clusterIP', async () => {
    await c.resource(R.services).create(service('np1', { type: 'NodePort', selector: { app: 'x' }, ports: [{ port: 80, nodePort: 30555 }] }));
    const used = await refused(c.resource(R.services).create(service('np2', { type: 'NodePort', selector: { app: 'x' }, ports: [{ port: 80, nodePort: 30555 }] })), 422);
    assert.match(used.message ?? '', /spec\.ports\[0\]\.nodePort: Invalid value: 30555: provided port is already allocated/);
    const range = await refused(c.resource(R.services).create(service('ip1', { clusterIP: '192.168.0.1', selector: { app: 'x' }, ports: [{ port: 80 }] })), 422);
    assert.match(range.message ?? '', /failed to allocate IP 192\.168\.0\.1: provided IP is not in the valid range\. The range of valid IPs is 10\.96\.0\.0\/12/);
  });
});
