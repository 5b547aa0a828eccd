/**
 * The snapshot.storage.k8s.io/v1 CustomResourceDefinitions, with the field names, types, enums,
 * required fields, scopes, short names and printer columns of kubernetes-csi/external-snapshotter's
 * client/config/crd. Both sources are one-of (a snapshot names a claim or a content; a content a
 * volume or a snapshot handle) as upstream's earlier oneOf schemas said; upstream's later CEL
 * immutability rules are not expressed, as Cairn's CRD serving does not evaluate
 * x-kubernetes-validations.
 */
import { ageColumn as age, bool, crd as buildCrd, dateTime, int64, obj, str, quantity, type Column, type Schema } from '../api/crd-builders.js';
import type { KubeObject } from '../util/object.js';

export const SNAPSHOT_GROUP = 'snapshot.storage.k8s.io';
/** The VolumeSnapshotClass annotation that makes a class the default for its driver. */
export const DEFAULT_SNAPSHOT_CLASS_ANNOTATION = 'snapshot.storage.kubernetes.io/is-default-class';

const deletionPolicy: Schema = { type: 'string', enum: ['Delete', 'Retain'] };
const snapshotError = obj({ message: str, time: dateTime });
const objectReference: Schema = {
  ...obj({ apiVersion: str, fieldPath: str, kind: str, name: str, namespace: str, resourceVersion: str, uid: str }),
  'x-kubernetes-map-type': 'atomic',
};

function crd(p: {
  kind: string;
  plural: string;
  scope: 'Namespaced' | 'Cluster';
  shortNames: string[];
  columns: Column[];
  schema: Record<string, Schema>;
  required: string[];
  status: boolean;
}): KubeObject {
  return buildCrd({
    ...p,
    group: SNAPSHOT_GROUP,
    version: 'v1',
    annotations: { 'api-approved.kubernetes.io': 'https://github.com/kubernetes-csi/external-snapshotter/pull/419' },
  });
}

export const VOLUME_SNAPSHOT_CLASS_CRD = crd({
  kind: 'VolumeSnapshotClass',
  plural: 'volumesnapshotclasses',
  scope: 'Cluster',
  shortNames: ['vsclass', 'vsclasses'],
  columns: [
    { name: 'Driver', type: 'string', jsonPath: '.driver' },
    { name: 'DeletionPolicy', type: 'string', jsonPath: '.deletionPolicy', description: 'Determines whether a VolumeSnapshotContent created through the VolumeSnapshotClass should be deleted when its bound VolumeSnapshot is deleted.' },
    age,
  ],
  schema: { driver: str, parameters: { type: 'object', additionalProperties: str }, deletionPolicy },
  required: ['deletionPolicy', 'driver'],
  status: false,
});

