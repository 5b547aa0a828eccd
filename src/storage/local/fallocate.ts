/**
 * The one wrapper around fallocate(1) (util-linux): reserves a range of a volume image's blocks
 * on the node's disk (growing the file when the range ends past it). The blocks are allocated
 * but unwritten — they read as zeros and cost no I/O — so a 4 GiB image takes milliseconds, and
 * the volume can no longer fail with an I/O error inside the pod because the node's disk filled
 * up after the volume was made (what a sparse image risks).
 */
import { StorageToolError } from '../errors.js';
import { runStorageTool } from '../run-tool.js';

/**
 * Allocates `length` bytes of `file` from `offset`. False when the filesystem under it cannot
 * preallocate (EOPNOTSUPP, e.g. ZFS): the caller keeps the image sparse. Running out of space
 * throws (its message says "No space left on device").
 */
export async function allocateFileRange(file: string, offset: number, length: number): Promise<boolean> {
  try {
    await runStorageTool('fallocate', ['--offset', String(offset), '--length', String(length), '--', file], `fallocate ${file}`);
    return true;
  } catch (e) {
    if (e instanceof StorageToolError && /Operation not supported/i.test(e.stderr)) return false;
    throw e;
  }
}
