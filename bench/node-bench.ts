/**
 * Node agent benchmark: a real `cairn up` cluster (its own name, ports and networks; always
 * `cairn down --purge` at the end, also on failure or Ctrl-C), measuring
 *
 *   1. pod startup latency: 100 busybox sleep pods on 3 nodes, created → Running / Ready, seen by
 *      a watch and from the pods' timestamps, with a per-phase breakdown of the agent's start path;
 *   2. cross-node pod-to-pod TCP throughput (iperf3) and latency (ping, TCP echo), against two
 *      bare namespaces on the same host bridge;
 *   3. density: 100 pods on one node; at rest, the agent's CPU and memory and the memory of the
 *      node's shims and `runc run` processes.
 *
 * See BENCHMARKS.md. Output: a table on stdout and bench/results/node.json (node.reduced.json for
 * runs with other sizes, which are never the recorded numbers).
 *
 *   npm run bench:node                                  full size (the recorded numbers)
 *   BENCH_PODS=20 BENCH_DENSITY_PODS=20 npm run bench:node    quick iteration
 *
 * Environment (all optional):
 *   BENCH_PHASES=startup,network,density   which phases, always in this order
 *   BENCH_NODES=3                 cluster size (the network phase needs 2)
 *   BENCH_PODS=100                startup pods
 *   BENCH_CREATE_CONCURRENCY=10   pod creates in flight
 *   BENCH_CREATE_RATE=0           startup pod creates per second (0 = unpaced)
 *   BENCH_DENSITY_PODS=100        pods on one node
 *   BENCH_DENSITY_NODE=<last>     which node (1-based)
 *   BENCH_REST_S=30               density: rest before reading
 *   BENCH_CPU_WINDOW_S=20         density: CPU measuring window
 *   BENCH_IPERF_SECONDS=10        each iperf3 run
 *   BENCH_IPERF_ROUNDS=5          iperf3 runs per path (alternating bare / pod; the median counts)
 *   BENCH_PING_COUNT=20           ICMP echoes per path
 *   BENCH_TCP_RTTS=2000           TCP round trips per path (after 200 warm-up)
 *   BENCH_TIMEOUT_S=600           bound on every wait
 *   BENCH_AGENT_PROF=DIR          V8 CPU profiles of the agents while the startup pods start and
 *                                 over the density phase's at-rest window (support/agent-profiler.ts)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { buildBusyboxImage } from '../src/agent/images/busybox-image.js';
import { AgentProfiler } from './support/agent-profiler.js';
import { BenchCluster } from './support/bench-cluster.js';
import { requireIperf3 } from './support/iperf3.js';
import { makeClient, type BenchClient } from './support/kube.js';
import { densityPhase, type DensityResult } from './support/node-density.js';
import type { NodeBenchContext } from './support/node-bench-context.js';
import { startupPhase, type StartupResult } from './support/node-startup.js';
import { requirePing } from './support/ping.js';
import { PodTimeline } from './support/pod-timeline.js';
import { trafficPhase, type TrafficResult } from './support/pod-traffic.js';
import { repoRoot } from './support/server-process.js';
import { round } from './support/stats.js';
import { until } from '../test/support/until.js';

const env = (name: string, dflt: number) => {
  const v = process.env[name];
  return v === undefined || v === '' ? dflt : Number(v);
};
const nodes = env('BENCH_NODES', 3);
const cfg = {
  phases: (process.env.BENCH_PHASES ?? 'startup,network,density').split(',').map((s) => s.trim()),
  nodes,
  pods: env('BENCH_PODS', 100),
  createConcurrency: env('BENCH_CREATE_CONCURRENCY', 10),
  createRate: env('BENCH_CREATE_RATE', 0),
  densityPods: env('BENCH_DENSITY_PODS', 100),
  densityNode: env('BENCH_DENSITY_NODE', nodes),
  restS: env('BENCH_REST_S', 30),
  cpuWindowS: env('BENCH_CPU_WINDOW_S', 20),
  iperfSeconds: env('BENCH_IPERF_SECONDS', 10),
  iperfRounds: env('BENCH_IPERF_ROUNDS', 5),
  pingCount: env('BENCH_PING_COUNT', 20),
  tcpRtts: env('BENCH_TCP_RTTS', 2000),
  timeoutS: env('BENCH_TIMEOUT_S', 600),
  agentProfDir: process.env.BENCH_AGENT_PROF || undefined,
};
const FULL = { phases: 'startup,network,density', nodes: 3, pods: 100, createConcurrency: 10, createRate: 0, densityPods: 100, restS: 30, cpuWindowS: 20, iperfSeconds: 10, iperfRounds: 5 };
const fullSize = !cfg.agentProfDir && Object.entries(FULL).every(([k, v]) => (k === 'phases' ? cfg.phases.join(',') === v : cfg[k as keyof typeof cfg] === v));
const NS = 'bench';
const GOALS = { startupP99Ms: 1000, k8sSloStartupP99Ms: 5000, throughputRatioPct: 90 };

const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const load = () => loadavg().map((v) => round(v));

function machine() {
  const version = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0]!.trim();
    } catch {
      return 'missing';
    }
  };
  return {
    nproc: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    ramGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    kernel: release(),
    runc: version('runc', ['--version']),
    iperf3: cfg.phases.includes('network') ? requireIperf3() : version('iperf3', ['--version']),
  };
}

interface Results {
  startup?: StartupResult;
  network?: TrafficResult;
  density?: DensityResult;
  profiles?: string[];
  error?: string;
}

async function runPhases(cluster: BenchCluster, results: Results, onClient: (c: BenchClient, t: PodTimeline) => void): Promise<void> {
  log(`cluster ${cluster.spec.name}: ${cluster.spec.nodes} nodes in ${cluster.spec.dir} (underlay ${cluster.spec.underlayPrefix}.0/24, pods ${cluster.spec.clusterCidr})`);
  const profiler = cfg.agentProfDir ? new AgentProfiler(cfg.agentProfDir) : undefined;
  const upStart = performance.now();
  await cluster.up(profiler?.env());
  log(`cairn up: ${round((performance.now() - upStart) / 1000, 1)} s`);
  const client = await makeClient(cluster.kubeconfig, { keepAlive: true, maxSockets: 32 });
  await client.api.createNamespace({ body: { metadata: { name: NS } } });
  // Pods are refused until the namespace's default ServiceAccount exists (as for any user).
  await until('the default ServiceAccount in the bench namespace', () => client.api.readNamespacedServiceAccount({ name: 'default', namespace: NS }).then(() => true), 60_000, 200);
  const timeline = await PodTimeline.start(client, NS);
  onClient(client, timeline);
  const ctx: NodeBenchContext = { cluster, client, timeline, namespace: NS, image: (await buildBusyboxImage()).reference, timeoutMs: cfg.timeoutS * 1000, log, profiler, profiles: [] };
  results.profiles = ctx.profiles;

  if (cfg.phases.includes('startup')) results.startup = await startupPhase(ctx, { pods: cfg.pods, concurrency: cfg.createConcurrency, perSecond: cfg.createRate });
  if (cfg.phases.includes('network')) results.network = await trafficPhase(ctx, { iperfSeconds: cfg.iperfSeconds, rounds: cfg.iperfRounds, pingCount: cfg.pingCount, tcpRoundTrips: cfg.tcpRtts });
  if (cfg.phases.includes('density')) results.density = await densityPhase(ctx, { pods: cfg.densityPods, node: cfg.densityNode, concurrency: cfg.createConcurrency, restS: cfg.restS, cpuWindowS: cfg.cpuWindowS });
  if (timeline.errors.length) log(`watch errors: ${timeline.errors.join(' | ')}`);
  if (ctx.profiles.length) log(`agent CPU profiles: ${ctx.profiles.join(', ')}`);
}

function printTable(r: Results): void {
  const mark = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const mib = (kb: number) => round(kb / 1024, 1);
  const rows: [string, string, string][] = [['measure', 'goal', 'result']];
  const s = r.startup;
  if (s) {
    rows.push([`startup: ${s.pods} pods on ${cfg.nodes} nodes`, '', `all Ready after ${round(s.allReadyAfterMs / 1000, 1)} s`]);
    const w = s.watch.createdToRunningMs;
    rows.push(['created → Running, watch p50 / p90 / p99 / max (ms)', `p99 <= ${GOALS.startupP99Ms} (k8s SLO ${GOALS.k8sSloStartupP99Ms})`, `${w.p50} / ${w.p90} / ${w.p99} / ${w.max}  ${mark(w.p99 <= GOALS.startupP99Ms)} (SLO ${mark(w.p99 <= GOALS.k8sSloStartupP99Ms)})`]);
    const rd = s.watch.createdToReadyMs;
    rows.push(['created → Ready, watch p50 / p90 / p99 / max (ms)', `p99 <= ${GOALS.startupP99Ms}`, `${rd.p50} / ${rd.p90} / ${rd.p99} / ${rd.max}  ${mark(rd.p99 <= GOALS.startupP99Ms)}`]);
    const b = s.watch.createdToBoundMs;
    rows.push(['created → bound to a node, watch p50 / p99 (ms)', '', `${b.p50} / ${b.p99}`]);
    const ts = s.podTimestamps.createdToReadyMs;
    rows.push(['created → Ready, pod timestamps (1 s resolution)', '', `${ts.p50} / ${ts.p90} / ${ts.p99} / ${ts.max}`]);
    const st = s.podTimestamps.createdToStartedAtMs;
    rows.push(['creationTimestamp → startedAt', '', `${st.p50} / ${st.p90} / ${st.p99} / ${st.max}`]);
    for (const p of s.breakdown) rows.push([`  ${p.phase} (p50 / p99 ms, % of mean)`, '', `${p.ms.p50} / ${p.ms.p99}, ${p.shareOfMeanPct} %`]);
    const sum = (o: Record<string, number>) => round(Object.values(o).reduce((a, b) => a + b, 0));
    rows.push(['agents CPU during startup, self + processes run (cores, sum)', '', `${sum(s.cpuCores.agents)} + ${sum(s.cpuCores.agentChildren)}`]);
    rows.push(['shim + runc CPU per pod (s)', '', `${s.cpuSecondsPerPod.shim} + ${s.cpuSecondsPerPod.runc}`]);
    rows.push(['delete all startup pods → gone (s)', '', `${round(s.deleteAllMs / 1000, 1)}`]);
  }
  const n = r.network;
  if (n) {
    rows.push(['pod-to-pod TCP, cross-node (Gbit/s, median)', '', `${n.podToPod.medianGbitPerSec}`]);
    rows.push(['bare namespaces, same bridge (Gbit/s, median)', '', `${n.bare.medianGbitPerSec}`]);
    rows.push(['pod-to-pod, same node (Gbit/s, median)', '', `${n.sameNodePodToPod.medianGbitPerSec}`]);
    rows.push(['pod-to-pod / bare throughput', `>= ${GOALS.throughputRatioPct} %`, `${n.throughputRatioPct} % ${mark(n.throughputRatioPct >= GOALS.throughputRatioPct)}`]);
    const rtt = (x: typeof n.bare) => `${x.tcpRoundTripUs.p50} / ${x.tcpRoundTripUs.p90} / ${x.tcpRoundTripUs.p99}`;
    rows.push(['TCP round trip p50 / p90 / p99 (µs), pod vs bare', '', `${rtt(n.podToPod)} vs ${rtt(n.bare)}`]);
    rows.push(['  same-node pods', '', rtt(n.sameNodePodToPod)]);
    rows.push(['ping min / avg / max (ms), pod vs bare', '', `${n.podToPod.ping.minMs} / ${n.podToPod.ping.avgMs} / ${n.podToPod.ping.maxMs} vs ${n.bare.ping.minMs} / ${n.bare.ping.avgMs} / ${n.bare.ping.maxMs}`]);
  }
  const d = r.density;
  if (d) {
    rows.push([`density: ${d.config.pods} pods on node-${d.config.node}`, '', `all Running after ${round(d.allRunningAfterMs / 1000, 1)} s`]);
    rows.push(['agent CPU at rest, empty → with pods (cores)', '', `${d.empty.agent.cpuCores} → ${d.atRest.agent.cpuCores}`]);
    rows.push(['  processes the agent ran meanwhile (cores)', '', `${d.empty.agent.childCpuCores} → ${d.atRest.agent.childCpuCores}`]);
    rows.push(['agent RSS, empty → with pods (MiB)', '', `${mib(d.empty.agent.rssKb)} → ${mib(d.atRest.agent.rssKb)}`]);
    rows.push([`shims: ${d.atRest.shims.count} processes, RSS / PSS (MiB)`, '', `${mib(d.atRest.shims.rssKb)} / ${mib(d.atRest.shims.pssKb)}`]);
    rows.push([`runc run: ${d.atRest.runc.count} processes, RSS / PSS (MiB)`, '', `${mib(d.atRest.runc.rssKb)} / ${mib(d.atRest.runc.pssKb)}`]);
    rows.push(['per pod: shim + runc PSS (MiB)', '', `${mib(d.perPod.shimPssKb + d.perPod.runcPssKb)}`]);
    rows.push(['shims + runc CPU at rest (cores)', '', `${round(d.atRest.shims.cpuCores + d.atRest.runc.cpuCores, 4)}`]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log('\n' + line(rows[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows.slice(1)) console.log(line(row));
  if (!fullSize) console.log('\n(reduced or partial run — not the recorded numbers)');
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error('the node benchmark must run as root (cairn up makes namespaces, cgroups and mounts)');
  if (cfg.phases.includes('network')) {
    if (cfg.nodes < 2) throw new Error('the network phase needs BENCH_NODES >= 2 (pods on two nodes)');
    requirePing();
  }
  const m = machine();
  log(`machine: ${m.nproc} x ${m.cpuModel}, ${m.ramGiB} GiB, node ${m.node}, kernel ${m.kernel}, ${m.runc}, ${m.iperf3}`);
  log(`config: ${JSON.stringify(cfg)}`);
  const loadBefore = load();
  log(`load average before: ${loadBefore.join(' ')}`);
  const cluster = await BenchCluster.plan(cfg.nodes);
  const results: Results = {};
  let client: BenchClient | undefined;
  let timeline: PodTimeline | undefined;
  let cleaning: Promise<string[]> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      timeline?.stop();
      client?.close();
      log(`cairn down --purge ${cluster.spec.dir}`);
      const problems = await cluster.down();
      for (const p of problems) log(`cleanup: ${p}`);
      return problems;
    })());
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) return log(`${sig}: still tearing the cluster down, please wait`);
    signalled = true;
    log(`${sig}: tearing the cluster down`);
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = new Date().toISOString();
  try {
    await runPhases(cluster, results, (c, t) => ((client = c), (timeline = t)));
  } catch (e) {
    results.error = (e as Error).stack ?? String(e);
    const kept = join(tmpdir(), `cairn-bench-node-${cluster.spec.name}-logs`);
    await cluster.keepLogs(kept).catch(() => undefined);
    log(`failed: ${(e as Error).message} (server and agent logs copied to ${kept})`);
  } finally {
    await cleanup();
  }
  if (signalled) return 130;
  const loadAfter = load();
  log(`load average after: ${loadAfter.join(' ')}`);
  const outDir = join(repoRoot, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, fullSize && !results.error ? 'node.json' : 'node.reduced.json');
  const record = { date: started, machine: m, command: 'npm run bench:node', fullSize, config: cfg, goals: GOALS, loadAverage: { before: loadBefore, after: loadAfter }, cluster: cluster.spec, ...results };
  writeFileSync(file, JSON.stringify(record, null, 2) + '\n');
  log(`wrote ${file}`);
  printTable(results);
  if (results.error) {
    console.error(`\nnode benchmark failed: ${results.error}`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
