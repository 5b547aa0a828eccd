/**
 * The behaviour every Store backend must have, as one node:test suite. Each backend's test file
 * calls storeSuite() with a factory returning a fresh, empty store (for etcd: a fresh key
 * namespace on a shared server, so tests assert on revisions relative to what they wrote).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Compactor } from '../../src/store/compactor.js';
import {
  CompactedError,
  ConflictError,
  FutureRevisionError,
  KeyExistsError,
  KeyNotFoundError,
  StoreClosedError,
} from '../../src/store/errors.js';
import type { KeyValue, Store, WatchEvent, WatchHandle } from '../../src/store/types.js';

export type StoreFactory = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `cond` holds; fails the test with `what` after the timeout. */
async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

interface Recorder {
  events: WatchEvent[];
  errors: Error[];
  handle: WatchHandle;
}

function record(store: Store, prefix: string, afterRevision: number): Recorder {
  const rec = { events: [] as WatchEvent[], errors: [] as Error[] } as Recorder;
  rec.handle = store.watch(prefix, {
    afterRevision,
    onEvents: (evs) => rec.events.push(...evs),
    onError: (err) => rec.errors.push(err),
  });
  return rec;
}

function summary(ev: WatchEvent): string {
  return `${ev.type} ${ev.kv.key}@${ev.kv.modRevision}=${dec(ev.kv.value)}` + (ev.prevKv ? ` prev@${ev.prevKv.modRevision}=${dec(ev.prevKv.value)}` : '');
}

function assertStrictlyIncreasing(revs: number[]): void {
  for (let i = 1; i < revs.length; i++) assert.ok(revs[i] > revs[i - 1], `revision ${revs[i]} after ${revs[i - 1]}`);
}

