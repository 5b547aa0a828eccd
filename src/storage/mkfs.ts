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

/**
 * A new, empty filesystem on `file`. ext4 keeps no blocks reserved for root (nothing but the
 * pod writes to the volume) and initializes its inode tables lazily, so mkfs is quick.
 */
export async function makeFilesystem(file: string, fsType: FsType): Promise<void> {
  if (fsType === 'ext4') await runStorageTool('mkfs.ext4', ['-F', '-q', '-m', '0', '-E', 'lazy_itable_init=1,lazy_journal_init=1', file], `mkfs.ext4 ${file}`);
  else await runStorageTool('mkfs.xfs', ['-f', '-q', file], `mkfs.xfs ${file}`);
}
