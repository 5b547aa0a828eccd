/**
 * Process readings from /proc for the node benchmark: which processes belong to a node (by
 * command line), their resident memory (RSS, and PSS, which splits shared pages — the dozens of
 * identical Node shims share most of their text), and CPU time.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: /proc's unit of CPU time (100 on Linux everywhere that matters). */
const CLOCK_TICKS = 100;

export interface ProcMemory {
  /** VmRSS, KiB. */
  rssKb: number;
  /** Pss from smaps_rollup, KiB (shared pages divided among their users). */
  pssKb: number;
}

export interface ProcInfo {
  pid: number;
  args: string[];
}

/** Every process whose argv satisfies `match` (never this process). */
export function findProcesses(match: (args: string[]) => boolean): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (args.length && match(args)) out.push({ pid: Number(entry), args });
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

/** Memory of one process; undefined when it is gone. */
export function procMemory(pid: number): ProcMemory | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return { rssKb: Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0), pssKb: Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0) };
  } catch {
    return undefined;
  }
}

export interface GroupMemory {
  count: number;
  rssKb: number;
  pssKb: number;
}

/** Summed memory of processes (those that vanished meanwhile are not counted). */
export function groupMemory(pids: number[]): GroupMemory {
  const g: GroupMemory = { count: 0, rssKb: 0, pssKb: 0 };
  for (const pid of pids) {
    const m = procMemory(pid);
    if (!m) continue;
    g.count++;
    g.rssKb += m.rssKb;
    g.pssKb += m.pssKb;
  }
  return g;
}

export interface CpuTimes {
  /** The process's own user+system seconds. */
  self: number;
  /** User+system seconds of its children that ended and were reaped (cutime+cstime): the `ip`, `runc`, `nft`, … it ran. */
  children: number;
}

/** CPU times of a process (NaN once it is gone). */
export function cpuTimes(pid: number): CpuTimes {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime, stime, cutime, cstime are fields 14–17.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    return { self: (f[11]! + f[12]!) / CLOCK_TICKS, children: (f[13]! + f[14]!) / CLOCK_TICKS };
  } catch {
    return { self: NaN, children: NaN };
  }
}

/** CPU seconds (user+system) of a process itself, or NaN once it is gone. */
export function cpuSeconds(pid: number): number {
  return cpuTimes(pid).self;
}

/** CPU seconds summed over processes (gone ones count 0). */
export function groupCpuSeconds(pids: number[]): number {
  let s = 0;
  for (const pid of pids) {
    const v = cpuSeconds(pid);
    if (Number.isFinite(v)) s += v;
  }
  return s;
}
