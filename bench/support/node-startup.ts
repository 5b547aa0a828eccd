/**
 * Phase 1 of the node benchmark: pod startup latency. N sleep pods (image present) are created
 * on the whole cluster and scheduled normally; for each, created → Running and created → Ready
 * are measured twice: as observed by the benchmark's watch (ms clock; the upstream SLI is
 * "observed via watch"), and from the pod's own timestamps (creationTimestamp, the Ready
 * condition and startedAt are RFC 3339 in whole seconds, so ±1 s). The agents' files give a
 * per-phase breakdown (start-phases.ts). Then the pods are deleted and the time until all are
 * gone is reported too.
 */
import { ipamAllocation } from './ipam-state.js';
import { cpuSeconds, cpuTimes, findProcesses, groupCpuSeconds } from './proc-stats.js';
import { createPods, deletePods, podNames, sleepPod, waitForPods, type CreateResult, type NodeBenchContext } from './node-bench-context.js';
import { podMarks, summarizePhases, type PhaseSummary, type PodMarks } from './start-phases.js';
import { round, roundSummary, summarize, type Summary } from './stats.js';

export interface StartupConfig {
  pods: number;
  concurrency: number;
  /** Creates per second; 0 = as fast as `concurrency` allows. */
  perSecond: number;
}

export interface StartupResult {
  pods: number;
  createConcurrency: number;
  createPerSecond: number;
  create: CreateResult;
  /** First create call → last pod Ready (watch). */
  allReadyAfterMs: number;
  podsPerNode: Record<string, number>;
  watch: { createdToBoundMs: Summary; createdToRunningMs: Summary; createdToReadyMs: Summary };
  /** From the pods' own timestamps (whole seconds: each difference is ±1 s). */
  podTimestamps: { createdToReadyMs: Summary; createdToStartedAtMs: Summary };
  breakdown: PhaseSummary[];
  /**
   * CPU used during the phase (first create → all Ready), in cores: each agent itself, the
   * processes it ran and reaped (ip, nft, mount, runc state, …; not the shims, which outlive the
   * phase), and the API server.
   */
  cpuCores: { agents: Record<string, number>; agentChildren: Record<string, number>; server: number };
  /** CPU seconds spent so far by each pod's shim and `runc run` (almost all of it at start). */
  cpuSecondsPerPod: { shim: number; runc: number };
  deleteAllMs: number;
  perPod: PodMarks[];
}

const nodeIndex = (nodeName: string | undefined) => Number(/^node-(\d+)$/.exec(nodeName ?? '')?.[1] ?? NaN);

