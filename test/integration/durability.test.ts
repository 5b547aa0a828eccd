/**
 * Durability of acknowledged writes and graceful shutdown, against `cairn server` as a child
 * process: a write load (creates and updates of ConfigMaps with unique content, ~16 at a time)
 * is cut by SIGKILL; after a restart on the same data dir every write that got a 2xx is there
 * with the acknowledged content (or a later one that was attempted). Once on SQLite and once on
 * etcd (killing Cairn, not etcd). Then SIGTERM with a watch open and a slow request in flight:
 * the request still succeeds, the watch ends cleanly, the process exits 0 and the store reopens.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startEtcd, type EtcdHandle } from '../support/etcd.js';
import { RawClient } from '../support/raw-https.js';
import { spawnServerProcess, type ServerProcess } from '../support/server.js';

const CONCURRENCY = 16;
const NS = 'default';
const CM = `/api/v1/namespaces/${NS}/configmaps`;

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-durability-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function spawn(args: string[], dataDir: string): Promise<ServerProcess> {
  const srv = await spawnServerProcess(args, dataDir);
  cleanups.push(async () => {
    if (srv.child.exitCode === null && srv.child.signalCode === null) await srv.kill();
  });
  return srv;
}

/** What the client knows about one ConfigMap: the last acknowledged value and what was attempted after it. */
interface Ledger {
  acked?: string;
  /** Values sent whose outcome is unknown (no answer), in order, since the last acknowledgement. */
  pending: string[];
}

interface LoadResult {
  ledgers: Map<string, Ledger>;
  acked: number;
  failedAfterKill: number;
}

/**
 * Runs creates and updates until `stop` resolves; each worker owns its own names, so updates of
 * one name never race. Returns the ledger of every name touched.
 */
