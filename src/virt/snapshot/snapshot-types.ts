/**
 * snapshot.kubevirt.io/v1beta1 and clone.kubevirt.io/v1beta1 objects as the snapshot, restore and
 * clone controllers read and write them (field names as kubevirt.io/api snapshot/v1beta1 and
 * clone/v1beta1), KubeVirt's finalizers, names and conditions.
 */
import type { ResourceRef } from '../../client/index.js';
import type { KubeObject } from '../../util/object.js';
import { CLONE_GROUP } from '../api/clone.js';
import { VM_SNAPSHOT_GROUP } from '../api/snapshot.js';
import type { VmCondition, VmSpec } from '../controllers/vm-api.js';

const ref = (group: string, plural: string, kind: string): ResourceRef => ({ group, version: 'v1beta1', plural, namespaced: true, kind });
export const VM_SNAPSHOTS = ref(VM_SNAPSHOT_GROUP, 'virtualmachinesnapshots', 'VirtualMachineSnapshot');
export const VM_SNAPSHOT_CONTENTS = ref(VM_SNAPSHOT_GROUP, 'virtualmachinesnapshotcontents', 'VirtualMachineSnapshotContent');
export const VM_RESTORES = ref(VM_SNAPSHOT_GROUP, 'virtualmachinerestores', 'VirtualMachineRestore');
export const VM_CLONES = ref(CLONE_GROUP, 'virtualmachineclones', 'VirtualMachineClone');
export const SNAPSHOT_API_VERSION = `${VM_SNAPSHOT_GROUP}/v1beta1`;
export const CLONE_API_VERSION = `${CLONE_GROUP}/v1beta1`;

/** On a snapshot until its content is dealt with and its source unlocked. */
export const VM_SNAPSHOT_FINALIZER = 'snapshot.kubevirt.io/vmsnapshot-protection';
/** On a content while its snapshot exists. */
export const VM_SNAPSHOT_CONTENT_FINALIZER = 'snapshot.kubevirt.io/vmsnapshotcontent-protection';
/** On a VM while a snapshot of it is taken (the lock, with status.snapshotInProgress). */
export const SNAPSHOT_SOURCE_FINALIZER = 'snapshot.kubevirt.io/snapshot-source-protection';
/** On a restore while it runs. */
export const VM_RESTORE_FINALIZER = 'snapshot.kubevirt.io/vmrestore-protection';
/** The labels KubeVirt puts on the VolumeSnapshots it creates. */
export const LABEL_SNAPSHOT_SOURCE_NAME = 'snapshot.kubevirt.io/source-vm-name';
export const LABEL_SNAPSHOT_SOURCE_NAMESPACE = 'snapshot.kubevirt.io/source-vm-namespace';
/** On restored claims and VMs: which restore made them. */
export const ANN_RESTORE_NAME = 'restore.kubevirt.io/name';
export const ANN_LAST_RESTORE_UID = 'restore.kubevirt.io/lastRestoreUID';
/** snapshotv1.DefaultFailureDeadline. */
export const DEFAULT_FAILURE_DEADLINE_MS = 5 * 60_000;

export type SnapshotPhase = 'InProgress' | 'Succeeded' | 'Failed' | 'Deleting' | 'Unknown';
export type Indication = 'Online' | 'NoGuestAgent' | 'GuestAgent' | 'Paused' | 'QuiesceTimeout' | 'PartialSnapshot';

export interface SnapshotError {
  message?: string;
  time?: string;
}

export interface VirtualMachineSnapshot extends KubeObject {
  spec: { source: { apiGroup?: string; kind: string; name: string }; deletionPolicy?: 'Delete' | 'Retain'; failureDeadline?: string };
  status?: {
    sourceUID?: string;
    virtualMachineSnapshotContentName?: string;
    creationTime?: string | null;
    phase?: SnapshotPhase;
    error?: SnapshotError;
    readyToUse?: boolean;
    conditions?: VmCondition[];
    indications?: Indication[];
    sourceIndications?: { indication: Indication; message: string }[];
    snapshotVolumes?: { includedVolumes?: string[]; excludedVolumes?: string[] };
  };
}

export interface VolumeBackup {
  volumeName: string;
  persistentVolumeClaim: { metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec: Record<string, unknown> };
  volumeSnapshotName?: string;
}

/** The VM as the content keeps it: simplified metadata, spec, empty status. */
export interface SnapshotVm {
  metadata: { name: string; namespace?: string; uid?: string; generation?: number; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: VmSpec;
  status?: Record<string, never>;
}

export interface VirtualMachineSnapshotContent extends KubeObject {
  spec: { virtualMachineSnapshotName?: string; source: { virtualMachine?: SnapshotVm }; volumeBackups?: VolumeBackup[] };
  status?: {
    creationTime?: string | null;
    readyToUse?: boolean;
    error?: SnapshotError;
    volumeSnapshotStatus?: { volumeSnapshotName: string; creationTime?: string; readyToUse?: boolean; error?: SnapshotError }[];
  };
}

export type TargetReadinessPolicy = 'WaitGracePeriod' | 'WaitEventually' | 'StopTarget' | 'FailImmediate';

export interface VolumeRestore {
  volumeName: string;
  persistentVolumeClaim: string;
  volumeSnapshotName: string;
  dataVolumeName?: string;
}

export interface VirtualMachineRestore extends KubeObject {
  spec: {
    target: { apiGroup?: string; kind: string; name: string };
    virtualMachineSnapshotName: string;
    targetReadinessPolicy?: TargetReadinessPolicy;
    patches?: string[];
  };
  status?: {
    complete?: boolean;
    conditions?: VmCondition[];
    restoreTime?: string;
    restores?: VolumeRestore[];
    deletedDataVolumes?: string[];
  };
}

export type ClonePhase = '' | 'SnapshotInProgress' | 'CreatingTargetVM' | 'RestoreInProgress' | 'Succeeded' | 'Failed' | 'Unknown';

export interface VirtualMachineClone extends KubeObject {
  spec: {
    source: { apiGroup?: string; kind: string; name: string };
    target?: { apiGroup?: string; kind: string; name?: string };
    labelFilters?: string[];
    annotationFilters?: string[];
    template?: { labelFilters?: string[]; annotationFilters?: string[] };
    newMacAddresses?: Record<string, string>;
    newSMBiosSerial?: string;
    patches?: string[];
  };
  status?: { phase?: ClonePhase; conditions?: VmCondition[]; snapshotName?: string; restoreName?: string; targetName?: string; creationTime?: string };
}

/**
 * KubeVirt's updateCondition: a condition of the type is replaced when its status or reason
 * changed (the transition time moves only then); a missing one is added.
 */
export function setCondition(conditions: VmCondition[] | undefined, type: string, status: VmCondition['status'], reason: string, now: string): VmCondition[] {
  const list = [...(conditions ?? [])];
  const c: VmCondition = { type, status, reason, lastProbeTime: null, lastTransitionTime: now };
  const i = list.findIndex((x) => x.type === type);
  if (i < 0) list.push(c);
  else if (list[i].status !== status || list[i].reason !== reason) list[i] = c;
  return list;
}
