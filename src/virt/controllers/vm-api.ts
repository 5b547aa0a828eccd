/**
 * What the VM controller reads and writes, as it sees them: the kubevirt.io/v1 VirtualMachine and
 * VirtualMachineInstance (CRDs in src/virt/api/kubevirt.ts), the namespaced instancetype and
 * preference kinds beside the cluster ones, apps/v1 ControllerRevisions, and the annotation and
 * label names KubeVirt's virt-controller puts on what it makes.
 */
import type { ResourceRef } from '../../client/index.js';
import { newControllerRef } from '../../controllers/util/controller-ref.js';
import type { KubeObject, OwnerReference } from '../../util/object.js';
import { KUBEVIRT_GROUP } from '../api/kubevirt.js';
import { INSTANCETYPE_GROUP } from '../api/instancetype.js';
import type { StateChangeRequest } from '../api/vm-lifecycle.js';

export { CLUSTER_INSTANCETYPES, CLUSTER_PREFERENCES } from '../api/common-instancetypes.js';

export const VIRTUAL_MACHINES: ResourceRef = { group: KUBEVIRT_GROUP, version: 'v1', plural: 'virtualmachines', namespaced: true, kind: 'VirtualMachine' };
export const VMIS: ResourceRef = { group: KUBEVIRT_GROUP, version: 'v1', plural: 'virtualmachineinstances', namespaced: true, kind: 'VirtualMachineInstance' };
export const INSTANCETYPES: ResourceRef = { group: INSTANCETYPE_GROUP, version: 'v1beta1', plural: 'virtualmachineinstancetypes', namespaced: true, kind: 'VirtualMachineInstancetype' };
export const PREFERENCES: ResourceRef = { group: INSTANCETYPE_GROUP, version: 'v1beta1', plural: 'virtualmachinepreferences', namespaced: true, kind: 'VirtualMachinePreference' };
export const CONTROLLER_REVISIONS: ResourceRef = { group: 'apps', version: 'v1', plural: 'controllerrevisions', namespaced: true, kind: 'ControllerRevision' };

/** KubeVirt's annotation naming the VM generation a VMI was made from. */
export const ANN_VM_GENERATION = 'kubevirt.io/vm-generation';
/** KubeVirt's label on DataVolumes (and VMIs' pods) naming the creating object's uid. */
export const LABEL_CREATED_BY = 'kubevirt.io/created-by';
/** The annotations KubeVirt puts on a VMI naming the instancetype and preference it was built with. */
export const ANN_INSTANCETYPE_NAME = 'kubevirt.io/instancetype-name';
export const ANN_CLUSTER_INSTANCETYPE_NAME = 'kubevirt.io/cluster-instancetype-name';
export const ANN_PREFERENCE_NAME = 'kubevirt.io/preference-name';
export const ANN_CLUSTER_PREFERENCE_NAME = 'kubevirt.io/cluster-preference-name';

export interface Matcher {
  kind?: string;
  name?: string;
  revisionName?: string;
  inferFromVolume?: string;
}

export interface VmCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastProbeTime?: string | null;
  lastTransitionTime?: string | null;
}

export interface DataVolumeTemplate {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
}

/** The VMI spec as the controller touches it; everything else passes through untouched. */
export type VmiSpec = Record<string, unknown>;

export interface VmSpec {
  running?: boolean;
  runStrategy?: string;
  instancetype?: Matcher;
  preference?: Matcher;
  dataVolumeTemplates?: DataVolumeTemplate[];
  template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown }; spec?: VmiSpec };
}

export interface RevisionRef {
  name?: string;
  kind?: string;
  controllerRevisionRef?: { name: string };
}

export interface VmStatus {
  printableStatus?: string;
  ready?: boolean;
  created?: boolean;
  runStrategy?: string;
  conditions?: VmCondition[];
  stateChangeRequests?: StateChangeRequest[];
  startFailure?: { consecutiveFailCount?: number; lastFailedVMIUID?: string; retryAfterTimestamp?: string };
  desiredGeneration?: number;
  observedGeneration?: number;
  instancetypeRef?: RevisionRef;
  preferenceRef?: RevisionRef;
  [other: string]: unknown;
}

export interface VirtualMachine extends KubeObject {
  spec: VmSpec;
  status?: VmStatus;
}

export interface VmiStatus {
  phase?: string;
  conditions?: VmCondition[];
  migrationState?: { startTimestamp?: string; endTimestamp?: string };
  [other: string]: unknown;
}

export interface VirtualMachineInstance extends KubeObject {
  spec: VmiSpec;
  status?: VmiStatus;
}

export const vmiPhase = (vmi: VirtualMachineInstance) => vmi.status?.phase ?? '';
/** Succeeded or Failed: the guest is gone for good (KubeVirt's IsFinal). */
export const isFinal = (vmi: VirtualMachineInstance) => vmiPhase(vmi) === 'Succeeded' || vmiPhase(vmi) === 'Failed';
export const conditionOf = (o: { status?: { conditions?: VmCondition[] } } | undefined, type: string) => o?.status?.conditions?.find((c) => c.type === type);

/** The controlling reference to the VM that everything it makes carries (VMI, DataVolumes, revisions). */
export const vmControllerRef = (vm: VirtualMachine): OwnerReference => newControllerRef(vm, 'kubevirt.io/v1', 'VirtualMachine');