async function writeLoad(client: RawClient, tag: string, killAfterAcks: number, kill: () => Promise<void>): Promise<LoadResult> {
  const ledgers = new Map<string, Ledger>();
  let acked = 0;
  let failedAfterKill = 0;
  let killed = false;
  let killing: Promise<void> | undefined;
  const worker = async (w: number) => {
    const mine: string[] = [];
    for (let n = 0; !killed; n++) {
      const value = `${tag}-${w}-${n}-${randomBytes(6).toString('hex')}`;
      const update = mine.length > 0 && n % 3 !== 0;
      const name = update ? mine[n % mine.length] : `dur-${tag}-${w}-${n}`;
      const ledger = ledgers.get(name) ?? { pending: [] };
      ledgers.set(name, ledger);
      ledger.pending.push(value);
      try {
        const res = update
          ? await client.request({ method: 'PUT', path: `${CM}/${name}`, body: { metadata: { name }, data: { v: value } }, timeoutMs: 10_000 })
          : await client.request({ method: 'POST', path: CM, body: { metadata: { name }, data: { v: value } }, timeoutMs: 10_000 });
        if (res.status === 200 || res.status === 201) {
          ledger.acked = value;
          ledger.pending = [];
          if (!update) mine.push(name);
          if (++acked === killAfterAcks) killing = kill().then(() => void (killed = true));
        } else if (res.status >= 400 && res.status < 500) {
          // Refused: it will not be applied.
          ledger.pending.pop();
        } else {
          // 5xx: outcome unknown; keep it pending.
        }
      } catch {
        // No answer: the write may or may not have happened. Stop once the server is gone.
        if (killing || killed) {
          failedAfterKill++;
          await killing;
          return;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
  await killing;
  return { ledgers, acked, failedAfterKill };
}

async function verify(client: RawClient, ledgers: Map<string, Ledger>) {
  const problems: string[] = [];
  let checked = 0;
  const entries = [...ledgers];
  let i = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (i < entries.length) {
        const [name, l] = entries[i++];
        const res = await client.request({ path: `${CM}/${name}` });
        checked++;
        if (l.acked === undefined) {
          // Never acknowledged: absent, or one of the attempted values.
          if (res.status === 404) continue;
          if (res.status !== 200 || !l.pending.includes(res.json.data?.v)) problems.push(`${name}: unacknowledged create came back as ${res.status} ${res.text.slice(0, 200)}`);
          continue;
        }
        if (res.status !== 200) {
          problems.push(`${name}: acknowledged ${l.acked} but GET is ${res.status}`);
          continue;
        }
        const v = res.json.data?.v;
        if (v !== l.acked && !l.pending.includes(v)) problems.push(`${name}: acknowledged ${l.acked}, pending [${l.pending.join(', ')}], found ${v}`);
      }
    }),
  );
  assert.deepEqual(problems.slice(0, 20), [], `${problems.length} of ${checked} objects lost acknowledged writes`);
  // The store itself is consistent after recovery: list rv covers every item.
  const list = await client.request({ path: CM });
  assert.equal(list.status, 200);
  const listRv = Number(list.json.metadata.resourceVersion);
  for (const item of list.json.items) assert.ok(Number(item.metadata.resourceVersion) <= listRv);
}

async function crashTest(args: () => string[]) {
  const dataDir = await tempDir();
  const srv = await spawn(args(), dataDir);
  const client = RawClient.admin(srv.url, dataDir, { maxSockets: CONCURRENCY });
  const t0 = performance.now();
  const load = await writeLoad(client, randomBytes(3).toString('hex'), 1000, () => srv.kill());
  client.close();
  assert.ok(load.acked >= 1000, `only ${load.acked} writes acknowledged before the kill`);
  assert.equal(srv.child.signalCode, 'SIGKILL');
  const loadMs = performance.now() - t0;

  const again = await spawn(args(), dataDir);
  const client2 = RawClient.admin(again.url, dataDir);
  try {
    await verify(client2, load.ledgers);
  } finally {
    client2.close();
  }
  assert.equal(await again.terminate(), 0, again.stderr().slice(-2000));
  return { acked: load.acked, names: load.ledgers.size, inFlightAtKill: load.failedAfterKill, loadMs };
}

describe('acknowledged writes survive SIGKILL', { timeout: 180_000 }, () => {
  it('on SQLite', async (t) => {
    const r = await crashTest(() => []);
    t.diagnostic(`sqlite: ${r.acked} acknowledged writes over ${r.names} ConfigMaps in ${r.loadMs.toFixed(0)} ms; ${r.inFlightAtKill} in flight at the kill`);
  });

  it('on etcd (Cairn killed, etcd kept)', async (t) => {
    // No etcd is a failure, not a skip: scripts/setup.sh installs it.
    const etcd: EtcdHandle = await startEtcd();
    cleanups.push(() => etcd.stop());
    const prefix = `/cairn-durability-${randomBytes(4).toString('hex')}`;
    const r = await crashTest(() => ['--store', 'etcd', '--etcd-endpoints', etcd.endpoints.join(','), '--etcd-prefix', prefix]);
    t.diagnostic(`etcd: ${r.acked} acknowledged writes over ${r.names} ConfigMaps in ${r.loadMs.toFixed(0)} ms; ${r.inFlightAtKill} in flight at the kill`);
  });
});

describe('graceful shutdown on SIGTERM', { timeout: 60_000 }, () => {
  it('finishes in-flight requests, ends watches cleanly, exits 0, and the store reopens', async () => {
    const dataDir = await tempDir();
    const srv = await spawn([], dataDir);
    const client = RawClient.admin(srv.url, dataDir);
    const created = await client.request({ method: 'POST', path: CM, body: { metadata: { name: 'before' }, data: { v: '1' } } });
    assert.equal(created.status, 201, created.text);

    const watch = await client.stream(`${CM}?watch=true&resourceVersion=${created.json.metadata.resourceVersion}`);
    assert.equal(watch.status, 200);
    const modified = await client.request({ method: 'PUT', path: `${CM}/before`, body: { metadata: { name: 'before' }, data: { v: '2' } } });
    assert.equal(modified.status, 200);
    await watch.waitFor((e) => e.type === 'MODIFIED' && e.object.data.v === '2');

    // A slow request: its body arrives in pieces, the last one after SIGTERM.
    const body = Buffer.from(JSON.stringify({ metadata: { name: 'slow' }, data: { v: 'x'.repeat(1000) } }));
    const base = new URL(srv.url);
    let answered!: (r: { status: number; text: string }) => void;
    let failed!: (e: Error) => void;
    const slow = new Promise<{ status: number; text: string }>((res, rej) => ((answered = res), (failed = rej)));
    const req = httpsRequest(
      {
        host: base.hostname,
        port: base.port,
        method: 'POST',
        path: CM,
        agent: false,
        ca: client.creds.ca,
        cert: client.creds.cert,
        key: client.creds.key,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => answered({ status: res.statusCode!, text }));
        res.on('error', failed);
      },
    );
    req.on('error', failed);
    req.write(body.subarray(0, 10));
    await new Promise((r) => setTimeout(r, 300));

    const t0 = performance.now();
    const exit = srv.terminate();
    await new Promise((r) => setTimeout(r, 500));
    req.end(body.subarray(10));
    const result = await slow;
    assert.equal(result.status, 201, `in-flight request: ${result.status} ${result.text.slice(0, 300)}`);

    await Promise.race([watch.ended, new Promise((_, rej) => setTimeout(() => rej(new Error('watch did not end')), 10_000))]);
    assert.equal(watch.error, undefined, `the watch ended with an error: ${watch.error?.message}`);
    assert.ok(!watch.events.some((e) => e.type === 'ERROR' && e.object?.code >= 500), JSON.stringify(watch.events));

    const code = await Promise.race([exit, new Promise<string>((r) => setTimeout(() => r('still running'), 10_000))]);
    const ms = performance.now() - t0;
    assert.equal(code, 0, `exit: ${code}; stderr: ${srv.stderr().slice(-2000)}`);
    assert.ok(ms < 5000, `took ${ms.toFixed(0)} ms to exit`);
    client.close();

    // The store was closed properly: a new server opens it and has both objects.
    const again = await spawn([], dataDir);
    const client2 = RawClient.admin(again.url, dataDir);
    try {
      const slowObj = await client2.request({ path: `${CM}/slow` });
      assert.equal(slowObj.status, 200);
      const before = await client2.request({ path: `${CM}/before` });
      assert.equal(before.json.data.v, '2');
    } finally {
      client2.close();
    }
    assert.equal(await again.terminate(), 0);
  });
});
