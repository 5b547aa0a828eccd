/**
 * The VM's storage as KubeVirt's VM controller judges it: the DataVolumes its
 * `dataVolumeTemplates` ask for (owned by the VM, labelled with its uid), whether they allow the
 * VMI to start (every one Succeeded, or WaitForFirstConsumer so that the VMI's launcher pod is
 * the claim's first consumer), and the facts the printable status shows — a DataVolume still
 * provisioning, one that failed, a claim not yet bound (pkg/storage/types: HasDataVolumeErrors,
 * HasDataVolumeProvisioning, HasUnboundPVC).
 */
import type { KubeObject } from '../../util/object.js';
import type { DataVolume } from '../cdi/datavolume-api.js';
import { type DataVolumeTemplate, LABEL_CREATED_BY, type VirtualMachine, vmControllerRef } from './vm-api.js';

/** The DataVolume a template describes (KubeVirt's CreateDataVolumeManifest). */
export function dataVolumeFromTemplate(vm: VirtualMachine, t: DataVolumeTemplate): DataVolume {
  return {
    apiVersion: 'cdi.kubevirt.io/v1beta1',
    kind: 'DataVolume',
    metadata: {
      name: t.metadata?.name,
      namespace: vm.metadata.namespace,
      labels: { ...t.metadata?.labels, [LABEL_CREATED_BY]: vm.metadata.uid! },
      ...(t.metadata?.annotations ? { annotations: { ...t.metadata.annotations } } : {}),
      ownerReferences: [vmControllerRef(vm)],
    },
    spec: structuredClone(t.spec) as DataVolume['spec'],
  };
}

/** DataVolumes that no longer hold the VMI back (KubeVirt's handleDataVolumes). */
const READY_PHASES = new Set(['Succeeded', 'WaitForFirstConsumer', 'PendingPopulation']);

export interface TemplateState {
  /** Templates whose DataVolume does not exist yet. */
  missing: DataVolumeTemplate[];
  /** DataVolumes that failed (each worth a warning event). */
  failed: DataVolume[];
  /** Whether the VMI may be created now. */
  ready: boolean;
}

export function templateState(vm: VirtualMachine, getDv: (name: string) => DataVolume | undefined): TemplateState {
  const state: TemplateState = { missing: [], failed: [], ready: true };
  for (const t of vm.spec.dataVolumeTemplates ?? []) {
    const dv = t.metadata?.name ? getDv(t.metadata.name) : undefined;
    if (!dv) {
      state.missing.push(t);
      state.ready = false;
    } else if (!READY_PHASES.has(dv.status?.phase ?? '')) {
      if (dv.status?.phase === 'Failed') state.failed.push(dv);
      state.ready = false;
    }
  }
  return state;
}

interface Volume {
  name: string;
  dataVolume?: { name: string };
  persistentVolumeClaim?: { claimName: string };
}
const volumesOf = (vm: VirtualMachine) => ((vm.spec.template?.spec?.volumes as Volume[] | undefined) ?? []);
const dvNames = (vm: VirtualMachine) => volumesOf(vm).flatMap((v) => (v.dataVolume?.name ? [v.dataVolume.name] : []));
/** The claims and DataVolumes the VM's disks name (a DataVolume's claim has its name). */
export const volumeSourceNames = (vm: VirtualMachine): string[] =>
  volumesOf(vm).flatMap((v) => [v.persistentVolumeClaim?.claimName ?? v.dataVolume?.name].filter((n): n is string => !!n));

/** The first DataVolume error, as KubeVirt words it (DataVolumeError). */
export function dataVolumeError(vm: VirtualMachine, getDv: (name: string) => DataVolume | undefined): string | undefined {
  for (const name of dvNames(vm)) {
    const dv = getDv(name);
    if (!dv) continue;
    if (dv.status?.phase === 'Failed') return `DataVolume ${name} is in Failed phase`;
    const running = dv.status?.conditions?.find((c) => c.type === 'Running');
    if (running?.status === 'False' && (running.reason === 'Error' || running.reason === 'ImagePullFailed')) return `DataVolume ${name} importer has stopped running due to an error: ${running.message ?? ''}`;
  }
  return undefined;
}

/** A DataVolume still being populated (a WaitForFirstConsumer one not yet bound is not). */
export function dataVolumeProvisioning(vm: VirtualMachine, getDv: (name: string) => DataVolume | undefined): boolean {
  return dvNames(vm).some((name) => {
    const dv = getDv(name);
    const phase: string | undefined = dv?.status?.phase;
    if (!dv || phase === 'Succeeded' || phase === 'PendingPopulation') return false;
    const bound = dv.status?.conditions?.some((c) => c.type === 'Bound' && c.status === 'True');
    return bound || phase !== 'WaitForFirstConsumer';
  });
}

/** A claim of the VM's disks (its own or a DataVolume's) that exists and is still Pending. */
export function hasUnboundClaim(vm: VirtualMachine, getClaim: (name: string) => KubeObject | undefined): boolean {
  return volumeSourceNames(vm).some((name) => (getClaim(name)?.status as { phase?: string } | undefined)?.phase === 'Pending');
}
