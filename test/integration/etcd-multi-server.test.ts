/**
 * Two Cairn API servers on one etcd (same key prefix, separate data dirs and PKI, each reached
 * with its own admin credentials): a write through one is seen by a watch on the other, a CRD
 * created through one is served by the other, resourceVersions agree, and /readyz fails on both
 * while etcd is down and recovers after it comes back.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startEtcd, type EtcdHandle } from '../support/etcd.js';
import { RawClient } from '../support/raw-https.js';
import { startTestServer, type TestServer } from '../support/server.js';

let etcd: EtcdHandle | undefined;
let a: TestServer;
let b: TestServer;
let ca: RawClient;
let cb: RawClient;
let skip: string | false = false;

const CM = '/api/v1/namespaces/default/configmaps';

before(async () => {
  try {
    etcd = await startEtcd();
  } catch (e) {
    skip = `no etcd: ${(e as Error).message}`;
    return;
  }
  const prefix = `/cairn-multi-${randomBytes(4).toString('hex')}`;
  a = await startTestServer({ store: 'etcd', etcdEndpoints: etcd.endpoints, etcdPrefix: prefix });
  b = await startTestServer({ store: 'etcd', etcdEndpoints: etcd.endpoints, etcdPrefix: prefix });
  ca = RawClient.admin(a.url, a.dataDir);
  cb = RawClient.admin(b.url, b.dataDir);
});

after(async () => {
  ca?.close();
  cb?.close();
  await a?.stop();
  await b?.stop();
  await etcd?.stop();
});

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('two API servers on one etcd', { timeout: 120_000 }, () => {
  it('use different certificates: each server\'s client is its own', (t) => {
    if (skip) return t.skip(skip);
    assert.notEqual(a.url, b.url);
    assert.notEqual(ca.creds.ca, cb.creds.ca);
  });

  it('a write through one is seen by a watch on the other, with the same resourceVersion', async (t) => {
    if (skip) return t.skip(skip);
    const list = await cb.request({ path: CM });
    assert.equal(list.status, 200);
    const watch = await cb.stream(`${CM}?watch=true&resourceVersion=${list.json.metadata.resourceVersion}`);
    try {
      assert.equal(watch.status, 200);
      const created = await ca.request({ method: 'POST', path: CM, body: { metadata: { name: 'from-a' }, data: { v: '1' } } });
      assert.equal(created.status, 201, created.text);
      const added = await watch.waitFor((e) => e.type === 'ADDED' && e.object.metadata.name === 'from-a');
      assert.equal(added.object.metadata.resourceVersion, created.json.metadata.resourceVersion);
      assert.equal(added.object.metadata.uid, created.json.metadata.uid);
      assert.equal(added.object.data.v, '1');

      const updated = await ca.request({ method: 'PUT', path: `${CM}/from-a`, body: { ...created.json, data: { v: '2' } } });
      assert.equal(updated.status, 200, updated.text);
      const mod = await watch.waitFor((e) => e.type === 'MODIFIED' && e.object.metadata.name === 'from-a');
      assert.equal(mod.object.metadata.resourceVersion, updated.json.metadata.resourceVersion);

      const del = await ca.request({ method: 'DELETE', path: `${CM}/from-a` });
      assert.equal(del.status, 200, del.text);
      await watch.waitFor((e) => e.type === 'DELETED' && e.object.metadata.name === 'from-a');
    } finally {
      watch.close();
    }
  });

  it('resourceVersions agree: a GET on either server returns the same object and version', async (t) => {
    if (skip) return t.skip(skip);
    const created = await cb.request({ method: 'POST', path: CM, body: { metadata: { name: 'from-b' }, data: { v: 'b' } } });
    assert.equal(created.status, 201, created.text);
    const viaA = await ca.request({ path: `${CM}/from-b` });
    assert.equal(viaA.status, 200, viaA.text);
    assert.deepEqual(viaA.json, created.json);

    // An update through A with B's resourceVersion succeeds; the stale one then conflicts on B.
    const upd = await ca.request({ method: 'PUT', path: `${CM}/from-b`, body: { ...created.json, data: { v: 'a' } } });
    assert.equal(upd.status, 200, upd.text);
    const stale = await cb.request({ method: 'PUT', path: `${CM}/from-b`, body: { ...created.json, data: { v: 'stale' } } });
    assert.equal(stale.status, 409, stale.text);
    assert.equal(stale.json.reason, 'Conflict');

    // Lists agree on revision and content once both have caught up.
    const la = await ca.request({ path: CM });
    const lb = await cb.request({ path: `${CM}?resourceVersion=${la.json.metadata.resourceVersion}&resourceVersionMatch=NotOlderThan` });
    assert.equal(lb.status, 200, lb.text);
    assert.ok(Number(lb.json.metadata.resourceVersion) >= Number(la.json.metadata.resourceVersion));
    const exact = await cb.request({ path: `${CM}?resourceVersion=${la.json.metadata.resourceVersion}&resourceVersionMatch=Exact` });
    assert.equal(exact.status, 200, exact.text);
    const names = (l: any) => l.items.map((i: any) => `${i.metadata.name}@${i.metadata.resourceVersion}`).sort();
    assert.deepEqual(names(exact.json), names(la.json));
  });

  it('a CRD created through one is served by the other', async (t) => {
    if (skip) return t.skip(skip);
    const group = `multi${randomBytes(3).toString('hex')}.example.com`;
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `gadgets.${group}` },
      spec: {
        group,
        scope: 'Namespaced',
        names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer', minimum: 1 } } } } } } }],
      },
    };
    const made = await ca.request({ method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: crd });
    assert.equal(made.status, 201, made.text);
    const path = `/apis/${group}/v1/namespaces/default/gadgets`;
    await eventually('B to serve the CRD', async () => ((await cb.request({ path })).status === 200 ? true : undefined));
    const disc = await cb.request({ path: `/apis/${group}/v1` });
    assert.equal(disc.status, 200, disc.text);
    assert.ok(disc.json.resources.some((r: any) => r.name === 'gadgets'));

    const g = await cb.request({ method: 'POST', path, body: { apiVersion: `${group}/v1`, kind: 'Gadget', metadata: { name: 'g1' }, spec: { size: 3 } } });
    assert.equal(g.status, 201, g.text);
    // B validates with the CRD's schema too.
    const bad = await cb.request({ method: 'POST', path, body: { apiVersion: `${group}/v1`, kind: 'Gadget', metadata: { name: 'g2' }, spec: { size: 0 } } });
    assert.equal(bad.status, 422, bad.text);
    await eventually('A to serve the CR', async () => {
      const res = await ca.request({ path: `${path}/g1` });
      return res.status === 200 ? res : undefined;
    }).then((res) => assert.equal(res.json.metadata.resourceVersion, g.json.metadata.resourceVersion));

    // Deleting the CRD through B stops A serving it.
    const del = await cb.request({ method: 'DELETE', path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.${group}` });
    assert.ok(del.status === 200 || del.status === 202, del.text);
    await eventually('A to stop serving the CRD', async () => ((await ca.request({ path })).status === 404 ? true : undefined), 30_000);
  });

  it('/readyz fails while etcd is down and recovers after it restarts', async (t) => {
    if (skip) return t.skip(skip);
    for (const c of [ca, cb]) assert.equal((await c.request({ path: '/readyz' })).status, 200);
    const watch = await cb.stream(`${CM}?watch=true`);
    await etcd!.kill();
    try {
      for (const [name, c] of [['A', ca], ['B', cb]] as const) {
        await eventually(`${name} to report not ready`, async () => {
          const res = await c.request({ path: '/readyz?verbose', timeoutMs: 10_000 });
          return res.status !== 200 ? res : undefined;
        }).then((res) => {
          assert.ok(res.status >= 500, `${name}: ${res.status}`);
          assert.match(res.text, /\[-\]etcd failed/);
        });
        // Liveness stays: the process is fine, only its store is not.
        assert.equal((await c.request({ path: '/livez' })).status, 200);
        // Writes fail with a Status, not a hang or a crash.
        const w = await c.request({ method: 'POST', path: CM, body: { metadata: { name: `down-${name.toLowerCase()}` }, data: {} }, timeoutMs: 30_000 });
        assert.ok(w.status >= 500, `${name}: write during outage: ${w.status} ${w.text.slice(0, 200)}`);
        assert.equal(w.json?.kind, 'Status', w.text.slice(0, 300));
      }
    } finally {
      await etcd!.restart();
    }
    for (const [name, c] of [['A', ca], ['B', cb]] as const) {
      await eventually(`${name} to be ready again`, async () => ((await c.request({ path: '/readyz' })).status === 200 ? true : undefined), 30_000);
    }
    // Both work again, and still see each other's writes.
    const created = await ca.request({ method: 'POST', path: CM, body: { metadata: { name: 'after-outage' }, data: { v: 'ok' } } });
    assert.equal(created.status, 201, created.text);
    const viaB = await eventually('B to read the write', async () => {
      const res = await cb.request({ path: `${CM}/after-outage` });
      return res.status === 200 ? res : undefined;
    });
    assert.equal(viaB.json.metadata.resourceVersion, created.json.metadata.resourceVersion);
    // The watch opened before the outage either carried on or ended with a Status (the client re-lists).
    await new Promise((r) => setTimeout(r, 1000));
    const seen = watch.events.some((e) => e.object?.metadata?.name === 'after-outage');
    const ended = watch.finished && (watch.events.at(-1)?.type === 'ERROR' || watch.error === undefined);
    assert.ok(seen || ended, `watch across the outage: events ${JSON.stringify(watch.events.slice(-3)).slice(0, 500)}, finished ${watch.finished}, error ${watch.error?.message}`);
    watch.close();
  });
});
