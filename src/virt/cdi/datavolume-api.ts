/**
 * The DataVolume as the controller reads and writes it (cdi.kubevirt.io/v1beta1, the CRD in
 * src/virt/api/cdi.ts), and CDI's annotation and label names the controller puts on the claim
 * and the importer pod.
 */
import type { ResourceRef } from '../../client/index.js';
import type { KubeObject } from '../../util/object.js';
import { CDI_GROUP } from '../api/cdi.js';

export const DATAVOLUMES: ResourceRef = { group: CDI_GROUP, version: 'v1beta1', plural: 'datavolumes', namespaced: true, kind: 'DataVolume' };

export type DataVolumePhase =
  | 'Pending'
  | 'PVCBound'
  | 'WaitForFirstConsumer'
  | 'ImportScheduled'
  | 'ImportInProgress'
  | 'UploadScheduled'
  | 'UploadReady'
  | 'CloneScheduled'
  | 'CloneInProgress'
  | 'CSICloneInProgress'
  | 'Succeeded'
  | 'Failed';

export interface DataVolumeCondition {
  type: 'Bound' | 'Ready' | 'Running';
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastHeartbeatTime?: string;
}

export interface HttpSource {
  url: string;
  certConfigMap?: string;
  secretRef?: string;
}

/** CDI's registry source: `url` docker://REGISTRY/REPO[:TAG|@DIGEST]; pullMethod `pod` (default) or `node`. */
export interface RegistrySource {
  url?: string;
  imageStream?: string;
  pullMethod?: string;
  certConfigMap?: string;
  secretRef?: string;
}

/** CDI's pvc (clone) source (both fields required, as CDI's API). */
export interface PvcSource {
  name: string;
  namespace: string;
}

export interface DataVolumeSpec {
  source?: { http?: HttpSource; registry?: RegistrySource; pvc?: PvcSource; blank?: Record<string, never>; upload?: Record<string, never>; [other: string]: unknown };
  pvc?: Record<string, unknown>;
  storage?: { accessModes?: string[]; volumeMode?: string; storageClassName?: string; resources?: { requests?: Record<string, string> }; [field: string]: unknown };
  contentType?: string;
}

export interface DataVolumeStatus {
  phase?: DataVolumePhase;
  progress?: string;
  restartCount?: number;
  claimName?: string;
  conditions?: DataVolumeCondition[];
}

export interface DataVolume extends KubeObject {
  spec: DataVolumeSpec;
  status?: DataVolumeStatus;
}

const ANN = 'cdi.kubevirt.io/storage';
/** CDI's annotations (pkg/controller/common). */
export const ANN_ENDPOINT = `${ANN}.import.endpoint`;
export const ANN_SOURCE = `${ANN}.import.source`;
export const ANN_CERT_CONFIG_MAP = `${ANN}.import.certConfigMap`;
export const ANN_SECRET = `${ANN}.import.secretName`;
export const ANN_CONTENT_TYPE = `${ANN}.contentType`;
export const ANN_IMPORT_POD = `${ANN}.import.importPodName`;
export const ANN_POD_PHASE = `${ANN}.pod.phase`;
export const ANN_POD_RESTARTS = `${ANN}.pod.restarts`;
/** CDI's claim annotation saying the upload server is ready (AnnPodReady). */
export const ANN_POD_READY = `${ANN}.pod.ready`;
export const ANN_IMMEDIATE_BINDING = `${ANN}.bind.immediate.requested`;
export const ANN_CREATED_BY = 'cdi.kubevirt.io/createdBy';
export const ANN_CREATED_BY_CONTROLLER = `${ANN}.createdByController`;
/** CDI's label on everything it makes. */
export const CDI_LABEL = { app: 'containerized-data-importer' } as const;
/** CDI's importer source for a blank disk. */
export const SOURCE_NONE = 'none';
export const SOURCE_HTTP = 'http';
export const SOURCE_REGISTRY = 'registry';
/** CDI's claim annotation naming a clone's source claim, `namespace/name` (AnnCloneRequest). */
export const ANN_CLONE_REQUEST = 'k8s.io/CloneRequest';
/** CDI's record of how a clone was done (AnnCloneType): `copy` (host-assisted) or `csi-clone`. */
export const ANN_CLONE_TYPE = 'cdi.kubevirt.io/cloneType';
/** CDI's annotation tying a pod in another namespace to what it works for (AnnOwnerRef). */
export const ANN_OWNER_REF = 'cdi.kubevirt.io/storage.ownerRef';
