/**
 * LoadBalancer addresses from `--lb-pool`: assigned from the pool with ipMode VIP, a requested
 * spec.loadBalancerIP honoured when free, never one address twice, released on type change and
 * delete, a full pool reported with an event, and the assignment surviving a server restart.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../../src/client/index.js';
import { parseIPPool } from '../../src/controllers/service-lb.js';
import type { KubeObject } from '../../src/util/object.js';
import { adminClient, createNamespace, eventsFor, R, waitFor } from '../support/objects.js';
import { startTestServer, type TestServer } from '../support/server.js';

const NS = 'lb';
const POOL = '192.0.2.0/30'; // two usable addresses: .1 and .2
let dataDir: string;
let server: TestServer;
let c: Client;

const lbService = (name: string, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: NS },
  spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ port: 80 }], ...extra },
});
const ingressOf = async (name: string) =>
  ((await c.resource(R.services).get(name, NS)).status as { loadBalancer?: { ingress?: { ip?: string; ipMode?: string }[] } }).loadBalancer?.ingress ?? [];
const start = () => startTestServer({ dataDir, store: 'sqlite', server: { lbPool: POOL } });

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'cairn-lb-'));
  server = await start();
  c = adminClient(server);
  await createNamespace(c, NS);
});
after(async () => {
  await server?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('LoadBalancer pool', () => {
  it('parses pools', () => {
    assert.deepEqual([...parseIPPool('192.0.2.0/30').addresses()], ['192.0.2.1', '192.0.2.2']);
    assert.deepEqual([...parseIPPool('10.0.0.5-10.0.0.6').addresses()], ['10.0.0.5', '10.0.0.6']);
    assert.throws(() => parseIPPool('nope'), /invalid CIDR "nope"/);
  });

  it('assigns, honours loadBalancerIP, never twice, releases, and survives a restart', async () => {
    await c.resource(R.services).create(lbService('b', { loadBalancerIP: '192.0.2.2' }));
    const b = await waitFor(async () => (await ingressOf('b'))[0], 'b ingress');
    assert.deepEqual(b, { ip: '192.0.2.2', ipMode: 'VIP' });
    await c.resource(R.services).create(lbService('a'));
    const a = await waitFor(async () => (await ingressOf('a'))[0], 'a ingress');
    assert.equal(a.ip, '192.0.2.1');
    const ev = await waitFor(async () => {
      const e = await eventsFor(c, NS, 'a');
      return e.some((x) => x.reason === 'EnsuredLoadBalancer') ? e : undefined;
    }, 'EnsuredLoadBalancer event');
    assert.ok(ev.some((x) => x.reason === 'EnsuringLoadBalancer' && x.message === 'Ensuring load balancer'));

    // The pool is full: a third waits with a warning; asking for a used address is refused the same way.
    await c.resource(R.services).create(lbService('c'));
    await c.resource(R.services).create(lbService('d', { loadBalancerIP: '192.0.2.1' }));
    const warn = await waitFor(async () => (await eventsFor(c, NS, 'c')).find((x) => x.reason === 'SyncLoadBalancerFailed'), 'pool full event');
    assert.equal(warn.type, 'Warning');
    assert.match(warn.message, /Error syncing load balancer: failed to ensure load balancer: no available IPs in pool 192\.0\.2\.0\/30/);
    await waitFor(async () => (await eventsFor(c, NS, 'd')).find((x) => /already allocated/.test(x.message)), 'used address event');
    assert.deepEqual(await ingressOf('c'), []);

    await c.resource(R.services).delete('d', { namespace: NS });
    // a changes type: its address is released and goes to a waiting Service.
    const cur = await c.resource(R.services).get('a', NS);
    await c.resource(R.services).update({ ...cur, spec: { ...(cur.spec as object), type: 'ClusterIP' } });
    await waitFor(async () => (await ingressOf('a')).length === 0, 'a released');
    const next = await waitFor(async () => (await ingressOf('c'))[0], 'released address reassigned');
    assert.equal(next.ip, '192.0.2.1');
    const holders = async () => {
      const all = await c.resource(R.services).list({ namespace: NS });
      return all.items.flatMap((s) => ((s.status as { loadBalancer?: { ingress?: { ip?: string }[] } }).loadBalancer?.ingress ?? []).map((i) => i.ip));
    };
    let ips = await holders();
    assert.equal(new Set(ips).size, ips.length, `no address twice: ${ips}`);

    // Restart: assignments stay, nothing is handed out twice.
    await server.stop();
    server = await start();
    c = adminClient(server);
    await new Promise((r) => setTimeout(r, 800));
    ips = await holders();
    assert.equal(ips.length, 2);
    assert.equal(new Set(ips).size, 2);
    assert.deepEqual(await ingressOf('b'), [{ ip: '192.0.2.2', ipMode: 'VIP' }]);

    // Delete frees the address.
    await c.resource(R.services).delete('b', { namespace: NS });
    await c.resource(R.services).create(lbService('e'));
    assert.equal((await waitFor(async () => (await ingressOf('e'))[0], 'e ingress')).ip, '192.0.2.2');
    ips = await holders();
    assert.equal(new Set(ips).size, ips.length);
  });
});
