/**
 * KubeVirt's VMI validation (pkg/virt-api/webhooks/validating-webhook/admitters/vmi-create-admitter.go
 * and vmi-update-admitter.go) for the fields Cairn runs: the spec checks a VMI and a VM's template
 * share (`field` is `spec` or `spec.template.spec`), what only a VMI create checks (every volume
 * used, some memory asked for, reserved labels, the architecture's devices), and the update rule
 * (the spec is KubeVirt's components' to change, never a user's). Messages are KubeVirt's; the
 * feature gates Cairn does not offer are off (KubeVirt's defaults).
 */
import { deepEqual } from '../../util/object.js';
import { isDNS1123Label, isDNS1123Subdomain, parseQuantity } from '../../registry/validation.js';
import type { Vmi, VmiProbe, VmiSpecTyped } from '../launcher/vmi-types.js';
import { type Cause, invalid, notSupported, required } from './vmi-validation-causes.js';
import { validateNetworks } from './vmi-validation-network.js';
import { validateBootOrder, validateDisks, validateVolumes, validateVolumesUsed } from './vmi-validation-storage.js';

type Obj = Record<string, unknown>;

/** KubeVirt's emulated machine patterns per architecture (virt-config defaults). */
const EMULATED_MACHINES: Record<string, string[]> = { amd64: ['q35*', 'pc-q35*'], arm64: ['virt*'], s390x: ['s390-ccw-virtio*'] };
const EVICTION_STRATEGIES = ['None', 'LiveMigrate', 'LiveMigrateIfPossible', 'External'];
const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None', ''];
const AMD64_VIDEO_TYPES = ['vga', 'cirrus', 'virtio', 'ramfb', 'bochs'];
/** Labels only KubeVirt's own components may set on a VMI (restrictedVmiLabels). */
export const RESERVED_VMI_LABELS = [
  'kubevirt.io/created-by',
  'kubevirt.io/migrationJobUID',
  'kubevirt.io/nodeName',
  'kubevirt.io/migrationTargetNodeName',
  'kubevirt.io/schedulable',
  'kubevirt.io/install-strategy',
];

