/**
 * Copies a volume image with cp(1): a reflink (a copy-on-write clone, instant) where the
 * filesystem under the store supports it (btrfs, xfs with reflink), else a copy that keeps the
 * image sparse (holes are not written out, so a mostly empty 1 GiB volume copies in moments and
 * takes only the space of its data).
 */
import { runStorageTool } from './run-tool.js';

export async function copySparseFile(source: string, dest: string): Promise<void> {
  await runStorageTool('cp', ['--reflink=auto', '--sparse=always', '--', source, dest], `copy ${source}`, { timeoutMs: 600_000 });
}
