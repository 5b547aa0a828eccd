/**
 * KubeVirt's admission webhooks for snapshots, restores and clones as one Cairn admission plugin
 * (pkg/storage/admitters vmsnapshot.go and vmrestore.go; virt-api's vmclone-admitter.go and
 * clone-create-mutator.go):
 * - VirtualMachineSnapshot create: the source must be a kubevirt.io VirtualMachine; update: the
 *   spec is immutable.
 * - VirtualMachineRestore create: the target must be a kubevirt.io VirtualMachine, its patches
 *   touch labels, annotations or the spec only, and no other restore of the same target may be
 *   unfinished; update: the spec is immutable.
 * - VirtualMachineClone create: a missing target (name) is filled in as `clone-<source>-<5
 *   chars>`; filters, kinds, source, target name, MAC addresses and patches checked.
 * - VirtualMachine update (part of `virtualmachine-validator.kubevirt.io`): the lock of a VM being
 *   snapshotted or restored (vmLockCauses).
 * Refusals are 422 with KubeVirt's causes, prefixed with the webhook's name as kube-apiserver does.
 */
import { randomBytes } from 'node:crypto';
import type { RegistryAccess } from '../../api/admission/resource-quota.js';
import type { AdmissionAttributes, AdmissionPlugin } from '../../registry/hooks.js';
import { deepEqual } from '../../util/object.js';
import { type VirtualMachine, VIRTUAL_MACHINES, type VmSpec } from '../controllers/vm-api.js';
import { VM_CLONES, VM_RESTORES, VM_SNAPSHOTS, type VirtualMachineClone, type VirtualMachineRestore, type VirtualMachineSnapshot } from '../snapshot/snapshot-types.js';
import { KUBEVIRT_GROUP } from './kubevirt.js';
import { type Cause, invalid, notSupported, webhookDenied } from './vmi-validation-causes.js';
import { WEBHOOKS } from './vmi-admission.js';
import { runStrategyOf } from './vm-lifecycle.js';
import { macAddressProblem } from './vmi-validation-network.js';

export const SNAPSHOT_WEBHOOKS = {
  snapshot: 'virtualmachinesnapshot-validator.snapshot.kubevirt.io',
  restore: 'virtualmachinerestore-validator.snapshot.kubevirt.io',
  clone: 'vm-clone-validator.kubevirt.io',
} as const;

const notFoundCause = (field: string, message: string): Cause => ({ type: 'FieldValueNotFound', field, message });

/** KubeVirt's rand.String alphabet (no vowels, no look-alikes). */
const RAND_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
export const randomSuffix = (n = 5) => [...randomBytes(n)].map((b) => RAND_ALPHABET[b % RAND_ALPHABET.length]).join('');
/** The clone mutator's target name. */
export const cloneTargetName = (source: string) => `clone-${source}-${randomSuffix()}`;

function refCauses(ref: { apiGroup?: string; kind?: string } | undefined, field: string): Cause[] {
  if (!ref?.apiGroup) return [notFoundCause(`${field}.apiGroup`, 'missing apiGroup')];
  if (ref.apiGroup !== KUBEVIRT_GROUP) return [invalid(`${field}.apiGroup`, 'invalid apiGroup')];
  if (ref.kind !== 'VirtualMachine') return [invalid(`${field}.kind`, 'invalid kind')];
  return [];
}

/**
 * validatePatches: a restore patches labels, annotations or what is under /spec/ only. KubeVirt
 * splits the patch text on `,` and `:`, which refuses a value holding either (a MAC address);
 * here each patch is read as the JSON it is.
 */
function patchCauses(patches: string[] | undefined): Cause[] {
  const causes: Cause[] = [];
  for (const p of patches ?? []) {
    let path: unknown;
    try {
      path = (JSON.parse(p) as { path?: unknown }).path;
    } catch {
      causes.push(invalid('spec.patches', `patch format is not valid - one ":" expected in a single key-value json patch: ${p}`));
      continue;
    }
    if (typeof path !== 'string' || path.startsWith('/metadata/labels/') || path.startsWith('/metadata/annotations/')) continue;
    if (!path.startsWith('/spec/')) causes.push(invalid('spec.patches', `patching is valid only for elements under /spec/ only: "path": ${JSON.stringify(path)}`));
  }
  return causes;
}

