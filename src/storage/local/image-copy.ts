/**
 * A point-in-time copy of a local volume's image, for snapshots and clones. A volume whose
 * filesystem is mounted on this node (staged for a pod) is frozen for the copy — writers wait,
 * everything written before is on the image — and always thawed after; an unmounted one (unused,
 * or a Block volume) has the kernel's pending writes to its image flushed first.
 */
import { open } from 'node:fs/promises';
import { mountTable } from '../../agent/mount.js';
import { copySparseFile } from '../copy-file.js';
import { withFrozenFilesystem } from '../fsfreeze.js';
import { loopDevicesOf } from '../losetup.js';

export async function copyVolumeImage(image: string, dest: string): Promise<void> {
  const devices = await loopDevicesOf(image);
  const mounted = devices.length ? (await mountTable()).find((m) => devices.some((d) => d.name === m.source)) : undefined;
  if (mounted) return withFrozenFilesystem(mounted.mountPoint, () => copySparseFile(image, dest));
  const f = await open(image, 'r');
  try {
    await f.sync();
  } finally {
    await f.close();
  }
  await copySparseFile(image, dest);
}
