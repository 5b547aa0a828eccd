/**
 * API benchmark: @kubernetes/client-node against a `cairn server` running as a separate process,
 * first on the SQLite store, then on etcd. See BENCHMARKS.md for what is measured and why.
 *
 *   npm run bench:api                       full size (the recorded numbers)
 *   BENCH_OBJECTS=2000 npm run bench:api    quick iteration (results marked reduced)
 *
 * Environment (all optional):
 *   BENCH_STORES=sqlite,etcd     which stores, in order
 *   BENCH_OBJECTS=20000          ConfigMaps created (and listed)
 *   BENCH_CONCURRENCY=64         create concurrency
 *   BENCH_WARMUP=1000            warm-up creates (reported separately, then deleted)
 *   BENCH_WATCHERS=100           concurrent watchers
 *   BENCH_UPDATES=5000           measured updates during the watch phase
 *   BENCH_UPDATE_CONCURRENCY=8   max updates in flight
 *   BENCH_UPDATE_RATE=100        updates started per second (steady pace; 0 = unpaced)
 *   BENCH_LIST_RUNS=5            measured single lists (after one warm-up list)
 *   BENCH_PAGE_RUNS=3            measured paginated lists (after one warm-up)
 *   BENCH_CLIENT_DEFAULT=1000    extra creates with client-node's stock agent (new TLS connection per call); 0 = skip
 *   BENCH_CPU_PROF=DIR           run the server under `node --cpu-prof` and write profiles to DIR
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { startEtcd, type EtcdHandle } from '../test/support/etcd.js';
import { makeClient, type BenchClient } from './support/kube.js';
import { repoRoot, rssOfProcessMatching, ServerProcess, type MemoryReading } from './support/server-process.js';
import type { WatchWorkerData, WatchWorkerReply, WatchWorkerRequest } from './support/watch-worker.js';
import { median, round, roundSummary, runPool, summarize, type Summary } from './support/stats.js';

const env = (name: string, dflt: number) => {
  const v = process.env[name];
  return v === undefined || v === '' ? dflt : Number(v);
};

const cfg = {
  stores: (process.env.BENCH_STORES ?? 'sqlite,etcd').split(',').map((s) => s.trim()).filter(Boolean) as ('sqlite' | 'etcd')[],
  objects: env('BENCH_OBJECTS', 20_000),
  concurrency: env('BENCH_CONCURRENCY', 64),
  warmup: env('BENCH_WARMUP', 1000),
  watchers: env('BENCH_WATCHERS', 100),
  updates: env('BENCH_UPDATES', 5000),
  updateConcurrency: env('BENCH_UPDATE_CONCURRENCY', 8),
  updateRate: env('BENCH_UPDATE_RATE', 100),
  listRuns: env('BENCH_LIST_RUNS', 5),
  pageRuns: env('BENCH_PAGE_RUNS', 3),
  pageSize: 500,
  clientDefault: env('BENCH_CLIENT_DEFAULT', 1000),
  cpuProfDir: process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined,
};
const FULL = { objects: 20_000, concurrency: 64, watchers: 100, updates: 5000 };
const fullSize = cfg.objects === FULL.objects && cfg.concurrency === FULL.concurrency && cfg.watchers === FULL.watchers && cfg.updates === FULL.updates;

const NS = 'bench';
const GOALS = { createsPerSec: 2000, createP99Ms: 50, listMs: 1000, watchP99Ms: 50 };

const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const payload = () => randomBytes(375).toString('base64'); // 500 characters
const cmName = (i: number) => `cm-${String(i).padStart(6, '0')}`;

interface CpuUse {
  wallS: number;
  serverCpuS: number;
  clientCpuS: number;
  /** Server CPU as a share of one core over the phase. */
  serverCores: number;
  clientCores: number;
}

function cpuMeter(server: ServerProcess) {
  const s0 = server.cpuSeconds();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  return (): CpuUse => {
    const wallS = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const serverCpuS = server.cpuSeconds() - s0;
    const clientCpuS = (c.user + c.system) / 1e6;
    return { wallS: round(wallS), serverCpuS: round(serverCpuS), clientCpuS: round(clientCpuS), serverCores: round(serverCpuS / wallS), clientCores: round(clientCpuS / wallS) };
  };
}

interface CreateResult {
  count: number;
  concurrency: number;
  elapsedMs: number;
  perSecond: number;
  latencyMs: Summary;
  failures: number;
  errors: string[];
  cpu: CpuUse;
}

