/**
 * Control-plane benchmark: a `cairn server` on SQLite, as its own process, running its
 * controllers, scheduler and N simulated nodes (`--simulated-nodes N`, in the server process);
 * D Deployments x R replicas are created and the run measures scheduling throughput, time until
 * every pod is Running, API latency of mutating calls made by a separate client meanwhile, the
 * server's own request-duration histogram, server CPU and memory; then a template change and a
 * `kubectl rollout undo` of one Deployment, timed with `kubectl rollout status`. See BENCHMARKS.md.
 *
 *   npm run bench:control                                        full size (recorded numbers)
 *   BENCH_NODES=100 BENCH_DEPLOYMENTS=10 BENCH_REPLICAS=100 npm run bench:control   iteration
 *
 * Environment (all optional):
 *   BENCH_NODES=1000            simulated nodes
 *   BENCH_DEPLOYMENTS=100       Deployments
 *   BENCH_REPLICAS=300          replicas each
 *   BENCH_CREATE_CONCURRENCY=8  Deployment creates in flight
 *   BENCH_SAMPLE_RATE=20        sampler writes per second (ConfigMap creates and updates, alternating)
 *   BENCH_ROLLOUT=1             0 skips the rollout / rollout undo phase
 *   BENCH_TIMEOUT_S=1800        give up waiting for Running pods after this long
 *   BENCH_CPU_PROF=DIR          run the server under `node --cpu-prof`, profiles written to DIR
 *   BENCH_SIM=process           where the simulated nodes run: `process` (their own process over
 *                               HTTPS, bench/support/sim-process.ts, like `cairn sim add-nodes`) or
 *                               `inprocess` (`cairn server --simulated-nodes N`). The default is
 *                               `process` because registering 1000 nodes in the server currently
 *                               fails on a lease-create race in src/sim (see BENCHMARKS.md).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { AppsV1Api, type V1Deployment } from '@kubernetes/client-node';
import { makeClient, type BenchClient } from './support/kube.js';
import type { PodWatchProgress, PodWatchReply, PodWatchRequest, PodWatchWorkerData } from './support/pod-watch-worker.js';
import { procCpuSeconds, repoRoot, ServerProcess, type MemoryReading } from './support/server-process.js';
import { errorText, round, roundSummary, runPool, summarize } from './support/stats.js';

const env = (name: string, dflt: number) => {
  const v = process.env[name];
  return v === undefined || v === '' ? dflt : Number(v);
};

const cfg = {
  nodes: env('BENCH_NODES', 1000),
  deployments: env('BENCH_DEPLOYMENTS', 100),
  replicas: env('BENCH_REPLICAS', 300),
  createConcurrency: env('BENCH_CREATE_CONCURRENCY', 8),
  sampleRate: env('BENCH_SAMPLE_RATE', 20),
  rollout: env('BENCH_ROLLOUT', 1) !== 0,
  timeoutS: env('BENCH_TIMEOUT_S', 1800),
  cpuProfDir: process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined,
  sim: (process.env.BENCH_SIM === 'inprocess' ? 'inprocess' : 'process') as 'process' | 'inprocess',
};
const FULL = { nodes: 1000, deployments: 100, replicas: 300 };
const fullSize = cfg.nodes === FULL.nodes && cfg.deployments === FULL.deployments && cfg.replicas === FULL.replicas && cfg.rollout;
const total = cfg.deployments * cfg.replicas;
const GOALS = { podsBoundPerSec: 1000, mutatingP99Ms: 100 };
const NS = 'bench';
/** Simulated nodes beyond the 256 /24s of 10.244.0.0/16 use a fallback range after this long (sim default). */
const SIM_CIDR_WAIT_MS = 10_000;

const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowAbs = () => performance.timeOrigin + performance.now();
const depName = (i: number) => `dep-${String(i).padStart(4, '0')}`;

// ---------------------------------------------------------------------------------------------
// /metrics: the server's apiserver_request_duration_seconds histogram

type Hist = Map<string, { buckets: Map<number, number>; count: number; sum: number }>;

