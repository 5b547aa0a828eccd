/**
 * The little the runtime reads from cgroups directly: where the hierarchies are mounted, the
 * OOM-kill counter of a container's memory cgroup (v1 memory.oom_control, v2 memory.events),
 * and removal of the empty cgroup directories a container leaves behind. runc does the rest.
 */
import { readFileSync, rmdirSync } from 'node:fs';
import { join, posix } from 'node:path';

export interface CgroupMounts {
  /** Controller name (memory, cpu, pids, name=systemd, ...) → v1 mount point. */
  v1: Map<string, string>;
  /** The cgroup2 mount (unified or hybrid), if any. */
  v2: string | null;
  mode: 'v1' | 'hybrid' | 'v2';
}

/** Reads the cgroup mounts from /proc/self/mountinfo (or the text given). */
export function cgroupMounts(mountinfo: string = readFileSync('/proc/self/mountinfo', 'utf8')): CgroupMounts {
  const v1 = new Map<string, string>();
  let v2: string | null = null;
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    const mountPoint = pre[4];
    if (post[0] === 'cgroup2') v2 ??= mountPoint;
    else if (post[0] === 'cgroup') {
      for (const opt of (post[2] ?? '').split(',')) {
        if (['rw', 'ro', 'relatime', 'noatime', 'nosuid', 'nodev', 'noexec', 'clone_children'].includes(opt)) continue;
        if (!v1.has(opt)) v1.set(opt, mountPoint);
      }
    }
  }
  const mode = v1.size === 0 ? 'v2' : v2 ? 'hybrid' : 'v1';
  return { v1, v2, mode };
}

/** Every directory a cgroupfs cgroupsPath names, one per hierarchy (deduplicated). */
export function cgroupDirs(cgroupsPath: string, mounts: CgroupMounts = cgroupMounts()): string[] {
  const rel = posix.normalize(`/${cgroupsPath}`);
  const dirs = new Set<string>();
  for (const mp of mounts.v1.values()) dirs.add(join(mp, rel));
  if (mounts.v2) dirs.add(join(mounts.v2, rel));
  return [...dirs];
}

/**
 * How many processes the kernel OOM-killed in this cgroup (v1: `oom_kill` of memory.oom_control,
 * kernel ≥ 4.13; v2: `oom_kill` of memory.events). null when the cgroup or counter is missing.
 */
export function readOomKillCount(cgroupsPath: string, mounts: CgroupMounts = cgroupMounts()): number | null {
  const rel = posix.normalize(`/${cgroupsPath}`);
  const candidates: string[] = [];
  const mem = mounts.v1.get('memory');
  if (mem) candidates.push(join(mem, rel, 'memory.oom_control'));
  if (mounts.v2) candidates.push(join(mounts.v2, rel, 'memory.events'));
  for (const file of candidates) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const m = /^oom_kill (\d+)$/m.exec(text);
    if (m) return Number(m[1]);
  }
  return null;
}

/**
 * Removes the cgroup `cgroupsPath` in every hierarchy, then its now-empty parents up to (not
 * including) `stopAt` — e.g. remove '/cairn/pod1/c1' stopping at '/cairn' leaves '/cairn'.
 * Pass stopAt '/' to remove every empty ancestor. Directories still in use are left alone.
 * Returns the directories removed.
 */
export function removeCgroup(cgroupsPath: string, stopAt = '/', mounts: CgroupMounts = cgroupMounts()): string[] {
  const removed: string[] = [];
  const stop = posix.normalize(`/${stopAt}`);
  let rel = posix.normalize(`/${cgroupsPath}`);
  while (rel !== '/' && rel !== stop && rel.startsWith(stop === '/' ? '/' : `${stop}/`)) {
    for (const dir of cgroupDirs(rel, mounts)) {
      try {
        rmdirSync(dir);
        removed.push(dir);
      } catch {
        /* missing, busy or has children: leave it */
      }
    }
    rel = posix.dirname(rel);
  }
  return removed;
}
