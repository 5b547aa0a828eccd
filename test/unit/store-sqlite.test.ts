import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { StoreUnavailableError } from '../../src/store/errors.js';
import { openStore } from '../../src/store/open-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { WatchEvent } from '../../src/store/types.js';
import { storeSuite } from '../support/store-suite.js';

const root = mkdtempSync(join(tmpdir(), 'cairn-store-sqlite-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(root, `store-${n++}.db`);

storeSuite('sqlite', async () => {
  const path = freshPath();
  const store = SqliteStore.open(path);
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(path, { force: true });
      rmSync(`${path}-wal`, { force: true });
    },
  };
});

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe('SqliteStore specifics', () => {
  it('keeps data, revisions and the compacted revision across close and reopen', async () => {
    const path = freshPath();
    const first = SqliteStore.open(path);
    const a = await first.create('/re/a', enc('1'));
    await first.update('/re/a', enc('2'), a.modRevision);
    await first.create('/re/b', enc('b'));
    const last = (await first.delete('/re/b')).modRevision;
    await first.compact(last); // the newest row is a tombstone: the counter must survive it
    await first.close();

    const second = SqliteStore.open(path);
    assert.equal(await second.currentRevision(), last);
    assert.equal(await second.compactedRevision(), last);
    assert.equal(dec((await second.get('/re/a'))!.value), '2');
    assert.equal(await second.get('/re/b'), null);
    const next = await second.create('/re/c', enc('c'));
    assert.equal(next.modRevision, last + 1);
    await second.close();
  });

  it('refuses a second opener of the same file while the first holds it', async () => {
    const path = freshPath();
    const first = SqliteStore.open(path);
    await first.create('/lock/a', enc('1'));
    assert.throws(() => SqliteStore.open(path), StoreUnavailableError);
    await first.close();
    const again = SqliteStore.open(path);
    assert.equal((await again.list('/lock')).items.length, 1);
    await again.close();
  });

  it('physically removes compacted history, keeping what later reads and watches need', async () => {
    const path = freshPath();
    const store = SqliteStore.open(path);
    let kv = await store.create('/gc/a', enc('0'));
    for (let i = 1; i <= 20; i++) kv = await store.update('/gc/a', enc(String(i)), kv.modRevision);
    await store.create('/gc/b', enc('b'));
    await store.delete('/gc/b');
    const mid = await store.currentRevision();
    kv = await store.update('/gc/a', enc('after'), kv.modRevision);
    await store.compact(mid);
    // Reading the raw log through a second handle is impossible (exclusive lock), so reopen.
    await store.close();
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(path);
    const rows = db.prepare('SELECT rev, key, deleted FROM log ORDER BY rev').all() as Array<{ rev: number; key: string; deleted: number }>;
    db.close();
    // /gc/a: the value at mid and the one after; /gc/b: its tombstone is at mid (kept until the next compaction).
    assert.deepEqual(
      rows.map((r) => [r.key, r.deleted]),
      [
        ['/gc/a', 0],
        ['/gc/b', 1],
        ['/gc/a', 0],
      ],
    );
    const reopened = SqliteStore.open(path);
    assert.deepEqual((await reopened.list('/gc', { revision: mid })).items.map((i) => dec(i.value)), ['20']);
    await reopened.close();
  });

  it('sends progress notifications after the events before them', async () => {
    const store = SqliteStore.open(freshPath(), { progressIntervalMs: 20 });
    const seen: Array<string> = [];
    const w = store.watch('/pr', {
      afterRevision: 0,
      onEvents: (evs: WatchEvent[]) => seen.push(...evs.map((e) => `event ${e.kv.modRevision}`)),
      onError: (err) => seen.push(`error ${err}`),
      onProgress: (rev) => seen.push(`progress ${rev}`),
    });
    const kv = await store.create('/pr/a', enc('1'));
    const deadline = Date.now() + 2000;
    while (!seen.some((s) => s === `progress ${kv.modRevision}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(seen.indexOf(`event ${kv.modRevision}`) >= 0);
    assert.ok(seen.indexOf(`event ${kv.modRevision}`) < seen.indexOf(`progress ${kv.modRevision}`));
    w.stop();
    await store.close();
  });

  it('ends a watcher whose buffer overflows, without blocking writers', async () => {
    const store = SqliteStore.open(freshPath(), { maxWatchBuffer: 100 });
    const errors: Error[] = [];
    let events = 0;
    store.watch('/of', { afterRevision: 0, onEvents: (evs) => (events += evs.length), onError: (e) => errors.push(e) });
    // 200 writes in one tick: the watcher cannot be served in between.
    await Promise.all(Array.from({ length: 200 }, (_, i) => store.create(`/of/${i}`, enc('x'))));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof StoreUnavailableError);
    assert.equal(events, 0);
    assert.equal(await store.count('/of'), 200);
    await store.close();
  });

  it('is what openStore returns for backend sqlite', async () => {
    const store = await openStore({ backend: 'sqlite', path: freshPath() });
    assert.equal(store.backend, 'sqlite');
    await store.ping();
    await store.close();
  });
});