function parseDurationHistogram(text: string): Hist {
  const out: Hist = new Map();
  const re = /^apiserver_request_duration_seconds_(bucket|sum|count)\{([^}]*)\} (\S+)$/gm;
  for (let m; (m = re.exec(text)); ) {
    const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const key = `${labels.verb}|${labels.resource}`;
    let h = out.get(key);
    if (!h) out.set(key, (h = { buckets: new Map(), count: 0, sum: 0 }));
    const v = Number(m[3]);
    if (m[1] === 'bucket') h.buckets.set(labels.le === '+Inf' ? Infinity : Number(labels.le), v);
    else if (m[1] === 'sum') h.sum = v;
    else h.count = v;
  }
  return out;
}

/** after − before, summed over the series `pick` accepts. */
function histDelta(before: Hist, after: Hist, pick: (verb: string, resource: string) => boolean) {
  const buckets = new Map<number, number>();
  let count = 0;
  let sum = 0;
  for (const [key, h] of after) {
    const [verb, resource] = key.split('|');
    if (!pick(verb, resource)) continue;
    const b = before.get(key);
    count += h.count - (b?.count ?? 0);
    sum += h.sum - (b?.sum ?? 0);
    for (const [le, v] of h.buckets) buckets.set(le, (buckets.get(le) ?? 0) + v - (b?.buckets.get(le) ?? 0));
  }
  return { buckets: [...buckets].sort((a, b) => a[0] - b[0]), count, sum };
}

/** Prometheus histogram_quantile (linear interpolation inside the bucket), in ms. */
function histQuantileMs(h: ReturnType<typeof histDelta>, q: number): number {
  if (!h.count) return NaN;
  const rank = q * h.count;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, c] of h.buckets) {
    if (c >= rank) {
      if (le === Infinity) return prevLe * 1000;
      return (prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1, c - prevCount)) * 1000;
    }
    prevLe = le;
    prevCount = c;
  }
  return NaN;
}

function histSummary(h: ReturnType<typeof histDelta>) {
  const le100 = h.buckets.find(([le]) => le === 0.1)?.[1] ?? NaN;
  return {
    count: h.count,
    meanMs: round((h.sum / h.count) * 1000),
    p50Ms: round(histQuantileMs(h, 0.5)),
    p99Ms: round(histQuantileMs(h, 0.99)),
    within100msPct: round((le100 / h.count) * 100),
    bucketsCumulative: Object.fromEntries(h.buckets.map(([le, c]) => [String(le), c])),
  };
}

// ---------------------------------------------------------------------------------------------
// The mutating-call sampler: small ConfigMap writes at a steady pace on their own connection.

function startSampler(client: BenchClient, ratePerSec: number, prefix: string) {
  const lat: { t: number; ms: number; op: 'create' | 'update'; ok: boolean }[] = [];
  const errors: string[] = [];
  let stopped = false;
  let i = 0;
  let inflight = 0;
  let skipped = 0;
  const t0 = performance.now();
  const bodies = new Map<number, { metadata: { name: string; resourceVersion?: string }; data: Record<string, string> }>();
  const one = async (n: number) => {
    const idx = Math.floor(n / 2);
    const name = `${prefix}-${String(idx).padStart(6, '0')}`;
    const op: 'create' | 'update' = n % 2 === 0 ? 'create' : 'update';
    const start = performance.now();
    let ok = true;
    try {
      if (op === 'create') {
        const made = await client.api.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name }, data: { v: '0' } } });
        bodies.set(idx, { metadata: { name, resourceVersion: made.metadata?.resourceVersion }, data: { v: '0' } });
      } else {
        const b = bodies.get(idx);
        if (!b) throw new Error(`update of ${name} before its create finished`);
        bodies.delete(idx);
        await client.api.replaceNamespacedConfigMap({ name, namespace: NS, body: { metadata: b.metadata, data: { v: '1' } } });
      }
    } catch (e) {
      ok = false;
      if (errors.length < 10) errors.push(errorText(e));
    }
    lat.push({ t: nowAbs(), ms: performance.now() - start, op, ok });
  };
  const loop = (async () => {
    while (!stopped) {
      const due = t0 + (i * 1000) / ratePerSec;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      if (stopped) break;
      const n = i++;
      // An update waits for its create; beyond 64 in flight the server is not keeping up at all.
      if (inflight >= 64) {
        skipped++;
        continue;
      }
      inflight++;
      void one(n).finally(() => inflight--);
    }
    while (inflight > 0) await sleep(10);
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { samples: lat, errors, skipped };
    },
  };
}

