/**
 * A VMI and its launcher pod turned into the QEMU machine the launcher runs (every path as the
 * `compute` container sees it, src/virt/launcher/layout.ts) and the files the VirtHandler must
 * make before QEMU starts: cloud-init ISOs and emptyDisk images. Pure, so every mapping from
 * KubeVirt's spec to QEMU is unit-tested; refusals are LaunchPlanErrors naming the field.
 */
import { createHash } from 'node:crypto';
import { parseQuantity } from '../../registry/validation.js';
import { cpuTopology, guestMemoryBytes } from '../launcher/vmi-guest.js';
import type { Pod } from '../../agent/pods/api-types.js';
import { TCG_CACHE_OVERHEAD_BYTES } from '../controllers/vmi-resources.js';
import type { Accel, DiskSpec, MachineSpec, NicSpec } from '../qemu/qemu-args.js';
import { blockDevicePath, COMPUTE_CONTAINER, configVolumeDir, containerDiskPath, DISK_IMAGE, diskVolumeDir, emptyDiskPath, FILES, isoPath, PRIVATE_DIR } from '../launcher/layout.js';
import type { CloudInitSource, Vmi, VmiDisk, VmiInterface, VmiVolume } from '../launcher/vmi-types.js';
import { secondaryNetworks } from '../net/multus-networks.js';
import { inPodBridgeName, secondaryTapName } from '../net/secondary-names.js';

export class LaunchPlanError extends Error {
  override name = 'LaunchPlanError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export interface CloudInitIso {
  volume: string;
  kind: 'noCloud' | 'configDrive';
  source: CloudInitSource;
  /** Container path. */
  path: string;
}

/** A configMap, secret or serviceAccount volume (mounted in the pod) made into an ISO, as KubeVirt's config disks. */
export interface ConfigIso {
  volume: string;
  /** Container path of the mounted volume; its top-level files go into the ISO. */
  sourceDir: string;
  /** The ISO's volume id: the volume's volumeLabel, else KubeVirt's `cfgdata`. */
  label: string;
  path: string;
}

export interface EmptyDisk {
  volume: string;
  path: string;
  capacityBytes: number;
}

/** A containerDisk to copy out of its OCI image before QEMU starts (the disk's format is found then). */
export interface ContainerDisk {
  volume: string;
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** The file in the image; default the one file under /disk. */
  pathInImage?: string;
  /** Container path of the copy. */
  path: string;
  /** Index in machine.disks. */
  diskIndex: number;
}

export interface MasqueradeNic {
  name: string;
  mac: string;
  tap: string;
  ports?: { protocol: 'tcp' | 'udp'; port: number }[];
  bootOrder?: number;
}

/** A secondary network's NIC with KubeVirt's bridge binding: the pod interface and QEMU's tap on an in-pod bridge. */
export interface BridgeNic {
  name: string;
  mac: string;
  /** The launcher pod's interface for the network (Multus made it on the node's bridge). */
  podIface: string;
  bridge: string;
  tap: string;
}

export interface LaunchPlan {
  machine: MachineSpec;
  cloudInit: CloudInitIso[];
  configIsos: ConfigIso[];
  emptyDisks: EmptyDisk[];
  containerDisks: ContainerDisk[];
  /** The pod-network interface (masquerade), when the VMI has one. */
  podNic?: MasqueradeNic;
  /** The secondary networks' bridge-bound interfaces. */
  bridgeNics: BridgeNic[];
}

const MiB = 1024 * 1024;

/** The guest's memory (vmi-guest.ts); a VMI naming none cannot be launched. */
export function guestMemory(vmi: Vmi): number {
  const v = guestMemoryBytes(vmi.spec);
  if (!(v !== undefined && v > 0)) throw new LaunchPlanError('spec.domain.memory.guest', 'the VMI asks for no memory');
  return v;
}

/**
 * A MAC stable for the VMI's name and interface — the same across restarts of its VM and across
 * migrations — locally administered and unicast (02:...), unless the interface names one.
 */
