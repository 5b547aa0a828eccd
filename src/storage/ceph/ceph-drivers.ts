/**
 * The two Ceph drivers, as StorageClass provisioners:
 *
 * - `cairn.io/ceph-rbd` (CSI name `rbd.ceph.cairn.io`): RBD images, Filesystem (ext4, xfs) or
 *   Block; ReadWriteOnce, ReadWriteOncePod, ReadOnlyMany, and ReadWriteMany for Block only.
 * - `cairn.io/cephfs` (CSI name `cephfs.ceph.cairn.io`): CephFS subvolumes, Filesystem only;
 *   every access mode.
 *
 * Their controller calls run once for the cluster (controllerScope `cluster`, in the controller
 * manager: cluster-storage.ts); their node services run in every node agent.
 */
import type { StorageDriver } from '../driver.js';
import { CephfsController } from './cephfs-controller.js';
import { CephfsNodeService } from './cephfs-node.js';
import { RbdController } from './rbd-controller.js';
import { RbdNodeService } from './rbd-node.js';

export const RBD_PROVISIONER = 'cairn.io/ceph-rbd';
export const RBD_DRIVER_NAME = 'rbd.ceph.cairn.io';
export const CEPHFS_PROVISIONER = 'cairn.io/cephfs';
export const CEPHFS_DRIVER_NAME = 'cephfs.ceph.cairn.io';

/** ceph-csi's parameter names, plus `monitors` (see ceph-ids.ts); fsType as the local driver takes it. */
export const RBD_PARAMETERS = ['clusterID', 'pool', 'monitors', 'imageFeatures', 'fsType'] as const;
export const CEPHFS_PARAMETERS = ['clusterID', 'fsName', 'monitors', 'pool'] as const;

export function rbdDriver(): StorageDriver {
  return {
    name: RBD_DRIVER_NAME,
    provisioner: RBD_PROVISIONER,
    controllerScope: 'cluster',
    capabilities: { volumeModes: ['Filesystem', 'Block'], accessModes: ['ReadWriteOnce', 'ReadWriteOncePod', 'ReadOnlyMany', 'ReadWriteMany'], parameters: RBD_PARAMETERS },
    controller: new RbdController(),
    node: new RbdNodeService(),
  };
}

export function cephfsDriver(): StorageDriver {
  return {
    name: CEPHFS_DRIVER_NAME,
    provisioner: CEPHFS_PROVISIONER,
    controllerScope: 'cluster',
    capabilities: { volumeModes: ['Filesystem'], accessModes: ['ReadWriteOnce', 'ReadWriteOncePod', 'ReadOnlyMany', 'ReadWriteMany'], parameters: CEPHFS_PARAMETERS },
    controller: new CephfsController(),
    node: new CephfsNodeService(),
  };
}

/** Both Ceph drivers, fresh (each holds its own per-volume locks). */
export const cephDrivers = (): StorageDriver[] => [rbdDriver(), cephfsDriver()];
