/**
 * Informer and shared factory against an in-memory fake API handler (below) that serves one
 * resource (configmaps) with list pagination, watch from a resourceVersion, bookmarks,
 * compaction (410 as a watch ERROR event or as the HTTP status), dropped watches and failures.
 * The real client stack is used: Client → InProcessTransport → handler.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiHandler, ApiRequest, ApiResponse } from '../../src/api/types.js';
import type { KubeObject } from '../../src/util/object.js';
import {
  Client,
  DeletedFinalStateUnknown,
  InProcessTransport,
  Informer,
  SharedInformerFactory,
  finalStateOf,
  silentLogger,
  type ResourceRef,
} from '../../src/client/index.js';

const CM: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap' };
type Ev = { type: string; object: unknown };

/** A minimal async channel: push/close on one side, for-await on the other. */
class Chan<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private wake?: () => void;
  closed = false;
  push(v: T) {
    this.items.push(v);
    this.wake?.();
  }
  close() {
    this.closed = true;
    this.wake?.();
  }
  async *[Symbol.asyncIterator]() {
    for (;;) {
      while (this.items.length) yield this.items.shift()!;
      if (this.closed) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}

const status = (code: number, reason: string, message: string) => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code, reason, message });

class FakeApi {
  rv = 1;
  objects = new Map<string, KubeObject>();
  history: { rv: number; ev: Ev }[] = [];
  compactedRv = 0;
  watchers = new Set<{ chan: Chan<Ev>; bookmarks: boolean }>();
  lists: URLSearchParams[] = [];
  watches: URLSearchParams[] = [];
  failNextLists = 0;
  /** Live events are not delivered (a silently dead connection). */
  deaf = false;
  goneAs: 'event' | 'status' = 'event';

  private write(type: string, obj: KubeObject) {
    obj.metadata.resourceVersion = String(++this.rv);
    const ev = { type, object: structuredClone(obj) };
    this.history.push({ rv: this.rv, ev });
    if (!this.deaf) for (const w of this.watchers) w.chan.push(ev);
  }
  put(name: string, data: Record<string, string>, ns = 'default') {
    const key = `${ns}/${name}`;
    const existed = this.objects.has(key);
    const obj: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, uid: `uid-${name}` }, data };
    this.objects.set(key, obj);
    this.write(existed ? 'MODIFIED' : 'ADDED', obj);
  }
  remove(name: string, ns = 'default') {
    const obj = this.objects.get(`${ns}/${name}`)!;
    this.objects.delete(`${ns}/${name}`);
    this.write('DELETED', obj);
  }
  compact() {
    this.compactedRv = this.rv;
  }
  bookmark() {
    for (const w of this.watchers) if (w.bookmarks) w.chan.push({ type: 'BOOKMARK', object: { kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) } } });
  }
  endWatches() {
    for (const w of this.watchers) w.chan.close();
    this.watchers.clear();
  }

  handler: ApiHandler = async (req: ApiRequest): Promise<ApiResponse> => {
    const m = /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?configmaps$/.exec(req.path);
    if (!m || req.method !== 'GET') return { status: 404, body: status(404, 'NotFound', 'not found') };
    const ns = m[1];
    const inScope = (o: KubeObject) => !ns || o.metadata.namespace === ns;
    if (req.query.get('watch') === 'true') return this.watch(req, inScope);
    this.lists.push(req.query);
    if (this.failNextLists > 0) {
      this.failNextLists--;
      return { status: 500, body: status(500, 'InternalError', 'boom') };
    }
    const all = [...this.objects.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, o]) => o).filter(inScope);
    const limit = Number(req.query.get('limit') ?? 0) || all.length;
    let offset = 0;
    let listRv = this.rv;
    const cont = req.query.get('continue');
    if (cont) {
      const [rv, off] = cont.split(':').map(Number);
      if (rv < this.compactedRv) return { status: 410, body: status(410, 'Expired', 'continue token expired') };
      offset = off;
      listRv = rv;
    }
    const items = all.slice(offset, offset + limit).map((o) => {
      const { apiVersion: _a, kind: _k, ...rest } = structuredClone(o);
      return rest; // list items carry no TypeMeta, as on the wire
    });
    const next = offset + limit < all.length ? `${listRv}:${offset + limit}` : undefined;
    return { status: 200, body: { apiVersion: 'v1', kind: 'ConfigMapList', metadata: { resourceVersion: String(listRv), continue: next }, items } };
  };

  private watch(req: ApiRequest, inScope: (o: KubeObject) => boolean): ApiResponse {
    this.watches.push(req.query);
    const from = Number(req.query.get('resourceVersion') || this.rv);
    if (from < this.compactedRv) {
      const s = status(410, 'Expired', `too old resource version: ${from} (${this.compactedRv})`);
      if (this.goneAs === 'status') return { status: 410, body: s };
      const chan = new Chan<Ev>();
      chan.push({ type: 'ERROR', object: s });
      chan.close();
      return { status: 200, stream: chan };
    }
    const chan = new Chan<Ev>();
    const w = { chan, bookmarks: req.query.get('allowWatchBookmarks') === 'true' };
    for (const h of this.history) if (h.rv > from && inScope(h.ev.object as KubeObject)) chan.push(h.ev);
    this.watchers.add(w);
    req.signal.addEventListener('abort', () => {
      this.watchers.delete(w);
      chan.close();
    });
    return { status: 200, stream: chan };
  }
}