/** A quantity's value, 0 when absent (Go's zero Quantity). */
const q = (v: unknown) => (v === undefined || v === null ? 0 : parseQuantity(v));
const globMatch = (pattern: string, s: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(s);

function validateNames(field: string, spec: VmiSpecTyped): Cause[] {
  const causes: Cause[] = [];
  const hostErrs = spec.hostname ? isDNS1123Label(spec.hostname) : [];
  if (hostErrs.length) causes.push(invalid(`${field}.hostname`, `${field}.hostname does not conform to the kubernetes DNS_LABEL rules : ${hostErrs.join(', ')}`));
  const subErrs = spec.subdomain ? isDNS1123Subdomain(spec.subdomain) : [];
  if (subErrs.length) causes.push(invalid(`${field}.subdomain`, `${field}.subdomain does not conform to the kubernetes DNS_SUBDOMAIN rules : ${subErrs.join(', ')}`));
  return causes;
}

/** The memory and CPU checks: nothing negative, requests within limits, guest memory within the limit, at least 1M asked. */
function validateResources(field: string, spec: VmiSpecTyped): Cause[] {
  const causes: Cause[] = [];
  const r = spec.domain.resources ?? {};
  const at = (kind: 'requests' | 'limits', res: string) => `${field}.domain.resources.${kind}.${res}`;
  const shown = (kind: 'requests' | 'limits', res: string) => String(r[kind]?.[res] ?? '0');
  const notNegative = (kind: 'requests' | 'limits', res: string) => {
    if (q(r[kind]?.[res]) < 0) causes.push(invalid(at(kind, res), `${at(kind, res)} '${shown(kind, res)}': must be greater than or equal to 0.`));
  };
  const reqMem = q(r.requests?.memory);
  const limMem = q(r.limits?.memory);
  notNegative('requests', 'memory');
  if (reqMem > 0 && reqMem < 1e6) causes.push(invalid(at('requests', 'memory'), `${at('requests', 'memory')} '${shown('requests', 'memory')}': must be greater than or equal to 1M.`));
  notNegative('limits', 'memory');
  if (limMem > 0 && reqMem > limMem)
    causes.push(invalid(at('requests', 'memory'), `${at('requests', 'memory')} '${shown('requests', 'memory')}' is greater than ${at('limits', 'memory')} '${shown('limits', 'memory')}'`));
  const guest = spec.domain.memory?.guest;
  if (guest !== undefined && limMem !== 0 && limMem < q(guest)) {
    const g = `${field}.domain.memory.guest`;
    causes.push(invalid(g, `${g} '${guest}' must be equal to or less than the memory limit ${at('limits', 'memory')} '${shown('limits', 'memory')}'`));
  }
  notNegative('requests', 'cpu');
  notNegative('limits', 'cpu');
  if (q(r.limits?.cpu) > 0 && q(r.requests?.cpu) > q(r.limits?.cpu))
    causes.push(invalid(at('requests', 'cpu'), `${at('requests', 'cpu')} '${shown('requests', 'cpu')}' is greater than ${at('limits', 'cpu')} '${shown('limits', 'cpu')}'`));
  // KubeVirt's counts are uint32, so a negative one never decodes there.
  for (const k of ['sockets', 'cores', 'threads'] as const) {
    const v = spec.domain.cpu?.[k];
    if (v !== undefined && v < 0) causes.push(invalid(`${field}.domain.cpu.${k}`, `${field}.domain.cpu.${k} '${v}': must be greater than or equal to 0.`));
  }
  return causes;
}

function validateMachine(field: string, spec: VmiSpecTyped): Cause[] {
  const type = spec.domain.machine?.type;
  if (!type) return [];
  // An unknown architecture is refused by itself (validateArchitecture).
  const allowed = EMULATED_MACHINES[String(spec.architecture ?? '')];
  if (!allowed || allowed.some((p) => globMatch(p, type))) return [];
  const f = `${field}.domain.machine.type`;
  return [invalid(f, `${f} is not supported: ${type} (allowed values: [${allowed.join(' ')}])`)];
}

function validateStartStrategy(field: string, spec: VmiSpecTyped): Cause[] {
  const s = spec.startStrategy as string | undefined;
  const f = `${field}.startStrategy`;
  if (s === undefined) return [];
  if (s !== 'Paused') return [invalid(f, `${f} is set with an unrecognized option: ${s}`)];
  if (spec.livenessProbe) return [invalid(f, `either ${f} or ${field}.livenessProbe should be provided.Pausing VMI with LivenessProbe is not supported`)];
  return [];
}

function validateProbe(f: string, probe: VmiProbe | undefined, podNetwork: boolean): Cause[] {
  if (!probe) return [];
  const causes: Cause[] = [];
  const handlers = [probe.httpGet, probe.tcpSocket, probe.exec, probe.guestAgentPing].filter((h) => h !== undefined && h !== null).length;
  if (handlers > 1) causes.push(invalid(f, `${f} must have exactly one probe type set`));
  if (handlers < 1) causes.push(required(f, `either ${f}.tcpSocket, ${f}.exec or ${f}.httpGet must be set if a ${f} is specified`));
  if (!podNetwork) {
    for (const k of ['httpGet', 'tcpSocket'] as const) if (probe[k]) causes.push(invalid(`${f}.${k}`, `${f}.${k} is only allowed if the Pod Network is attached`));
  }
  return causes;
}

function validateInputs(field: string, spec: VmiSpecTyped): Cause[] {
  const causes: Cause[] = [];
  ((spec.domain.devices.inputs as Obj[] | undefined) ?? []).forEach((input, i) => {
    const f = `${field}.domain.devices.inputs[${i}]`;
    if (input.bus && input.bus !== 'virtio' && input.bus !== 'usb') causes.push(invalid(`${f}.bus`, 'Input device can have only virtio or usb bus.'));
    if (input.type !== 'tablet') causes.push(invalid(`${f}.type`, 'Input device can have only tablet type.'));
  });
  return causes;
}

function validateFirmware(field: string, spec: VmiSpecTyped): Cause[] {
  const causes: Cause[] = [];
  const domain = spec.domain as Obj;
  const bootloader = (domain.firmware as Obj | undefined)?.bootloader as Obj | undefined;
  if (bootloader?.efi && bootloader.bios)
    causes.push(invalid(`${field}.domain.firmware.bootloader`, `${field}.domain.firmware.bootloader has both EFI and BIOS configured, but they are mutually exclusive.`));
  const efi = bootloader?.efi as Obj | undefined;
  const smm = (domain.features as Obj | undefined)?.smm as Obj | undefined;
  const tdx = (domain.launchSecurity as Obj | undefined)?.tdx;
  if (efi && efi.secureBoot !== false && !(smm && smm.enabled !== false) && !tdx)
    causes.push(invalid(`${field}.domain`, `${field}.domain has EFI SecureBoot enabled. SecureBoot requires SMM, which is currently disabled.`));
  return causes;
}

function validatePolicies(field: string, spec: VmiSpecTyped): Cause[] {
  const causes: Cause[] = [];
  if (spec.dnsPolicy && !DNS_POLICIES.includes(spec.dnsPolicy))
    causes.push(notSupported(`${field}.dnsPolicy`, `DNSPolicy: ${spec.dnsPolicy} is not supported, valid values: [${DNS_POLICIES.join(' ')}]`));
  if (spec.evictionStrategy !== undefined && !EVICTION_STRATEGIES.includes(spec.evictionStrategy))
    causes.push(invalid(`${field}.evictionStrategy`, `${field}.evictionStrategy is set with an unrecognized option: ${spec.evictionStrategy}`));
  return causes;
}

/** ValidateVirtualMachineInstanceSpec: what a VMI and a VM's (defaulted) template both pass. */
export async function validateVmiSpec(field: string, spec: VmiSpecTyped): Promise<Cause[]> {
  const podNetwork = (spec.networks ?? []).some((n) => n.pod);
  return [
    ...validateNames(field, spec),
    ...validateResources(field, spec),
    ...validateMachine(field, spec),
    ...validateStartStrategy(field, spec),
    ...validateNetworks(field, spec),
    ...validateBootOrder(field, spec),
    ...validateInputs(field, spec),
    ...validateProbe(`${field}.readinessProbe`, spec.readinessProbe, podNetwork),
    ...validateProbe(`${field}.livenessProbe`, spec.livenessProbe, podNetwork),
    ...validateDisks(field, spec),
    ...validateFirmware(field, spec),
    ...(await validateVolumes(field, spec)),
    ...validatePolicies(field, spec),
  ];
}

/** ValidateVirtualMachineInstanceMandatoryFields: a VMI (after defaults) asks for some memory. KubeVirt gives this cause no field. */
export function validateMemoryAsked(field: string, spec: VmiSpecTyped): Cause[] {
  if (q(spec.domain.resources?.requests?.memory) !== 0) return [];
  const m = spec.domain.memory;
  if (m?.guest !== undefined || m?.hugepages !== undefined) return [];
  return [
    required(
      '',
      `no memory requested, at least one of '${field}.domain.memory.guest', '${field}.domain.memory.hugepages.pageSize' or '${field}.domain.resources.requests.memory' must be set`,
    ),
  ];
}

/** ValidateVirtualMachineInstancePerArch, for the architectures KubeVirt knows (only amd64 has device rules Cairn checks). */
export function validateArchitecture(field: string, spec: VmiSpecTyped): Cause[] {
  const arch = String(spec.architecture ?? '');
  if (!(arch in EMULATED_MACHINES)) return [invalid(`${field}.architecture`, `unsupported architecture: ${arch}`)];
  if (arch !== 'amd64') return [];
  const causes: Cause[] = [];
  const devices = spec.domain.devices as Obj;
  const watchdog = devices.watchdog as Obj | undefined;
  if (watchdog && (!watchdog.i6300esb || watchdog.diag288)) causes.push(notSupported(`${field}.domain.devices.watchdog`, 'amd64 only supports I6300ESB watchdog device'));
  const video = devices.video as Obj | undefined;
  if (video && !AMD64_VIDEO_TYPES.includes(String(video.type ?? '')))
    causes.push(notSupported(`${field}.domain.devices.video.type`, `video model '${String(video.type ?? '')}' is not supported on amd64 architecture`));
  return causes;
}

/** The reserved kubevirt.io/ labels among `labels`. */
export function reservedLabels(labels: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(labels ?? {}).filter(([k]) => RESERVED_VMI_LABELS.includes(k)));
}

