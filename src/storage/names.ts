/**
 * Names of Cairn's built-in storage: the StorageClass provisioner a driver serves, the CSI
 * driver name its PersistentVolumes carry (a DNS subdomain, as CSIDriver objects must be), and
 * the default class `cairn up` makes.
 */
export const LOCAL_PROVISIONER = 'cairn.io/local';
export const LOCAL_DRIVER_NAME = 'local.cairn.io';
export const DEFAULT_LOCAL_CLASS = 'local';
/** Node-local volumes are placed by the node's hostname label (PV node affinity, capacity topology). */
export const LOCAL_TOPOLOGY_KEY = 'kubernetes.io/hostname';

/**
 * The CSI driver behind a StorageClass provisioner: Cairn's built-in provisioner names map to
 * their driver names (as csi-translation-lib maps in-tree names); any other provisioner is a
 * CSI driver's own name.
 */
export function csiDriverOfProvisioner(provisioner: string): string {
  return provisioner === LOCAL_PROVISIONER ? LOCAL_DRIVER_NAME : provisioner;
}
