/**
 * The storage API objects as the control loops, the scheduler and the node agent read them:
 * resource refs, the well-known annotations, and the PersistentVolume / PersistentVolumeClaim /
 * StorageClass fields they use (names and optionality as upstream's types.go).
 */
import type { ResourceRef } from '../client/index.js';
import type { LabelSelector } from '../kinds/label-selector.js';
import type { NodeSelectorTerm } from '../controllers/util/node-fit.js';
import type { KubeObject } from '../util/object.js';
import type { Condition } from '../controllers/util/nodes.js';

export const PVS: ResourceRef = { group: '', version: 'v1', plural: 'persistentvolumes', namespaced: false, kind: 'PersistentVolume' };
export const PVCS: ResourceRef = { group: '', version: 'v1', plural: 'persistentvolumeclaims', namespaced: true, kind: 'PersistentVolumeClaim' };
export const STORAGE_CLASSES: ResourceRef = { group: 'storage.k8s.io', version: 'v1', plural: 'storageclasses', namespaced: false, kind: 'StorageClass' };
export const CSI_DRIVERS: ResourceRef = { group: 'storage.k8s.io', version: 'v1', plural: 'csidrivers', namespaced: false, kind: 'CSIDriver' };
export const CSI_STORAGE_CAPACITIES: ResourceRef = { group: 'storage.k8s.io', version: 'v1', plural: 'csistoragecapacities', namespaced: true, kind: 'CSIStorageCapacity' };

export const ANN_BIND_COMPLETED = 'pv.kubernetes.io/bind-completed';
export const ANN_BOUND_BY_CONTROLLER = 'pv.kubernetes.io/bound-by-controller';
export const ANN_PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by';
export const ANN_SELECTED_NODE = 'volume.kubernetes.io/selected-node';
export const ANN_STORAGE_PROVISIONER = 'volume.kubernetes.io/storage-provisioner';
export const ANN_BETA_STORAGE_PROVISIONER = 'volume.beta.kubernetes.io/storage-provisioner';
export const ANN_BETA_STORAGE_CLASS = 'volume.beta.kubernetes.io/storage-class';

/** StorageClasses with this provisioner never provision (static local volumes). */
export const NO_PROVISIONER = 'kubernetes.io/no-provisioner';

export interface ClaimRef {
  kind?: string;
  apiVersion?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  resourceVersion?: string;
}

export interface CSIPersistentVolumeSource {
  driver: string;
  volumeHandle: string;
  readOnly?: boolean;
  fsType?: string;
  volumeAttributes?: Record<string, string>;
}

export interface PVSpec {
  capacity?: Record<string, unknown>;
  accessModes?: string[];
  volumeMode?: string;
  storageClassName?: string;
  claimRef?: ClaimRef | null;
  persistentVolumeReclaimPolicy?: string;
  nodeAffinity?: { required?: { nodeSelectorTerms?: NodeSelectorTerm[] } };
  mountOptions?: string[];
  csi?: CSIPersistentVolumeSource;
  hostPath?: { path: string; type?: string };
  local?: { path: string; fsType?: string };
  [source: string]: unknown;
}

export interface PVCSpec {
  accessModes?: string[];
  volumeMode?: string;
  storageClassName?: string | null;
  volumeName?: string;
  selector?: LabelSelector;
  resources?: { requests?: Record<string, unknown> };
}

/** A claim's condition (Resizing, FileSystemResizePending, ...): the shape every object's conditions share. */
export type PVCCondition = Condition;

export interface PVCStatus {
  phase?: string;
  accessModes?: string[];
  capacity?: Record<string, unknown>;
  conditions?: PVCCondition[];
  allocatedResources?: Record<string, unknown>;
  allocatedResourceStatuses?: Record<string, string>;
}

export interface StorageClass extends KubeObject {
  provisioner?: string;
  parameters?: Record<string, string>;
  reclaimPolicy?: string;
  volumeBindingMode?: string;
  allowVolumeExpansion?: boolean;
  mountOptions?: string[];
  allowedTopologies?: { matchLabelExpressions?: { key: string; values?: string[] }[] }[];
}

export const pvSpec = (pv: KubeObject) => (pv.spec ?? {}) as PVSpec;
export const pvcSpec = (c: KubeObject) => (c.spec ?? {}) as PVCSpec;
export const pvcStatus = (c: KubeObject) => (c.status ?? {}) as PVCStatus;
export const phaseOf = (o: KubeObject) => (o.status as { phase?: string } | undefined)?.phase;

/** The claim's class: the beta annotation still wins over the field. */
export const claimClass = (c: KubeObject) => c.metadata.annotations?.[ANN_BETA_STORAGE_CLASS] ?? pvcSpec(c).storageClassName ?? '';
export const volumeClass = (pv: KubeObject) => pv.metadata.annotations?.[ANN_BETA_STORAGE_CLASS] ?? pvSpec(pv).storageClassName ?? '';
export const claimKeyOf = (c: KubeObject) => `${c.metadata.namespace}/${c.metadata.name}`;

/** upstream IsPVCFullyBound: named volume and the bind-completed annotation. */
export const isClaimBound = (c: KubeObject) => !!pvcSpec(c).volumeName && c.metadata.annotations?.[ANN_BIND_COMPLETED] !== undefined;

/** Names of the claims a pod's volumes use. */
export function podClaimNames(pod: KubeObject): string[] {
  const vols = ((pod.spec ?? {}) as { volumes?: { persistentVolumeClaim?: { claimName?: string } }[] }).volumes ?? [];
  return vols.map((v) => v.persistentVolumeClaim?.claimName).filter((n): n is string => !!n);
}
