/**
 * Watch through @kubernetes/client-node's Watch and informer: events from a resourceVersion in
 * order, initial ADDED events without one, bookmarks, 410 for a compacted resourceVersion, objects
 * leaving a label selection as DELETED, and an informer that syncs, follows changes and relists
 * after a compaction-induced 410.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeInformer, type V1ConfigMap } from '@kubernetes/client-node';
import { startTestServer, testStore, type TestServer } from '../support/server.js';
import { apiError, clientsFor, patchAs, PatchStrategy, randomSuffix, Recorder, until, type Clients } from '../support/client-node.js';

let server: TestServer;
let c: Clients;
const ns = `watch-${randomSuffix()}`;
const cmPath = (n = ns) => `/api/v1/namespaces/${n}/configmaps`;

describe(`client-node watch and informers (${testStore()})`, () => {
  before(async () => {
    // API semantics only: no controllers racing the assertions (status writers, garbage collector).
    server = await startTestServer({ bookmarkIntervalMs: 200, server: { controllers: false } });
    c = clientsFor(server);
    await c.core.createNamespace({ body: { metadata: { name: ns } } });
  });
  after(async () => {
    const t = Date.now();
    await server?.stop();
    if (process.env.CAIRN_TEST_TIMING) console.log('stop took', Date.now() - t);
  });

  test('watch from a resourceVersion: ADDED, MODIFIED, DELETED in order with increasing resourceVersions', async () => {
    const list = await c.core.listNamespacedConfigMap({ namespace: ns });
    const rv = list.metadata!.resourceVersion!;
    const w = await Recorder.start(c.watch, cmPath(), { resourceVersion: rv });
    try {
      const created = await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'w1' }, data: { a: '1' } } });
      const updated = await c.core.patchNamespacedConfigMap({ name: 'w1', namespace: ns, body: { data: { a: '2' } } }, patchAs(PatchStrategy.MergePatch));
      await c.core.deleteNamespacedConfigMap({ name: 'w1', namespace: ns });
      const evs = await w.waitFor((e) => e.length >= 3, 'three events');
      assert.deepEqual(
        evs.map((e) => e.type),
        ['ADDED', 'MODIFIED', 'DELETED'],
      );
      assert.equal(evs[0].object.metadata.resourceVersion, created.metadata!.resourceVersion);
      assert.equal(evs[1].object.metadata.resourceVersion, updated.metadata!.resourceVersion);
      assert.equal(evs[1].object.data.a, '2');
      assert.equal(evs[2].object.data.a, '2', 'DELETED carries the last state');
      assert.ok(Number(evs[2].object.metadata.resourceVersion) > Number(updated.metadata!.resourceVersion), 'DELETED carries the deletion revision');
      assert.equal(evs[0].object.kind, 'ConfigMap');
      assert.equal(evs[0].object.apiVersion, 'v1');
      // Starting from the created object's RV only yields later events.
      const w2 = await Recorder.start(c.watch, cmPath(), { resourceVersion: created.metadata!.resourceVersion });
      try {
        const later = await w2.waitFor((e) => e.length >= 2, 'two later events');
        assert.deepEqual(
          later.map((e) => e.type),
          ['MODIFIED', 'DELETED'],
        );
      } finally {
        w2.stop();
      }
    } finally {
      w.stop();
    }
  });

  test('watch without resourceVersion: synthetic ADDED events for the current state, then changes', async () => {
    const wns = `w-init-${randomSuffix()}`;
    await c.core.createNamespace({ body: { metadata: { name: wns } } });
    for (const n of ['x', 'y', 'z']) await c.core.createNamespacedConfigMap({ namespace: wns, body: { metadata: { name: n } } });
    const w = await Recorder.start(c.watch, cmPath(wns), {});
    try {
      const init = await w.waitFor((e) => e.length >= 3, 'initial events');
      assert.deepEqual(
        init.map((e) => [e.type, e.object.metadata.name]).sort(),
        [
          ['ADDED', 'x'],
          ['ADDED', 'y'],
          ['ADDED', 'z'],
        ],
      );
      await c.core.deleteNamespacedConfigMap({ name: 'y', namespace: wns });
      const evs = await w.waitFor((e) => e.length >= 4, 'the delete');
      assert.equal(evs[3].type, 'DELETED');
      assert.equal(evs[3].object.metadata.name, 'y');
    } finally {
      w.stop();
    }
    // resourceVersion=0 behaves the same way (any state, then changes).
    const w0 = await Recorder.start(c.watch, cmPath(wns), { resourceVersion: '0' });
    try {
      const init = await w0.waitFor((e) => e.length >= 2, 'initial events at rv=0');
      assert.deepEqual(init.map((e) => e.object.metadata.name).sort(), ['x', 'z']);
    } finally {
      w0.stop();
    }
  });

  test('allowWatchBookmarks: BOOKMARK events carry later resourceVersions and no object body', async () => {
    const list = await c.core.listNamespacedConfigMap({ namespace: ns });
    const w = await Recorder.start(c.watch, cmPath(), { resourceVersion: list.metadata!.resourceVersion, allowWatchBookmarks: true });
    try {
      // Writes elsewhere (another namespace) advance the revision without events for this watch.
      const bns = `w-bm-${randomSuffix()}`;
      await c.core.createNamespace({ body: { metadata: { name: bns } } });
      const cm = await c.core.createNamespacedConfigMap({ namespace: bns, body: { metadata: { name: 'elsewhere' } } });
      const evs = await w.waitFor(
        (e) => e.some((x) => x.type === 'BOOKMARK' && Number(x.object.metadata.resourceVersion) >= Number(cm.metadata!.resourceVersion)),
        'a bookmark at or after the unrelated write',
        5000,
      );
      assert.ok(evs.every((e) => e.type === 'BOOKMARK'), 'no events for other namespaces');
      const bm = evs.find((e) => e.type === 'BOOKMARK')!;
      assert.equal(bm.object.kind, 'ConfigMap');
      assert.equal(bm.object.apiVersion, 'v1');
      assert.deepEqual(Object.keys(bm.object).sort(), ['apiVersion', 'kind', 'metadata']);
      assert.ok(Number(bm.object.metadata.resourceVersion) > Number(list.metadata!.resourceVersion));
      const rvs = w.of('BOOKMARK').map((e) => Number(e.object.metadata.resourceVersion));
      assert.deepEqual(rvs, [...rvs].sort((a, b) => a - b), 'bookmark resourceVersions never go back');
    } finally {
      w.stop();
    }
    // Without allowWatchBookmarks: none.
    const w2 = await Recorder.start(c.watch, cmPath(), { resourceVersion: list.metadata!.resourceVersion });
    try {
      await c.core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `nb-${randomSuffix()}` } } });
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(w2.of('BOOKMARK').length, 0);
    } finally {
      w2.stop();
    }
  });

  test('watch from a compacted resourceVersion → ERROR event with a 410 Expired Status', async () => {
    const old = await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: `old-${randomSuffix()}` } } });
    await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: `new-${randomSuffix()}` } } });
    const store = server.server.store;
    await store.compact(await store.currentRevision());
    const w = await Recorder.start(c.watch, cmPath(), { resourceVersion: String(Number(old.metadata!.resourceVersion) - 1) });
    try {
      const evs = await w.waitFor((e) => e.some((x) => x.type === 'ERROR'), 'an ERROR event');
      const err = evs.find((e) => e.type === 'ERROR')!.object;
      assert.equal(err.kind, 'Status');
      assert.equal(err.code, 410);
      assert.equal(err.reason, 'Expired');
      assert.equal(err.status, 'Failure');
      assert.match(err.message, /too old resource version/);
      await until(() => w.done, 'the server to end the watch');
    } finally {
      w.stop();
    }
    // A malformed resourceVersion is a 400 before the stream starts.
    await apiError(c.core.listNamespacedConfigMap({ namespace: ns, watch: true, resourceVersion: 'abc' }), 400, 'BadRequest');
    // So is a bad selector.
    await apiError(c.core.listNamespacedConfigMap({ namespace: ns, watch: true, labelSelector: 'a in (' }), 400, 'BadRequest');
  });

  test('label-selector watch: an object leaving the selection yields DELETED, entering it ADDED', async () => {
    const list = await c.core.listNamespacedConfigMap({ namespace: ns });
    const w = await Recorder.start(c.watch, cmPath(), { resourceVersion: list.metadata!.resourceVersion, labelSelector: 'team=blue' });
    try {
      await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'sel', labels: { team: 'blue' } } } });
      await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'unsel', labels: { team: 'red' } } } });
      await c.core.patchNamespacedConfigMap({ name: 'sel', namespace: ns, body: { data: { x: '1' } } }, patchAs(PatchStrategy.MergePatch));
      const left = await c.core.patchNamespacedConfigMap(
        { name: 'sel', namespace: ns, body: { metadata: { labels: { team: 'red' } } } },
        patchAs(PatchStrategy.MergePatch),
      );
      await c.core.patchNamespacedConfigMap({ name: 'unsel', namespace: ns, body: { metadata: { labels: { team: 'blue' } } } }, patchAs(PatchStrategy.MergePatch));
      await c.core.patchNamespacedConfigMap({ name: 'sel', namespace: ns, body: { data: { x: '2' } } }, patchAs(PatchStrategy.MergePatch));
      const evs = await w.waitFor((e) => e.length >= 4, 'four events');
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(
        w.events.map((e) => [e.type, e.object.metadata.name]),
        [
          ['ADDED', 'sel'],
          ['MODIFIED', 'sel'],
          ['DELETED', 'sel'],
          ['ADDED', 'unsel'],
        ],
      );
      // The DELETED event for an object leaving the selection carries its new state.
      assert.equal(evs[2].object.metadata.labels.team, 'red');
      assert.equal(evs[2].object.metadata.resourceVersion, left.metadata!.resourceVersion);
    } finally {
      w.stop();
    }
  });

  test('watch on a single object by name (fieldSelector metadata.name)', async () => {
    const list = await c.core.listNamespacedConfigMap({ namespace: ns });
    const w = await Recorder.start(c.watch, cmPath(), { resourceVersion: list.metadata!.resourceVersion, fieldSelector: 'metadata.name=one' });
    try {
      await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'two' } } });
      await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'one' } } });
      await w.waitFor((e) => e.length >= 1, 'one event');
      await new Promise((r) => setTimeout(r, 150));
      assert.deepEqual(
        w.events.map((e) => [e.type, e.object.metadata.name]),
        [['ADDED', 'one']],
      );
    } finally {
      w.stop();
    }
  });

  test('informer: syncs, follows adds/updates/deletes, relists after a compaction-induced 410', async () => {
    const ins = `w-inf-${randomSuffix()}`;
    await c.core.createNamespace({ body: { metadata: { name: ins } } });
    for (const n of ['i1', 'i2']) await c.core.createNamespacedConfigMap({ namespace: ins, body: { metadata: { name: n }, data: { v: '0' } } });
    const informer = makeInformer<V1ConfigMap>(c.kc, cmPath(ins), () => c.core.listNamespacedConfigMap({ namespace: ins }));
    const log: string[] = [];
    const errors: unknown[] = [];
    informer.on('add', (o) => log.push(`add ${o.metadata!.name}`));
    informer.on('update', (o) => log.push(`update ${o.metadata!.name} ${o.data?.v}`));
    informer.on('delete', (o) => log.push(`delete ${o.metadata!.name}`));
    informer.on('error', (e) => errors.push(e));
    await informer.start();
    try {
      await until(() => informer.list(ins).length === 2, 'initial sync');
      assert.deepEqual(log.sort(), ['add i1', 'add i2']);
      log.length = 0;

      await c.core.createNamespacedConfigMap({ namespace: ins, body: { metadata: { name: 'i3' }, data: { v: '0' } } });
      await c.core.patchNamespacedConfigMap({ name: 'i1', namespace: ins, body: { data: { v: '1' } } }, patchAs(PatchStrategy.MergePatch));
      await c.core.deleteNamespacedConfigMap({ name: 'i2', namespace: ins });
      await until(() => log.length >= 3, `three callbacks; got ${JSON.stringify(log)}`);
      assert.deepEqual(log, ['add i3', 'update i1 1', 'delete i2']);
      assert.equal(informer.get('i1', ins)?.data?.v, '1');
      assert.equal(informer.get('i2', ins), undefined);

      // Take the watch's position out from under it: stop, write, compact, start again from the
      // old resourceVersion. The watch gets a 410, the informer relists and reconciles.
      const rvBefore = (informer as unknown as { latestResourceVersion(): string }).latestResourceVersion();
      assert.match(rvBefore, /^[0-9]+$/);
      await informer.stop();
      log.length = 0;
      await c.core.createNamespacedConfigMap({ namespace: ins, body: { metadata: { name: 'i4' } } });
      await c.core.deleteNamespacedConfigMap({ name: 'i3', namespace: ins });
      await c.core.patchNamespacedConfigMap({ name: 'i1', namespace: ins, body: { data: { v: '2' } } }, patchAs(PatchStrategy.MergePatch));
      const store = server.server.store;
      await store.compact(await store.currentRevision());
      await informer.start();
      await until(
        () => informer.list(ins).map((o) => o.metadata!.name).sort().join(',') === 'i1,i4' && informer.get('i1', ins)?.data?.v === '2',
        `informer to relist; cache ${JSON.stringify(informer.list(ins).map((o) => [o.metadata!.name, o.data]))}`,
      );
      assert.deepEqual(log.sort(), ['add i4', 'delete i3', 'update i1 2']);
      assert.ok(
        Number((informer as unknown as { latestResourceVersion(): string }).latestResourceVersion()) > Number(rvBefore),
        'the informer moved to a fresh resourceVersion',
      );
      // And it keeps following after the relist.
      log.length = 0;
      await c.core.createNamespacedConfigMap({ namespace: ins, body: { metadata: { name: 'i5' } } });
      await until(() => log.includes('add i5'), 'add after relist');
      // (Stopping an informer aborts its watch request, which client-node reports as an AbortError.)
      assert.deepEqual(
        errors.filter((e) => (e as Error).name !== 'AbortError'),
        [],
      );
    } finally {
      await informer.stop();
    }
  });
});
