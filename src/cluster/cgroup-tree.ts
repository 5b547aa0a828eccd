/**
 * Removal of a cluster's whole cgroup subtree (e.g. /cairn-<name>) in every hierarchy — v1
 * controllers, the named systemd one, and cgroup2 — children before parents. A cgroup with
 * processes cannot be removed; the kernel takes a moment to empty one whose processes were just
 * killed, so removal is retried for a few seconds.
 */
import { readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cgroupDirs, cgroupMounts } from '../agent/runtime/cgroups.js';

async function subdirsDeepestFirst(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) if (e.isDirectory()) out.push(...(await subdirsDeepestFirst(join(dir, e.name))));
  out.push(dir);
  return out;
}

/** Removes `cgroupPath` and everything below it in every hierarchy; returns the directories removed. */
export async function removeCgroupTree(cgroupPath: string, retryMs = 5000): Promise<string[]> {
  const removed: string[] = [];
  const deadline = Date.now() + retryMs;
  for (;;) {
    const left: string[] = [];
    for (const top of cgroupDirs(cgroupPath, cgroupMounts())) {
      for (const d of await subdirsDeepestFirst(top)) {
        try {
          await rmdir(d);
          removed.push(d);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') left.push(d);
        }
      }
    }
    if (!left.length) return removed;
    if (Date.now() > deadline) throw new Error(`cgroups still in use: ${left.join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
