/** A mounted volume's usage as NodeGetVolumeStats reports it (statfs of the mount point). */
import { statfs } from 'node:fs/promises';
import type { VolumeStats } from './driver.js';

export async function filesystemStats(path: string): Promise<VolumeStats> {
  const s = await statfs(path);
  return {
    capacityBytes: s.blocks * s.bsize,
    availableBytes: s.bavail * s.bsize,
    usedBytes: (s.blocks - s.bfree) * s.bsize,
    inodes: s.files,
    inodesFree: s.ffree,
    inodesUsed: s.files - s.ffree,
  };
}
