/**
 * Applying an instancetype and a preference to a VMI spec, as KubeVirt's pkg/instancetype/apply
 * and preference/apply do it. The instancetype's fields are authoritative: a VM that sets any of
 * them itself is in conflict (KubeVirt's "VM field(s) <paths> conflicts with selected instance
 * type") and gets no VMI. A preference only fills what the VM leaves unset. The CPU topology
 * comes from the instancetype's guest vCPUs laid out as the preference's preferredCPUTopology
 * (sockets by default; cores, threads, or spread across sockets/cores[/threads] by a ratio).
 */
import { parseQuantity } from '../../registry/validation.js';
import { deepClone, isPlainObject } from '../../util/object.js';
import type { VmiSpec } from './vm-api.js';

type Obj = Record<string, unknown>;

export interface InstancetypeSpec {
  cpu: { guest: number; model?: string; dedicatedCPUPlacement?: boolean; isolateEmulatorThread?: boolean; numa?: Obj; realtime?: Obj; maxSockets?: number };
  memory: { guest: string; hugepages?: Obj; maxGuest?: string; overcommitPercent?: number };
  gpus?: Obj[];
  hostDevices?: Obj[];
  ioThreadsPolicy?: string;
  ioThreads?: Obj;
  launchSecurity?: Obj;
  nodeSelector?: Record<string, string>;
  schedulerName?: string;
  annotations?: Record<string, string>;
}

export type PreferenceSpec = Obj & {
  cpu?: { preferredCPUTopology?: string; spreadOptions?: { across?: string; ratio?: number }; preferredCPUFeatures?: Obj[] };
  preferSpreadSocketToCoreRatio?: number;
  devices?: Obj;
  firmware?: Obj;
  machine?: { preferredMachineType?: string };
  clock?: { preferredClockOffset?: Obj; preferredTimer?: Obj };
  features?: Obj;
  preferredTerminationGracePeriodSeconds?: number;
  preferredSubdomain?: string;
  preferredArchitecture?: string;
  annotations?: Record<string, string>;
};

/** The error a VM in conflict with its instancetype carries, in KubeVirt's words. */
export class InstancetypeConflictError extends Error {
  constructor(readonly paths: string[]) {
    super(`VM field(s) ${paths.join(', ')} conflicts with selected instance type`);
    this.name = 'InstancetypeConflictError';
  }
}

/** The VM field the VMI spec comes from: conflicts name it as the user wrote it. */
const BASE = 'spec.template.spec';

/** The object at `key` of `parent`, made empty when absent. */
function child(parent: Obj, key: string): Obj {
  if (!isPlainObject(parent[key])) parent[key] = {};
  return parent[key] as Obj;
}
const isSet = (v: unknown) => v !== undefined && v !== null && v !== '' && v !== 0 && v !== false;