export const VOLUME_SNAPSHOT_CRD = crd({
  kind: 'VolumeSnapshot',
  plural: 'volumesnapshots',
  scope: 'Namespaced',
  shortNames: ['vs'],
  columns: [
    { name: 'ReadyToUse', type: 'boolean', jsonPath: '.status.readyToUse', description: 'Indicates if the snapshot is ready to be used to restore a volume.' },
    { name: 'SourcePVC', type: 'string', jsonPath: '.spec.source.persistentVolumeClaimName', description: 'If a new snapshot needs to be created, this contains the name of the source PVC from which this snapshot was (or will be) created.' },
    { name: 'SourceSnapshotContent', type: 'string', jsonPath: '.spec.source.volumeSnapshotContentName', description: 'If a snapshot already exists, this contains the name of the existing VolumeSnapshotContent object representing the existing snapshot.' },
    { name: 'RestoreSize', type: 'string', jsonPath: '.status.restoreSize', description: 'Represents the minimum size of volume required to rehydrate from this snapshot.' },
    { name: 'SnapshotClass', type: 'string', jsonPath: '.spec.volumeSnapshotClassName', description: 'The name of the VolumeSnapshotClass requested by the VolumeSnapshot.' },
    { name: 'SnapshotContent', type: 'string', jsonPath: '.status.boundVolumeSnapshotContentName', description: 'Name of the VolumeSnapshotContent object to which the VolumeSnapshot object intends to bind to. Please note that verification of binding actually requires checking both VolumeSnapshot and VolumeSnapshotContent to ensure both are pointing at each other. Binding MUST be verified prior to usage of this object.' },
    { name: 'CreationTime', type: 'date', jsonPath: '.status.creationTime', description: 'Timestamp when the point-in-time snapshot was taken by the underlying storage system.' },
    age,
  ],
  schema: {
    spec: obj(
      {
        source: { ...obj({ persistentVolumeClaimName: str, volumeSnapshotContentName: str }), oneOf: [{ required: ['persistentVolumeClaimName'] }, { required: ['volumeSnapshotContentName'] }] },
        volumeSnapshotClassName: str,
      },
      ['source'],
    ),
    status: obj({
      boundVolumeSnapshotContentName: str,
      creationTime: dateTime,
      error: snapshotError,
      readyToUse: bool,
      restoreSize: quantity,
      volumeGroupSnapshotName: str,
    }),
  },
  required: ['spec'],
  status: true,
});

export const VOLUME_SNAPSHOT_CONTENT_CRD = crd({
  kind: 'VolumeSnapshotContent',
  plural: 'volumesnapshotcontents',
  scope: 'Cluster',
  shortNames: ['vsc', 'vscs'],
  columns: [
    { name: 'ReadyToUse', type: 'boolean', jsonPath: '.status.readyToUse', description: 'Indicates if the snapshot is ready to be used to restore a volume.' },
    { name: 'RestoreSize', type: 'integer', jsonPath: '.status.restoreSize', description: 'Represents the complete size of the snapshot in bytes' },
    { name: 'DeletionPolicy', type: 'string', jsonPath: '.spec.deletionPolicy', description: 'Determines whether this VolumeSnapshotContent and its physical snapshot on the underlying storage system should be deleted when its bound VolumeSnapshot is deleted.' },
    { name: 'Driver', type: 'string', jsonPath: '.spec.driver', description: 'Name of the CSI driver used to create the physical snapshot on the underlying storage system.' },
    { name: 'VolumeSnapshotClass', type: 'string', jsonPath: '.spec.volumeSnapshotClassName', description: 'Name of the VolumeSnapshotClass to which this snapshot belongs.' },
    { name: 'VolumeSnapshot', type: 'string', jsonPath: '.spec.volumeSnapshotRef.name', description: 'Name of the VolumeSnapshot object to which this VolumeSnapshotContent object is bound.' },
    { name: 'VolumeSnapshotNamespace', type: 'string', jsonPath: '.spec.volumeSnapshotRef.namespace', description: 'Namespace of the VolumeSnapshot object to which this VolumeSnapshotContent object is bound.' },
    age,
  ],
  schema: {
    spec: obj(
      {
        deletionPolicy,
        driver: str,
        source: { ...obj({ snapshotHandle: str, volumeHandle: str }), oneOf: [{ required: ['snapshotHandle'] }, { required: ['volumeHandle'] }] },
        sourceVolumeMode: str,
        volumeSnapshotClassName: str,
        volumeSnapshotRef: objectReference,
      },
      ['deletionPolicy', 'driver', 'source', 'volumeSnapshotRef'],
    ),
    status: obj({
      creationTime: int64,
      error: snapshotError,
      readyToUse: bool,
      restoreSize: { ...int64, minimum: 0 },
      snapshotHandle: str,
      volumeGroupSnapshotHandle: str,
    }),
  },
  required: ['spec'],
  status: true,
});

export const SNAPSHOT_CRDS = [VOLUME_SNAPSHOT_CLASS_CRD, VOLUME_SNAPSHOT_CRD, VOLUME_SNAPSHOT_CONTENT_CRD];
