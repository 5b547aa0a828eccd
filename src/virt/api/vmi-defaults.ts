/**
 * What KubeVirt's mutating webhooks write into a VirtualMachineInstance on create and into a
 * VirtualMachine (pkg/defaults, pkg/virt-api/webhooks/mutating-webhook/mutators, and the
 * generated defaulters of kubevirt.io/api/core/v1), for Cairn's cluster configuration: the pod
 * network with masquerade when a VMI names no network (KubeVirt's own default is bridge; Cairn's
 * pod network is masquerade-only), a disk for every volume without one, SATA as the amd64 disk
 * bus, q35, host-model CPU, guest memory from the requests, sockets from the CPU request, a random
 * firmware UUID, and the status a new VMI starts with (Pending, memory and CPU topology).
 * Everything else a VMI carries is left as written.
 */
import { randomUUID } from 'node:crypto';
import { goArch } from '../../agent/node/host-info.js';
import { parseQuantity } from '../../registry/validation.js';
import { isPlainObject, type KubeObject } from '../../util/object.js';
import type { Vmi, VmiSpecTyped } from '../launcher/vmi-types.js';

type Obj = Record<string, unknown>;

/** KubeVirt's DefaultAMD64MachineType (virt-config). */
export const DEFAULT_MACHINE_TYPE = 'q35';
/** v1.DefaultCPUModel. */
export const DEFAULT_CPU_MODEL = 'host-model';
/** The cluster's evictionStrategy default (KubeVirt's config default: None). */
export const DEFAULT_EVICTION_STRATEGY = 'None';
/** KubeVirt's amd64 disk bus: SATA, which every guest OS drives without extra drivers. */
export const DEFAULT_DISK_BUS = 'sata';
/** The default pod network and its interface (v1.DefaultPodNetwork, DefaultMasqueradeNetworkInterface). */
export const DEFAULT_NETWORK_NAME = 'default';

/** The child object at `key`, made when absent. */
function child(o: Obj, key: string): Obj {
  if (!isPlainObject(o[key])) o[key] = {};
  return o[key] as Obj;
}

const positive = (q: unknown) => parseQuantity(q) > 0;

/** virt-api's architecture: the one its own binary runs on (runtime.GOARCH). */
export const defaultArchitecture = () => goArch();

function setResourceDefaults(spec: VmiSpecTyped): void {
  const resources = (spec.domain.resources ??= {});
  // A CPU limit alone becomes the request too (setDefaultResourceRequests).
  if (positive(resources.limits?.cpu) && !positive(resources.requests?.cpu)) (resources.requests ??= {}).cpu = resources.limits!.cpu!;
}

/** setGuestMemory: guest memory from the memory request, else the limit, else the hugepage size. */
function setGuestMemory(spec: VmiSpecTyped): void {
  const memory = (spec.domain.memory ??= {});
  if (memory.guest !== undefined) return;
  const r = spec.domain.resources;
  if (positive(r?.requests?.memory)) memory.guest = r!.requests!.memory;
  else if (positive(r?.limits?.memory)) memory.guest = r!.limits!.memory;
  else if (memory.hugepages?.pageSize && positive(memory.hugepages.pageSize)) memory.guest = memory.hugepages.pageSize;
}

/** SetDefaultGuestCPUTopology: with no topology at all, sockets = the CPU limit (else request), cores = threads = 1. */
function setCpuTopology(spec: VmiSpecTyped): void {
  const cpu = (spec.domain.cpu ??= {});
  if (cpu.cores || cpu.sockets || cpu.threads) return;
  const r = spec.domain.resources;
  const given = r?.limits?.cpu ?? r?.requests?.cpu;
  // Go's Quantity.Value() rounds up to a whole number.
  cpu.sockets = given !== undefined ? Math.ceil(parseQuantity(given)) : 1;
  cpu.cores = 1;
  cpu.threads = 1;
}

/** An image with no tag, or :latest, is always pulled; anything else if not present. */
function setContainerDiskPullPolicies(spec: VmiSpecTyped): void {
  for (const v of spec.volumes ?? []) {
    const cd = v.containerDisk;
    if (!cd || cd.imagePullPolicy) continue;
    cd.imagePullPolicy = cd.image.endsWith(':latest') || !/[:@]/.test(cd.image) ? 'Always' : 'IfNotPresent';
  }
}