export function interfaceMac(vmi: Vmi, iface: VmiInterface): string {
  if (iface.macAddress) return iface.macAddress.toLowerCase().replace(/-/g, ':');
  const h = createHash('sha256').update(`${vmi.metadata.namespace}/${vmi.metadata.name}/${iface.name}`).digest();
  return ['02', ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

function volumeOf(vmi: Vmi, disk: VmiDisk, i: number): VmiVolume {
  const v = vmi.spec.volumes?.find((x) => x.name === disk.name);
  if (!v) throw new LaunchPlanError(`spec.domain.devices.disks[${i}].name`, `no volume named ${JSON.stringify(disk.name)}`);
  return v;
}

/** Names of the pod's claim volumes the compute container gets as block devices. */
function blockVolumes(pod: Pod): Set<string> {
  const c = pod.spec.containers.find((x) => x.name === COMPUTE_CONTAINER);
  return new Set((c?.volumeDevices ?? []).map((d) => d.name));
}

function diskSpec(vmi: Vmi, pod: Pod, disk: VmiDisk, i: number, plan: Pick<LaunchPlan, 'cloudInit' | 'configIsos' | 'emptyDisks' | 'containerDisks'>): DiskSpec {
  const field = `spec.domain.devices.disks[${i}]`;
  const vol = volumeOf(vmi, disk, i);
  if (disk.lun) throw new LaunchPlanError(`${field}.lun`, 'LUN disks are not supported');
  const target = disk.cdrom ?? disk.disk ?? {};
  const bus = target.bus ?? (disk.cdrom ? 'sata' : 'virtio');
  if (bus !== 'virtio' && bus !== 'sata') throw new LaunchPlanError(`${field}.${disk.cdrom ? 'cdrom' : 'disk'}.bus`, `bus ${JSON.stringify(bus)} is not supported (virtio, sata)`);
  const base = {
    id: `disk${i}`,
    bus,
    kind: disk.cdrom ? ('cdrom' as const) : ('disk' as const),
    ...(disk.bootOrder !== undefined ? { bootIndex: disk.bootOrder } : {}),
    ...(disk.serial !== undefined ? { serial: disk.serial } : {}),
    ...(disk.cache !== undefined ? { cache: disk.cache } : {}),
  };
  const ro = disk.cdrom ? true : disk.disk?.readonly === true;
  const claim = vol.persistentVolumeClaim ?? vol.dataVolume ? { name: vol.persistentVolumeClaim?.claimName ?? vol.dataVolume!.name, readOnly: vol.persistentVolumeClaim?.readOnly === true } : undefined;
  if (claim) {
    const block = blockVolumes(pod).has(vol.name);
    return { ...base, path: block ? blockDevicePath(vol.name) : `${diskVolumeDir(vol.name)}/${DISK_IMAGE}`, format: 'raw', block, readOnly: ro || claim.readOnly };
  }
  if (vol.emptyDisk) {
    const capacityBytes = parseQuantity(vol.emptyDisk.capacity);
    if (!(capacityBytes > 0)) throw new LaunchPlanError(`spec.volumes[${vmi.spec.volumes!.indexOf(vol)}].emptyDisk.capacity`, 'must be greater than zero');
    plan.emptyDisks.push({ volume: vol.name, path: emptyDiskPath(vol.name), capacityBytes });
    return { ...base, path: emptyDiskPath(vol.name), format: 'qcow2', readOnly: ro };
  }
  if (vol.containerDisk) {
    const cd = vol.containerDisk;
    const policy = cd.imagePullPolicy as ContainerDisk['imagePullPolicy'];
    plan.containerDisks.push({ volume: vol.name, image: cd.image, ...(policy ? { imagePullPolicy: policy } : {}), ...(cd.path ? { pathInImage: cd.path } : {}), path: containerDiskPath(vol.name), diskIndex: i });
    // raw until the copy is inspected (the handler sets the real format).
    return { ...base, path: containerDiskPath(vol.name), format: 'raw', readOnly: ro };
  }
  const config = vol.configMap ? (['config-map', vol.configMap.volumeLabel] as const) : vol.secret ? (['secret', vol.secret.volumeLabel] as const) : vol.serviceAccount ? (['service-account', undefined] as const) : undefined;
  if (config) {
    plan.configIsos.push({ volume: vol.name, sourceDir: configVolumeDir(config[0], vol.name), label: config[1] || 'cfgdata', path: isoPath(vol.name) });
    return { ...base, path: isoPath(vol.name), format: 'raw', readOnly: true };
  }
  const ci = vol.cloudInitNoCloud ? ('noCloud' as const) : vol.cloudInitConfigDrive ? ('configDrive' as const) : undefined;
  if (ci) {
    plan.cloudInit.push({ volume: vol.name, kind: ci, source: (vol.cloudInitNoCloud ?? vol.cloudInitConfigDrive)!, path: isoPath(vol.name) });
    return { ...base, path: isoPath(vol.name), format: 'raw', readOnly: true };
  }
  const kind = Object.keys(vol).find((k) => k !== 'name') ?? 'none';
  throw new LaunchPlanError(`spec.volumes[${vmi.spec.volumes!.indexOf(vol)}].${kind}`, `volume source ${kind} is not supported yet`);
}

/** The pod-network interface (masquerade), when the VMI has one. */
export function podNic(vmi: Vmi): MasqueradeNic | undefined {
  const ifaces = vmi.spec.domain.devices.interfaces ?? [];
  const podNet = vmi.spec.networks?.find((n) => n.pod);
  if (!podNet) return undefined;
  const i = ifaces.findIndex((x) => x.name === podNet.name);
  if (i < 0) return undefined;
  const iface = ifaces[i]!;
  if (!iface.masquerade) throw new LaunchPlanError(`spec.domain.devices.interfaces[${i}]`, 'only the masquerade binding is supported on the pod network');
  const ports = iface.ports?.map((p) => ({ protocol: (p.protocol ?? 'TCP').toLowerCase() as 'tcp' | 'udp', port: p.port }));
  return { name: iface.name, mac: interfaceMac(vmi, iface), tap: 'tap0', ...(ports?.length ? { ports } : {}), ...(iface.bootOrder !== undefined ? { bootOrder: iface.bootOrder } : {}) };
}

/**
 * The bridge-bound NICs of the VMI's secondary (Multus) networks. Other bindings there, and
 * Multus default networks (the pod's primary interface from a NAD), are refused.
 */
export function bridgeNics(vmi: Vmi): BridgeNic[] {
  const ifaces = vmi.spec.domain.devices.interfaces ?? [];
  const defaultNet = (vmi.spec.networks ?? []).findIndex((n) => n.multus?.default);
  if (defaultNet >= 0) throw new LaunchPlanError(`spec.networks[${defaultNet}].multus.default`, 'a Multus default network is not supported (use the pod network)');
  return secondaryNetworks(vmi).map((net) => {
    const i = ifaces.findIndex((x) => x.name === net.name);
    const iface = ifaces[i];
    if (!iface) throw new LaunchPlanError('spec.domain.devices.interfaces', `no interface for network ${JSON.stringify(net.name)}`);
    if (!iface.bridge) throw new LaunchPlanError(`spec.domain.devices.interfaces[${i}]`, 'only the bridge binding is supported on secondary networks');
    return { name: iface.name, mac: interfaceMac(vmi, iface), podIface: net.podIface, bridge: inPodBridgeName(net.podIface), tap: secondaryTapName(net.podIface) };
  });
}

/** QEMU's NICs in the order of spec.domain.devices.interfaces (the guest's eth0, eth1, …). */
function nicSpecs(vmi: Vmi, pod: MasqueradeNic | undefined, bridged: BridgeNic[]): NicSpec[] {
  return (vmi.spec.domain.devices.interfaces ?? []).map((iface, i) => {
    const boot = iface.bootOrder !== undefined ? { bootIndex: iface.bootOrder } : {};
    if (iface.name === pod?.name) return { id: `net${i}`, tap: pod.tap, mac: pod.mac, ...boot };
    const b = bridged.find((x) => x.name === iface.name);
    if (!b) throw new LaunchPlanError(`spec.domain.devices.interfaces[${i}]`, `interface ${iface.name} has no network Cairn can attach`);
    return { id: `net${i}`, tap: b.tap, mac: b.mac, ...boot };
  });
}

/**
 * The disks a live migration copies to the target (KubeVirt's block migration of local disks):
 * the guest's writable emptyDisks and containerDisks. ISOs are made again on the target, and
 * claims are shared (a VMI with an unshared claim is not LiveMigratable).
 */
export function copiedDiskIds(plan: LaunchPlan): string[] {
  const local = new Set([...plan.emptyDisks.map((d) => d.path), ...plan.containerDisks.map((d) => d.path)]);
  return (plan.machine.disks ?? []).filter((d) => local.has(d.path) && d.kind !== 'cdrom' && !d.readOnly).map((d) => d.id);
}

export function launchPlan(vmi: Vmi, pod: Pod, accel: Accel): LaunchPlan {
  const plan: LaunchPlan = { cloudInit: [], configIsos: [], emptyDisks: [], containerDisks: [], bridgeNics: [], machine: undefined as unknown as MachineSpec };
  const disks = (vmi.spec.domain.devices.disks ?? []).map((d, i) => diskSpec(vmi, pod, d, i, plan));
  const nic = podNic(vmi);
  plan.bridgeNics = bridgeNics(vmi);
  const nics = nicSpecs(vmi, nic, plan.bridgeNics);
  const memory = guestMemory(vmi);
  if (memory % MiB !== 0) throw new LaunchPlanError('spec.domain.memory.guest', 'must be a whole number of MiB');
  plan.machine = {
    name: `${vmi.metadata.namespace}_${vmi.metadata.name}`.slice(0, 63),
    accel,
    // The launcher pod's memory request counts this much for TCG's code cache.
    tcgCacheMiB: TCG_CACHE_OVERHEAD_BYTES / MiB,
    cpu: cpuTopology(vmi.spec),
    memoryMiB: memory / MiB,
    uuid: vmi.spec.domain.firmware?.uuid ?? vmi.metadata.uid,
    disks,
    nics,
    serial: { socket: `${PRIVATE_DIR}/${FILES.serial}`, logFile: `${PRIVATE_DIR}/${FILES.serialLog}` },
    ...(vmi.spec.domain.devices.autoattachGraphicsDevice === false ? {} : { vnc: { socket: `${PRIVATE_DIR}/${FILES.vnc}` } }),
    qmp: { socket: `${PRIVATE_DIR}/${FILES.qmp}` },
    guestAgent: { socket: `${PRIVATE_DIR}/${FILES.guestAgent}` },
    pidFile: `${PRIVATE_DIR}/${FILES.pid}`,
    ...(vmi.spec.startStrategy === 'Paused' ? { startPaused: true } : {}),
  };
  if (nic) plan.podNic = nic;
  return plan;
}
