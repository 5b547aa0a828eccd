/**
 * Phase 3 of the node benchmark: density. N sleep pods pinned (spec.nodeName) to one node; once
 * all are Running and the node has rested, the agent's CPU over a window (from /proc/PID/stat)
 * and its memory, and the memory and CPU of the node's per-container processes: one shim (a
 * Node process) and one `runc run` per container, plus the containers themselves. The same
 * agent readings are taken on the empty node first, for the per-pod increment.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { until } from '../../test/support/until.js';
import { createPods, podNames, sleep, sleepPod, waitForPods, type NodeBenchContext } from './node-bench-context.js';
import { cpuTimes, findProcesses, groupCpuSeconds, groupMemory, procMemory, type GroupMemory, type ProcMemory } from './proc-stats.js';
import { round, roundSummary, summarize, type Summary } from './stats.js';

export interface DensityConfig {
  pods: number;
  node: number;
  concurrency: number;
  restS: number;
  cpuWindowS: number;
}

interface NodeReading {
  /** childCpuCores: the processes the agent ran and reaped meanwhile (ip, nft, runc, …). */
  agent: ProcMemory & { cpuCores: number; childCpuCores: number };
  shims: GroupMemory & { cpuCores: number };
  runc: GroupMemory & { cpuCores: number };
  containers: GroupMemory;
}

export interface DensityResult {
  config: DensityConfig;
  /** First create → last pod Running (watch). */
  allRunningAfterMs: number;
  createdToRunningMs: Summary;
  empty: NodeReading;
  atRest: NodeReading;
  perPod: {
    /** Agent RSS growth per pod (at rest with N pods − empty), KiB. */
    agentRssKb: number;
    shimRssKb: number;
    shimPssKb: number;
    runcRssKb: number;
    runcPssKb: number;
  };
}

const kib = (n: number) => round(n, 0);

/** Pids of node `nodeDir`'s shims, `runc run` processes and container inits (from container.pid). */
function nodeProcesses(nodeDir: string): { shims: number[]; runc: number[]; containers: number[] } {
  const stateDir = join(nodeDir, 'runtime', 'containers');
  const shims = findProcesses((a) => a.some((x) => x.endsWith('/shim.js')) && a.some((x) => x.startsWith(`${stateDir}/`))).map((p) => p.pid);
  const runc = findProcesses((a) => a[0]!.endsWith('runc') && a.includes('run') && a.includes(join(nodeDir, 'runtime', 'runc'))).map((p) => p.pid);
  const containers: number[] = [];
  let ids: string[] = [];
  try {
    ids = readdirSync(stateDir);
  } catch {
    // No container has ever run on this node.
  }
  for (const id of ids) {
    try {
      const pid = Number(readFileSync(join(stateDir, id, 'container.pid'), 'utf8').trim());
      if (pid > 0) containers.push(pid);
    } catch {
      // Not started, or removed meanwhile.
    }
  }
  return { shims, runc, containers };
}

/** CPU over `windowS` (cores) and memory at its end, for the agent and the node's container processes. */
async function readNode(agentPid: number, nodeDir: string, windowS: number): Promise<NodeReading> {
  const before = nodeProcesses(nodeDir);
  const c0 = { agent: cpuTimes(agentPid), shims: groupCpuSeconds(before.shims), runc: groupCpuSeconds(before.runc) };
  const t0 = performance.now();
  await sleep(windowS * 1000);
  const wallS = (performance.now() - t0) / 1000;
  const cores = (s: number) => round(s / wallS, 4);
  const mem = procMemory(agentPid);
  if (!mem) throw new Error(`agent pid ${agentPid} is gone`);
  return {
    agent: { ...mem, cpuCores: cores(cpuTimes(agentPid).self - c0.agent.self), childCpuCores: cores(cpuTimes(agentPid).children - c0.agent.children) },
    shims: { ...groupMemory(before.shims), cpuCores: cores(groupCpuSeconds(before.shims) - c0.shims) },
    runc: { ...groupMemory(before.runc), cpuCores: cores(groupCpuSeconds(before.runc) - c0.runc) },
    containers: groupMemory(before.containers),
  };
}

export async function densityPhase(ctx: NodeBenchContext, cfg: DensityConfig): Promise<DensityResult> {
  const { cluster, timeline } = ctx;
  const nodeName = `node-${cfg.node}`;
  const nodeDir = cluster.nodeDir(cfg.node);
  const agentPid = cluster.agentPid(cfg.node);
  // Shims of the earlier phases' pods linger up to a couple of seconds after their containers.
  await until(`no shims left on ${nodeName} from earlier phases`, () => nodeProcesses(nodeDir).shims.length === 0, 120_000, 500);
  ctx.log(`density: ${nodeName} empty, reading the agent for ${cfg.cpuWindowS} s`);
  const empty = await readNode(agentPid, nodeDir, cfg.cpuWindowS);

  const names = podNames('dense', cfg.pods);
  const t0 = performance.timeOrigin + performance.now();
  ctx.log(`density: creating ${cfg.pods} pods on ${nodeName}`);
  const create = await createPods(ctx, names.map((n) => sleepPod(ctx, n, 'density', nodeName)), cfg.concurrency);
  if (create.failures) throw new Error(`density: ${create.failures} pod creates failed: ${create.errors.join(' | ')}`);
  await waitForPods(ctx, `${cfg.pods} pods Running on ${nodeName}`, names, (c) => c.running === cfg.pods);
  const runningAt = names.map((n) => timeline.pods.get(n)!.running!);
  const createdToRunningMs = roundSummary(summarize(names.map((n, i) => runningAt[i]! - timeline.pods.get(n)!.created!)));
  const allRunningAfterMs = round(Math.max(...runningAt) - t0);
  ctx.log(`density: all ${cfg.pods} Running after ${round(allRunningAfterMs / 1000, 1)} s; resting ${cfg.restS} s, then reading for ${cfg.cpuWindowS} s`);
  await sleep(cfg.restS * 1000);
  ctx.profiler?.start(cluster, [cfg.node]);
  const atRest = await readNode(agentPid, nodeDir, cfg.cpuWindowS);
  if (ctx.profiler) ctx.profiles.push(...(await ctx.profiler.stop(cluster, [cfg.node], 'density-at-rest')));
  if (atRest.shims.count !== cfg.pods) ctx.log(`density: expected ${cfg.pods} shims on ${nodeName}, found ${atRest.shims.count}`);
  const per = (g: GroupMemory, field: 'rssKb' | 'pssKb') => kib(g[field] / Math.max(1, g.count));
  return {
    config: cfg,
    allRunningAfterMs,
    createdToRunningMs,
    empty,
    atRest,
    perPod: {
      agentRssKb: kib((atRest.agent.rssKb - empty.agent.rssKb) / cfg.pods),
      shimRssKb: per(atRest.shims, 'rssKb'),
      shimPssKb: per(atRest.shims, 'pssKb'),
      runcRssKb: per(atRest.runc, 'rssKb'),
      runcPssKb: per(atRest.runc, 'pssKb'),
    },
  };
}
