/**
 * Growing a volume's filesystem to its device's new size: online (mounted) with resize2fs or
 * xfs_growfs, and offline for ext4 (e2fsck, then resize2fs on the unmounted image). Online ext4
 * growth needs CAP_SYS_RESOURCE; where the agent lacks it the kernel says EPERM and the
 * filesystem is grown offline at the volume's next stage instead — upstream's "restart the pod
 * to finish the resize" path.
 */
import { StorageToolError } from './errors.js';
import type { FsType } from './mkfs.js';
import { runStorageTool } from './run-tool.js';

/** The kernel refused an online ext4 resize (no CAP_SYS_RESOURCE). */
export class OnlineResizeRefused extends Error {
  override name = 'OnlineResizeRefused';
}

/** Grows the mounted filesystem on `device` (mounted at `mountPoint`) to the device's size. */
export async function growMountedFilesystem(fsType: FsType, device: string, mountPoint: string): Promise<void> {
  if (fsType === 'xfs') {
    await runStorageTool('xfs_growfs', [mountPoint], `xfs_growfs ${mountPoint}`);
    return;
  }
  try {
    await runStorageTool('resize2fs', [device], `resize2fs ${device}`);
  } catch (e) {
    if (e instanceof StorageToolError && /Permission denied to resize filesystem/.test(e.stderr)) throw new OnlineResizeRefused(e.message);
    throw e;
  }
}

/** The size of the ext4 filesystem in `image` (block count × block size), from dumpe2fs. */
export async function ext4Bytes(image: string): Promise<number> {
  const out = await runStorageTool('dumpe2fs', ['-h', image], `dumpe2fs ${image}`);
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(out)?.[1]);
  const bytes = field('Block count') * field('Block size');
  if (!Number.isSafeInteger(bytes)) throw new StorageToolError(`dumpe2fs ${image}: no block count in its output`, ['dumpe2fs', '-h', image], out, 0);
  return bytes;
}

/** Grows the unmounted ext4 filesystem in `image` to the file's size (checked first, as resize2fs demands). */
export async function growExt4Offline(image: string): Promise<void> {
  // e2fsck -p exits 1 when it fixed something, which is fine here.
  await runStorageTool('e2fsck', ['-f', '-p', image], `e2fsck ${image}`, { okCodes: [0, 1] });
  await runStorageTool('resize2fs', [image], `resize2fs ${image}`);
}