export async function startupPhase(ctx: NodeBenchContext, cfg: StartupConfig): Promise<StartupResult> {
  const { cluster, timeline } = ctx;
  const names = podNames('start', cfg.pods);
  const agents = Array.from({ length: cluster.spec.nodes }, (_, i) => i + 1);
  const serverPid = cluster.serverPid();
  const cpu0 = { agents: agents.map((n) => cpuTimes(cluster.agentPid(n))), server: cpuSeconds(serverPid) };
  ctx.profiler?.start(cluster, agents);
  const t0 = performance.timeOrigin + performance.now();
  ctx.log(`startup: creating ${cfg.pods} pods, ${cfg.concurrency} in flight${cfg.perSecond ? `, ${cfg.perSecond}/s` : ''}`);
  const create = await createPods(ctx, names.map((n) => sleepPod(ctx, n, 'startup')), cfg.concurrency, cfg.perSecond);
  if (create.failures) throw new Error(`startup: ${create.failures} pod creates failed: ${create.errors.join(' | ')}`);
  await waitForPods(ctx, `${cfg.pods} pods Ready`, names, (c) => c.ready === cfg.pods);
  const t1 = performance.timeOrigin + performance.now();
  if (ctx.profiler) ctx.profiles.push(...(await ctx.profiler.stop(cluster, agents, 'startup')));
  const wallS = (t1 - t0) / 1000;
  const cpuCores = {
    agents: Object.fromEntries(agents.map((n, i) => [`node-${n}`, round((cpuTimes(cluster.agentPid(n)).self - cpu0.agents[i]!.self) / wallS)])),
    agentChildren: Object.fromEntries(agents.map((n, i) => [`node-${n}`, round((cpuTimes(cluster.agentPid(n)).children - cpu0.agents[i]!.children) / wallS)])),
    server: round((cpuSeconds(serverPid) - cpu0.server) / wallS),
  };

  const bound: number[] = [];
  const running: number[] = [];
  const ready: number[] = [];
  const stampedReady: number[] = [];
  const stampedStarted: number[] = [];
  const podsPerNode: Record<string, number> = {};
  const perPod: PodMarks[] = [];
  let lastReady = 0;
  for (const name of names) {
    const e = timeline.pods.get(name)!;
    const p = e.last!;
    bound.push(e.bound! - e.created!);
    running.push(e.running! - e.created!);
    ready.push(e.ready! - e.created!);
    lastReady = Math.max(lastReady, e.ready!);
    const created = Date.parse(p.metadata.creationTimestamp ?? '');
    const readyAt = Date.parse(p.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True')?.lastTransitionTime ?? '');
    const startedAt = Date.parse(p.status?.containerStatuses?.[0]?.state?.running?.startedAt ?? '');
    stampedReady.push(readyAt - created);
    stampedStarted.push(startedAt - created);
    const node = p.spec?.nodeName ?? '?';
    podsPerNode[node] = (podsPerNode[node] ?? 0) + 1;
    const n = nodeIndex(node);
    const ipamAllocatedAt = ipamAllocation(cluster.nodeDir(n), p.status!.podIP!).allocatedAt;
    perPod.push(podMarks({ name, node: n, nodeDir: cluster.nodeDir(n), uid: p.metadata.uid!, container: 'c', created: e.created!, ipamAllocatedAt, running: e.running! }));
  }
  // The shims and `runc run` processes of these pods, on every node: their CPU so far is their start cost.
  const nodeDirs = agents.map((n) => cluster.nodeDir(n));
  const shims = findProcesses((a) => a.some((x) => x.endsWith('/shim.js')) && a.some((x) => nodeDirs.some((d) => x.startsWith(`${d}/runtime/containers/`))));
  const runcs = findProcesses((a) => a[0]!.endsWith('runc') && a.includes('run') && nodeDirs.some((d) => a.includes(`${d}/runtime/runc`)));
  const cpuSecondsPerPod = { shim: round(groupCpuSeconds(shims.map((p) => p.pid)) / cfg.pods, 3), runc: round(groupCpuSeconds(runcs.map((p) => p.pid)) / cfg.pods, 3) };

  const watch = { createdToBoundMs: roundSummary(summarize(bound)), createdToRunningMs: roundSummary(summarize(running)), createdToReadyMs: roundSummary(summarize(ready)) };
  ctx.log(`startup: created → Running (watch) p50 ${watch.createdToRunningMs.p50} ms, p99 ${watch.createdToRunningMs.p99} ms; all Ready after ${round(wallS, 1)} s`);
  const deleteAllMs = await deletePods(ctx, 'startup', names);
  ctx.log(`startup: all ${cfg.pods} pods deleted and gone after ${round(deleteAllMs / 1000, 1)} s`);
  return {
    pods: cfg.pods,
    createConcurrency: cfg.concurrency,
    createPerSecond: cfg.perSecond,
    create: { ...create, elapsedMs: round(create.elapsedMs) },
    allReadyAfterMs: round(lastReady - t0),
    podsPerNode,
    watch,
    podTimestamps: { createdToReadyMs: roundSummary(summarize(stampedReady)), createdToStartedAtMs: roundSummary(summarize(stampedStarted)) },
    breakdown: summarizePhases(perPod),
    cpuCores,
    cpuSecondsPerPod,
    deleteAllMs: round(deleteAllMs),
    perPod,
  };
}
