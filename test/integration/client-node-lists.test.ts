/**
 * Lists through @kubernetes/client-node: label and field selectors (and their 400s), chunked
 * lists with limit/continue that are consistent snapshots even while writes happen between pages,
 * remainingItemCount, and a continue token outliving compaction (410 Expired).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { startTestServer, testStore, type TestServer } from '../support/server.js';
import { apiError, clientsFor, randomSuffix, raw, type Clients } from '../support/client-node.js';

let server: TestServer;
let c: Clients;
const ns = `lists-${randomSuffix()}`;
const other = `lists-other-${randomSuffix()}`;

async function pool<T>(items: T[], width: number, fn: (t: T) => Promise<unknown>) {
  let i = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (i < items.length) await fn(items[i++]);
    }),
  );
}

const names = (l: { items: { metadata?: { name?: string } }[] }) => l.items.map((o) => o.metadata!.name!).sort();

describe(`client-node lists (${testStore()})`, () => {
  before(async () => {
    // API semantics only: no controllers racing the assertions (status writers, garbage collector).
    server = await startTestServer({ server: { controllers: false } });
    c = clientsFor(server);
    await c.core.createNamespace({ body: { metadata: { name: ns } } });
    await c.core.createNamespace({ body: { metadata: { name: other } } });
    const cms: [string, Record<string, string>][] = [
      ['a', { app: 'web', tier: 'front', env: 'prod' }],
      ['b', { app: 'web', tier: 'back', env: 'dev' }],
      ['c', { app: 'db', tier: 'back' }],
      ['d', { app: 'db', env: 'prod' }],
      ['e', {}],
    ];
    for (const [name, labels] of cms) await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name, labels } } });
    await c.core.createNamespacedConfigMap({ namespace: other, body: { metadata: { name: 'a', labels: { app: 'web' } } } });
  });
  after(async () => server?.stop());

  test('label selectors: =, ==, !=, in, notin, exists, !key, and combinations', async () => {
    const sel = async (labelSelector: string) => names(await c.core.listNamespacedConfigMap({ namespace: ns, labelSelector }));
    assert.deepEqual(await sel('app=web'), ['a', 'b']);
    assert.deepEqual(await sel('app==web'), ['a', 'b']);
    assert.deepEqual(await sel('app!=web'), ['c', 'd', 'e'], '!= matches objects without the label');
    assert.deepEqual(await sel('tier in (front,back)'), ['a', 'b', 'c']);
    assert.deepEqual(await sel('tier notin (front)'), ['b', 'c', 'd', 'e'], 'notin matches objects without the label');
    assert.deepEqual(await sel('env'), ['a', 'b', 'd']);
    assert.deepEqual(await sel('!env'), ['c', 'e']);
    assert.deepEqual(await sel('app=db,env'), ['d']);
    assert.deepEqual(await sel('app in (web,db),!tier'), ['d']);
    assert.deepEqual(await sel(''), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(await sel('app=nothing'), []);
    // Across namespaces.
    const all = await c.core.listConfigMapForAllNamespaces({ labelSelector: 'app=web' });
    assert.deepEqual(all.items.map((o) => `${o.metadata!.namespace}/${o.metadata!.name}`).sort(), [`${ns}/a`, `${ns}/b`, `${other}/a`].sort());
  });

  test('field selectors: metadata.name, metadata.namespace, pod spec.nodeName and status.phase', async () => {
    assert.deepEqual(names(await c.core.listNamespacedConfigMap({ namespace: ns, fieldSelector: 'metadata.name=c' })), ['c']);
    assert.deepEqual(names(await c.core.listNamespacedConfigMap({ namespace: ns, fieldSelector: 'metadata.name!=c' })), ['a', 'b', 'd', 'e']);
    const byNs = await c.core.listConfigMapForAllNamespaces({ fieldSelector: `metadata.namespace=${other}` });
    assert.deepEqual(byNs.items.map((o) => `${o.metadata!.namespace}/${o.metadata!.name}`), [`${other}/a`]);
    assert.deepEqual(
      names(await c.core.listNamespacedConfigMap({ namespace: ns, fieldSelector: 'metadata.name=a', labelSelector: 'app=web' })),
      ['a'],
      'field and label selectors combine',
    );

    const pod = (name: string, nodeName?: string) => ({
      metadata: { name },
      spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'c', image: 'busybox:1' }] },
    });
    await c.core.createNamespacedPod({ namespace: ns, body: pod('p1', 'node-a') });
    await c.core.createNamespacedPod({ namespace: ns, body: pod('p2', 'node-b') });
    await c.core.createNamespacedPod({ namespace: ns, body: pod('p3') });
    const p2 = await c.core.readNamespacedPodStatus({ name: 'p2', namespace: ns });
    p2.status = { ...p2.status, phase: 'Running' };
    await c.core.replaceNamespacedPodStatus({ name: 'p2', namespace: ns, body: p2 });

    const pods = async (fieldSelector: string) => names(await c.core.listNamespacedPod({ namespace: ns, fieldSelector }));
    assert.deepEqual(await pods('spec.nodeName=node-a'), ['p1']);
    assert.deepEqual(await pods('spec.nodeName='), ['p3'], 'unscheduled pods: empty nodeName');
    assert.deepEqual(await pods('spec.nodeName!=node-a'), ['p2', 'p3']);
    assert.deepEqual(await pods('status.phase=Running'), ['p2']);
    assert.deepEqual(await pods('status.phase=Pending'), ['p1', 'p3']);
    assert.deepEqual(await pods('status.phase!=Running,spec.nodeName=node-a'), ['p1']);
    const allPods = await c.core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=node-b' });
    assert.deepEqual(names(allPods), ['p2']);
  });

  test('invalid label selector and unsupported field label → 400 BadRequest', async () => {
    for (const labelSelector of ['app in (web', 'app=a=b', '!', 'app notin web', 'Bad Key=1']) {
      const st = await apiError(c.core.listNamespacedConfigMap({ namespace: ns, labelSelector }), 400, 'BadRequest');
      assert.ok(st.message && st.message.length > 0);
    }
    const f = await apiError(c.core.listNamespacedConfigMap({ namespace: ns, fieldSelector: 'data.foo=bar' }), 400, 'BadRequest');
    assert.match(f.message!, /data\.foo/);
    assert.match(f.message!, /field label not supported|not a known field selector/);
    // spec.restartPolicy is one of a pod's selectable fields; spec.containers is not.
    assert.deepEqual(names(await c.core.listNamespacedPod({ namespace: ns, fieldSelector: 'spec.restartPolicy=Always' })), ['p1', 'p2', 'p3']);
    const p = await apiError(c.core.listNamespacedPod({ namespace: ns, fieldSelector: 'spec.containers=x' }), 400, 'BadRequest');
    assert.match(p.message!, /spec\.containers/);
    await apiError(c.core.listNamespacedPod({ namespace: ns, fieldSelector: 'status.phase' }), 400, 'BadRequest');
    await apiError(c.core.listNamespacedPod({ namespace: ns, fieldSelector: 'status.phase in (Running)' }), 400, 'BadRequest');
  });

  test('pagination over >1000 objects: a consistent snapshot while writes happen between pages', async () => {
    const pns = `page-${randomSuffix()}`;
    await c.core.createNamespace({ body: { metadata: { name: pns } } });
    const total = 1100;
    const nameOf = (i: number) => `cm-${String(i).padStart(5, '0')}`;
    await pool(
      Array.from({ length: total }, (_, i) => i),
      16,
      // Fixture data over one keep-alive connection pool (client-node opens a TLS connection per request).
      async (i) => {
        const r = await raw(c.kc, 'POST', `/api/v1/namespaces/${pns}/configmaps`, {
          metadata: { name: nameOf(i), labels: { parity: i % 2 ? 'odd' : 'even' } },
          data: { v: '0' },
        });
        assert.equal(r.status, 201, r.text);
      },
    );

    // Unpaged: everything.
    const full = await c.core.listNamespacedConfigMap({ namespace: pns });
    assert.equal(full.items.length, total);

    const first = await c.core.listNamespacedConfigMap({ namespace: pns, limit: 500 });
    assert.equal(first.items.length, 500);
    assert.ok(first.metadata!._continue, 'a continue token');
    assert.equal(first.metadata!.remainingItemCount, total - 500);
    const snapshotRv = first.metadata!.resourceVersion!;
    assert.equal(first.items[0].metadata!.name, nameOf(0), 'keys in order');

    const seen = new Map<string, V1ConfigMap>();
    for (const o of first.items) seen.set(o.metadata!.name!, o);

    let token: string | undefined = first.metadata!._continue;
    let pages = 1;
    let writes = 0;
    while (token) {
      // Writes between pages: new objects (before and after the cursor), updates and deletes of
      // objects on later pages. None of them may show in the rest of this list.
      await c.core.createNamespacedConfigMap({ namespace: pns, body: { metadata: { name: `cm-${String(pages).padStart(5, '0')}-late` } } });
      await c.core.createNamespacedConfigMap({ namespace: pns, body: { metadata: { name: `zz-late-${pages}` } } });
      await c.core.deleteNamespacedConfigMap({ namespace: pns, name: nameOf(total - pages) });
      await c.core.patchNamespacedConfigMap(
        { namespace: pns, name: nameOf(total - 10 - pages), body: [{ op: 'replace', path: '/data/v', value: 'changed' }] },
      );
      writes += 4;
      const page = await c.core.listNamespacedConfigMap({ namespace: pns, limit: 500, _continue: token });
      pages++;
      assert.equal(page.metadata!.resourceVersion, snapshotRv, 'every page is served at the first page\'s resourceVersion');
      for (const o of page.items) {
        assert.ok(!seen.has(o.metadata!.name!), `${o.metadata!.name} returned twice`);
        seen.set(o.metadata!.name!, o);
      }
      if (page.metadata!._continue) assert.equal(page.metadata!.remainingItemCount, total - seen.size);
      else assert.equal(page.metadata!.remainingItemCount, undefined);
      token = page.metadata!._continue;
    }
    assert.equal(pages, 3);
    assert.ok(writes > 0);
    assert.equal(seen.size, total);
    for (let i = 0; i < total; i++) {
      const o = seen.get(nameOf(i));
      assert.ok(o, `${nameOf(i)} missing`);
      assert.equal(o.data?.v, '0', `${nameOf(i)} as of the snapshot`);
      assert.ok(Number(o.metadata!.resourceVersion) <= Number(snapshotRv));
    }

    // Paging with a label selector fills pages and still returns each match once.
    const evens = new Set<string>();
    let t: string | undefined = undefined;
    let n = 0;
    do {
      const page: Awaited<ReturnType<typeof c.core.listNamespacedConfigMap>> = await c.core.listNamespacedConfigMap({
        namespace: pns,
        limit: 300,
        labelSelector: 'parity=even',
        _continue: t,
      });
      for (const o of page.items) {
        assert.equal(o.metadata!.labels!.parity, 'even');
        assert.ok(!evens.has(o.metadata!.name!));
        evens.add(o.metadata!.name!);
      }
      if (page.metadata!._continue) assert.equal(page.items.length, 300, 'selector pages are filled');
      assert.equal(page.metadata!.remainingItemCount, undefined, 'no remainingItemCount with a selector');
      t = page.metadata!._continue;
      n++;
    } while (t && n < 10);
    // Some objects were deleted above: compare with an unpaged list.
    const evensNow = (await c.core.listNamespacedConfigMap({ namespace: pns, labelSelector: 'parity=even' })).items.length;
    assert.equal(evens.size, evensNow);

    // A limit larger than the collection: no continue, no remainingItemCount.
    const big = await c.core.listNamespacedConfigMap({ namespace: pns, limit: 5000 });
    assert.equal(big.metadata!._continue, undefined);
    assert.equal(big.metadata!.remainingItemCount, undefined);
    assert.equal(big.items.length, total - 2 + 2 * 2, 'two deleted, four created');
  });

  test('a continue token older than the compacted revision → 410 Expired', async () => {
    const first = await c.core.listNamespacedConfigMap({ namespace: ns, limit: 2 });
    assert.ok(first.metadata!._continue);
    await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: `bump-${randomSuffix()}` } } });
    const store = server.server.store;
    await store.compact(await store.currentRevision());
    const st = await apiError(c.core.listNamespacedConfigMap({ namespace: ns, limit: 2, _continue: first.metadata!._continue }), 410, 'Expired');
    assert.match(st.message!, /continue parameter is too old/);
    // A fresh list works.
    const fresh = await c.core.listNamespacedConfigMap({ namespace: ns, limit: 2 });
    assert.equal(fresh.items.length, 2);
    // An explicit old resourceVersion with Exact match is expired too.
    await apiError(
      c.core.listNamespacedConfigMap({ namespace: ns, resourceVersion: first.metadata!.resourceVersion, resourceVersionMatch: 'Exact' }),
      410,
      'Expired',
    );
    // A malformed continue token → 400.
    await apiError(c.core.listNamespacedConfigMap({ namespace: ns, limit: 2, _continue: 'not-a-token' }), 400, 'BadRequest');
  });
});