/** ValidateVirtualMachineInstanceMetadata: users may not set the reserved labels (`field` is the metadata's path). */
export function validateReservedLabels(field: string, labels: Record<string, string> | undefined, kubevirtComponent: boolean): Cause[] {
  if (kubevirtComponent || Object.keys(reservedLabels(labels)).length === 0) return [];
  return [notSupported(`${field}.labels`, 'creation of the following reserved kubevirt.io/ labels on a VMI object is prohibited')];
}

/** VMICreateAdmitter.Admit, on a VMI the defaults have been applied to. */
export async function validateVmiCreate(vmi: Vmi, kubevirtComponent: boolean): Promise<Cause[]> {
  return [
    ...(await validateVmiSpec('spec', vmi.spec)),
    ...validateVolumesUsed('spec', vmi.spec),
    ...validateMemoryAsked('spec', vmi.spec),
    ...validateReservedLabels('metadata', vmi.metadata.labels, kubevirtComponent),
    ...validateArchitecture('spec', vmi.spec),
  ];
}

/** VMIUpdateAdmitter.Admit: a user changes neither the spec nor the reserved labels (KubeVirt's components may, for hotplug and migrations). */
export function validateVmiUpdate(vmi: Vmi, old: Vmi, kubevirtComponent: boolean): Cause[] {
  if (kubevirtComponent) return [];
  if (!deepEqual(vmi.spec, old.spec)) return [notSupported('', 'update of VMI object is restricted')];
  if (!deepEqual(reservedLabels(vmi.metadata.labels), reservedLabels(old.metadata.labels)))
    return [notSupported('', 'modification of the following reserved kubevirt.io/ labels on a VMI object is prohibited')];
  return [];
}
