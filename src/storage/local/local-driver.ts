/**
 * `cairn.io/local`: volumes on the node's own disk with a real size limit — a sparse image file
 * per volume, ext4 (default) or xfs (`fsType: xfs`) made on it and loop-mounted, or handed to
 * the pod as a block device (volumeMode Block). Its controller calls run on the volume's node
 * (controllerScope `node`): the node's agent provisions, expands and deletes the volumes of its
 * own node; the PersistentVolume it makes carries node affinity to that node.
 *
 * Access modes: ReadWriteOnce, ReadWriteOncePod and ReadOnlyMany (readers on the one node that
 * holds the volume); ReadWriteMany is refused (a node-local disk cannot serve other nodes).
 */
import { detachLoopDevice, loopDevicesOf } from '../losetup.js';
import { mountTable } from '../../agent/mount.js';
import type { Capacity, ControllerService, CreatedVolume, CreateVolumeRequest, ExpandResult, StorageDriver } from '../driver.js';
import { StorageError } from '../errors.js';
import { LocalNodeService } from './local-node.js';
import { LocalVolumeStore } from './volume-store.js';
import { LOCAL_DRIVER_NAME, LOCAL_PROVISIONER } from '../names.js';

/** The StorageClass parameters `cairn.io/local` understands. */
export const LOCAL_PARAMETERS = ['fsType'] as const;

class LocalControllerService implements ControllerService {
  constructor(private readonly store: LocalVolumeStore) {}

  async createVolume(req: CreateVolumeRequest): Promise<CreatedVolume> {
    const v = await this.store.create(req.name, req.capacityBytes, req.capability.mode, req.capability.mode === 'Filesystem' ? req.capability.fsType : undefined);
    return {
      volumeId: v.id,
      capacityBytes: v.sizeBytes,
      volumeContext: {},
      ...(req.topology ? { accessibleTopology: [req.topology] } : {}),
    };
  }

  async deleteVolume(volumeId: string): Promise<void> {
    const image = await this.store.imagePath(volumeId);
    const devices = await loopDevicesOf(image);
    const mounts = await mountTable();
    if (devices.some((d) => mounts.some((m) => m.source === d.name)))
      throw new StorageError('FailedPrecondition', `volume ${volumeId} is still mounted on this node`);
    // Attached but unmounted: left by a stage that never finished; nothing uses it.
    for (const d of devices) await detachLoopDevice(d.name);
    await this.store.remove(volumeId);
  }

  /** The image grows here; the node then refreshes its loop device and grows the filesystem. */
  async controllerExpandVolume(volumeId: string, capacityBytes: number): Promise<ExpandResult> {
    const v = await this.store.grow(volumeId, capacityBytes);
    return { capacityBytes: v.sizeBytes, nodeExpansionRequired: true };
  }

  async getCapacity(): Promise<Capacity> {
    return this.store.capacity();
  }
}

export function localDriver(store: LocalVolumeStore): StorageDriver {
  return {
    name: LOCAL_DRIVER_NAME,
    provisioner: LOCAL_PROVISIONER,
    controllerScope: 'node',
    capabilities: { volumeModes: ['Filesystem', 'Block'], accessModes: ['ReadWriteOnce', 'ReadWriteOncePod', 'ReadOnlyMany'], parameters: LOCAL_PARAMETERS },
    controller: new LocalControllerService(store),
    node: new LocalNodeService(store),
  };
}