export function storeSuite(name: string, makeStore: StoreFactory): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });
    afterEach(async () => {
      await cleanup();
    });

    describe('create / get', () => {
      it('creates a key whose createRevision equals its modRevision, and reads it back', async () => {
        const kv = await store.create('/k/one', enc('v1'));
        assert.equal(kv.key, '/k/one');
        assert.equal(dec(kv.value), 'v1');
        assert.ok(kv.modRevision > 0);
        assert.equal(kv.createRevision, kv.modRevision);
        const got = await store.get('/k/one');
        assert.deepEqual({ ...got!, value: dec(got!.value) }, { ...kv, value: 'v1' });
      });

      it('returns null for a missing key', async () => {
        assert.equal(await store.get('/k/missing'), null);
      });

      it('rejects creating an existing key with KeyExistsError', async () => {
        await store.create('/k/dup', enc('a'));
        await assert.rejects(store.create('/k/dup', enc('b')), (err: unknown) => {
          assert.ok(err instanceof KeyExistsError);
          assert.equal(err.key, '/k/dup');
          return true;
        });
        assert.equal(dec((await store.get('/k/dup'))!.value), 'a');
      });

      it('lets exactly one of many concurrent creates of one key win', async () => {
        const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => store.create('/k/race', enc(`w${i}`))));
        const won = results.filter((r) => r.status === 'fulfilled');
        assert.equal(won.length, 1);
        for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof KeyExistsError);
      });
    });

    describe('update', () => {
      it('replaces the value when the modRevision matches, keeping createRevision', async () => {
        const created = await store.create('/u/a', enc('1'));
        const updated = await store.update('/u/a', enc('2'), created.modRevision);
        assert.equal(dec(updated.value), '2');
        assert.equal(updated.createRevision, created.createRevision);
        assert.ok(updated.modRevision > created.modRevision);
        assert.equal((await store.get('/u/a'))!.modRevision, updated.modRevision);
      });

      it('fails with ConflictError carrying the current value when the key changed', async () => {
        const created = await store.create('/u/b', enc('1'));
        const updated = await store.update('/u/b', enc('2'), created.modRevision);
        await assert.rejects(store.update('/u/b', enc('3'), created.modRevision), (err: unknown) => {
          assert.ok(err instanceof ConflictError);
          assert.equal(err.key, '/u/b');
          assert.equal(err.current?.modRevision, updated.modRevision);
          assert.equal(dec(err.current!.value), '2');
          return true;
        });
      });

      it('fails with KeyNotFoundError for a missing or deleted key', async () => {
        await assert.rejects(store.update('/u/none', enc('x'), 1), KeyNotFoundError);
        await assert.rejects(store.update('/u/none', enc('x'), 0), KeyNotFoundError);
        const kv = await store.create('/u/gone', enc('x'));
        await store.delete('/u/gone');
        await assert.rejects(store.update('/u/gone', enc('y'), kv.modRevision), KeyNotFoundError);
        assert.equal(await store.get('/u/gone'), null);
      });
    });

    describe('delete', () => {
      it('returns the deleted value with the revision of the deletion', async () => {
        const kv = await store.create('/d/a', enc('bye'));
        const deleted = await store.delete('/d/a');
        assert.equal(dec(deleted.value), 'bye');
        assert.equal(deleted.key, '/d/a');
        assert.equal(deleted.createRevision, kv.createRevision);
        assert.ok(deleted.modRevision > kv.modRevision);
        assert.equal(await store.currentRevision(), deleted.modRevision);
        assert.equal(await store.get('/d/a'), null);
      });

      it('fails with KeyNotFoundError for a missing key', async () => {
        await assert.rejects(store.delete('/d/none'), KeyNotFoundError);
        await assert.rejects(store.delete('/d/none', 5), KeyNotFoundError);
      });

      it('checks expectedModRevision: ConflictError with the current value, else deletes', async () => {
        const kv = await store.create('/d/b', enc('1'));
        const updated = await store.update('/d/b', enc('2'), kv.modRevision);
        await assert.rejects(store.delete('/d/b', kv.modRevision), (err: unknown) => {
          assert.ok(err instanceof ConflictError);
          assert.equal(err.current?.modRevision, updated.modRevision);
          return true;
        });
        const deleted = await store.delete('/d/b', updated.modRevision);
        assert.equal(dec(deleted.value), '2');
      });

      it('gives a re-created key a new createRevision', async () => {
        const first = await store.create('/d/c', enc('1'));
        await store.delete('/d/c');
        const second = await store.create('/d/c', enc('2'));
        assert.ok(second.createRevision > first.createRevision);
        assert.equal(second.createRevision, second.modRevision);
      });
    });

    describe('revisions', () => {
      it('are strictly increasing across all keys and match currentRevision', async () => {
        const start = await store.currentRevision();
        const revs = [start];
        const a = await store.create('/r/a', enc('1'));
        revs.push(a.modRevision);
        revs.push((await store.create('/r/b', enc('1'))).modRevision);
        revs.push((await store.update('/r/a', enc('2'), a.modRevision)).modRevision);
        revs.push((await store.delete('/r/b')).modRevision);
        assertStrictlyIncreasing(revs);
        assert.equal(await store.currentRevision(), revs.at(-1));
      });

      it('are not consumed by failed writes', async () => {
        const kv = await store.create('/r/c', enc('1'));
        await assert.rejects(store.create('/r/c', enc('2')), KeyExistsError);
        await assert.rejects(store.update('/r/c', enc('2'), kv.modRevision - 1), ConflictError);
        await assert.rejects(store.delete('/r/none'), KeyNotFoundError);
        assert.equal(await store.currentRevision(), kv.modRevision);
      });
    });

    describe('list / count', () => {
      it('lists a key directory in key order without matching siblings', async () => {
        for (const k of ['/a/b/2', '/a/bc/1', '/a/b/1', '/a/b', '/a/b/x/y', '/a/c/1']) await store.create(k, enc(k));
        const want = ['/a/b/1', '/a/b/2', '/a/b/x/y'];
        for (const prefix of ['/a/b', '/a/b/']) {
          const res = await store.list(prefix);
          assert.deepEqual(res.items.map((kv) => kv.key), want, `prefix ${prefix}`);
          assert.equal(res.more, false);
          assert.equal(res.revision, await store.currentRevision());
          assert.equal(await store.count(prefix), 3);
        }
        assert.deepEqual((await store.list('/a/bc')).items.map((kv) => kv.key), ['/a/bc/1']);
        assert.equal((await store.list('')).items.length, 6);
        assert.equal(await store.count(''), 6);
        assert.deepEqual((await store.list('/nothing')).items, []);
        assert.equal(await store.count('/nothing'), 0);
      });

      it('returns full KeyValues', async () => {
        const kv = await store.create('/l/full/a', enc('x'));
        const [item] = (await store.list('/l/full')).items;
        assert.equal(item.createRevision, kv.createRevision);
        assert.equal(item.modRevision, kv.modRevision);
        assert.equal(dec(item.value), 'x');
      });

      it('paginates with limit and startKey, reporting more and remaining', async () => {
        const keys = Array.from({ length: 10 }, (_, i) => `/p/item-${String(i).padStart(2, '0')}`);
        for (const k of keys) await store.create(k, enc(k));
        await store.create('/q/other', enc('x'));
        const seen: string[] = [];
        let startKey: string | undefined;
        let revision: number | undefined;
        const pages: Array<{ n: number; more: boolean; remaining?: number }> = [];
        for (;;) {
          const page = await store.list('/p', { limit: 3, startKey, revision });
          revision = page.revision;
          seen.push(...page.items.map((kv) => kv.key));
          pages.push({ n: page.items.length, more: page.more, remaining: page.remaining });
          if (!page.more) break;
          startKey = page.items.at(-1)!.key + '\0';
        }
        assert.deepEqual(seen, keys);
        assert.deepEqual(pages, [
          { n: 3, more: true, remaining: 7 },
          { n: 3, more: true, remaining: 4 },
          { n: 3, more: true, remaining: 1 },
          { n: 1, more: false, remaining: undefined },
        ]);
        const all = await store.list('/p', { limit: 10 });
        assert.equal(all.items.length, 10);
        assert.equal(all.more, false);
      });

      it('reads at an older revision, also paginated', async () => {
        const a = await store.create('/o/a', enc('a1'));
        const b = await store.create('/o/b', enc('b1'));
        const snapshot = b.modRevision;
        await store.update('/o/a', enc('a2'), a.modRevision);
        await store.delete('/o/b');
        await store.create('/o/c', enc('c1'));
        const old = await store.list('/o', { revision: snapshot });
        assert.equal(old.revision, snapshot);
        assert.deepEqual(old.items.map((kv) => [kv.key, dec(kv.value), kv.modRevision]), [
          ['/o/a', 'a1', a.modRevision],
          ['/o/b', 'b1', b.modRevision],
        ]);
        const page = await store.list('/o', { revision: snapshot, limit: 1 });
        assert.deepEqual(page.items.map((kv) => kv.key), ['/o/a']);
        assert.equal(page.more, true);
        assert.equal(page.remaining, 1);
        const page2 = await store.list('/o', { revision: snapshot, limit: 1, startKey: '/o/a\0' });
        assert.deepEqual(page2.items.map((kv) => kv.key), ['/o/b']);
        assert.equal(page2.more, false);
        const latest = await store.list('/o');
        assert.deepEqual(latest.items.map((kv) => [kv.key, dec(kv.value)]), [
          ['/o/a', 'a2'],
          ['/o/c', 'c1'],
        ]);
      });

      it('rejects a future revision with FutureRevisionError', async () => {
        await store.create('/f/a', enc('1'));
        const current = await store.currentRevision();
        await assert.rejects(store.list('/f', { revision: current + 1000 }), (err: unknown) => {
          assert.ok(err instanceof FutureRevisionError);
          assert.equal(err.requested, current + 1000);
          return true;
        });
      });
    });

    describe('compaction', () => {
      it('forgets history before the revision but keeps the state at it', async () => {
        const a = await store.create('/c/a', enc('a1'));
        const b = await store.create('/c/b', enc('b1'));
        const a2 = await store.update('/c/a', enc('a2'), a.modRevision);
        const gone = await store.create('/c/gone', enc('x'));
        await store.delete('/c/gone');
        const mid = (await store.update('/c/b', enc('b2'), b.modRevision)).modRevision;
        await store.update('/c/a', enc('a3'), a2.modRevision);
        await store.create('/c/d', enc('d1'));
        assert.ok(gone.modRevision < mid);

        await store.compact(mid);
        assert.equal(await store.compactedRevision(), mid);

        await assert.rejects(store.list('/c', { revision: mid - 1 }), (err: unknown) => {
          assert.ok(err instanceof CompactedError, String(err));
          assert.equal(err.requested, mid - 1);
          assert.ok(err.compacted >= mid);
          return true;
        });
        const atMid = await store.list('/c', { revision: mid });
        assert.deepEqual(atMid.items.map((kv) => [kv.key, dec(kv.value)]), [
          ['/c/a', 'a2'],
          ['/c/b', 'b2'],
        ]);
        assert.deepEqual((await store.list('/c')).items.map((kv) => [kv.key, dec(kv.value)]), [
          ['/c/a', 'a3'],
          ['/c/b', 'b2'],
          ['/c/d', 'd1'],
        ]);

        // A watch right at the compaction revision replays everything after it, with prevKv.
        const w = record(store, '/c', mid);
        await until(() => w.events.length === 2, 'replay after compaction');
        assert.deepEqual(w.events.map(summary), [
          `put /c/a@${mid + 1}=a3 prev@${a2.modRevision}=a2`,
          `put /c/d@${mid + 2}=d1`,
        ]);
        assert.deepEqual(w.errors, []);
        w.handle.stop();

        const old = record(store, '/c', mid - 2);
        await until(() => old.errors.length === 1, 'CompactedError on an old watch');
        assert.ok(old.errors[0] instanceof CompactedError, String(old.errors[0]));
        assert.deepEqual(old.events, []);
      });

      it('treats compacting at or below the compacted revision as a no-op, and rejects the future', async () => {
        await store.create('/c2/a', enc('1'));
        const rev = (await store.create('/c2/b', enc('1'))).modRevision;
        await store.compact(rev);
        await store.compact(rev);
        await store.compact(rev - 1);
        assert.equal(await store.compactedRevision(), rev);
        await assert.rejects(store.compact((await store.currentRevision()) + 100), FutureRevisionError);
        assert.equal((await store.list('/c2')).items.length, 2);
      });

      it('compacts periodically to the revision seen one interval earlier (Compactor)', async () => {
        const errors: unknown[] = [];
        const compactor = new Compactor(store, { intervalMs: 60_000, onError: (e) => errors.push(e) });
        await store.create('/cp/a', enc('1'));
        const before = await store.compactedRevision(); // etcd: earlier tests may have compacted
        await compactor.tick(); // remembers the current revision, compacts nothing
        const seen = await store.currentRevision();
        assert.equal(await store.compactedRevision(), before);
        const b = await store.create('/cp/b', enc('1'));
        await compactor.tick(); // compacts to `seen`, keeps what came after
        assert.equal(await store.compactedRevision(), seen);
        assert.equal((await store.list('/cp', { revision: seen })).items.length, 1);
        await compactor.tick(); // nothing was written since: compacts to b's revision
        assert.ok((await store.compactedRevision()) >= b.modRevision);
        assert.equal(errors.length, 0, String(errors[0]));

        // And on its own timer.
        const timed = new Compactor(store, { intervalMs: 20, onError: (e) => errors.push(e) }).start();
        await store.create('/cp/c', enc('1'));
        const target = await store.currentRevision();
        const deadline = Date.now() + 5000;
        while ((await store.compactedRevision()) < target && Date.now() < deadline) await sleep(10);
        await timed.stop();
        assert.ok((await store.compactedRevision()) >= target);
        assert.equal(errors.length, 0, String(errors[0]));
      });
    });

    describe('watch', () => {
      it('replays from an old revision, then goes live, in order, without gaps or duplicates', async () => {
        const a = await store.create('/w/a', enc('a1'));
        const a2 = await store.update('/w/a', enc('a2'), a.modRevision);
        const b = await store.create('/w/b', enc('b1'));
        const del = await store.delete('/w/a');
        const w = record(store, '/w', a.modRevision);
        const pending = store.create('/w/c', enc('c1'));
        assert.equal(w.events.length, 0, 'delivery must be asynchronous');
        const c = await pending;
        await store.update('/w/b', enc('b2'), b.modRevision);
        await until(() => w.events.length === 5, '5 events');
        assert.deepEqual(w.events.map(summary), [
          `put /w/a@${a2.modRevision}=a2 prev@${a.modRevision}=a1`,
          `put /w/b@${b.modRevision}=b1`,
          `delete /w/a@${del.modRevision}=a2 prev@${a2.modRevision}=a2`,
          `put /w/c@${c.modRevision}=c1`,
          `put /w/b@${c.modRevision + 1}=b2 prev@${b.modRevision}=b1`,
        ]);
        assert.equal(w.events[2].kv.createRevision, a.createRevision);
        assert.equal(w.events[0].kv.createRevision, a.createRevision);
        assert.deepEqual(w.errors, []);
        w.handle.stop();
      });

      it('delivers every revision exactly once when it starts amid concurrent writes', async () => {
        const keys = ['/wc/a', '/wc/b', '/wc/c'];
        let last = 0;
        for (const k of keys) last = (await store.create(k, enc('0'))).modRevision;
        let from = 0;
        let w: Recorder | undefined;
        const writers = keys.map(async (k, n) => {
          let mod = (await store.get(k))!.modRevision;
          for (let i = 1; i <= 200; i++) {
            // The first writer opens the watch halfway, while the others keep writing.
            if (n === 0 && i === 100) {
              from = await store.currentRevision();
              w = record(store, '/wc', from);
            }
            mod = (await store.update(k, enc(String(i)), mod)).modRevision;
          }
        });
        await Promise.all(writers);
        const end = await store.currentRevision();
        if (!w) assert.fail('watch not started');
        await until(() => (w!.events.at(-1)?.kv.modRevision ?? 0) >= end, `events up to ${end}`);
        const revs = w.events.map((ev) => ev.kv.modRevision);
        assertStrictlyIncreasing(revs);
        assert.equal(revs[0], from + 1);
        assert.equal(revs.length, end - from, 'no gaps: every write of the prefix after `from`');
        assert.ok(end > last);
        w.handle.stop();
      });

      it('only sees its own key directory', async () => {
        const w = record(store, '/wp/a', await store.currentRevision());
        await store.create('/wp/ab/1', enc('no'));
        await store.create('/wp/b/1', enc('no'));
        await store.create('/wp/a', enc('no'));
        const yes = await store.create('/wp/a/1', enc('yes'));
        await until(() => w.events.length >= 1, 'an event');
        await sleep(50);
        assert.deepEqual(w.events.map((ev) => ev.kv.key), ['/wp/a/1']);
        assert.equal(w.events[0].kv.modRevision, yes.modRevision);
        w.handle.stop();
      });

      it('stops delivering after stop(), which is idempotent', async () => {
        const w = record(store, '/ws', await store.currentRevision());
        await store.create('/ws/1', enc('1'));
        await until(() => w.events.length === 1, 'first event');
        w.handle.stop();
        w.handle.stop();
        await store.create('/ws/2', enc('2'));
        await sleep(100);
        assert.equal(w.events.length, 1);
        assert.deepEqual(w.errors, []);
      });

      it('keeps other watchers going when one stops; several watchers each get every event', async () => {
        const rev = await store.currentRevision();
        const w1 = record(store, '/wm', rev);
        const w2 = record(store, '/wm', rev);
        const w3 = record(store, '', rev);
        await store.create('/wm/1', enc('1'));
        await until(() => w1.events.length === 1 && w2.events.length === 1 && w3.events.length === 1, 'all three');
        w1.handle.stop();
        await store.create('/wm/2', enc('2'));
        await until(() => w2.events.length === 2 && w3.events.length === 2, 'two watchers');
        assert.equal(w1.events.length, 1);
        w2.handle.stop();
        w3.handle.stop();
      });

      it('watches from a revision in the future deliver only what comes after it', async () => {
        const current = await store.currentRevision();
        const w = record(store, '/wf', current + 1);
        await store.create('/wf/1', enc('skipped'));
        const second = await store.create('/wf/2', enc('seen'));
        await until(() => w.events.length === 1, 'one event');
        assert.equal(w.events[0].kv.modRevision, second.modRevision);
        w.handle.stop();
      });
    });

    describe('concurrency', () => {
      it('500 concurrent read-modify-write updates with conflict retries lose nothing', async () => {
        const counters = Array.from({ length: 10 }, (_, i) => `/cc/counter-${i}`);
        for (const k of counters) await store.create(k, enc('0'));
        let conflicts = 0;
        const increment = async (key: string) => {
          let current: KeyValue = (await store.get(key))!;
          for (;;) {
            try {
              return await store.update(key, enc(String(Number(dec(current.value)) + 1)), current.modRevision);
            } catch (err) {
              if (!(err instanceof ConflictError) || !err.current) throw err;
              conflicts++;
              current = err.current;
            }
          }
        };
        const results = await Promise.all(Array.from({ length: 500 }, (_, i) => increment(counters[i % counters.length])));
        for (const k of counters) assert.equal(dec((await store.get(k))!.value), '50', k);
        const revs = results.map((kv) => kv.modRevision);
        assert.equal(new Set(revs).size, 500, 'every successful update has its own revision');
        assert.ok(conflicts > 0, 'the test should have produced conflicts');
      });
    });

    describe('values and keys', () => {
      it('round-trips arbitrary bytes and unicode through get, list and watch', async () => {
        const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
        const key = '/bin/ключ-日本-🚀';
        const w = record(store, '/bin', await store.currentRevision());
        await store.create(key, bytes);
        await store.create('/bin/empty', new Uint8Array(0));
        const text = '{"emoji":"🚀","nul":"\\u0000","ü":"ß"}';
        await store.create('/bin/text', enc(text));
        assert.deepEqual(Uint8Array.from((await store.get(key))!.value), bytes);
        assert.equal((await store.get('/bin/empty'))!.value.length, 0);
        assert.equal(dec((await store.get('/bin/text'))!.value), text);
        const listed = (await store.list('/bin')).items;
        assert.deepEqual(listed.map((kv) => kv.key), ['/bin/empty', '/bin/text', key]);
        assert.deepEqual(Uint8Array.from(listed[2].value), bytes);
        await until(() => w.events.length === 3, 'three events');
        assert.equal(w.events[0].kv.key, key);
        assert.deepEqual(Uint8Array.from(w.events[0].kv.value), bytes);
        w.handle.stop();
      });

      it('orders keys by bytes, like etcd', async () => {
        const keys = ['/o2/\u00e9', '/o2/z', '/o2/\uffff', '/o2/\u{1F600}', '/o2/A'];
        for (const k of keys) await store.create(k, enc('x'));
        const sorted = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
        assert.deepEqual((await store.list('/o2')).items.map((kv) => kv.key), sorted);
        const page = await store.list('/o2', { limit: 2, startKey: sorted[2] });
        assert.deepEqual(page.items.map((kv) => kv.key), sorted.slice(2, 4));
      });

      it('does not alias the caller\'s value buffer', async () => {
        const value = enc('original');
        const kv = await store.create('/alias/a', value);
        value.fill(0);
        assert.equal(dec(kv.value), 'original');
        assert.equal(dec((await store.get('/alias/a'))!.value), 'original');
      });
    });

    describe('lifecycle', () => {
      it('answers ping while open', async () => {
        await store.ping();
      });

      it('after close: calls fail with StoreClosedError and watchers end with it', async () => {
        const w = record(store, '/lc', await store.currentRevision());
        await store.close();
        await store.close();
        await assert.rejects(store.get('/lc/a'), StoreClosedError);
        await assert.rejects(store.create('/lc/a', enc('x')), StoreClosedError);
        await until(() => w.errors.length === 1, 'watch error');
        assert.ok(w.errors[0] instanceof StoreClosedError);
        const late = record(store, '/lc', 0);
        await until(() => late.errors.length === 1, 'late watch error');
        assert.ok(late.errors[0] instanceof StoreClosedError);
      });
    });
  });
}
