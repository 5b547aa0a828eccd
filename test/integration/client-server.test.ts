/**
 * The client library against the real API server, over both transports: CRUD, patch, watch,
 * pagination, and an informer's resume (short server-side watch timeouts) and relist after a
 * 410 (injected by a transport wrapper that simulates a dead connection plus compaction, since
 * the test cannot force the server to compact).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../support/server.js';
import {
  Client,
  DeletedFinalStateUnknown,
  HttpsTransport,
  InProcessTransport,
  Informer,
  finalStateOf,
  isAlreadyExists,
  isConflict,
  isNotFound,
  silentLogger,
  stderrLogger,
  type KubeList,
  type ResourceRef,
  type Transport,
  type TransportRequest,
  type TransportResponse,
  type WatchEvent,
} from '../../src/client/index.js';
import type { KubeObject } from '../../src/util/object.js';

const NAMESPACES: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', namespaced: false, kind: 'Namespace' };
const CONFIGMAPS: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap' };
const ADMIN = { name: 'admin', groups: ['system:masters', 'system:authenticated'] };

type Server = Awaited<ReturnType<typeof startTestServer>>;
const server: Server = await startTestServer();
after(async () => server.stop());

async function until(cond: () => boolean, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Passes requests through; can silence open watches, end them, and answer the next watch with 410. */
class GapTransport implements Transport {
  deaf = false;
  expireNextWatch = false;
  private readonly live = new Set<AbortController>();
  constructor(private readonly inner: Transport) {}
  request(req: TransportRequest): Promise<TransportResponse> {
    return this.inner.request(req);
  }
  async stream(req: TransportRequest): Promise<AsyncIterable<unknown>> {
    if (this.expireNextWatch) {
      this.expireNextWatch = false;
      return (async function* () {
        yield { type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 410, reason: 'Expired', message: 'injected: too old resource version' } };
      })();
    }
    const ac = new AbortController();
    const source = await this.inner.stream({ ...req, signal: req.signal ? AbortSignal.any([req.signal, ac.signal]) : ac.signal });
    this.live.add(ac);
    const self = this;
    return (async function* () {
      try {
        for await (const ev of source) if (!self.deaf) yield ev;
      } finally {
        self.live.delete(ac);
      }
    })();
  }
  endWatches(): void {
    for (const ac of this.live) ac.abort();
  }
}

const transports: [string, () => Transport, boolean][] = [
  ['https', () => HttpsTransport.fromKubeconfig(server.kubeconfigPath), true],
  // The helper may not expose the handler; then only HTTPS is exercised.
  ['in-process', () => new InProcessTransport(server.handler, ADMIN), !!server.handler],
];