async function restoreCauses(access: RegistryAccess, r: VirtualMachineRestore, ns: string): Promise<Cause[]> {
  const causes = refCauses(r.spec?.target, 'spec.target');
  if (!causes.length) causes.push(...patchCauses(r.spec?.patches));
  const kind = access.catalog().byPlural(VM_RESTORES.group, VM_RESTORES.version, VM_RESTORES.plural);
  if (!kind) return causes;
  for (const other of (await access.registry().list(kind, ns)).items as VirtualMachineRestore[]) {
    if (deepEqual(other.spec?.target, r.spec?.target) && other.status?.complete !== true) causes.push(invalid('spec.target', `VirtualMachineRestore "${other.metadata.name}" in progress`));
  }
  return causes;
}

/** validateFilters. */
function filterCauses(filters: string[] | undefined, field: string): Cause[] {
  const causes: Cause[] = [];
  for (const f of filters ?? []) {
    if (f.length === 1) {
      if (f === '!') causes.push(invalid(field, 'a negation character is not a valid filter'));
      continue;
    }
    const pattern = (what: string, ch: string, rule: string) => `${field} filter ${f} is invalid: cannot contain a ${what} character (${ch}); FilterRules: ${rule}`;
    if (f.slice(1).includes('!')) causes.push(invalid(field, pattern('negation', '!', 'NegationChar can be only used at the beginning of the filter')));
    if (f.slice(0, -1).includes('*')) causes.push(invalid(field, pattern('wildcard', '*', 'WildcardChar can be only at the end of the filter')));
  }
  return causes;
}

function cloneCauses(c: VirtualMachineClone): Cause[] {
  const spec = c.spec ?? ({} as VirtualMachineClone['spec']);
  const causes = [
    ...filterCauses(spec.annotationFilters, 'spec.annotations'),
    ...filterCauses(spec.labelFilters, 'spec.labels'),
    ...filterCauses(spec.template?.annotationFilters, 'spec.template.annotations'),
    ...filterCauses(spec.template?.labelFilters, 'spec.template.labels'),
  ];
  const src = spec.source;
  if (!['VirtualMachine', 'VirtualMachineSnapshot'].includes(src?.kind ?? '')) causes.push(invalid('spec.Source.Kind', 'Source kind is not supported'));
  if (spec.target && spec.target.kind !== 'VirtualMachine') causes.push(invalid('spec.Target.Kind', 'Target kind is not supported'));
  if (!src) causes.push(invalid('spec.Source', 'Source cannot be nil'));
  else {
    if (!src.apiGroup) causes.push(invalid('spec.Source.APIGroup', "Source's APIGroup cannot be empty"));
    if (!src.kind) causes.push(invalid('spec.Source', "Source's Kind cannot be empty"));
    if (!src.name) causes.push(invalid('spec.Source.Name', "Source's name cannot be empty"));
  }
  if (src?.kind === 'VirtualMachine' && spec.target?.kind === 'VirtualMachine' && spec.target.name === src.name) {
    causes.push(invalid('spec.target.name', 'Target name cannot be equal to source name when both are VirtualMachines'));
  }
  for (const [iface, mac] of Object.entries(spec.newMacAddresses ?? {})) {
    if (mac && macAddressProblem(mac)) causes.push(invalid(`spec.newMacAddresses.${iface}`, `interface ${iface} has malformed MAC address (${mac}).`));
  }
  (spec.patches ?? []).forEach((p, i) => {
    try {
      JSON.parse(p);
    } catch {
      causes.push(invalid(`spec.patches[${i}]`, `patch is not valid JSON (${p})`));
    }
  });
  return causes;
}