async function createPhase(client: BenchClient, server: ServerProcess, count: number, namePrefix: string, labels: Record<string, string>): Promise<CreateResult> {
  const meter = cpuMeter(server);
  const r = await runPool(count, cfg.concurrency, (i) =>
    client.api.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: `${namePrefix}${String(i).padStart(6, '0')}`, labels }, data: { payload: payload() } },
    }),
  );
  return {
    count,
    concurrency: cfg.concurrency,
    elapsedMs: round(r.elapsedMs),
    perSecond: round(count / (r.elapsedMs / 1000), 0),
    latencyMs: roundSummary(summarize(r.latencies)),
    failures: r.failures,
    errors: r.errors,
    cpu: meter(),
  };
}

interface ListRun {
  ms: number;
  items: number;
  pages?: number;
}

async function listPhase(client: BenchClient) {
  const single = async (): Promise<ListRun> => {
    const t0 = performance.now();
    const list = await client.api.listNamespacedConfigMap({ namespace: NS });
    return { ms: round(performance.now() - t0), items: list.items.length };
  };
  const paged = async (): Promise<ListRun> => {
    const t0 = performance.now();
    let items = 0;
    let pages = 0;
    let cont: string | undefined;
    do {
      const list = await client.api.listNamespacedConfigMap({ namespace: NS, limit: cfg.pageSize, _continue: cont });
      items += list.items.length;
      pages++;
      cont = list.metadata?._continue || undefined;
    } while (cont);
    return { ms: round(performance.now() - t0), items, pages };
  };
  const raw = async (): Promise<ListRun & { bytes: number }> => {
    const r = await client.rawGet(`/api/v1/namespaces/${NS}/configmaps`);
    if (r.status !== 200) throw new Error(`raw list: HTTP ${r.status}`);
    return { ms: round(r.ms), items: -1, bytes: r.bytes };
  };
  const runs = async <T extends ListRun>(n: number, fn: () => Promise<T>) => {
    const warm = await fn();
    const measured: T[] = [];
    for (let i = 0; i < n; i++) measured.push(await fn());
    return { warmup: warm, runs: measured, medianMs: round(median(measured.map((m) => m.ms))) };
  };
  const s = await runs(cfg.listRuns, single);
  log(`single list: median ${s.medianMs} ms (${s.runs[0]?.items} items)`);
  const p = await runs(cfg.pageRuns, paged);
  log(`paginated list (${cfg.pageSize}/page): median ${p.medianMs} ms (${p.runs[0]?.pages} pages)`);
  const r = await runs(cfg.listRuns, raw);
  log(`single list, raw HTTP (no client decode): median ${r.medianMs} ms, ${r.runs[0]?.bytes} bytes`);
  return { single: s, paginated: { pageSize: cfg.pageSize, ...p }, singleRawHttp: r };
}

interface WatchResult {
  watchers: number;
  updates: number;
  updateConcurrency: number;
  updateRatePerSec: number;
  achievedUpdatesPerSec: number;
  updateLatencyMs: Summary;
  updateFailures: number;
  /** Ack of the write to receipt at each watcher, over every (update, watcher) pair received. */
  deliveryLatencyMs: Summary;
  pairsExpected: number;
  pairsReceived: number;
  missedEvents: number;
  /** Pairs where the event reached the watcher before the write's response reached the writer (latency counted as 0). */
  eventsBeforeAck: number;
  watcherErrors: string[];
  warmup: { updates: number; deliveryLatencyMs: Summary; missedEvents: number };
  cpu: CpuUse;
}

/** A worker thread holding the watchers (see support/watch-worker.ts). */
class WatcherPool {
  private replies: ((r: WatchWorkerReply) => void)[] = [];
  private constructor(private readonly worker: Worker) {
    worker.on('message', (r: WatchWorkerReply) => this.replies.shift()?.(r));
  }

  static async open(data: WatchWorkerData): Promise<WatcherPool> {
    const worker = new Worker(new URL('./support/watch-worker.js', import.meta.url), { workerData: data });
    const pool = new WatcherPool(worker);
    const first = await pool.next();
    if (first.type !== 'ready') throw new Error(`watchers failed to start: ${first.type === 'failed' ? first.error : first.type}`);
    return pool;
  }

  private next(): Promise<WatchWorkerReply> {
    return new Promise((r) => this.replies.push(r));
  }