/** SetDefaultNetworkInterface: only when the VMI names neither interfaces nor networks, and autoattach is not off. */
function setDefaultNetwork(spec: VmiSpecTyped): void {
  const devices = spec.domain.devices;
  if (devices.autoattachPodInterface === false) return;
  if ((spec.networks?.length ?? 0) > 0 || (devices.interfaces?.length ?? 0) > 0) return;
  devices.interfaces = [{ name: DEFAULT_NETWORK_NAME, masquerade: {} }];
  spec.networks = [{ name: DEFAULT_NETWORK_NAME, pod: {} }];
}

/** SetDefaultVolumeDisk: a volume no disk or filesystem names gets a disk of its name. */
function setVolumeDisks(spec: VmiSpecTyped): void {
  const devices = spec.domain.devices;
  const named = new Set([...(devices.disks ?? []).map((d) => d.name), ...((devices.filesystems as { name: string }[] | undefined) ?? []).map((f) => f.name)]);
  for (const v of spec.volumes ?? []) if (!named.has(v.name)) (devices.disks ??= []).push({ name: v.name });
}

/**
 * KubeVirt's SetDefaultVirtualMachineInstanceSpec — the part its VM admitter also applies to a
 * copy of a VM's template before validating it.
 */
export function setVmiSpecDefaults(spec: VmiSpecTyped): void {
  spec.domain.devices ??= {};
  spec.architecture ??= defaultArchitecture();
  (spec.domain.machine ??= {}).type ||= DEFAULT_MACHINE_TYPE;
  setResourceDefaults(spec);
  setGuestMemory(spec);
  setCpuTopology(spec);
  setContainerDiskPullPolicies(spec);
  spec.evictionStrategy ??= DEFAULT_EVICTION_STRATEGY;
  setDefaultNetwork(spec);
  setVolumeDisks(spec);
}

/** The generated defaulters' FeatureState rule: a present feature is enabled unless it says otherwise. */
function enable(o: unknown, key = 'enabled'): void {
  if (isPlainObject(o) && o[key] === undefined) o[key] = true;
}

function setFeatureDefaults(domain: Obj): void {
  const features = child(domain, 'features');
  // ACPI is a struct, not a pointer, in KubeVirt's types: it is always there once features is.
  enable(child(features, 'acpi'));
  enable(features.apic);
  enable(features.smm);
  enable(features.pvspinlock);
  const hyperv = features.hyperv;
  if (isPlainObject(hyperv)) {
    for (const f of ['relaxed', 'vapic', 'vpindex', 'runtime', 'synic', 'reset', 'vendorid', 'frequencies', 'reenlightenment', 'tlbflush', 'ipi', 'evmcs', 'synictimer']) enable(hyperv[f]);
    for (const f of ['direct', 'extended']) enable((hyperv.tlbflush as Obj | undefined)?.[f]);
    enable((hyperv.synictimer as Obj | undefined)?.direct);
    const spinlocks = hyperv.spinlocks;
    if (isPlainObject(spinlocks)) {
      enable(spinlocks);
      if (spinlocks.enabled === true && spinlocks.spinlocks === undefined) spinlocks.spinlocks = 4096;
    }
  }
}

/** Timers say `present`, not `enabled`, in KubeVirt's JSON. */
function setClockDefaults(domain: Obj): void {
  const timer = (domain.clock as Obj | undefined)?.timer;
  if (isPlainObject(timer)) for (const t of ['hpet', 'kvm', 'pit', 'rtc', 'hyperv']) enable(timer[t], 'present');
}

/** SetDefaults_DiskDevice, SetDefaults_CDRomTarget and the amd64 bus (setDefaultAmd64DisksBus). */
function setDiskDefaults(spec: VmiSpecTyped, amd64: boolean): void {
  for (const disk of spec.domain.devices.disks ?? []) {
    if (!disk.disk && !disk.cdrom && !disk.lun) disk.disk = {};
    if (disk.cdrom) {
      disk.cdrom.readonly ??= true;
      disk.cdrom.tray ||= 'closed';
    }
    enable(((disk as unknown as Obj).blockSize as Obj | undefined)?.matchVolume);
    if (!amd64) continue;
    for (const target of [disk.disk, disk.cdrom, disk.lun]) if (target && !target.bus) (target as { bus?: string }).bus = DEFAULT_DISK_BUS;
  }
}

