/**
 * Making a filesystem on a volume's backing file (mkfs.ext4 from e2fsprogs, mkfs.xfs from
 * xfsprogs), and the sizes each needs: xfs refuses filesystems under 300 MiB.
 */
import { runStorageTool } from './run-tool.js';

export const FS_TYPES = ['ext4', 'xfs'] as const;
export type FsType = (typeof FS_TYPES)[number];

const MI = 1024 * 1024;
/** The smallest filesystem each mkfs makes. */
export const MIN_FS_BYTES: Record<FsType, number> = { ext4: 16 * MI, xfs: 300 * MI };

export const isFsType = (v: string): v is FsType => (FS_TYPES as readonly string[]).includes(v);

export interface MakeFilesystemOptions {
  /**
   * The file's blocks are preallocated and must stay so: no discard at mkfs (on a regular file
   * mke2fs's discard punches holes, undoing the preallocation), and ext4's inode tables and
   * journal zeroed now rather than by the kernel's ext4lazyinit thread after the first mount —
   * on unwritten blocks that is a few metadata calls, not I/O.
   */
  preallocated?: boolean;
}

/**
 * A new, empty filesystem on `file`. ext4 keeps no blocks reserved for root (nothing but the
 * pod writes to the volume). On a sparse file (no `preallocated`) mke2fs discards — punches the
 * whole file, which then reads as zeros — and so marks the inode tables zeroed without writing
 * them: mkfs is quick either way.
 */
export async function makeFilesystem(file: string, fsType: FsType, opts: MakeFilesystemOptions = {}): Promise<void> {
  if (fsType === 'ext4') {
    const ext = opts.preallocated ? 'nodiscard,lazy_itable_init=0,lazy_journal_init=0' : 'lazy_itable_init=1,lazy_journal_init=1';
    await runStorageTool('mkfs.ext4', ['-F', '-q', '-m', '0', '-E', ext, file], `mkfs.ext4 ${file}`);
  } else await runStorageTool('mkfs.xfs', ['-f', '-q', ...(opts.preallocated ? ['-K'] : []), file], `mkfs.xfs ${file}`);
}
