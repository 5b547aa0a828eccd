/**
 * Unmounting whatever a cluster's agents left mounted under its data dir (container root
 * filesystems, tmpfs volumes), deepest first, through the agent's mount wrapper.
 */
import { mountsUnder, unmount } from '../agent/mount.js';

/** Unmounts every mount at or under `dir`, deepest (and latest) first; lazily when busy. Returns what it unmounted. */
export async function unmountAllUnder(dir: string): Promise<string[]> {
  const done: string[] = [];
  // Unmounting one can uncover another stacked on the same point: go again until none is left.
  for (let round = 0; round < 10; round++) {
    const mounts = await mountsUnder(dir);
    if (!mounts.length) return done;
    for (const m of mounts) {
      await unmount(m.mountPoint).catch(() => unmount(m.mountPoint, { lazy: true }).catch(() => undefined));
      done.push(m.mountPoint);
    }
  }
  const left = await mountsUnder(dir);
  if (left.length) throw new Error(`still mounted under ${dir}: ${left.map((m) => m.mountPoint).join(', ')}`);
  return done;
}
