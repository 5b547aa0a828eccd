/**
 * The dynamic-provisioning hook of the PersistentVolume binder (pv-binder.ts). A storage
 * backend registers a VolumeProvisioner under the StorageClass `provisioner` name it serves;
 * the binder then, for a claim no existing volume satisfies, asks it for a volume (after the
 * claim's first consumer is scheduled, for WaitForFirstConsumer classes), creates the returned
 * PersistentVolume pre-bound to the claim, and binds them. When such a volume is released with
 * reclaimPolicy Delete the binder asks the same provisioner to delete the backing storage
 * before removing the PersistentVolume object.
 *
 * Claims whose class names a provisioner nobody registered stay Pending with upstream's
 * ExternalProvisioning event: an external provisioner may still create the volume — as Cairn's
 * own `cairn.io/local` does from each node's agent (src/storage/provisioner.ts), since its
 * volumes are made on the node's disk.
 */
import type { KubeObject } from '../util/object.js';

export interface ProvisionRequest {
  claim: KubeObject;
  storageClass: KubeObject;
  /** The PersistentVolume name to use (`pvc-<claim uid>`). */
  pvName: string;
  /** The node the claim's first consumer was scheduled to (WaitForFirstConsumer), with its labels. */
  selectedNode?: KubeObject;
}

export interface VolumeProvisioner {
  /** The StorageClass provisioner it serves. */
  readonly name: string;
  /**
   * Creates the backing storage and returns the PersistentVolume spec for it: at least
   * capacity and a volume source (csi, local + nodeAffinity, hostPath, rbd...). The binder fills
   * in the name, claimRef, storageClassName, accessModes, volumeMode, reclaimPolicy, mountOptions
   * and the provisioned-by annotation when the spec leaves them out. Throwing records a
   * ProvisioningFailed event and retries with backoff.
   */
  provision(req: ProvisionRequest): Promise<{ spec: Record<string, unknown>; labels?: Record<string, string>; annotations?: Record<string, string> }>;
  /** Deletes the backing storage of a volume it provisioned (idempotent: gone already is success). */
  delete(pv: KubeObject): Promise<void>;
}

const provisioners = new Map<string, VolumeProvisioner>();

/** Registers (or replaces) the provisioner for its name; returns an unregister function. */
export function registerVolumeProvisioner(p: VolumeProvisioner): () => void {
  provisioners.set(p.name, p);
  return () => {
    if (provisioners.get(p.name) === p) provisioners.delete(p.name);
  };
}

export function volumeProvisioner(name: string): VolumeProvisioner | undefined {
  return provisioners.get(name);
}