  async awaitDelivered(rvs: number[], timeoutMs: number): Promise<boolean> {
    const reply = this.next();
    this.worker.postMessage({ type: 'await', rvs, timeoutMs } satisfies WatchWorkerRequest);
    const r = await reply;
    return r.type === 'awaited' && r.complete;
  }

  async collect(): Promise<Extract<WatchWorkerReply, { type: 'collected' }>> {
    const reply = this.next();
    this.worker.postMessage({ type: 'collect' } satisfies WatchWorkerRequest);
    const r = await reply;
    await this.worker.terminate();
    if (r.type !== 'collected') throw new Error('watch worker: unexpected reply');
    return r;
  }
}

const wallNow = () => performance.timeOrigin + performance.now();

async function watchPhase(client: BenchClient, server: ServerProcess): Promise<WatchResult> {
  const head = await client.api.listNamespacedConfigMap({ namespace: NS, limit: 1 });
  const fromRv = head.metadata!.resourceVersion!;
  log(`opening ${cfg.watchers} watches from resourceVersion ${fromRv} (in a worker thread)`);
  const pool = await WatcherPool.open({
    kubeconfigPath: server.kubeconfigPath,
    path: `/api/v1/namespaces/${NS}/configmaps`,
    resourceVersion: fromRv,
    watchers: cfg.watchers,
  });
  /** resourceVersion written -> absolute time its response was received. */
  const acks = new Map<number, number>();
  const doUpdates = (count: number, offset: number) =>
    runPool(
      count,
      cfg.updateConcurrency,
      async (i) => {
        const name = cmName((offset + i) % cfg.objects);
        const res = await client.api.replaceNamespacedConfigMap({
          name,
          namespace: NS,
          body: { metadata: { name, namespace: NS }, data: { payload: payload(), update: String(offset + i) } },
        });
        acks.set(Number(res.metadata!.resourceVersion), wallNow());
      },
      cfg.updateRate > 0 ? { perSecond: cfg.updateRate } : undefined,
    );

  // Warm-up: a few updates through the whole path, reported separately.
  const warmCount = Math.min(200, cfg.updates);
  const warmRun = await doUpdates(warmCount, cfg.updates);
  const warmAcks = new Map(acks);
  await pool.awaitDelivered([...warmAcks.keys()], 10_000);
  acks.clear();

  const meter = cpuMeter(server);
  const r = await doUpdates(cfg.updates, 0);
  const cpu = meter();
  await pool.awaitDelivered([...acks.keys()], 15_000);
  const collected = await pool.collect();

  const analyse = (ackTimes: Map<number, number>) => {
    const lat: number[] = [];
    let missed = 0;
    let early = 0;
    for (const w of collected.watchers) {
      const got = new Map<number, number>();
      for (let i = 0; i < w.rvs.length; i++) got.set(w.rvs[i], w.times[i]);
      for (const [rv, ack] of ackTimes) {
        const t = got.get(rv);
        if (t === undefined) {
          missed++;
          continue;
        }
        if (t < ack) early++;
        lat.push(Math.max(0, t - ack));
      }
    }
    return { lat, missed, early };
  };
  const warm = analyse(warmAcks);
  const a = analyse(acks);
  const warmDelivery = summarize(warm.lat);
  log(`watch warm-up: ${warmCount} updates, delivery p50 ${round(warmDelivery.p50)} ms, p99 ${round(warmDelivery.p99)} ms, missed ${warm.missed + warmRun.failures * cfg.watchers}`);
  const delivery = summarize(a.lat);
  log(
    `watch: ${acks.size} updates x ${cfg.watchers} watchers: delivery p50 ${round(delivery.p50)} ms, p99 ${round(delivery.p99)} ms, missed ${a.missed}` +
      ` (server ${cpu.serverCores} cores, client ${cpu.clientCores} cores)`,
  );
  return {
    watchers: cfg.watchers,
    updates: cfg.updates,
    updateConcurrency: cfg.updateConcurrency,
    updateRatePerSec: cfg.updateRate,
    achievedUpdatesPerSec: round(cfg.updates / (r.elapsedMs / 1000), 0),
    updateLatencyMs: roundSummary(summarize(r.latencies)),
    updateFailures: r.failures,
    deliveryLatencyMs: roundSummary(delivery),
    pairsExpected: cfg.updates * cfg.watchers,
    pairsReceived: a.lat.length,
    missedEvents: a.missed + r.failures * cfg.watchers,
    eventsBeforeAck: a.early,
    watcherErrors: collected.errors.slice(0, 10),
    warmup: { updates: warmCount, deliveryLatencyMs: roundSummary(warmDelivery), missedEvents: warm.missed + warmRun.failures * cfg.watchers },
    cpu,
  };
}

