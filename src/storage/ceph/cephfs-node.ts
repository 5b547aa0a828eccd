/**
 * The node service of `cairn.io/cephfs`: the volume's subvolume directory is mounted once per
 * node with `ceph-fuse` (`--client_mountpoint` the subvolume's path, as the node-stage secret's
 * user) at the staging path, and bound into each pod (read-only when the pod or the access mode
 * says so). The quota is the filesystem size `df` reports in the pod (ceph-fuse's
 * client_quota_df), so usage comes from statfs on the mount.
 */
import { rmdir } from 'node:fs/promises';
import { mountAt } from '../../agent/mount.js';
import type { NodePublishRequest, NodeService, NodeStageRequest, VolumeCapability, VolumeMode, VolumeStats } from '../driver.js';
import { StorageError } from '../errors.js';
import { filesystemStats } from '../fs-stats.js';
import { KeyedMutex } from '../keyed-mutex.js';
import { publishStaged, unpublishTarget } from '../publish.js';
import { cephUserOf } from './ceph-exec.js';
import { checkCephfsCapability } from './cephfs-controller.js';
import { parseVolumeId } from './ceph-ids.js';
import { mountCephFs, unmountFuse } from './fuse-clients.js';

const isCephFuse = async (path: string) => (await mountAt(path))?.fsType === 'fuse.ceph-fuse';

export class CephfsNodeService implements NodeService {
  private readonly locks = new KeyedMutex();

  async nodeStageVolume(req: NodeStageRequest): Promise<void> {
    checkCephfsCapability(req.capability);
    const path = req.volumeContext.subvolumePath;
    if (!path?.startsWith('/')) throw new StorageError('InvalidArgument', `volume ${req.volumeId} has no subvolumePath in its volume attributes`);
    await this.locks.run(req.volumeId, async () => {
      const ref = parseVolumeId(req.volumeId);
      const readOnly = req.capability.accessModes.length > 0 && req.capability.accessModes.every((m) => m === 'ReadOnlyMany');
      await mountCephFs(ref, cephUserOf(req.secrets, 'NodeStageVolume'), path, req.stagingPath, { readOnly });
    });
  }

  async nodeUnstageVolume(volumeId: string, stagingPath: string): Promise<void> {
    await this.locks.run(volumeId, async () => {
      await unmountFuse(stagingPath);
      await rmdir(stagingPath).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    });
  }

  async nodePublishVolume(req: NodePublishRequest): Promise<void> {
    await this.locks.run(req.volumeId, () => publishStaged(req, 'Filesystem', () => isCephFuse(req.stagingPath)));
  }

  async nodeUnpublishVolume(volumeId: string, targetPath: string): Promise<void> {
    await this.locks.run(volumeId, () => unpublishTarget(targetPath));
  }

  /** The quota was raised by the controller; the mounted client sees it without help. */
  async nodeExpandVolume(volumeId: string, stagingPath: string, _cap: VolumeCapability): Promise<{ capacityBytes: number }> {
    if (!(await isCephFuse(stagingPath))) throw new StorageError('FailedPrecondition', `volume ${volumeId} is not staged at ${stagingPath}`);
    return { capacityBytes: (await filesystemStats(stagingPath)).capacityBytes };
  }

  async nodeGetVolumeStats(_volumeId: string, volumePath: string, _mode: VolumeMode): Promise<VolumeStats> {
    return filesystemStats(volumePath);
  }

  async isStaged(_volumeId: string, stagingPath: string): Promise<boolean> {
    return isCephFuse(stagingPath);
  }
}
