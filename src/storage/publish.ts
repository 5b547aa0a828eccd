/**
 * NodePublishVolume and NodeUnpublishVolume for drivers that stage a volume once per node: the
 * pod's target is a bind of the staged filesystem (a directory) or of the staged device (the
 * device link at the staging path, bound onto a file), read-only when the pod asks. Shared by
 * every built-in driver; each checks first that the volume really is staged, in its own way.
 */
import { lstat, mkdir, readlink, rm, rmdir, writeFile } from 'node:fs/promises';
import { bindMount, mountAt, unmount } from '../agent/mount.js';
import type { NodePublishRequest, VolumeMode } from './driver.js';
import { StorageError } from './errors.js';

const exists = (p: string) => lstat(p).then(
  () => true,
  () => false,
);

export const notStaged = (volumeId: string, stagingPath: string) => new StorageError('FailedPrecondition', `volume ${volumeId} is not staged at ${stagingPath}`);

/**
 * Binds the staged volume to the pod's target (idempotent: a mounted target is done). A
 * Filesystem volume is staged when `isStaged` says so (default: something is mounted there).
 */
export async function publishStaged(req: NodePublishRequest, mode: VolumeMode, isStaged = async () => (await mountAt(req.stagingPath)) !== undefined): Promise<void> {
  if (await mountAt(req.targetPath)) return;
  if (mode === 'Block') {
    const dev = await readlink(req.stagingPath).catch(() => undefined);
    if (!dev) throw notStaged(req.volumeId, req.stagingPath);
    if (!(await exists(req.targetPath))) await writeFile(req.targetPath, '', { mode: 0o600 });
    await bindMount(dev, req.targetPath, { readOnly: req.readOnly });
    return;
  }
  if (!(await isStaged())) throw notStaged(req.volumeId, req.stagingPath);
  await mkdir(req.targetPath, { recursive: true, mode: 0o750 });
  await bindMount(req.stagingPath, req.targetPath, { readOnly: req.readOnly });
}

/** Unbinds the pod's target and removes it (gone already is success). */
export async function unpublishTarget(targetPath: string): Promise<void> {
  if (await mountAt(targetPath)) await unmount(targetPath);
  const st = await lstat(targetPath).catch(() => undefined);
  if (st?.isDirectory()) await rmdir(targetPath);
  else if (st) await rm(targetPath, { force: true });
}
