import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { EtcdStore } from '../../src/store/etcd/etcd-store.js';
import { StoreUnavailableError } from '../../src/store/errors.js';
import { openStore } from '../../src/store/open-store.js';
import type { WatchEvent } from '../../src/store/types.js';
import { startEtcd, type EtcdHandle } from '../support/etcd.js';
import { storeSuite } from '../support/store-suite.js';

let etcd: EtcdHandle;
before(async () => {
  etcd = await startEtcd();
});
after(async () => {
  await etcd?.stop();
});

/** Each store gets its own namespace on the shared etcd. */
const connect = () => EtcdStore.connect({ endpoints: etcd.endpoints, prefix: `/test-${randomUUID()}` });

storeSuite('etcd', async () => {
  const store = connect();
  return { store, cleanup: () => store.close() };
});

const enc = (s: string) => new TextEncoder().encode(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('EtcdStore specifics', () => {
  it('two stores on one etcd see each other\'s writes through watch', async () => {
    const prefix = `/shared-${randomUUID()}`;
    const a = EtcdStore.connect({ endpoints: etcd.endpoints, prefix });
    const b = EtcdStore.connect({ endpoints: etcd.endpoints, prefix });
    const other = EtcdStore.connect({ endpoints: etcd.endpoints, prefix: `${prefix}-other` });
    try {
      const seenByB: WatchEvent[] = [];
      const seenByA: WatchEvent[] = [];
      const rev = await a.currentRevision();
      const wb = b.watch('/x', { afterRevision: rev, onEvents: (e) => seenByB.push(...e), onError: assert.ifError });
      const wa = a.watch('/x', { afterRevision: rev, onEvents: (e) => seenByA.push(...e), onError: assert.ifError });
      await other.create('/x/not-ours', enc('no'));
      const created = await a.create('/x/1', enc('from a'));
      await b.update('/x/1', enc('from b'), created.modRevision);
      const deadline = Date.now() + 5000;
      while ((seenByA.length < 2 || seenByB.length < 2) && Date.now() < deadline) await sleep(10);
      for (const seen of [seenByA, seenByB]) {
        assert.deepEqual(
          seen.map((e) => `${e.type} ${e.kv.key} ${Buffer.from(e.kv.value)}`),
          ['put /x/1 from a', 'put /x/1 from b'],
        );
      }
      assert.equal((await b.get('/x/1'))!.modRevision, seenByB[1].kv.modRevision);
      wa.stop();
      wb.stop();
    } finally {
      await Promise.all([a.close(), b.close(), other.close()]);
    }
  });

  it('ping fails within ~2 s when etcd is down, and the store recovers after a restart', async () => {
    const store = connect();
    try {
      const start = await store.currentRevision();
      await store.create('/down/a', enc('1'));
      await store.ping();
      const watchErrors: Error[] = [];
      store.watch('/down', { afterRevision: start, onEvents: () => {}, onError: (e) => watchErrors.push(e) });
      await etcd.kill();

      const started = Date.now();
      await assert.rejects(store.ping(), StoreUnavailableError);
      assert.ok(Date.now() - started < 2500, `ping took ${Date.now() - started} ms`);
      await assert.rejects(store.get('/down/a'), StoreUnavailableError);
      await assert.rejects(store.create('/down/b', enc('1')), StoreUnavailableError);
      const deadline = Date.now() + 5000;
      while (watchErrors.length === 0 && Date.now() < deadline) await sleep(20);
      assert.equal(watchErrors.length, 1, 'the watch ends with an error');
      assert.ok(watchErrors[0] instanceof StoreUnavailableError, String(watchErrors[0]));

      await etcd.restart();
      const recoverBy = Date.now() + 10_000;
      for (;;) {
        try {
          await store.ping();
          break;
        } catch (err) {
          if (Date.now() > recoverBy) throw err;
          await sleep(100);
        }
      }
      assert.equal(Buffer.from((await store.get('/down/a'))!.value).toString(), '1');
      await store.create('/down/b', enc('2'));
      const events: WatchEvent[] = [];
      const w = store.watch('/down', { afterRevision: start, onEvents: (e) => events.push(...e), onError: assert.ifError });
      while (events.length < 2 && Date.now() < recoverBy) await sleep(20);
      assert.deepEqual(events.map((e) => e.kv.key), ['/down/a', '/down/b']);
      w.stop();
    } finally {
      await store.close();
    }
  });

  it('is what openStore returns for backend etcd', async () => {
    const store = await openStore({ backend: 'etcd', endpoints: etcd.endpoints, prefix: `/open-${randomUUID()}` });
    assert.equal(store.backend, 'etcd');
    await store.ping();
    await store.close();
  });
});
