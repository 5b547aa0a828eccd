/**
 * `cairn.io/local`: volumes on the node's own disk with a real size limit — a sparse image file
 * per volume, ext4 (default) or xfs (`fsType: xfs`) made on it and loop-mounted, or handed to
 * the pod as a block device (volumeMode Block). Its controller calls run on the volume's node
 * (controllerScope `node`): the node's agent provisions, expands and deletes the volumes of its
 * own node; the PersistentVolume it makes carries node affinity to that node.
 *
 * Access modes: ReadWriteOnce, ReadWriteOncePod and ReadOnlyMany (readers on the one node that
 * holds the volume); ReadWriteMany is refused (a node-local disk cannot serve other nodes).
 *
 * Snapshots are point-in-time copies of the image on the same node (snapshot-store.ts); a
 * restore or a clone is a new volume made as a copy of a snapshot or of another volume of this
 * node, with the source's volume mode and filesystem, grown to the requested size.
 */
import { detachLoopDevice, loopDevicesOf } from '../losetup.js';
import { mountTable } from '../../agent/mount.js';
import type { Capacity, ControllerService, CreatedSnapshot, CreatedVolume, CreateSnapshotRequest, CreateVolumeRequest, ExpandResult, StorageDriver } from '../driver.js';
import { StorageError } from '../errors.js';
import { LocalNodeService } from './local-node.js';
import { copyVolumeImage } from './image-copy.js';
import { type LocalSnapshot, LocalSnapshotStore } from './snapshot-store.js';
import { type LocalVolume, LocalVolumeStore } from './volume-store.js';
import { copySparseFile } from '../copy-file.js';
import { LOCAL_DRIVER_NAME, LOCAL_PROVISIONER } from '../names.js';

/** The StorageClass parameters `cairn.io/local` understands. */
export const LOCAL_PARAMETERS = ['fsType'] as const;

const snapshotOf = (s: LocalSnapshot): CreatedSnapshot => ({ snapshotId: s.id, sourceVolumeId: s.sourceVolumeId, sizeBytes: s.sizeBytes, creationTime: s.creationTime, readyToUse: true });

class LocalControllerService implements ControllerService {
  private readonly snapshots: LocalSnapshotStore;

  constructor(private readonly store: LocalVolumeStore) {
    this.snapshots = new LocalSnapshotStore(store);
  }

  async createVolume(req: CreateVolumeRequest): Promise<CreatedVolume> {
    const v = req.contentSource ? await this.createCopy(req) : await this.store.create(req.name, req.capacityBytes, req.capability.mode, req.capability.mode === 'Filesystem' ? req.capability.fsType : undefined);
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

  async createSnapshot(req: CreateSnapshotRequest): Promise<CreatedSnapshot> {
    return snapshotOf(await this.snapshots.create(req.name, req.sourceVolumeId));
  }

  async deleteSnapshot(snapshotId: string): Promise<void> {
    await this.snapshots.remove(snapshotId);
  }

  /** A restore (from a snapshot of this node) or a clone (of a volume of this node). */
  private async createCopy(req: CreateVolumeRequest): Promise<LocalVolume> {
    const src = req.contentSource!;
    const from = 'snapshotId' in src ? await this.snapshots.get(src.snapshotId) : await this.store.get(src.volumeId);
    const what = 'snapshotId' in src ? `snapshot ${src.snapshotId}` : `volume ${src.volumeId}`;
    if (!from) throw new StorageError('NotFound', `source ${what} not found on this node`);
    if (from.mode !== req.capability.mode) throw new StorageError('InvalidArgument', `source ${what} is a ${from.mode} volume, not ${req.capability.mode}`);
    if (req.capacityBytes < from.sizeBytes) throw new StorageError('OutOfRange', `requested size ${req.capacityBytes} is smaller than the ${from.sizeBytes} bytes of source ${what}`);
    // The copy keeps the source's filesystem, whatever the class says.
    const fill = 'snapshotId' in src ? (dest: string) => copySparseFile(from.image, dest) : (dest: string) => copyVolumeImage(from.image, dest);
    return this.store.createCopy(req.name, req.capacityBytes, from.mode, from.fsType, from.sizeBytes, fill);
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