function formatBytes(n: number): string {
  for (const [suffix, size] of [['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]] as const) if (n % size === 0) return `${n / size}${suffix}`;
  return String(n);
}

function applyCpu(it: InstancetypeSpec, pref: PreferenceSpec | undefined, spec: VmiSpec, conflicts: string[]): void {
  const domain = child(spec, 'domain');
  const cpu = child(domain, 'cpu');
  const resources = child(domain, 'resources');
  const before = conflicts.length;
  if (isPlainObject(resources.requests) && resources.requests.cpu !== undefined) conflicts.push(`${BASE}.domain.resources.requests.cpu`);
  if (isPlainObject(resources.limits) && resources.limits.cpu !== undefined) conflicts.push(`${BASE}.domain.resources.limits.cpu`);
  for (const f of ['sockets', 'cores', 'threads']) if (isSet(cpu[f])) conflicts.push(`${BASE}.domain.cpu.${f}`);
  if (isSet(cpu.model) && it.cpu.model !== undefined) conflicts.push(`${BASE}.domain.cpu.model`);
  if (cpu.dedicatedCpuPlacement === true && it.cpu.dedicatedCPUPlacement !== undefined) conflicts.push(`${BASE}.domain.cpu.dedicatedCPUPlacement`);
  if (cpu.isolateEmulatorThread === true && it.cpu.isolateEmulatorThread !== undefined) conflicts.push(`${BASE}.domain.cpu.isolateEmulatorThread`);
  if (cpu.numa !== undefined && it.cpu.numa !== undefined) conflicts.push(`${BASE}.domain.cpu.numa`);
  if (cpu.realtime !== undefined && it.cpu.realtime !== undefined) conflicts.push(`${BASE}.domain.cpu.realtime`);
  if (conflicts.length > before) return;

  if (it.cpu.model !== undefined) cpu.model = it.cpu.model;
  if (it.cpu.dedicatedCPUPlacement !== undefined) cpu.dedicatedCpuPlacement = it.cpu.dedicatedCPUPlacement;
  if (it.cpu.isolateEmulatorThread !== undefined) cpu.isolateEmulatorThread = it.cpu.isolateEmulatorThread;
  if (it.cpu.numa !== undefined) cpu.numa = deepClone(it.cpu.numa);
  if (it.cpu.realtime !== undefined) cpu.realtime = deepClone(it.cpu.realtime);
  if (it.cpu.maxSockets !== undefined) cpu.maxSockets = it.cpu.maxSockets;

  const topology = cpuTopology(it.cpu.guest, pref);
  if (!topology) {
    conflicts.push('instancetype.spec.cpu.guest');
    return;
  }
  Object.assign(cpu, topology);
}

/** KubeVirt's deprecated `prefer*` topology names, mapped to the current ones. */
const TOPOLOGY_ALIASES: Record<string, string> = { preferSockets: 'sockets', preferCores: 'cores', preferThreads: 'threads', preferSpread: 'spread', preferAny: 'any' };

/** Sockets/cores/threads for `vcpus` as the preference lays them out; undefined when a spread does not divide. */
export function cpuTopology(vcpus: number, pref: PreferenceSpec | undefined): { sockets: number; cores: number; threads: number } | undefined {
  const t = { sockets: 1, cores: 1, threads: 1 };
  if (vcpus === 1) return t;
  const raw = pref?.cpu?.preferredCPUTopology ?? 'sockets';
  switch (TOPOLOGY_ALIASES[raw] ?? raw) {
    case 'cores':
      return { ...t, cores: vcpus };
    case 'threads':
      return { ...t, threads: vcpus };
    case 'spread': {
      const ratio = pref?.cpu?.spreadOptions?.ratio ?? (pref?.preferSpreadSocketToCoreRatio || 2);
      const across = pref?.cpu?.spreadOptions?.across ?? 'SocketsCores';
      if (across === 'CoresThreads') return vcpus % ratio === 0 ? { ...t, threads: ratio, cores: vcpus / ratio } : undefined;
      if (across === 'SocketsCoresThreads') return vcpus % (2 * ratio) === 0 ? { sockets: vcpus / 2 / ratio, cores: ratio, threads: 2 } : undefined;
      return vcpus % ratio === 0 ? { ...t, cores: ratio, sockets: vcpus / ratio } : undefined;
    }
    default:
      return { ...t, sockets: vcpus };
  }
}

function applyMemory(it: InstancetypeSpec, spec: VmiSpec, conflicts: string[]): void {
  const domain = child(spec, 'domain');
  const memory = child(domain, 'memory');
  const resources = child(domain, 'resources');
  const conflict =
    (memory.guest !== undefined && 'domain.memory.guest') ||
    (memory.hugepages !== undefined && it.memory.hugepages !== undefined && 'domain.memory.hugepages') ||
    (memory.maxGuest !== undefined && it.memory.maxGuest !== undefined && 'domain.memory.maxGuest') ||
    (isPlainObject(resources.requests) && resources.requests.memory !== undefined && 'domain.resources.requests.memory') ||
    (isPlainObject(resources.limits) && resources.limits.memory !== undefined && 'domain.resources.limits.memory');
  if (conflict) {
    conflicts.push(`${BASE}.${conflict}`);
    return;
  }
  memory.guest = it.memory.guest;
  // Overcommit: the pod requests less than the guest sees.
  const pct = it.memory.overcommitPercent ?? 0;
  if (pct > 0) child(resources, 'requests').memory = formatBytes(Math.floor(parseQuantity(it.memory.guest) * (1 - pct / 100)));
  if (it.memory.hugepages !== undefined) memory.hugepages = deepClone(it.memory.hugepages);
  if (it.memory.maxGuest !== undefined) memory.maxGuest = it.memory.maxGuest;
}

/** A field the instancetype sets alone: the VM must leave it unset. */
function applyExclusive(value: unknown, parent: Obj, key: string, path: string, conflicts: string[]): void {
  if (value === undefined) return;
  const current = parent[key];
  if (current !== undefined && !(Array.isArray(current) && current.length === 0)) conflicts.push(`${BASE}.${path}`);
  else parent[key] = deepClone(value);
}

function applyAnnotations(it: InstancetypeSpec, annotations: Record<string, string>, conflicts: string[]): void {
  for (const [k, v] of Object.entries(it.annotations ?? {})) {
    if (annotations[k] === undefined) annotations[k] = v;
    else if (annotations[k] !== v) conflicts.push(`annotations.${k}`);
  }
}

/** Sets `key` of `parent` from the preference's value when the VM left it unset. */
function prefer(parent: Obj, key: string, value: unknown): void {
  if (value !== undefined && value !== '' && parent[key] === undefined) parent[key] = deepClone(value);
}

function applyDevicePreferences(devicesPref: Obj, spec: VmiSpec): void {
  const devices = child(child(spec, 'domain'), 'devices');
  for (const disk of (devices.disks as Obj[] | undefined) ?? []) {
    if (!disk.disk && !disk.cdrom && !disk.lun) disk.disk = {};
    if (isPlainObject(disk.disk)) {
      prefer(disk.disk, 'bus', devicesPref.preferredDiskBus);
      prefer(disk, 'blockSize', devicesPref.preferredDiskBlockSize);
      prefer(disk, 'cache', devicesPref.preferredDiskCache);
      prefer(disk, 'io', devicesPref.preferredDiskIO);
      if (disk.disk.bus === 'virtio') prefer(disk, 'dedicatedIOThread', devicesPref.preferredDiskDedicatedIoThread);
    } else if (isPlainObject(disk.cdrom)) prefer(disk.cdrom, 'bus', devicesPref.preferredCdromBus);
    else if (isPlainObject(disk.lun)) prefer(disk.lun, 'bus', devicesPref.preferredLunBus);
  }
  const podNetworks = new Set(((spec.networks as Obj[] | undefined) ?? []).filter((n) => n.pod !== undefined).map((n) => n.name));
  const BINDINGS = ['bridge', 'slirp', 'masquerade', 'sriov', 'passt', 'macvtap', 'binding'];
  for (const iface of (devices.interfaces as Obj[] | undefined) ?? []) {
    prefer(iface, 'model', devicesPref.preferredInterfaceModel);
    if (devicesPref.preferredInterfaceMasquerade !== undefined && !BINDINGS.some((b) => iface[b] !== undefined) && podNetworks.has(iface.name)) {
      iface.masquerade = deepClone(devicesPref.preferredInterfaceMasquerade);
    }
  }
  for (const input of (devices.inputs as Obj[] | undefined) ?? []) {
    prefer(input, 'bus', devicesPref.preferredInputBus);
    prefer(input, 'type', devicesPref.preferredInputType);
  }
  const simple: [string, string][] = [
    ['autoattachGraphicsDevice', 'preferredAutoattachGraphicsDevice'],
    ['autoattachMemBalloon', 'preferredAutoattachMemBalloon'],
    ['autoattachPodInterface', 'preferredAutoattachPodInterface'],
    ['autoattachSerialConsole', 'preferredAutoattachSerialConsole'],
    ['autoattachInputDevice', 'preferredAutoattachInputDevice'],
    ['blockMultiQueue', 'preferredBlockMultiQueue'],
    ['networkInterfaceMultiqueue', 'preferredNetworkInterfaceMultiQueue'],
    ['useVirtioTransitional', 'preferredUseVirtioTransitional'],
    ['disableHotplug', 'preferredDisableHotplug'],
    ['rng', 'preferredRng'],
    ['tpm', 'preferredTPM'],
  ];
  for (const [field, pref] of simple) prefer(devices, field, devicesPref[pref]);
  if (devicesPref.preferredSoundModel !== undefined && isPlainObject(devices.sound)) prefer(devices.sound, 'model', devicesPref.preferredSoundModel);
}

function applyFirmwarePreferences(fw: Obj, spec: VmiSpec): void {
  const bootloader = child(child(child(spec, 'domain'), 'firmware'), 'bootloader');
  if (fw.preferredUseBios === true && !bootloader.bios && !bootloader.efi) bootloader.bios = {};
  if (isPlainObject(bootloader.bios)) prefer(bootloader.bios, 'useSerial', fw.preferredUseBiosSerial);
  if (!bootloader.efi && !bootloader.bios && fw.preferredEfi !== undefined) {
    bootloader.efi = deepClone(fw.preferredEfi);
    return;
  }
  if (fw.preferredUseEfi === true && !bootloader.efi && !bootloader.bios) bootloader.efi = {};
  if (isPlainObject(bootloader.efi)) prefer(bootloader.efi, 'secureBoot', fw.preferredUseSecureBoot);
}

function applyFeaturePreferences(features: Obj, spec: VmiSpec): void {
  const target = child(child(spec, 'domain'), 'features');
  const map: [string, string][] = [['acpi', 'preferredAcpi'], ['apic', 'preferredApic'], ['hyperv', 'preferredHyperv'], ['kvm', 'preferredKvm'], ['pvspinlock', 'preferredPvspinlock'], ['smm', 'preferredSmm']];
  for (const [field, pref] of map) prefer(target, field, features[pref]);
}

function applyPreference(pref: PreferenceSpec, spec: VmiSpec, annotations: Record<string, string>): void {
  const domain = child(spec, 'domain');
  for (const f of pref.cpu?.preferredCPUFeatures ?? []) {
    const cpu = child(domain, 'cpu');
    const features = (cpu.features as Obj[] | undefined) ?? [];
    if (!features.some((x) => x.name === f.name)) cpu.features = [...features, deepClone(f)];
  }
  if (isPlainObject(pref.devices)) applyDevicePreferences(pref.devices, spec);
  if (isPlainObject(pref.firmware)) applyFirmwarePreferences(pref.firmware, spec);
  if (pref.machine?.preferredMachineType) prefer(child(domain, 'machine'), 'type', pref.machine.preferredMachineType);
  if (pref.clock && (pref.clock.preferredClockOffset || pref.clock.preferredTimer)) {
    const clock = child(domain, 'clock');
    if (pref.clock.preferredClockOffset && clock.utc === undefined && clock.timezone === undefined) Object.assign(clock, deepClone(pref.clock.preferredClockOffset));
    prefer(clock, 'timer', pref.clock.preferredTimer);
  }
  if (isPlainObject(pref.features)) applyFeaturePreferences(pref.features, spec);
  prefer(spec, 'terminationGracePeriodSeconds', pref.preferredTerminationGracePeriodSeconds);
  prefer(spec, 'subdomain', pref.preferredSubdomain);
  prefer(spec, 'architecture', pref.preferredArchitecture);
  for (const [k, v] of Object.entries(pref.annotations ?? {})) if (annotations[k] === undefined) annotations[k] = v;
}

export interface Applied {
  spec: VmiSpec;
  annotations: Record<string, string>;
}

/**
 * The VMI spec and annotations with the instancetype and preference applied; throws
 * InstancetypeConflictError listing every field the VM sets that the instancetype owns.
 */
export function applyInstancetype(template: { spec: VmiSpec; annotations: Record<string, string> }, it: InstancetypeSpec | undefined, pref: PreferenceSpec | undefined): Applied {
  const spec = deepClone(template.spec);
  const annotations = { ...template.annotations };
  if (it) {
    const conflicts: string[] = [];
    applyExclusive(it.nodeSelector, spec, 'nodeSelector', 'nodeSelector', conflicts);
    applyExclusive(it.schedulerName, spec, 'schedulerName', 'schedulerName', conflicts);
    applyCpu(it, pref, spec, conflicts);
    applyMemory(it, spec, conflicts);
    const domain = child(spec, 'domain');
    applyExclusive(it.ioThreadsPolicy, domain, 'ioThreadsPolicy', 'domain.ioThreadsPolicy', conflicts);
    applyExclusive(it.ioThreads, domain, 'ioThreads', 'domain.ioThreads', conflicts);
    applyExclusive(it.launchSecurity, domain, 'launchSecurity', 'domain.launchSecurity', conflicts);
    const devices = child(domain, 'devices');
    applyExclusive(it.gpus?.length ? it.gpus : undefined, devices, 'gpus', 'domain.devices.gpus', conflicts);
    applyExclusive(it.hostDevices?.length ? it.hostDevices : undefined, devices, 'hostDevices', 'domain.devices.hostDevices', conflicts);
    applyAnnotations(it, annotations, conflicts);
    if (conflicts.length) throw new InstancetypeConflictError(conflicts);
  }
  if (pref) applyPreference(pref, spec, annotations);
  return { spec, annotations };
}
