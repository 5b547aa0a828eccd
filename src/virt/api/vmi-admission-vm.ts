/**
 * KubeVirt's VirtualMachine validation (vms-admitter.go and storageadmitters'
 * ValidateDataVolumeTemplate): the template checked as a VMI spec under `spec.template.spec` on a
 * copy with the VMI spec defaults applied (as KubeVirt does, so a template may leave networks and
 * disks to the defaults, and need not name memory an instancetype may give), the template's
 * reserved labels, the run strategy, and each dataVolumeTemplate well-formed and used by a volume.
 * The dataVolumeTemplate paths are KubeVirt's (`spec.dataVolumeTemplate[i]`).
 */
import { deepClone, type KubeObject } from '../../util/object.js';
import type { VmiSpecTyped } from '../launcher/vmi-types.js';
import { setVmiSpecDefaults } from './vmi-defaults.js';
import { type Cause, invalid, required } from './vmi-validation-causes.js';
import { validateDiscontinuedBindings } from './vmi-validation-network.js';
import { validateReservedLabels, validateVmiSpec } from './vmi-validation.js';

const RUN_STRATEGIES = ['Halted', 'Manual', 'Always', 'RerunOnFailure', 'Once'];

type Obj = Record<string, unknown>;
interface DataVolumeTemplate {
  metadata?: { name?: string };
  spec?: { pvc?: Obj; storage?: Obj; source?: Obj; sourceRef?: Obj };
}
interface VmSpec {
  running?: boolean;
  runStrategy?: string;
  dataVolumeTemplates?: DataVolumeTemplate[];
  template?: { metadata?: { labels?: Record<string, string> }; spec?: VmiSpecTyped };
}

/** validateRunStrategy. */
export function validateRunStrategy(spec: VmSpec): Cause[] {
  const causes: Cause[] = [];
  if (spec.running !== undefined && spec.runStrategy !== undefined)
    causes.push(invalid('spec.running', 'Running and RunStrategy are mutually exclusive. Note that Running is deprecated, please use RunStrategy instead'));
  if (spec.running === undefined && spec.runStrategy === undefined) causes.push(invalid('spec.running', 'RunStrategy must be specified'));
  if (spec.runStrategy !== undefined && !RUN_STRATEGIES.includes(spec.runStrategy)) causes.push(invalid('spec.runStrategy', `Invalid RunStrategy (${spec.runStrategy})`));
  return causes;
}

/** validateDataVolume: a name, exactly one of pvc/storage, and one source unless populated externally. */
function validateDataVolumeTemplate(field: string, t: DataVolumeTemplate): Cause | undefined {
  const spec = t.spec ?? {};
  if (!t.metadata?.name) return required(`${field}.name`, `'name' field must not be empty for DataVolumeTemplate entry ${field}.name.`);
  if (!spec.pvc && !spec.storage) return invalid(`${field}.PVC.Storage`, 'Missing Data volume PVC or Storage');
  if (spec.pvc && spec.storage) return invalid(`${field}.PVC.Storage`, 'Duplicate storage definition, both target storage and target pvc defined');
  const target = (spec.pvc ?? spec.storage)!;
  const external = !!(target.dataSourceRef || target.dataSource);
  if (external && (spec.source || spec.sourceRef)) return invalid(`${field}.source`, 'External population is incompatible with Source and SourceRef');
  if (!external && !spec.source && !spec.sourceRef) return invalid(`${field}.source.sourceRef`, 'Data volume should have either Source, SourceRef, or be externally populated');
  const sources = Object.values(spec.source ?? {}).filter((v) => v !== undefined && v !== null).length;
  if (spec.source && sources === 0) return invalid(`${field}.source`, 'Missing dataVolume valid source');
  if (sources > 1) return invalid(`${field}.source`, 'Multiple dataVolume sources');
  return undefined;
}

function validateDataVolumeTemplates(spec: VmSpec): Cause[] {
  const volumes = spec.template?.spec?.volumes ?? [];
  const causes: Cause[] = [];
  (spec.dataVolumeTemplates ?? []).forEach((t, i) => {
    const field = `spec.dataVolumeTemplate[${i}]`;
    const bad = validateDataVolumeTemplate(field, t);
    const name = t.metadata?.name;
    if (bad) causes.push(bad);
    else if (!volumes.some((v) => v.persistentVolumeClaim?.claimName === name || v.dataVolume?.name === name))
      causes.push(required(field, `DataVolumeTemplate entry ${field} must be referenced in the VMI template's 'volumes' list`));
  });
  return causes;
}

/** VMsAdmitter.Admit on a VM its mutator has seen. */
export async function validateVm(vm: KubeObject, operation: 'CREATE' | 'UPDATE', kubevirtComponent: boolean): Promise<Cause[]> {
  const spec = (vm.spec ?? {}) as VmSpec;
  const template = spec.template;
  if (!template?.spec) return [required('spec.template', 'missing virtual machine template.')];
  const defaulted = deepClone(template.spec);
  setVmiSpecDefaults(defaulted);
  const field = 'spec.template.spec';
  return [
    ...(operation === 'CREATE' ? validateDiscontinuedBindings(field, defaulted) : []),
    ...validateReservedLabels('spec.template.metadata', template.metadata?.labels, kubevirtComponent),
    ...(await validateVmiSpec(field, defaulted)),
    ...validateDataVolumeTemplates(spec),
    ...validateRunStrategy(spec),
  ];
}