function setDeviceDefaults(spec: VmiSpecTyped, amd64: boolean): void {
  const devices = spec.domain.devices as Obj;
  for (const input of (devices.inputs as Obj[] | undefined) ?? []) {
    input.bus ||= 'usb';
    input.type ||= 'tablet';
  }
  for (const gpu of (devices.gpus as Obj[] | undefined) ?? []) enable(((gpu.virtualGPUOptions as Obj | undefined)?.display as Obj | undefined)?.ramFB);
  const watchdog = devices.watchdog;
  if (amd64 && isPlainObject(watchdog)) child(watchdog, 'i6300esb').action ||= 'reset';
}

/** SetDefaults_Probe: timeout 1 s, period 10 s, success 1, failure 3 where below 1. */
function setProbeDefaults(probe: unknown): void {
  if (!isPlainObject(probe)) return;
  const atLeast = (key: string, v: number) => {
    if (!(typeof probe[key] === 'number' && (probe[key] as number) >= 1)) probe[key] = v;
  };
  atLeast('timeoutSeconds', 1);
  atLeast('periodSeconds', 10);
  atLeast('successThreshold', 1);
  atLeast('failureThreshold', 3);
}

/**
 * ApplyNewVMIMutations plus the create branch of KubeVirt's VMI mutator: spec defaults, the
 * generated defaulters, the architecture's defaults, and the initial status (phase Pending with
 * its transition time, the guest memory, the CPU topology). KubeVirt's foreground-delete finalizer
 * is left to the VMI controller, which adds it itself and is the one to remove it.
 */
export function setVmiDefaults(vmi: Vmi, now: Date): void {
  const spec = vmi.spec;
  setVmiSpecDefaults(spec);
  const domain = spec.domain as Obj;
  const firmware = child(domain, 'firmware');
  if (!firmware.uuid) firmware.uuid = randomUUID();
  setFeatureDefaults(domain);
  setClockDefaults(domain);
  const amd64 = spec.architecture === 'amd64';
  setDiskDefaults(spec, amd64);
  setDeviceDefaults(spec, amd64);
  setProbeDefaults(spec.readinessProbe);
  setProbeDefaults(spec.livenessProbe);
  spec.domain.cpu!.model ||= DEFAULT_CPU_MODEL;

  const status = (vmi.status ??= {});
  const guest = spec.domain.memory?.guest;
  if (guest !== undefined) status.memory = { guestAtBoot: guest, guestCurrent: guest, guestRequested: guest };
  // Go's omitempty: a count left at zero is not written.
  const cpu = spec.domain.cpu!;
  status.currentCPUTopology ??= Object.fromEntries((['sockets', 'cores', 'threads'] as const).filter((k) => cpu[k]).map((k) => [k, cpu[k]]));
  status.phase = 'Pending';
  status.phaseTransitionTimestamps = [...(status.phaseTransitionTimestamps ?? []), { phase: 'Pending', phaseTransitionTimestamp: now.toISOString().replace(/\.\d{3}Z$/, 'Z') }];
}

/**
 * KubeVirt's VM mutator: the template's architecture and machine type, and on create a random
 * firmware UUID and serial when the template has none (so every VMI of the VM shows the guest the
 * same machine).
 */
export function setVmDefaults(vm: KubeObject, operation: 'CREATE' | 'UPDATE'): void {
  const spec = (vm.spec as { template?: { spec?: VmiSpecTyped } } | undefined)?.template?.spec;
  if (!isPlainObject(spec) || !isPlainObject(spec.domain)) return;
  if (operation === 'CREATE') {
    const firmware = child(spec.domain as Obj, 'firmware');
    if (!firmware.uuid) firmware.uuid = randomUUID();
    if (!firmware.serial) firmware.serial = randomUUID();
  }
  spec.architecture ??= defaultArchitecture();
  (spec.domain.machine ??= {}).type ||= DEFAULT_MACHINE_TYPE;
}