for (const [kind, makeTransport, available] of transports) {
  describe(`client over ${kind} transport`, () => {
    assert.ok(available, `the test server exposes no ${kind} entry point`);
    let transport: Transport;
    let client: Client;
    const ns = `client-it-${kind}-${Math.random().toString(36).slice(2, 8)}`;
    const cm = (name: string, data: Record<string, string> = {}, labels?: Record<string, string>): KubeObject => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: ns, ...(labels ? { labels } : {}) },
      data,
    });

    before(async () => {
      transport = makeTransport();
      client = new Client(transport);
      await client.resource(NAMESPACES).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    });
    after(async () => {
      await client.resource(NAMESPACES).delete(ns).catch(() => {});
      transport.close?.();
    });

    test('create, get, list, update with conflicts, patch, delete', async () => {
      const cms = client.resource(CONFIGMAPS);
      const created = await cms.create(cm('one', { a: '1' }, { app: 'x' }));
      assert.equal(created.metadata.namespace, ns);
      assert.ok(created.metadata.resourceVersion);
      await assert.rejects(cms.create(cm('one')), (e) => isAlreadyExists(e));
      const got = await cms.get('one', ns);
      assert.deepEqual(got.data, { a: '1' });
      await assert.rejects(cms.get('nope', ns), (e) => isNotFound(e));

      await cms.create(cm('two', {}, { app: 'y' }));
      const listed = await cms.list({ namespace: ns, labelSelector: 'app=x' });
      assert.deepEqual(listed.items.map((i) => i.metadata.name), ['one']);

      const updated = await cms.update({ ...got, data: { a: '2' } });
      assert.notEqual(updated.metadata.resourceVersion, got.metadata.resourceVersion);
      await assert.rejects(cms.update({ ...got, data: { a: 'stale' } }), (e) => isConflict(e));

      const merged = await cms.patch('one', { data: { b: '3' } }, 'merge', { namespace: ns });
      assert.deepEqual(merged.data, { a: '2', b: '3' });
      const jsonPatched = await cms.patch('one', [{ op: 'remove', path: '/data/a' }], 'json', { namespace: ns });
      assert.deepEqual(jsonPatched.data, { b: '3' });

      await cms.delete('one', { namespace: ns });
      await assert.rejects(cms.get('one', ns), (e) => isNotFound(e));
      await cms.delete('two', { namespace: ns, preconditions: { uid: (await cms.get('two', ns)).metadata.uid } });
    });

    test('paginated list returns every object once', async () => {
      const cms = client.resource(CONFIGMAPS);
      for (let i = 0; i < 5; i++) await cms.create(cm(`page-${i}`, {}, { set: 'paging' }));
      const names: string[] = [];
      let cont: string | undefined;
      let pages = 0;
      do {
        const page: KubeList<KubeObject> = await cms.list({ namespace: ns, labelSelector: 'set=paging', limit: 2, continue: cont });
        names.push(...page.items.map((i) => i.metadata.name!));
        cont = page.metadata.continue || undefined;
        pages++;
      } while (cont);
      assert.equal(pages, 3);
      assert.deepEqual(names.sort(), ['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
      await cms.deleteCollection({ namespace: ns, labelSelector: 'set=paging' });
      assert.equal((await cms.list({ namespace: ns, labelSelector: 'set=paging' })).items.length, 0);
    });

    test('watch from a list resourceVersion sees ADDED, MODIFIED, DELETED in order', async () => {
      const cms = client.resource(CONFIGMAPS);
      const rv = (await cms.list({ namespace: ns })).metadata.resourceVersion;
      const ac = new AbortController();
      const events: WatchEvent<KubeObject>[] = [];
      const watching = (async () => {
        for await (const ev of cms.watch({ namespace: ns, resourceVersion: rv, labelSelector: 'w=1', signal: ac.signal })) {
          events.push(ev);
          if (ev.type === 'DELETED') ac.abort();
        }
      })();
      await cms.create(cm('watched', { v: '1' }, { w: '1' }));
      await cms.patch('watched', { data: { v: '2' } }, 'merge', { namespace: ns });
      await cms.delete('watched', { namespace: ns });
      await watching;
      assert.deepEqual(events.map((e) => `${e.type} ${(e.object as KubeObject).metadata.name}`), ['ADDED watched', 'MODIFIED watched', 'DELETED watched']);
    });

    test('informer resumes after server-side watch timeouts without relisting', async () => {
      const inf = new Informer(client.resource(CONFIGMAPS), { namespace: ns, labelSelector: 'inf=resume', watchTimeoutSeconds: 1, logger: silentLogger, backoff: { initialMs: 10, maxMs: 100 } });
      const adds: string[] = [];
      inf.onAdd((o) => adds.push(o.metadata.name!));
      inf.start();
      await inf.waitForSync();
      const cms = client.resource(CONFIGMAPS);
      await cms.create(cm('r1', {}, { inf: 'resume' }));
      await new Promise((r) => setTimeout(r, 1500)); // outlive one watch
      await cms.create(cm('r2', {}, { inf: 'resume' }));
      await until(() => adds.length === 2, 'both adds');
      assert.deepEqual(adds, ['r1', 'r2']);
      assert.ok(inf.stats.watches >= 2, `watches: ${inf.stats.watches}`);
      assert.equal(inf.stats.relists, 0);
      await inf.stop();
    });

    test('informer relists after 410 and reports what changed during the gap', async () => {
      const gap = new GapTransport(transport);
      const cms = client.resource(CONFIGMAPS);
      await cms.create(cm('g-a', {}, { inf: 'gap' }));
      await cms.create(cm('g-b', {}, { inf: 'gap' }));
      const inf = new Informer(new Client(gap).resource(CONFIGMAPS), { namespace: ns, labelSelector: "inf=gap", logger: process.env.DEBUG_INF ? stderrLogger : silentLogger, backoff: { initialMs: 10, maxMs: 100 } });
      const log: string[] = [];
      inf.addEventHandler({
        onAdd: (o) => log.push(`add ${o.metadata.name}`),
        onUpdate: (a, b) => a.metadata.resourceVersion !== b.metadata.resourceVersion && log.push(`update ${b.metadata.name}`),
        onDelete: (o) => log.push(`delete ${finalStateOf(o).metadata.name}${o instanceof DeletedFinalStateUnknown ? ' (tombstone)' : ''}`),
      });
      inf.start();
      await inf.waitForSync();
      gap.deaf = true;
      await cms.delete('g-a', { namespace: ns });
      await cms.patch('g-b', { data: { changed: 'yes' } }, 'merge', { namespace: ns });
      await cms.create(cm('g-c', {}, { inf: 'gap' }));
      gap.expireNextWatch = true;
      // End the deaf watch before hearing again, so no event of the gap slips through.
      gap.endWatches();
      gap.deaf = false;
      await until(() => inf.stats.relists === 1 && log.length === 5, 'relist');
      assert.deepEqual(log.slice(2).sort(), ['add g-c', 'delete g-a (tombstone)', 'update g-b']);
      assert.deepEqual(inf.store.listKeys().sort(), [`${ns}/g-b`, `${ns}/g-c`]);
      // And it keeps watching after the relist.
      await cms.create(cm('g-d', {}, { inf: 'gap' }));
      await until(() => inf.store.size === 3, 'watch after relist');
      await inf.stop();
    });
  });
}