/** clone-create-mutator: a target VM named after the source when the clone names none. */
function mutateClone(c: VirtualMachineClone): void {
  const source = c.spec?.source?.name ?? '';
  if (!c.spec?.target) c.spec.target = { apiGroup: KUBEVIRT_GROUP, kind: 'VirtualMachine', name: cloneTargetName(source) };
  else if (!c.spec.target.name) c.spec.target.name = cloneTargetName(source);
}

const is = (a: AdmissionAttributes, ref: { group: string; plural: string }) => a.kind.group === ref.group && a.kind.plural === ref.plural;

const runningSpec = (spec: VmSpec | undefined) => ({ running: spec?.running, runStrategy: spec?.runStrategy });
/** The run strategy; both fields set (refused by the VM validator anyway) compare as written. */
function strategyOf(vm: VirtualMachine): string {
  try {
    return runStrategyOf(vm);
  } catch {
    return JSON.stringify(runningSpec(vm.spec));
  }
}
const volumesOf = (spec: VmSpec | undefined) => (spec?.template?.spec?.volumes as unknown[] | undefined) ?? [];

/**
 * The VM lock (KubeVirt's vm-storage-status.go, part of the VM validator): while a snapshot is
 * taken its volumes and running state stay as they are; while a restore runs, its run strategy.
 */
export function vmLockCauses(vm: VirtualMachine, old: VirtualMachine): Cause[] {
  const snapshot = old.status?.snapshotInProgress as string | undefined;
  if (snapshot) {
    if (!deepEqual(volumesOf(old.spec), volumesOf(vm.spec))) return [notSupported('spec', `Cannot update vm disks or volumes until snapshot "${snapshot}" completes`)];
    if (!deepEqual(runningSpec(old.spec), runningSpec(vm.spec))) return [notSupported('spec', `Cannot update vm running state until snapshot "${snapshot}" completes`)];
  }
  const restore = old.status?.restoreInProgress as string | undefined;
  if (restore && !deepEqual(old.spec, vm.spec) && strategyOf(old) !== strategyOf(vm)) {
    return [notSupported('spec', `Cannot update VM runStrategy until restore "${restore}" completes`)];
  }
  return [];
}

export function snapshotAdmission(access: RegistryAccess): AdmissionPlugin {
  return {
    name: 'KubeVirtSnapshotWebhooks',
    async admit(a) {
      if (a.subresource || !a.object || (a.operation !== 'CREATE' && a.operation !== 'UPDATE')) return;
      const immutable = () => (a.operation === 'UPDATE' && !deepEqual(a.object!.spec, a.oldObject?.spec) ? [invalid('spec', 'spec in immutable after creation')] : []);
      if (is(a, VM_SNAPSHOTS)) {
        const causes = a.operation === 'CREATE' ? refCauses((a.object as VirtualMachineSnapshot).spec?.source, 'spec.source') : immutable();
        if (causes.length) throw webhookDenied(SNAPSHOT_WEBHOOKS.snapshot, causes);
      } else if (is(a, VM_RESTORES)) {
        const causes = a.operation === 'CREATE' ? await restoreCauses(access, a.object as VirtualMachineRestore, a.namespace ?? '') : immutable();
        if (causes.length) throw webhookDenied(SNAPSHOT_WEBHOOKS.restore, causes);
      } else if (is(a, VIRTUAL_MACHINES) && a.operation === 'UPDATE' && a.oldObject) {
        const causes = vmLockCauses(a.object as VirtualMachine, a.oldObject as VirtualMachine);
        if (causes.length) throw webhookDenied(WEBHOOKS.vm, causes);
      } else if (is(a, VM_CLONES) && a.operation === 'CREATE') {
        mutateClone(a.object as VirtualMachineClone);
        const causes = cloneCauses(a.object as VirtualMachineClone);
        if (causes.length) throw webhookDenied(SNAPSHOT_WEBHOOKS.clone, causes);
      }
    },
  };
}
