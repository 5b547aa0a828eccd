/**
 * The NodeStageVolume steps every loop-device-backed driver shares: a Block volume's staging path
 * is a link to its device; a Filesystem volume's device is mounted there, grown first to the
 * size of what backs it (ext4 offline before the mount — online growth needs CAP_SYS_RESOURCE,
 * which the agent lacks here — and xfs once mounted); unstaging unmounts, or says the volume is
 * busy.
 */
import { mkdir, readlink, rm, symlink } from 'node:fs/promises';
import { mount, mountAt, unmount } from '../agent/mount.js';
import { StorageError } from './errors.js';
import { ext4Bytes, growExt4Offline, growMountedFilesystem } from './fs-resize.js';
import type { FsType } from './mkfs.js';

/** Points the staging path at the device (idempotent). */
export async function linkStagedDevice(dev: string, stagingPath: string): Promise<void> {
  if ((await readlink(stagingPath).catch(() => '')) === dev) return;
  await rm(stagingPath, { force: true });
  await symlink(dev, stagingPath);
}

export interface MountStagedOptions {
  dev: string;
  /** ext4 and xfs are grown; another filesystem found on the device is mounted as it is. */
  fsType: FsType | string;
  stagingPath: string;
  /** The size of what backs the device: the filesystem grows to it. */
  sizeBytes: number;
  mountFlags?: string[];
  /** Read-only: neither grown nor mounted writable. */
  readOnly?: boolean;
}

/** Grows the filesystem to its device if it is smaller, and mounts it at the staging path. */
export async function mountStagedFilesystem(o: MountStagedOptions): Promise<void> {
  if (!o.readOnly && o.fsType === 'ext4' && (await ext4Bytes(o.dev)) < o.sizeBytes) await growExt4Offline(o.dev);
  await mkdir(o.stagingPath, { recursive: true, mode: 0o750 });
  await mount({ type: o.fsType, source: o.dev, target: o.stagingPath, options: [...(o.mountFlags ?? []), ...(o.readOnly ? ['ro'] : [])] });
  if (!o.readOnly && o.fsType === 'xfs') await growMountedFilesystem('xfs', o.dev, o.stagingPath);
}

/** Unmounts the staging path (nothing mounted is success); a busy mount is FailedPrecondition. */
export async function unmountStaging(volumeId: string, stagingPath: string): Promise<void> {
  if (!(await mountAt(stagingPath))) return;
  try {
    await unmount(stagingPath);
  } catch (e) {
    throw new StorageError('FailedPrecondition', `volume ${volumeId} is busy at ${stagingPath}: ${(e as Error).message}`);
  }
}