async function until(cond: () => boolean, what: string, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function setup(opts: { pageSize?: number; resyncPeriodMs?: number } = {}) {
  const api = new FakeApi();
  const client = new Client(new InProcessTransport(api.handler, { name: 'test', groups: ['system:masters'] }));
  const mk = () =>
    new Informer(client.resource(CM), {
      name: 'configmaps',
      logger: silentLogger,
      backoff: { initialMs: 5, maxMs: 20 },
      pageSize: opts.pageSize,
      resyncPeriodMs: opts.resyncPeriodMs,
    });
  const log: string[] = [];
  const record = (inf: Informer) =>
    inf.addEventHandler({
      onAdd: (o, initial) => log.push(`add ${o.metadata.name}${initial ? ' (initial)' : ''}`),
      onUpdate: (a, b) => log.push(`update ${b.metadata.name} ${a.metadata.resourceVersion}->${b.metadata.resourceVersion}`),
      onDelete: (o) => log.push(`delete ${finalStateOf(o).metadata.name}${o instanceof DeletedFinalStateUnknown ? ' (tombstone)' : ''}`),
    });
  return { api, client, mk, log, record };
}

test('initial list is paginated, fills the cache and marks synced', async () => {
  const { api, mk, log, record } = setup({ pageSize: 2 });
  for (const n of ['a', 'b', 'c', 'd', 'e']) api.put(n, { n });
  const inf = mk();
  record(inf);
  inf.start();
  await inf.waitForSync();
  assert.ok(inf.hasSynced());
  assert.equal(inf.store.size, 5);
  assert.deepEqual(api.lists.map((q) => [q.get('limit'), q.get('continue')]), [['2', null], ['2', '6:2'], ['2', '6:4']]);
  assert.deepEqual(log, ['add a (initial)', 'add b (initial)', 'add c (initial)', 'add d (initial)', 'add e (initial)']);
  // TypeMeta is restored from the list kind.
  assert.equal(inf.store.get('default/a')?.kind, 'ConfigMap');
  assert.equal(inf.store.get('default/a')?.apiVersion, 'v1');
  assert.equal(inf.lastSyncResourceVersion, '6');
  await inf.stop();
});

test('watch events update cache, indexes and handlers; cached objects are frozen', async () => {
  const { api, mk, log, record } = setup();
  api.put('a', { v: '1' });
  const inf = mk();
  inf.addIndexers({ byValue: (o) => [String((o.data as Record<string, string>)?.v)] });
  record(inf);
  inf.start();
  await inf.waitForSync();
  await until(() => api.watchers.size === 1, 'watch');
  api.put('b', { v: '1' }, 'other');
  api.put('a', { v: '2' });
  api.remove('b', 'other');
  await until(() => log.length === 4, 'events');
  assert.deepEqual(log, ['add a (initial)', 'add b', 'update a 2->4', 'delete b']);
  assert.deepEqual(inf.store.byIndex('byValue', '2').map((o) => o.metadata.name), ['a']);
  assert.deepEqual(inf.store.byIndex('byValue', '1'), []);
  assert.deepEqual(inf.store.byNamespace('default').map((o) => o.metadata.name), ['a']);
  assert.equal(inf.store.getByName('a', 'default')?.metadata.resourceVersion, '4');
  assert.equal(inf.lastSyncResourceVersion, '5');
  const cached = inf.store.get('default/a')!;
  assert.throws(() => {
    cached.metadata.labels = { x: 'y' };
  }, TypeError);
  const watchQuery = api.watches[0];
  assert.equal(watchQuery.get('resourceVersion'), '2');
  assert.equal(watchQuery.get('allowWatchBookmarks'), 'true');
  assert.ok(Number(watchQuery.get('timeoutSeconds')) >= 300);
  await inf.stop();
  assert.equal(api.watchers.size, 0, 'stop ends the server-side watch');
});

test('a normally ended watch resumes from the last bookmark without relisting', async () => {
  const { api, mk, log, record } = setup();
  api.put('a', {});
  const inf = mk();
  record(inf);
  inf.start();
  await inf.waitForSync();
  await until(() => api.watchers.size === 1, 'watch');
  // Writes outside the informer's view advance the RV; a bookmark carries it.
  api.deaf = true;
  api.put('x', {}, 'elsewhere');
  api.deaf = false;
  api.bookmark();
  await until(() => inf.lastSyncResourceVersion === '3', 'bookmark');
  api.endWatches();
  await until(() => api.watches.length === 2 && api.watchers.size === 1, 're-watch');
  assert.equal(api.watches[1].get('resourceVersion'), '3');
  api.put('a', { v: '2' });
  await until(() => log.length === 2, 'update after resume');
  assert.equal(api.lists.length, 1, 'no relist');
  assert.equal(inf.stats.relists, 0);
  assert.deepEqual(log, ['add a (initial)', 'update a 2->4']);
  await inf.stop();
});

for (const goneAs of ['event', 'status'] as const) {
  test(`410 on resume (${goneAs}) relists and emits the difference with tombstones`, async () => {
    const { api, mk, log, record } = setup({ pageSize: 2 });
    for (const n of ['a', 'b', 'c']) api.put(n, {});
    api.goneAs = goneAs;
    const inf = mk();
    record(inf);
    inf.start();
    await inf.waitForSync();
    await until(() => api.watchers.size === 1, 'watch');
    // The connection dies silently; meanwhile a is deleted, b changes, d appears, history is compacted.
    api.deaf = true;
    api.remove('a');
    api.put('b', { v: '2' });
    api.put('d', {});
    api.compact();
    api.endWatches();
    api.deaf = false;
    await until(() => inf.stats.relists === 1 && log.length === 7, 'relist');
    assert.deepEqual(log.slice(3).sort(), ['add d', 'delete a (tombstone)', 'update b 3->6', 'update c 4->4'].sort());
    assert.deepEqual(inf.store.listKeys().sort(), ['default/b', 'default/c', 'default/d']);
    assert.equal(inf.lastSyncResourceVersion, '7');
    await until(() => api.watchers.size === 1, 'watch after relist');
    assert.equal(api.watches.at(-1)!.get('resourceVersion'), '7');
    await inf.stop();
  });
}

test('list failures back off and retry until synced', async () => {
  const { api, mk } = setup();
  api.put('a', {});
  api.failNextLists = 3;
  const inf = mk();
  inf.start();
  await inf.waitForSync();
  assert.equal(api.lists.length, 4);
  assert.equal(inf.stats.errors, 3);
  await inf.stop();
});

test('periodic resync re-delivers cached objects as updates', async () => {
  const { api, mk } = setup({ resyncPeriodMs: 30 });
  api.put('a', {});
  const inf = mk();
  const updates: [string | undefined, boolean][] = [];
  inf.onUpdate((o, n) => updates.push([n.metadata.name, o === n]));
  inf.start();
  await inf.waitForSync();
  await until(() => updates.length >= 2, 'resyncs');
  assert.deepEqual(updates[0], ['a', true]);
  await inf.stop();
});

test('a failing handler does not stop the informer or other handlers', async () => {
  const { api, mk } = setup();
  const inf = mk();
  const seen: string[] = [];
  inf.onAdd(() => {
    throw new Error('handler bug');
  });
  inf.onAdd((o) => seen.push(o.metadata.name!));
  inf.start();
  await inf.waitForSync();
  await until(() => api.watchers.size === 1, 'watch');
  api.put('a', {});
  await until(() => seen.length === 1, 'add');
  await inf.stop();
});

test('waitForSync rejects when stopped or aborted before sync', async () => {
  const { api, mk } = setup();
  api.failNextLists = 1000;
  const inf = mk();
  inf.start();
  const ac = new AbortController();
  const aborted = inf.waitForSync(ac.signal);
  ac.abort();
  await assert.rejects(aborted, { name: 'AbortedError' });
  const pending = inf.waitForSync();
  await inf.stop();
  await assert.rejects(pending, { name: 'AbortedError' });
});

test('shared factory: one informer per resource and scope; late handlers get the cache replayed', async () => {
  const { api, client } = setup();
  api.put('a', {});
  api.put('b', {}, 'kube-system');
  const factory = new SharedInformerFactory(client, { logger: silentLogger, backoff: { initialMs: 5, maxMs: 20 } });
  const i1 = factory.forResource(CM);
  const i2 = factory.forResource(CM);
  const i3 = factory.forResource(CM, { namespace: 'kube-system' });
  assert.equal(i1, i2);
  assert.notEqual(i1, i3);
  factory.start();
  await factory.waitForSync();
  assert.equal(i1.store.size, 2);
  assert.deepEqual(i3.store.listKeys(), ['kube-system/b']);
  const replayed: string[] = [];
  i1.onAdd((o, initial) => replayed.push(`${o.metadata.name}:${initial}`));
  assert.deepEqual(replayed.sort(), ['a:true', 'b:true']);
  // An informer requested after start() starts by itself.
  const late = factory.forResource(CM, { namespace: 'default' });
  await late.waitForSync();
  assert.deepEqual(late.store.listKeys(), ['default/a']);
  await factory.stop();
  assert.equal(api.watchers.size, 0);
});
