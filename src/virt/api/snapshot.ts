/**
 * snapshot.kubevirt.io/v1beta1 VirtualMachineSnapshot, VirtualMachineSnapshotContent (the VM
 * definition and volume snapshots a snapshot captured) and VirtualMachineRestore, with
 * KubeVirt's names, columns and status subresources.
 */
import { arr, bool, coreType, crd, dateTime, nullableTime, obj, str, stringMap, strings } from '../../api/crd-builders.js';
import { KUBEVIRT_CRD_LABELS, templateMetadata, vmSpec, vmStatus } from './kubevirt.js';
import { typedLocalObjectReference } from './vmi-spec.js';

export const VM_SNAPSHOT_GROUP = 'snapshot.kubevirt.io';

/** KubeVirt's own condition type for its snapshot, restore and clone objects. */
export const kubevirtCondition = obj({ lastProbeTime: nullableTime, lastTransitionTime: nullableTime, message: str, reason: str, status: str, type: str }, ['type', 'status']);
const error = obj({ message: str, time: dateTime });

const common = { group: VM_SNAPSHOT_GROUP, version: 'v1beta1', scope: 'Namespaced', categories: ['all'], status: true, required: ['spec'], labels: KUBEVIRT_CRD_LABELS } as const;

export const VM_SNAPSHOT_CRD = crd({
  ...common,
  kind: 'VirtualMachineSnapshot',
  plural: 'virtualmachinesnapshots',
  shortNames: ['vmsnapshot', 'vmsnapshots'],
  columns: [
    { name: 'SourceKind', type: 'string', jsonPath: '.spec.source.kind' },
    { name: 'SourceName', type: 'string', jsonPath: '.spec.source.name' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'ReadyToUse', type: 'boolean', jsonPath: '.status.readyToUse' },
    { name: 'CreationTime', type: 'date', jsonPath: '.status.creationTime' },
    { name: 'Error', type: 'string', jsonPath: '.status.error.message' },
  ],
  schema: {
    spec: obj({ deletionPolicy: str, failureDeadline: str, source: typedLocalObjectReference }, ['source']),
    status: obj({
      conditions: arr(kubevirtCondition),
      creationTime: dateTime,
      error,
      indications: strings,
      phase: str,
      readyToUse: bool,
      snapshotVolumes: obj({ excludedVolumes: strings, includedVolumes: strings }),
      sourceIndications: arr(obj({ indication: str, message: str }, ['indication', 'message'])),
      sourceUID: str,
      virtualMachineSnapshotContentName: str,
    }),
  },
});

export const VM_SNAPSHOT_CONTENT_CRD = crd({
  ...common,
  kind: 'VirtualMachineSnapshotContent',
  plural: 'virtualmachinesnapshotcontents',
  shortNames: ['vmsnapshotcontent', 'vmsnapshotcontents'],
  columns: [
    { name: 'ReadyToUse', type: 'boolean', jsonPath: '.status.readyToUse' },
    { name: 'CreationTime', type: 'date', jsonPath: '.status.creationTime' },
    { name: 'Error', type: 'string', jsonPath: '.status.error.message' },
  ],
  schema: {
    spec: obj(
      {
        source: obj({ virtualMachine: obj({ metadata: templateMetadata, spec: vmSpec, status: vmStatus }) }),
        virtualMachineSnapshotName: str,
        volumeBackups: arr(
          obj(
            {
              persistentVolumeClaim: obj({ metadata: templateMetadata, spec: coreType('io.k8s.api.core.v1.PersistentVolumeClaimSpec') }),
              volumeName: str,
              volumeSnapshotName: str,
            },
            ['volumeName', 'persistentVolumeClaim'],
          ),
        ),
      },
      ['source'],
    ),
    status: obj({
      creationTime: dateTime,
      error,
      readyToUse: bool,
      volumeSnapshotStatus: arr(obj({ creationTime: dateTime, error, readyToUse: bool, volumeSnapshotName: str }, ['volumeSnapshotName'])),
    }),
  },
});

export const VM_RESTORE_CRD = crd({
  ...common,
  kind: 'VirtualMachineRestore',
  plural: 'virtualmachinerestores',
  shortNames: ['vmrestore', 'vmrestores'],
  columns: [
    { name: 'TargetKind', type: 'string', jsonPath: '.spec.target.kind' },
    { name: 'TargetName', type: 'string', jsonPath: '.spec.target.name' },
    { name: 'Complete', type: 'boolean', jsonPath: '.status.complete' },
    { name: 'RestoreTime', type: 'date', jsonPath: '.status.restoreTime' },
  ],
  schema: {
    spec: obj(
      {
        patches: strings,
        target: typedLocalObjectReference,
        targetReadinessPolicy: str,
        virtualMachineSnapshotName: str,
        volumeOwnershipPolicy: str,
        volumeRestoreOverrides: arr(obj({ annotations: stringMap, labels: stringMap, restoreName: str, volumeName: str })),
        volumeRestorePolicy: str,
      },
      ['target', 'virtualMachineSnapshotName'],
    ),
    status: obj({
      complete: bool,
      conditions: arr(kubevirtCondition),
      deletedDataVolumes: strings,
      restoreTime: dateTime,
      restores: arr(obj({ dataVolumeName: str, persistentVolumeClaim: str, volumeName: str, volumeSnapshotName: str }, ['volumeName', 'persistentVolumeClaim', 'volumeSnapshotName'])),
    }),
  },
});

export const VM_SNAPSHOT_CRDS = [VM_SNAPSHOT_CRD, VM_SNAPSHOT_CONTENT_CRD, VM_RESTORE_CRD];
