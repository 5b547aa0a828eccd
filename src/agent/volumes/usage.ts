/**
 * Disk usage of a volume as the kubelet measures emptyDir (fs.DiskUsage): allocated blocks of
 * everything below the path, hard links counted once, not crossing into other mounts.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export async function diskUsageBytes(path: string): Promise<number> {
  const top = await lstat(path);
  const seen = new Set<number>();
  let bytes = 0;
  const visit = async (p: string): Promise<void> => {
    let st;
    let names: string[] = [];
    try {
      st = await lstat(p);
      if (st.isDirectory()) {
        if (st.dev !== top.dev) return;
        names = await readdir(p);
      }
    } catch (e) {
      // Removed while we walk: it uses nothing any more.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    if (st.nlink > 1 && !st.isDirectory()) {
      if (seen.has(st.ino)) return;
      seen.add(st.ino);
    }
    bytes += st.blocks * 512;
    for (const name of names) await visit(join(p, name));
  };
  await visit(path);
  return bytes;
}
