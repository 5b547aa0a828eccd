/**
 * Node pressure from the kubelet's hard-eviction defaults: MemoryPressure when memory.available
 * < 100Mi, DiskPressure when the data dir's filesystem (nodefs) has < 10% space or < 5% inodes
 * free, PIDPressure when fewer than 10% of pid_max are free. Signals are computed as the kubelet
 * does: memory.available = MemTotal − working set of the root memory cgroup (usage −
 * inactive_file; MemAvailable where there is no v1 memory cgroup), pids in use = the kernel's
 * thread count (sysinfo procs, the second number of /proc/loadavg's 4th field).
 * A pressure condition stays true for the eviction pressure transition period (5 min) after the
 * signal was last over its threshold, as the kubelet's, so it does not flap.
 */
import { readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { cgroupMounts } from '../runtime/cgroups.js';
import { MI } from './quantity.js';
import { parseLoadavgThreads, parseMeminfo, parseMemoryStat } from './proc-parsers.js';

export const EVICTION_HARD = {
  memoryAvailableBytes: 100 * MI,
  nodefsAvailablePercent: 10,
  nodefsInodesFreePercent: 5,
  pidAvailablePercent: 10,
} as const;

/** The kubelet's --eviction-pressure-transition-period default. */
export const PRESSURE_TRANSITION_PERIOD_MS = 5 * 60_000;

export interface PressureReadings {
  memoryAvailableBytes: number;
  nodefs: { availableBytes: number; capacityBytes: number; inodesFree: number; inodes: number };
  pids: { max: number; inUse: number };
}

export interface Pressure {
  memory: boolean;
  disk: boolean;
  pid: boolean;
}

export function evaluatePressure(r: PressureReadings): Pressure {
  const below = (value: number, total: number, percent: number) => total > 0 && value * 100 < total * percent;
  return {
    memory: r.memoryAvailableBytes < EVICTION_HARD.memoryAvailableBytes,
    disk:
      below(r.nodefs.availableBytes, r.nodefs.capacityBytes, EVICTION_HARD.nodefsAvailablePercent) ||
      below(r.nodefs.inodesFree, r.nodefs.inodes, EVICTION_HARD.nodefsInodesFreePercent),
    pid: below(r.pids.max - r.pids.inUse, r.pids.max, EVICTION_HARD.pidAvailablePercent),
  };
}

/** Keeps each pressure true until PRESSURE_TRANSITION_PERIOD_MS after it was last observed. */
export class PressureTracker {
  private readonly lastSeen: Partial<Record<keyof Pressure, number>> = {};

  constructor(private readonly periodMs = PRESSURE_TRANSITION_PERIOD_MS) {}

  observe(p: Pressure, now: number): Pressure {
    const out = { ...p };
    for (const k of ['memory', 'disk', 'pid'] as const) {
      if (p[k]) this.lastSeen[k] = now;
      else if (this.lastSeen[k] !== undefined && now - this.lastSeen[k]! < this.periodMs) out[k] = true;
    }
    return out;
  }
}

/**
 * memory.available as the kubelet's eviction manager sees it: capacity minus the root cgroup's
 * working set when that cgroup is known, else the kernel's MemAvailable.
 */
export function memoryAvailableBytes(memTotal: number, rootCgroup: { usageBytes: number; inactiveFileBytes: number } | undefined, memAvailable: number): number {
  if (!rootCgroup) return memAvailable;
  const workingSet = Math.max(0, rootCgroup.usageBytes - rootCgroup.inactiveFileBytes);
  return Math.max(0, memTotal - workingSet);
}

async function rootMemoryCgroup(): Promise<{ usageBytes: number; inactiveFileBytes: number } | undefined> {
  const mem = cgroupMounts().v1.get('memory');
  if (!mem) return undefined;
  try {
    const usageBytes = Number((await readFile(join(mem, 'memory.usage_in_bytes'), 'utf8')).trim());
    const stat = parseMemoryStat(await readFile(join(mem, 'memory.stat'), 'utf8'));
    return { usageBytes, inactiveFileBytes: stat.get('total_inactive_file') ?? 0 };
  } catch {
    return undefined;
  }
}

/** The signals, read now. `dataDir` is the nodefs (the filesystem holding the agent's state and pods). */
export async function readPressure(dataDir: string): Promise<PressureReadings> {
  const mem = parseMeminfo(await readFile('/proc/meminfo', 'utf8'));
  const memTotal = mem.get('MemTotal') ?? 0;
  const fs = await statfs(dataDir);
  return {
    memoryAvailableBytes: memoryAvailableBytes(memTotal, await rootMemoryCgroup(), mem.get('MemAvailable') ?? memTotal),
    nodefs: { availableBytes: fs.bavail * fs.bsize, capacityBytes: fs.blocks * fs.bsize, inodesFree: fs.ffree, inodes: fs.files },
    pids: {
      max: Number((await readFile('/proc/sys/kernel/pid_max', 'utf8')).trim()),
      inUse: parseLoadavgThreads(await readFile('/proc/loadavg', 'utf8')),
    },
  };
}
