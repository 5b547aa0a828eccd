/**
 * The node service of `cairn.io/local`: a volume's image is attached to a loop device once per
 * node (stage) — mounted at the staging directory for Filesystem volumes, linked from the staging
 * path for Block ones — and bound into each pod that uses it (publish).
 *
 * Everything is found again from the kernel (the loop devices of an image, the mount table), so
 * each call is idempotent and an agent killed half-way through finishes the job on its next
 * try: an attached loop device is reused, never attached twice; a failed stage detaches what it
 * attached; unstage detaches every loop device of the image.
 */
import { lstat, readlink, rm, rmdir } from 'node:fs/promises';
import { mountAt, mountTable } from '../../agent/mount.js';
import type { NodePublishRequest, NodeService, NodeStageRequest, VolumeCapability, VolumeMode, VolumeStats } from '../driver.js';
import { StorageError } from '../errors.js';
import { filesystemStats } from '../fs-stats.js';
import { growMountedFilesystem, OnlineResizeRefused } from '../fs-resize.js';
import { KeyedMutex } from '../keyed-mutex.js';
import { publishStaged, unpublishTarget } from '../publish.js';
import { linkStagedDevice, mountStagedFilesystem, unmountStaging } from '../staging.js';
import { attachLoopDevice, detachLoopDevice, loopDevicesOf, refreshLoopCapacity } from '../losetup.js';
import type { LocalVolume, LocalVolumeStore } from './volume-store.js';

export class LocalNodeService implements NodeService {
  private readonly locks = new KeyedMutex();

  constructor(private readonly store: LocalVolumeStore) {}

  async nodeStageVolume(req: NodeStageRequest): Promise<void> {
    await this.locks.run(req.volumeId, async () => {
      const v = await this.volume(req.volumeId, req.capability);
      if (v.mode === 'Block') {
        const dev = await this.device(v);
        await refreshLoopCapacity(dev);
        await linkStagedDevice(dev, req.stagingPath);
        return;
      }
      if (await mountAt(req.stagingPath)) return;
      const attachedBefore = (await loopDevicesOf(v.image)).length > 0;
      const dev = await this.device(v);
      try {
        await refreshLoopCapacity(dev);
        await mountStagedFilesystem({ dev, fsType: v.fsType!, stagingPath: req.stagingPath, sizeBytes: v.sizeBytes, mountFlags: req.capability.mountFlags });
      } catch (e) {
        if (!attachedBefore) await this.detachAll(v.image).catch(() => undefined);
        throw e;
      }
    });
  }

  async nodeUnstageVolume(volumeId: string, stagingPath: string): Promise<void> {
    await this.locks.run(volumeId, async () => {
      await unmountStaging(volumeId, stagingPath);
      const st = await lstat(stagingPath).catch(() => undefined);
      if (st?.isDirectory()) await rmdir(stagingPath);
      else if (st) await rm(stagingPath, { force: true });
      await this.detachAll(await this.store.imagePath(volumeId));
    });
  }

  async nodePublishVolume(req: NodePublishRequest): Promise<void> {
    await this.locks.run(req.volumeId, async () => {
      const v = await this.volume(req.volumeId, req.capability);
      await publishStaged(req, v.mode);
    });
  }

  async nodeUnpublishVolume(volumeId: string, targetPath: string): Promise<void> {
    await this.locks.run(volumeId, () => unpublishTarget(targetPath));
  }

  async nodeExpandVolume(volumeId: string, stagingPath: string, capability: VolumeCapability): Promise<{ capacityBytes: number }> {
    return this.locks.run(volumeId, async () => {
      const v = await this.volume(volumeId, capability);
      const [dev] = await loopDevicesOf(v.image);
      if (!dev) throw new StorageError('FailedPrecondition', `volume ${volumeId} is not staged on this node`);
      await refreshLoopCapacity(dev.name);
      if (v.mode === 'Filesystem') {
        if (!(await mountAt(stagingPath))) throw new StorageError('FailedPrecondition', `volume ${volumeId} is not staged at ${stagingPath}`);
        try {
          await growMountedFilesystem(v.fsType!, dev.name, stagingPath);
        } catch (e) {
          if (e instanceof OnlineResizeRefused)
            throw new StorageError('FailedPrecondition', `the kernel refused to grow the mounted ext4 filesystem of volume ${volumeId} (the agent lacks CAP_SYS_RESOURCE); it grows when the volume is next staged`);
          throw e;
        }
      }
      return { capacityBytes: v.sizeBytes };
    });
  }

  async nodeGetVolumeStats(volumeId: string, volumePath: string, mode: VolumeMode): Promise<VolumeStats> {
    if (mode === 'Filesystem') return filesystemStats(volumePath);
    const v = await this.store.get(volumeId);
    if (!v) throw new StorageError('NotFound', `volume ${volumeId} not found on this node`);
    return { capacityBytes: v.sizeBytes };
  }

  async isStaged(volumeId: string, stagingPath: string): Promise<boolean> {
    const image = await this.store.imagePath(volumeId);
    const devices = await loopDevicesOf(image);
    if (!devices.length) return false;
    const link = await readlink(stagingPath).catch(() => undefined);
    if (link) return devices.some((d) => d.name === link);
    return (await mountTable()).some((m) => m.mountPoint === stagingPath && devices.some((d) => d.name === m.source));
  }

  private async volume(id: string, capability: VolumeCapability): Promise<LocalVolume> {
    const v = await this.store.get(id);
    if (!v) throw new StorageError('NotFound', `volume ${id} not found on this node`);
    if (v.mode !== capability.mode) throw new StorageError('InvalidArgument', `volume ${id} is a ${v.mode} volume, not ${capability.mode}`);
    return v;
  }

  /**
   * The loop device the image is attached to, attaching it when it is not: always with 512-byte
   * sectors, which every filesystem and partition table on the image was made for, whatever the
   * filesystem under the store says about the file (see AttachOptions.sectorSize).
   */
  private async device(v: LocalVolume): Promise<string> {
    const [found] = await loopDevicesOf(v.image);
    return found?.name ?? attachLoopDevice(v.image, { directIO: true, sectorSize: 512 });
  }

  private async detachAll(image: string): Promise<void> {
    for (const d of await loopDevicesOf(image)) await detachLoopDevice(d.name);
  }
}