const mem = (m: MemoryReading) => ({
  rssMiB: round(m.rssKb / 1024, 1),
  peakRssMiB: round(m.hwmKb / 1024, 1),
  heapUsedMiB: m.heap ? round(m.heap.heapUsed / 2 ** 20, 1) : undefined,
  externalMiB: m.heap ? round(m.heap.external / 2 ** 20, 1) : undefined,
});

async function benchStore(store: 'sqlite' | 'etcd') {
  log(`=== store: ${store} ===`);
  let etcd: EtcdHandle | undefined;
  let server: ServerProcess | undefined;
  const clients: BenchClient[] = [];
  try {
    if (store === 'etcd') {
      etcd = await startEtcd();
      log(`etcd at ${etcd.endpoints.join(',')}`);
    }
    const profDir = cfg.cpuProfDir ? join(cfg.cpuProfDir, store) : undefined;
    if (profDir) mkdirSync(profDir, { recursive: true });
    server = await ServerProcess.start({ store, etcdEndpoints: etcd?.endpoints, cpuProfDir: profDir });
    log(`server pid ${server.pid} at ${server.url}`);
    const memStart = await server.memoryAfterGc(1000);
    const client = await makeClient(server.kubeconfigPath, { keepAlive: true, maxSockets: cfg.concurrency });
    clients.push(client);
    await client.api.createNamespace({ body: { metadata: { name: NS } } });

    // Warm-up creates (JIT, connections, SQLite/etcd caches), reported and then deleted.
    const warmup = await createPhase(client, server, cfg.warmup, 'warm-', { bench: 'warmup' });
    log(`warm-up creates: ${warmup.perSecond}/s, p50 ${warmup.latencyMs.p50} ms, p99 ${warmup.latencyMs.p99} ms, failures ${warmup.failures}`);
    await client.api.deleteCollectionNamespacedConfigMap({ namespace: NS, labelSelector: 'bench=warmup' });

    const creates = await createPhase(client, server, cfg.objects, 'cm-', { bench: 'data' });
    log(
      `creates: ${creates.count} in ${round(creates.elapsedMs / 1000)} s = ${creates.perSecond}/s, p50 ${creates.latencyMs.p50} ms, p99 ${creates.latencyMs.p99} ms, failures ${creates.failures}` +
        ` (server ${creates.cpu.serverCores} cores, client ${creates.cpu.clientCores} cores)`,
    );
    if (creates.failures) log(`create errors: ${creates.errors.join(' | ')}`);

    const lists = await listPhase(client);

    const memAtRest = await server.memoryAfterGc();
    log(`server RSS at rest with ${cfg.objects} objects (after GC): ${round(memAtRest.rssKb / 1024, 1)} MiB (heap used ${round((memAtRest.heap?.heapUsed ?? 0) / 2 ** 20, 1)} MiB)`);
    const etcdRssKb = etcd ? rssOfProcessMatching(etcd.dataDir) : undefined;

    const watch = await watchPhase(client, server);
    if (watch.watcherErrors.length) log(`watcher errors: ${watch.watcherErrors.join(' | ')}`);
    await sleep(500);
    const memAfterWatch = await server.memoryAfterGc();

    // Informational: client-node's stock client (new TLS connection and client-cert handshake per call).
    let stockClientCreates: CreateResult | undefined;
    if (cfg.clientDefault > 0) {
      const stock = await makeClient(server.kubeconfigPath, { keepAlive: false });
      clients.push(stock);
      stockClientCreates = await createPhase(stock, server, cfg.clientDefault, 'stock-', { bench: 'stock' });
      log(`creates with client-node's stock agent: ${stockClientCreates.perSecond}/s, p50 ${stockClientCreates.latencyMs.p50} ms, p99 ${stockClientCreates.latencyMs.p99} ms`);
    }

    return {
      store,
      fullSize,
      config: cfg,
      server: { pid: server.pid, url: server.url },
      createWarmup: warmup,
      create: creates,
      list: lists,
      watch,
      memory: {
        atStartAfterGc: mem(memStart),
        atRestAfterGc: mem(memAtRest),
        afterWatchAfterGc: mem(memAfterWatch),
        etcdRssMiB: etcdRssKb !== undefined ? round(etcdRssKb / 1024, 1) : undefined,
      },
      stockClientCreates,
    };
  } finally {
    for (const c of clients) c.close();
    await server?.stop();
    await etcd?.stop();
  }
}

