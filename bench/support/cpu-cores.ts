/**
 * Where the CPU goes while a benchmark's load runs: cumulative CPU-second counters for a set of
 * processes, a pod (its cgroup, so the children a forking server starts count too) and the whole
 * machine, read at the start and end of a window and turned into cores used.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupMounts } from '../../src/agent/runtime/cgroups.js';
import { cpuSeconds } from './proc-stats.js';

export class CpuCountersError extends Error {
  override name = 'CpuCountersError';
}

/** CPU seconds used so far; NaN once what it counts is gone. */
export type CpuCounter = () => number;

/** The processes' own user+system time (a process that ended makes the reading NaN). */
export function processesCpu(pids: number[]): CpuCounter {
  return () => pids.reduce((s, pid) => s + cpuSeconds(pid), 0);
}

/**
 * A pod's CPU from its cgroup (the agent puts each pod under `.../pod<uid>`): cpuacct.usage on
 * cgroup v1, cpu.stat's usage_usec on v2. The pod's cgroup path is read from a process in it.
 */
export function podCpu(uid: string): CpuCounter {
  const mounts = cgroupMounts();
  const v1 = mounts.v1.get('cpuacct');
  const marker = `/pod${uid}`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let lines: string[];
    try {
      lines = readFileSync(`/proc/${entry}/cgroup`, 'utf8').split('\n');
    } catch {
      continue;
    }
    // "hierarchy-id:controllers:path"; v2's line is "0::path".
    const line = lines.find((l) => l.includes(marker) && (v1 ? l.split(':')[1]!.split(',').includes('cpuacct') : l.startsWith('0::')));
    if (!line) continue;
    const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
    const podPath = path.slice(0, path.indexOf(marker) + marker.length);
    if (v1) {
      const file = join(v1, podPath, 'cpuacct.usage');
      return () => Number(readFileSync(file, 'utf8')) / 1e9;
    }
    if (!mounts.v2) break;
    const file = join(mounts.v2, podPath, 'cpu.stat');
    return () => Number(/^usage_usec (\d+)$/m.exec(readFileSync(file, 'utf8'))?.[1] ?? NaN) / 1e6;
  }
  throw new CpuCountersError(`no process of pod ${uid} in a cpuacct/cgroup2 cgroup (${marker})`);
}

/** USER_HZ, /proc/stat's unit. */
const CLOCK_TICKS = 100;

/** CPU seconds the whole machine spent busy (everything but idle and iowait, softirq included). */
export const machineBusyCpu: CpuCounter = () => {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const [user, nice, system, , , irq, softirq, steal] = f;
  return (user! + nice! + system! + irq! + softirq! + steal!) / CLOCK_TICKS;
};

/** Cores each counter used from `fromMs` to `toMs` after now (CPU seconds / wall seconds). */
export async function coresDuring<K extends string>(counters: Record<K, CpuCounter>, fromMs: number, toMs: number): Promise<Record<K, number>> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const read = () => Object.fromEntries(Object.entries<CpuCounter>(counters).map(([k, c]) => [k, c()])) as Record<K, number>;
  await sleep(fromMs);
  const t0 = performance.now();
  const a = read();
  await sleep(toMs - fromMs);
  const b = read();
  const wallS = (performance.now() - t0) / 1000;
  return Object.fromEntries(Object.keys(counters).map((k) => [k, (b[k as K] - a[k as K]) / wallS])) as Record<K, number>;
}