// ---------------------------------------------------------------------------------------------

function kubectl(kubeconfig: string, cacheDir: string, args: string[], timeoutMs = 30 * 60_000): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((res, rej) => {
    execFile('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, ...args], { timeout: timeoutMs, maxBuffer: 64 << 20, env: { ...process.env, KUBECONFIG: '' } }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return rej(new Error(`kubectl ${args.join(' ')}: ${err.message}\n${stderr}`));
      res({ code: err ? (err.code as unknown as number) : 0, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

function deployment(name: string, replicas: number): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { app: name, bench: 'control' } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, bench: 'control' } },
        spec: { containers: [{ name: 'app', image: 'registry.example/bench/app:v1', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
      },
    },
  };
}

/** Bound (or Running) events per second, first → last, and the best 1 s / 10 s windows. */
function rateOf(times: number[], t0: number) {
  const s = times.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return { count: 0 };
  const first = s[0];
  const last = s[s.length - 1];
  const window = (w: number) => {
    let best = 0;
    let j = 0;
    for (let i = 0; i < s.length; i++) {
      while (s[i] - s[j] > w) j++;
      best = Math.max(best, i - j + 1);
    }
    return round(best / (w / 1000), 0);
  };
  const perSecond: number[] = [];
  for (const t of s) {
    const b = Math.floor((t - t0) / 1000);
    perSecond[b] = (perSecond[b] ?? 0) + 1;
  }
  return {
    count: s.length,
    firstAfterStartS: round((first - t0) / 1000),
    lastAfterStartS: round((last - t0) / 1000),
    perSecondFirstToLast: round(s.length / Math.max(0.001, (last - first) / 1000), 0),
    perSecondFromStart: round(s.length / Math.max(0.001, (last - t0) / 1000), 0),
    best1s: window(1000),
    best10s: window(10_000),
    timeline: Array.from(perSecond, (v) => v ?? 0),
  };
}

function machine() {
  return { nproc: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', ramGiB: round(totalmem() / 2 ** 30, 1), node: process.version, kernel: release() };
}
const load = () => loadavg().map((v) => round(v));
const mib = (kb: number) => round(kb / 1024, 1);
const memJson = (m: MemoryReading) => ({ rssMiB: mib(m.rssKb), hwmMiB: mib(m.hwmKb), heapUsedMiB: m.heap ? round(m.heap.heapUsed / 2 ** 20, 1) : undefined });

async function main() {
  const m = machine();
  log(`machine: ${m.nproc} x ${m.cpuModel}, ${m.ramGiB} GiB, node ${m.node}, kernel ${m.kernel}`);
  log(`config: ${JSON.stringify(cfg)} (${total} pods${fullSize ? '' : ', reduced'})`);
  const loadBefore = load();
  if (cfg.cpuProfDir) mkdirSync(cfg.cpuProfDir, { recursive: true });

  const tStart = performance.now();
  let server: ServerProcess | undefined;
  // The simulator can fail node registration on a lease-create race (reported: src/sim
  // registerNode vs. the first renewal tick); the server then does not start. Try again.
  for (let attempt = 1; !server; attempt++) {
    try {
      server = await ServerProcess.start({ store: 'sqlite', extraArgs: [...(cfg.sim === 'inprocess' ? ['--simulated-nodes', String(cfg.nodes)] : []), '--audit-log', 'none'], cpuProfDir: cfg.cpuProfDir, readyTimeoutMs: 600_000 });
    } catch (e) {
      if (attempt >= 3) throw e;
      log(`server start failed (attempt ${attempt}): ${(e as Error).message.split('\n')[0]}; retrying`);
    }
  }
  let simChild: ChildProcess | undefined;
  if (cfg.sim === 'process') {
    const child = spawn(process.execPath, [join(repoRoot, 'dist', 'bench', 'support', 'sim-process.js'), server.kubeconfigPath, String(cfg.nodes)], { stdio: ['ignore', 'pipe', 'pipe'] });
    simChild = child;
    let simErr = '';
    child.stderr!.on('data', (d: Buffer) => (simErr = (simErr + d.toString()).slice(-4000)));
    await new Promise<void>((res, rej) => {
      child.stdout!.on('data', (d: Buffer) => (/sim ready/.test(d.toString()) ? res() : undefined));
      child.once('exit', (code) => rej(new Error(`simulator exited (${code}): ${simErr}`)));
    });
  }
  const startupS = (performance.now() - tStart) / 1000;
  log(`server pid ${server.pid} ready at ${server.url} with ${cfg.nodes} simulated nodes after ${round(startupS, 1)} s`);
  const clients: BenchClient[] = [];
  let worker: Worker | undefined;
  const kcache = mkdtempSync(join(tmpdir(), 'cairn-bench-kubectl-'));
  try {
    const client = await makeClient(server.kubeconfigPath, { keepAlive: true, maxSockets: 16 });
    const probe = await makeClient(server.kubeconfigPath, { keepAlive: true, maxSockets: 64 });
    clients.push(client, probe);
    const apps = new AppsV1Api(client.config);

    // Every node Ready; nodes past the 256 /24s of the cluster CIDR fall back after 10 s.
    const readyDeadline = Date.now() + 300_000;
    for (;;) {
      const nodes = await client.api.listNode();
      const ready = nodes.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
      if (ready >= cfg.nodes) break;
      if (Date.now() > readyDeadline) throw new Error(`only ${ready} of ${cfg.nodes} nodes Ready`);
      await sleep(1000);
    }
    const settle = SIM_CIDR_WAIT_MS + 1000 - (performance.now() - tStart);
    if (settle > 0) await sleep(settle);
    await client.api.createNamespace({ body: { metadata: { name: NS } } });
    const memStart = await server.memoryAfterGc(1000);
    log(`nodes Ready; server RSS ${memJson(memStart).rssMiB} MiB after GC (heap ${memJson(memStart).heapUsedMiB} MiB)`);

    // Baseline of the mutating-call sampler with the cluster idle.
    const idleSampler = startSampler(probe, cfg.sampleRate, 'probe-idle');
    await sleep(5000);
    const idle = await idleSampler.stop();
    const idleLat = summarize(idle.samples.filter((s) => s.ok).map((s) => s.ms));
    log(`sampler, idle cluster: p50 ${round(idleLat.p50)} ms, p99 ${round(idleLat.p99)} ms (${idle.samples.length} writes)`);

    // Pod watch in a worker thread.
    const podList = await client.api.listNamespacedPod({ namespace: NS, limit: 1 });
    const tls: { ca?: string; cert?: string; key?: string } = {};
    await client.kc.applyToHTTPSOptions(tls as Parameters<typeof client.kc.applyToHTTPSOptions>[0]);
    worker = new Worker(new URL('./support/pod-watch-worker.js', import.meta.url), {
      workerData: { server: client.server, ca: String(tls.ca), cert: String(tls.cert), key: String(tls.key), path: `/api/v1/namespaces/${NS}/pods`, resourceVersion: podList.metadata!.resourceVersion! } satisfies PodWatchWorkerData,
    });
    const replies: ((r: PodWatchReply) => void)[] = [];
    worker.on('message', (r: PodWatchReply) => {
      if (r.type !== 'ready') replies.shift()?.(r);
    });
    const ask = <T extends PodWatchReply>(req: PodWatchRequest) =>
      new Promise<T>((res) => {
        replies.push(res as (r: PodWatchReply) => void);
        worker!.postMessage(req);
      });

    const metricsBefore = parseDurationHistogram((await client.rawGet('/metrics')).body.toString());
    const cpu0 = server.cpuSeconds();
    const simCpu0 = simChild ? procCpuSeconds(simChild.pid!) : 0;
    const clientCpu0 = process.cpuUsage();
    let peakRssKb = 0;
    const rssTimeline: number[] = [];
    const memTimer = setInterval(() => {
      try {
        const r = server.memory().rssKb;
        peakRssKb = Math.max(peakRssKb, r);
        rssTimeline.push(mib(r));
      } catch {
        // gone
      }
    }, 1000);

    const sampler = startSampler(probe, cfg.sampleRate, 'probe-run');
    const t0 = nowAbs();
    const tCreate = performance.now();
    const creates = await runPool(cfg.deployments, cfg.createConcurrency, (i) => apps.createNamespacedDeployment({ namespace: NS, body: deployment(depName(i), cfg.replicas) }));
    const createMs = performance.now() - tCreate;
    log(`${cfg.deployments} Deployments created in ${round(createMs / 1000, 1)} s (failures ${creates.failures}${creates.failures ? ': ' + creates.errors.join(' | ') : ''})`);

    let progress: PodWatchProgress;
    let lastLog = 0;
    const waitDeadline = Date.now() + cfg.timeoutS * 1000;
    for (;;) {
      progress = await ask<PodWatchProgress>({ type: 'progress' });
      if (progress.running >= total) break;
      if (Date.now() > waitDeadline) {
        log(`giving up after ${cfg.timeoutS} s`);
        break;
      }
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        log(`pods seen ${progress.seen}, bound ${progress.bound}, running ${progress.running} / ${total}; server RSS ${rssTimeline.at(-1)} MiB`);
      }
      await sleep(200);
    }
    const runMs = nowAbs() - t0;
    const sampled = await sampler.stop();
    clearInterval(memTimer);
    const serverCpuS = server.cpuSeconds() - cpu0;
    const simCpuS = simChild ? procCpuSeconds(simChild.pid!) - simCpu0 : NaN;
    const cu = process.cpuUsage(clientCpu0);
    const metricsAfter = parseDurationHistogram((await client.rawGet('/metrics')).body.toString());
    const collected = await ask<Extract<PodWatchReply, { type: 'collected' }>>({ type: 'collect' });
    await worker.terminate();
    worker = undefined;

    // The server's own timestamps (1 s resolution): PodScheduled (set by the binding) and Ready.
    const stamped = { bound: [] as number[], ready: [] as number[], created: [] as number[] };
    {
      const res = await client.rawGet(`/api/v1/namespaces/${NS}/pods`);
      const items = (JSON.parse(res.body.toString()) as { items: { metadata: { creationTimestamp?: string }; status?: { conditions?: { type: string; status: string; lastTransitionTime?: string }[] } }[] }).items;
      for (const p of items) {
        const c = (type: string) => p.status?.conditions?.find((x) => x.type === type && x.status === 'True')?.lastTransitionTime;
        if (p.metadata.creationTimestamp) stamped.created.push(Date.parse(p.metadata.creationTimestamp));
        const b = c('PodScheduled');
        if (b) stamped.bound.push(Date.parse(b));
        const r = c('Ready');
        if (r) stamped.ready.push(Date.parse(r));
      }
    }
    // Whole seconds: count from the start of the second the run began in.
    const t0s = Math.floor(t0 / 1000) * 1000;
    const serverStamped = { created: rateOf(stamped.created, t0s), bound: rateOf(stamped.bound, t0s), ready: rateOf(stamped.ready, t0s) };
    const bound = rateOf(Array.from(collected.bound), t0);
    const running = rateOf(Array.from(collected.running), t0);
    const allRunningS = progress.running >= total ? round((Math.max(...Array.from(collected.running).filter(Number.isFinite)) - t0) / 1000) : NaN;
    const okSamples = sampled.samples.filter((s) => s.ok);
    const samplerAll = roundSummary(summarize(okSamples.map((s) => s.ms)));
    const samplerCreate = roundSummary(summarize(okSamples.filter((s) => s.op === 'create').map((s) => s.ms)));
    const samplerUpdate = roundSummary(summarize(okSamples.filter((s) => s.op === 'update').map((s) => s.ms)));
    const MUTATING = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
    const serverMutating = histSummary(histDelta(metricsBefore, metricsAfter, (v) => MUTATING.has(v)));
    const serverByResource: Record<string, ReturnType<typeof histSummary>> = {};
    for (const key of metricsAfter.keys()) {
      const [verb, resource] = key.split('|');
      if (!MUTATING.has(verb)) continue;
      const d = histDelta(metricsBefore, metricsAfter, (v, r) => v === verb && r === resource);
      if (d.count >= 10) serverByResource[`${verb} ${resource}`] = histSummary(d);
    }
    log(`bound (server times): ${serverStamped.bound.count} pods, ${serverStamped.bound.perSecondFirstToLast}/s first→last (best 10 s ${serverStamped.bound.best10s}/s); created ${serverStamped.created.perSecondFirstToLast}/s`);
    log(`bound (watch): ${bound.count} pods, ${bound.perSecondFirstToLast}/s first→last (best 10 s: ${bound.best10s}/s); all Running after ${allRunningS} s`);
    log(`sampler during run: p50 ${samplerAll.p50} ms, p99 ${samplerAll.p99} ms, ${sampled.errors.length} errors, ${sampled.skipped} skipped`);
    log(`server histogram, mutating calls: ${serverMutating.count}, p99 ~${serverMutating.p99Ms} ms; server CPU ${round(serverCpuS / (runMs / 1000))} cores, peak RSS ${mib(peakRssKb)} MiB`);

    const memAfterRun = await server.memoryAfterGc(2000);
    log(`server RSS after the run, after GC: ${memJson(memAfterRun).rssMiB} MiB (heap ${memJson(memAfterRun).heapUsedMiB} MiB)`);

    let rollout: Record<string, unknown> | undefined;
    if (cfg.rollout && progress.running >= total) {
      const name = depName(0);
      const status = () => kubectl(server.kubeconfigPath, kcache, ['-n', NS, 'rollout', 'status', `deployment/${name}`, '--timeout=20m']);
      const r0 = performance.now();
      const set = await kubectl(server.kubeconfigPath, kcache, ['-n', NS, 'set', 'image', `deployment/${name}`, 'app=registry.example/bench/app:v2']);
      const st1 = await status();
      const changeMs = performance.now() - r0;
      log(`template change of ${name} (${cfg.replicas} replicas): rolled out in ${round(changeMs / 1000, 2)} s (kubectl exit ${set.code}/${st1.code})`);
      const u0 = performance.now();
      const undo = await kubectl(server.kubeconfigPath, kcache, ['-n', NS, 'rollout', 'undo', `deployment/${name}`]);
      const st2 = await status();
      const undoMs = performance.now() - u0;
      log(`kubectl rollout undo of ${name}: complete in ${round(undoMs / 1000, 2)} s (kubectl exit ${undo.code}/${st2.code}: ${undo.stdout.trim()} ${undo.stderr.trim()})`);
      const dep = await apps.readNamespacedDeployment({ name, namespace: NS });
      rollout = {
        deployment: name,
        replicas: cfg.replicas,
        templateChangeToCompleteS: round(changeMs / 1000, 2),
        undoToCompleteS: round(undoMs / 1000, 2),
        undoCommandMs: round(undo.ms),
        kubectl: { setImage: set.code, statusAfterChange: st1.code, undo: undo.code, statusAfterUndo: st2.code, undoOutput: (undo.stdout + undo.stderr).trim() },
        imageAfterUndo: dep.spec?.template.spec?.containers[0].image,
        statusAfterUndo: dep.status,
      };
    }

    const loadAfter = load();
    const result = {
      date: new Date().toISOString(),
      machine: m,
      command: 'npm run bench:control',
      fullSize,
      config: cfg,
      goals: GOALS,
      loadAverage: { before: loadBefore, after: loadAfter },
      server: { pid: server.pid, store: 'sqlite', args: `--store sqlite ${cfg.sim === 'inprocess' ? `--simulated-nodes ${cfg.nodes} ` : ''}--audit-log none`, simulatedNodes: cfg.sim === 'inprocess' ? 'in the server process' : 'own process over HTTPS (bench/support/sim-process.ts)', startupWithNodesS: round(startupS, 1) },
      pods: total,
      deploymentCreate: { elapsedMs: round(createMs), failures: creates.failures, errors: creates.errors, latencyMs: roundSummary(summarize(creates.latencies)) },
      scheduling: {
        boundPerSecondServerStamped: serverStamped.bound.perSecondFirstToLast,
        boundPerSecondWatchObserved: bound.perSecondFirstToLast,
        serverStamped: serverStamped.bound,
        watchObserved: bound,
      },
      podCreation: { serverStamped: serverStamped.created },
      readyServerStamped: serverStamped.ready,
      running: { allRunningAfterS: allRunningS, ...running },
      watch: { events: collected.events, restarts: collected.restarts, errors: collected.errors },
      mutatingLatency: {
        sampler: { ratePerSecond: cfg.sampleRate, idleBaselineMs: roundSummary(idleLat), all: samplerAll, create: samplerCreate, update: samplerUpdate, errors: sampled.errors, skipped: sampled.skipped },
        serverHistogramAllMutating: serverMutating,
        serverHistogramByVerbResource: serverByResource,
      },
      cpu: { wallS: round(runMs / 1000), serverCpuS: round(serverCpuS), serverCores: round(serverCpuS / (runMs / 1000)), benchClientCores: round((cu.user + cu.system) / 1e6 / (runMs / 1000)), simulatorProcessCores: round(simCpuS / (runMs / 1000)) },
      memory: { atStartAfterGc: memJson(memStart), peakRssDuringRunMiB: mib(peakRssKb), afterRunAfterGc: memJson(memAfterRun), rssTimelineMiB: rssTimeline },
      rollout,
    };
    const outDir = join(repoRoot, 'bench', 'results');
    mkdirSync(outDir, { recursive: true });
    const file = join(outDir, fullSize ? 'control-sqlite.json' : 'control-sqlite.reduced.json');
    writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
    log(`wrote ${file}`);

    const mark = (ok: boolean) => (ok ? 'met' : 'MISSED');
    const rows: [string, string, string][] = [
      ['measure', 'goal', 'SQLite'],
      ['pods', '', `${total} (${cfg.deployments} x ${cfg.replicas}) on ${cfg.nodes} nodes`],
      ['scheduling throughput (bound/s, server PodScheduled times, first→last)', `>= ${GOALS.podsBoundPerSec}`, `${serverStamped.bound.perSecondFirstToLast} ${mark((serverStamped.bound.perSecondFirstToLast ?? 0) >= GOALS.podsBoundPerSec)}`],
      ['  best 10 s window (bound/s, server times)', '', `${serverStamped.bound.best10s}`],
      ['  as seen by a watch, first→last / best 10 s', '', `${bound.perSecondFirstToLast} / ${bound.best10s}`],
      ['pod creation (created/s, server times, first→last)', '', `${serverStamped.created.perSecondFirstToLast}`],
      ['all pods Running after (s)', '', `${allRunningS}`],
      ['mutating p99, sampler client (ms)', `< ${GOALS.mutatingP99Ms}`, `${samplerAll.p99} ${mark(samplerAll.p99 < GOALS.mutatingP99Ms)}`],
      ['mutating p50, sampler client (ms)', '', `${samplerAll.p50}`],
      ['mutating p99, server histogram (ms)', `< ${GOALS.mutatingP99Ms}`, `${serverMutating.p99Ms} ${mark(serverMutating.p99Ms < GOALS.mutatingP99Ms)}`],
      ['server CPU during run (cores)', '', `${result.cpu.serverCores}`],
      ['simulator process CPU (cores)', '', `${result.cpu.simulatorProcessCores}`],
      ['server RSS peak / after GC (MiB)', '', `${mib(peakRssKb)} / ${memJson(memAfterRun).rssMiB}`],
      ['rollout (template change) (s)', '', `${rollout?.templateChangeToCompleteS ?? '-'}`],
      ['kubectl rollout undo → complete (s)', '', `${rollout?.undoToCompleteS ?? '-'}`],
    ];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ');
    console.log('\n' + line(rows[0]));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const r of rows.slice(1)) console.log(line(r));
    if (!fullSize) console.log(`\n(reduced size — not the recorded numbers)`);
  } finally {
    await worker?.terminate();
    for (const c of clients) c.close();
    rmSync(kcache, { recursive: true, force: true });
    if (simChild && simChild.exitCode === null) {
      const gone = new Promise((r) => simChild!.once('exit', r));
      simChild.kill('SIGTERM');
      await Promise.race([gone, sleep(10_000)]);
      if (simChild.exitCode === null) simChild.kill('SIGKILL');
    }
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
