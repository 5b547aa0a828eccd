/**
 * The node service of `cairn.io/ceph-rbd` on a kernel without rbd or nbd: the image is reached
 * through librbd — an `rbd-fuse` mount exposing the one image as a file (in `rbd-fuse/` beside
 * the staging path, inside the volume's staging dir) — and a loop device on that file (without
 * direct I/O, which FUSE files do not offer). Filesystem volumes get a filesystem on the loop
 * device the first time any node stages them (ext4 by default, xfs by `fsType`), mounted at the
 * staging path and bound into pods; Block volumes hand the loop device itself to the pod.
 *
 * State is read back from the kernel (mount table, `losetup --list`), so every call is
 * idempotent and a restarted agent unstages what an earlier one staged.
 */
import { lstat, readlink, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { mountAt } from '../../agent/mount.js';
import type { NodePublishRequest, NodeService, NodeStageRequest, VolumeCapability, VolumeMode, VolumeStats } from '../driver.js';
import { StorageError } from '../errors.js';
import { growMountedFilesystem, OnlineResizeRefused } from '../fs-resize.js';
import { filesystemStats } from '../fs-stats.js';
import { KeyedMutex } from '../keyed-mutex.js';
import { publishStaged, unpublishTarget } from '../publish.js';
import { linkStagedDevice, mountStagedFilesystem, unmountStaging } from '../staging.js';
import { attachLoopDevice, detachLoopDevice, listLoopDevices, loopDevicesOf, refreshLoopCapacity } from '../losetup.js';
import { isFsType, makeFilesystem } from '../mkfs.js';
import { filesystemOn } from './blkid.js';
import { cephUserOf } from './ceph-exec.js';
import { parseVolumeId } from './ceph-ids.js';
import { mountRbdImage, unmountFuse } from './fuse-clients.js';

/** Where the image's rbd-fuse mount lives for a staging path. */
const fuseDirOf = (stagingPath: string) => join(dirname(stagingPath), 'rbd-fuse');
const readOnlyOnly = (cap: VolumeCapability) => cap.accessModes.length > 0 && cap.accessModes.every((m) => m === 'ReadOnlyMany');

export class RbdNodeService implements NodeService {
  private readonly locks = new KeyedMutex();

  async nodeStageVolume(req: NodeStageRequest): Promise<void> {
    await this.locks.run(req.volumeId, async () => {
      const ref = parseVolumeId(req.volumeId);
      if (req.capability.mode === 'Filesystem' && (await mountAt(req.stagingPath))) return;
      const fuseDir = fuseDirOf(req.stagingPath);
      const fuseBefore = !!(await mountAt(fuseDir));
      try {
        const file = await mountRbdImage(ref, cephUserOf(req.secrets, 'NodeStageVolume'), ref.container, ref.name, fuseDir);
        const [found] = await loopDevicesOf(file);
        const dev = found?.name ?? (await attachLoopDevice(file));
        if (req.capability.mode === 'Block') {
          await linkStagedDevice(dev, req.stagingPath);
          return;
        }
        await refreshLoopCapacity(dev);
        const fsType = (await filesystemOn(dev)) ?? (await this.format(dev, req.capability));
        const writable = !readOnlyOnly(req.capability);
        // A volume grown while no node had it staged (or restored into a larger one) grows now.
        await mountStagedFilesystem({ dev, fsType, stagingPath: req.stagingPath, sizeBytes: (await stat(file)).size, mountFlags: req.capability.mountFlags, readOnly: !writable });
      } catch (e) {
        if (!fuseBefore) await this.release(req.stagingPath).catch(() => undefined);
        throw e;
      }
    });
  }

  private async format(dev: string, cap: VolumeCapability): Promise<string> {
    const fsType = cap.fsType ?? 'ext4';
    if (readOnlyOnly(cap)) throw new StorageError('FailedPrecondition', `a ReadOnlyMany volume must already hold a filesystem (restore or clone it from a snapshot or volume)`);
    await makeFilesystem(dev, fsType);
    return fsType;
  }

  async nodeUnstageVolume(volumeId: string, stagingPath: string): Promise<void> {
    await this.locks.run(volumeId, async () => {
      await unmountStaging(volumeId, stagingPath);
      await this.release(stagingPath);
    });
  }

  /** Removes the staging path, the loop device and the rbd-fuse mount (in that order). */
  private async release(stagingPath: string): Promise<void> {
    const st = await lstat(stagingPath).catch(() => undefined);
    if (st?.isDirectory()) await rmdir(stagingPath);
    else if (st) await rm(stagingPath, { force: true });
    const fuseDir = fuseDirOf(stagingPath);
    for (const d of await listLoopDevices()) if (d.backFile.startsWith(`${fuseDir}/`)) await detachLoopDevice(d.name);
    await unmountFuse(fuseDir);
    await rmdir(fuseDir).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  async nodePublishVolume(req: NodePublishRequest): Promise<void> {
    await this.locks.run(req.volumeId, () => publishStaged(req, req.capability.mode));
  }

  async nodeUnpublishVolume(volumeId: string, targetPath: string): Promise<void> {
    await this.locks.run(volumeId, () => unpublishTarget(targetPath));
  }

  async nodeExpandVolume(volumeId: string, stagingPath: string, capability: VolumeCapability): Promise<{ capacityBytes: number }> {
    return this.locks.run(volumeId, async () => {
      const ref = parseVolumeId(volumeId);
      const file = join(fuseDirOf(stagingPath), ref.name);
      const [dev] = await loopDevicesOf(file);
      if (!dev) throw new StorageError('FailedPrecondition', `volume ${volumeId} is not staged on this node`);
      await refreshLoopCapacity(dev.name);
      if (capability.mode === 'Filesystem') {
        const m = await mountAt(stagingPath);
        if (!m || !isFsType(m.fsType)) throw new StorageError('FailedPrecondition', `volume ${volumeId} is not staged at ${stagingPath}`);
        try {
          await growMountedFilesystem(m.fsType, dev.name, stagingPath);
        } catch (e) {
          if (e instanceof OnlineResizeRefused)
            throw new StorageError('FailedPrecondition', `the kernel refused to grow the mounted ext4 filesystem of volume ${volumeId} (the agent lacks CAP_SYS_RESOURCE); it grows when the volume is next staged`);
          throw e;
        }
      }
      return { capacityBytes: (await stat(file)).size };
    });
  }

  async nodeGetVolumeStats(volumeId: string, volumePath: string, mode: VolumeMode): Promise<VolumeStats> {
    if (mode === 'Filesystem') return filesystemStats(volumePath);
    const dev = await readlink(volumePath).catch(() => undefined);
    const loop = dev && (await listLoopDevices()).find((d) => d.name === dev);
    if (!loop) throw new StorageError('NotFound', `volume ${volumeId} is not staged at ${volumePath}`);
    return { capacityBytes: (await stat(loop.backFile)).size };
  }

  async isStaged(volumeId: string, stagingPath: string): Promise<boolean> {
    const ref = parseVolumeId(volumeId);
    const devices = await loopDevicesOf(join(fuseDirOf(stagingPath), ref.name));
    if (!devices.length) return false;
    const link = await readlink(stagingPath).catch(() => undefined);
    if (link) return devices.some((d) => d.name === link);
    const m = await mountAt(stagingPath);
    return !!m && devices.some((d) => d.name === m.source);
  }
}
