/**
 * The VMI a VM starts (KubeVirt's setupVMIFromVM and startVMI): named like the VM, with the
 * template's labels and annotations, controlled by the VM, the template spec with the
 * instancetype and preference applied, the VM generation it was made from (annotation
 * `kubevirt.io/vm-generation`), annotations naming the instancetype and preference, a paused start
 * when the start request asked for one, and a firmware UUID stable across restarts (KubeVirt's
 * legacy UUID: SHA-1 name-based, from the VM name) unless the VM sets one.
 */
import { createHash } from 'node:crypto';
import { deepClone, isPlainObject } from '../../util/object.js';
import { applyInstancetype, type InstancetypeSpec, type PreferenceSpec } from './instancetype-apply.js';
import {
  ANN_CLUSTER_INSTANCETYPE_NAME,
  ANN_CLUSTER_PREFERENCE_NAME,
  ANN_INSTANCETYPE_NAME,
  ANN_PREFERENCE_NAME,
  ANN_VM_GENERATION,
  type VirtualMachine,
  type VirtualMachineInstance,
  vmControllerRef,
} from './vm-api.js';

/** KubeVirt's namespace for firmware UUIDs (virt-controller firmware.go). */
const FIRMWARE_UUID_NAMESPACE = Buffer.from('6a1a24a1406146078bf4a3963d0c5895', 'hex');

/** RFC 4122 version 5 UUID of `name` in KubeVirt's firmware namespace. */
export function firmwareUuid(name: string): string {
  const h = createHash('sha1').update(FIRMWARE_UUID_NAMESPACE).update(name).digest().subarray(0, 16);
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export interface AppliedTypes {
  instancetype?: { spec: InstancetypeSpec; kind: string };
  preference?: { spec: PreferenceSpec; kind: string };
}

/** Throws InstancetypeConflictError when the VM sets what its instancetype owns. */
export function vmiFromVm(vm: VirtualMachine, types: AppliedTypes, opts: { paused?: boolean } = {}): VirtualMachineInstance {
  const meta = deepClone(vm.spec.template?.metadata ?? {});
  const { labels, annotations = {}, name: _n, generateName: _g, namespace: _ns, ...otherMeta } = meta as Record<string, unknown> & { annotations?: Record<string, string> };
  const applied = applyInstancetype({ spec: vm.spec.template?.spec ?? {}, annotations }, types.instancetype?.spec, types.preference?.spec);
  const spec = applied.spec;
  if (opts.paused) spec.startStrategy = 'Paused';
  const domain = isPlainObject(spec.domain) ? spec.domain : (spec.domain = {});
  const firmware = isPlainObject(domain.firmware) ? domain.firmware : (domain.firmware = {});
  if (!firmware.uuid) firmware.uuid = firmwareUuid(vm.metadata.name!);

  const names: Record<string, string> = {};
  const itName = vm.spec.instancetype?.name;
  if (types.instancetype && itName) names[types.instancetype.kind === 'VirtualMachineInstancetype' ? ANN_INSTANCETYPE_NAME : ANN_CLUSTER_INSTANCETYPE_NAME] = itName;
  const prefName = vm.spec.preference?.name;
  if (types.preference && prefName) names[types.preference.kind === 'VirtualMachinePreference' ? ANN_PREFERENCE_NAME : ANN_CLUSTER_PREFERENCE_NAME] = prefName;

  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: {
      ...otherMeta,
      name: vm.metadata.name,
      namespace: vm.metadata.namespace,
      ...(labels ? { labels: labels as Record<string, string> } : {}),
      annotations: { ...applied.annotations, ...names, [ANN_VM_GENERATION]: String(vm.metadata.generation ?? 1) },
      ownerReferences: [vmControllerRef(vm)],
    },
    spec,
  };
}
