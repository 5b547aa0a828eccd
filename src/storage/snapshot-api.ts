/**
 * The snapshot.storage.k8s.io/v1 objects as the snapshot controller, the snapshotter sidecars,
 * the provisioner and the scheduler read them: resource refs, upstream's finalizers, annotations
 * and label, and the fields they use (names and optionality as external-snapshotter's types.go).
 */
import type { ResourceRef } from '../client/index.js';
import type { KubeObject } from '../util/object.js';
import { SNAPSHOT_GROUP } from './snapshot-crds.js';

const ref = (plural: string, kind: string, namespaced: boolean): ResourceRef => ({ group: SNAPSHOT_GROUP, version: 'v1', plural, namespaced, kind });
export const VOLUME_SNAPSHOTS = ref('volumesnapshots', 'VolumeSnapshot', true);
export const VOLUME_SNAPSHOT_CONTENTS = ref('volumesnapshotcontents', 'VolumeSnapshotContent', false);
export const VOLUME_SNAPSHOT_CLASSES = ref('volumesnapshotclasses', 'VolumeSnapshotClass', false);

/** On a snapshot while a claim may still be restored from it. */
export const SNAPSHOT_AS_SOURCE_FINALIZER = 'snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection';
/** On a snapshot bound to a content with deletionPolicy Delete, until that content is gone. */
export const SNAPSHOT_BOUND_FINALIZER = 'snapshot.storage.kubernetes.io/volumesnapshot-bound-protection';
/** On a content while its snapshot (and the backing data, for Delete) still exist. */
export const CONTENT_FINALIZER = 'snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection';
/** On a claim while a snapshot of it is being taken. */
export const PVC_AS_SOURCE_FINALIZER = 'snapshot.storage.kubernetes.io/pvc-as-source-protection';
/** Set on a content by the snapshot controller before it deletes it: the sidecar may then delete the backing snapshot. */
export const ANN_SNAPSHOT_BEING_DELETED = 'snapshot.storage.kubernetes.io/volumesnapshot-being-deleted';
/** Set on a content by the sidecar while CreateSnapshot is in flight. */
export const ANN_SNAPSHOT_BEING_CREATED = 'snapshot.storage.kubernetes.io/volumesnapshot-being-created';
/** Distributed snapshotting: the node whose sidecar handles the content (a node-local volume's node). */
export const LABEL_MANAGED_BY = 'snapshot.storage.kubernetes.io/managed-by';

export interface SnapshotError {
  message?: string;
  time?: string;
}

export interface VolumeSnapshot extends KubeObject {
  spec?: {
    source?: { persistentVolumeClaimName?: string; volumeSnapshotContentName?: string };
    volumeSnapshotClassName?: string;
  };
  status?: {
    boundVolumeSnapshotContentName?: string;
    creationTime?: string;
    readyToUse?: boolean;
    restoreSize?: string;
    error?: SnapshotError;
  };
}

export interface VolumeSnapshotContent extends KubeObject {
  spec?: {
    volumeSnapshotRef?: { kind?: string; apiVersion?: string; namespace?: string; name?: string; uid?: string; resourceVersion?: string };
    source?: { volumeHandle?: string; snapshotHandle?: string };
    deletionPolicy?: 'Delete' | 'Retain';
    driver?: string;
    volumeSnapshotClassName?: string;
    sourceVolumeMode?: string;
  };
  status?: {
    snapshotHandle?: string;
    /** Nanoseconds since the epoch. */
    creationTime?: number;
    readyToUse?: boolean;
    /** Bytes. */
    restoreSize?: number;
    error?: SnapshotError;
  };
}

export interface VolumeSnapshotClass extends KubeObject {
  driver?: string;
  deletionPolicy?: 'Delete' | 'Retain';
  parameters?: Record<string, string>;
}

/** upstream GetDynamicSnapshotContentNameForSnapshot. */
export const dynamicContentName = (s: KubeObject) => `snapcontent-${s.metadata.uid}`;
export const snapshotKeyOf = (s: KubeObject) => `${s.metadata.namespace}/${s.metadata.name}`;
export const isSnapshotReady = (s: VolumeSnapshot) => s.status?.readyToUse === true;
/** The content's name the snapshot is (to be) bound to. */
export const boundContentName = (s: VolumeSnapshot) =>
  s.status?.boundVolumeSnapshotContentName ?? s.spec?.source?.volumeSnapshotContentName ?? (s.spec?.source?.persistentVolumeClaimName ? dynamicContentName(s) : undefined);
/** upstream IsVolumeSnapshotRefSet: the content points back at this very snapshot. */
export const contentPointsTo = (c: VolumeSnapshotContent, s: VolumeSnapshot) => {
  const r = c.spec?.volumeSnapshotRef;
  return !!r && r.name === s.metadata.name && r.namespace === s.metadata.namespace && r.uid === s.metadata.uid;
};
/** The handle a restore uses: the sidecar's status for a dynamic snapshot, the spec for a pre-provisioned one. */
export const contentSnapshotHandle = (c: VolumeSnapshotContent) => c.status?.snapshotHandle ?? c.spec?.source?.snapshotHandle;

/** A claim's data source (upstream: dataSourceRef wins; the API mirrors one into the other). */
export interface ClaimDataSource {
  apiGroup?: string;
  kind: string;
  name: string;
}

export function claimDataSource(claim: KubeObject): ClaimDataSource | undefined {
  const spec = (claim.spec ?? {}) as { dataSource?: ClaimDataSource | null; dataSourceRef?: ClaimDataSource | null };
  const src = spec.dataSourceRef ?? spec.dataSource;
  return src?.kind && src.name ? src : undefined;
}

export const isSnapshotSource = (src: ClaimDataSource | undefined): boolean => src?.kind === 'VolumeSnapshot' && src.apiGroup === SNAPSHOT_GROUP;
/** A clone's source: a claim of the core group. */
export const isClaimSource = (src: ClaimDataSource | undefined): boolean => src?.kind === 'PersistentVolumeClaim' && !src.apiGroup;