function machine() {
  const cpuModel = cpus()[0]?.model ?? 'unknown';
  return { nproc: cpus().length, cpuModel, ramGiB: round(totalmem() / 2 ** 30, 1), node: process.version, kernel: release() };
}

/** 1/5/15-minute load averages: anything else running on the machine skews the numbers. */
const load = () => loadavg().map((v) => round(v));

type StoreResult = Awaited<ReturnType<typeof benchStore>>;

function printTable(results: StoreResult[]) {
  const rows: [string, string, ...string[]][] = [];
  const mark = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const col = (f: (r: StoreResult) => string) => results.map(f);
  rows.push(['measure', 'goal', ...results.map((r) => r.store)]);
  rows.push(['create throughput (/s)', `>= ${GOALS.createsPerSec}`, ...col((r) => `${r.create.perSecond} ${mark(r.create.perSecond >= GOALS.createsPerSec)}`)]);
  rows.push(['create latency p50 (ms)', '', ...col((r) => `${r.create.latencyMs.p50}`)]);
  rows.push(['create latency p99 (ms)', `< ${GOALS.createP99Ms}`, ...col((r) => `${r.create.latencyMs.p99} ${mark(r.create.latencyMs.p99 < GOALS.createP99Ms)}`)]);
  rows.push(['create failures', '0', ...col((r) => `${r.create.failures}`)]);
  rows.push(['list all, one call (ms, median)', `< ${GOALS.listMs}`, ...col((r) => `${r.list.single.medianMs} ${mark(r.list.single.medianMs < GOALS.listMs)}`)]);
  rows.push(['  same, raw HTTP, no decode (ms)', '', ...col((r) => `${r.list.singleRawHttp.medianMs}`)]);
  rows.push([`list all, pages of ${cfg.pageSize} (ms, median)`, '', ...col((r) => `${r.list.paginated.medianMs}`)]);
  rows.push(['watch delivery p50 (ms)', '', ...col((r) => `${r.watch.deliveryLatencyMs.p50}`)]);
  rows.push(['watch delivery p99 (ms)', `< ${GOALS.watchP99Ms}`, ...col((r) => `${r.watch.deliveryLatencyMs.p99} ${mark(r.watch.deliveryLatencyMs.p99 < GOALS.watchP99Ms)}`)]);
  rows.push(['watch missed events', '0', ...col((r) => `${r.watch.missedEvents} of ${r.watch.pairsExpected}`)]);
  rows.push(['update latency p50 / p99 (ms)', '', ...col((r) => `${r.watch.updateLatencyMs.p50} / ${r.watch.updateLatencyMs.p99}`)]);
  rows.push(['server RSS at rest (MiB)', '', ...col((r) => `${r.memory.atRestAfterGc.rssMiB}`)]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log('');
  console.log(line(rows[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows.slice(1)) console.log(line(row));
  if (!fullSize) console.log(`\n(reduced size: ${cfg.objects} objects, ${cfg.watchers} watchers, ${cfg.updates} updates — not the recorded numbers)`);
}

async function main() {
  const m = machine();
  log(`machine: ${m.nproc} x ${m.cpuModel}, ${m.ramGiB} GiB, node ${m.node}, kernel ${m.kernel}`);
  log(`config: ${JSON.stringify(cfg)}`);
  const outDir = join(repoRoot, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const results: StoreResult[] = [];
  for (const store of cfg.stores) {
    const loadBefore = load();
    log(`load average before ${store}: ${loadBefore.join(' ')}`);
    const r = await benchStore(store);
    results.push(r);
    const loadAfter = load();
    log(`load average after ${store}: ${loadAfter.join(' ')}`);
    const file = join(outDir, fullSize ? `api-${store}.json` : `api-${store}.reduced.json`);
    const record = { date: new Date().toISOString(), machine: m, command: 'npm run bench:api', goals: GOALS, loadAverage: { before: loadBefore, after: loadAfter }, ...r };
    writeFileSync(file, JSON.stringify(record, null, 2) + '\n');
    log(`wrote ${file}`);
  }
  printTable(results);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
