/**
 * KubeVirt's disk and volume checks for a VMI spec at `field` (storageadmitters.ValidateDisks,
 * validateBootOrder, validateVolumes, ValidateContainerDisks and, for VMIs only,
 * validateVirtualMachineInstanceSpecVolumeDisks), with KubeVirt's messages. Where KubeVirt builds
 * a path by prefixing the disks' path twice (`spec.domain.devices.disks.domain.devices.disks[0]`),
 * the path is the disk's own. Cloud-init data is checked by the same code that later builds the
 * seed ISO (src/virt/cloud-init), without reading Secrets — KubeVirt's webhook does not either.
 * Two checks are Cairn's own: an emptyDisk needs a capacity above zero, and a VMI takes at most
 * one cloud-init volume (KubeVirt silently uses the first).
 */
import { posix } from 'node:path';
import { isDNS1123Label, parseQuantity } from '../../registry/validation.js';
import { CloudInitDataError, resolveCloudInitData } from '../cloud-init/cloud-init-data.js';
import type { CloudInitSource, VmiDisk, VmiSpecTyped, VmiVolume } from '../launcher/vmi-types.js';
import { type Cause, invalid, notSupported, required } from './vmi-validation-causes.js';
import { PCI_ADDRESS } from './vmi-validation-network.js';

type Disk = VmiDisk & { io?: string; errorPolicy?: string; dedicatedIOThread?: boolean };
type Volume = VmiVolume & Record<string, unknown>;

const SUPPORTED_BUSES = ['virtio', 'scsi', 'sata', 'usb'];
const SERIAL = /^[A-Za-z0-9_.+-]+$/;
const SERIAL_MAX = 256;
/** Every volume source KubeVirt counts for "exactly one source". */
const VOLUME_SOURCES = [
  'persistentVolumeClaim', 'sysprep', 'cloudInitNoCloud', 'cloudInitConfigDrive', 'containerDisk', 'ephemeral', 'emptyDisk', 'hostDisk',
  'dataVolume', 'configMap', 'secret', 'downwardAPI', 'serviceAccount', 'downwardMetrics', 'memoryDump', 'containerPath',
];

const present = (v: unknown) => v !== undefined && v !== null;

function targetOf(d: Disk): { kind: 'disk' | 'lun' | 'cdrom' | ''; bus: string } {
  if (d.disk) return { kind: 'disk', bus: d.disk.bus ?? '' };
  if (d.lun) return { kind: 'lun', bus: d.lun.bus ?? '' };
  if (d.cdrom) return { kind: 'cdrom', bus: d.cdrom.bus ?? '' };
  return { kind: '', bus: '' };
}

function validateBus(path: string, d: Disk): Cause[] {
  const { kind, bus } = targetOf(d);
  const causes: Cause[] = [];
  if (!bus) return causes;
  if (bus === 'ide') causes.push(invalid(`${path}.${kind}.bus`, 'IDE bus is not supported'));
  else if (bus === 'virtio' && kind === 'cdrom') causes.push(invalid(`${path}.cdrom.bus`, `Bus type ${bus} is invalid for CD-ROM device`));
  else if (bus === 'sata' && d.disk?.readonly) causes.push(invalid(`${path}.disk.bus`, `${bus} hard-disks do not support read-only.`));
  else if (!SUPPORTED_BUSES.includes(bus)) causes.push(invalid(`${path}.${kind}.bus`, `${path} is set with an unrecognized bus ${bus}, must be one of: [${SUPPORTED_BUSES.join(' ')}]`));
  if (d.dedicatedIOThread && bus !== 'virtio') causes.push(notSupported(path, `IOThreads are not supported for disks on a ${bus} bus`));
  return causes;
}

/** storageadmitters.ValidateDisks. */
function validateDisk(field: string, disks: Disk[], i: number): Cause[] {
  const d = disks[i]!;
  const path = `${field}[${i}]`;
  const causes: Cause[] = [];
  disks.forEach((other, j) => {
    if (j < i && other.name === d.name) causes.push(invalid(`${path}.name`, `${path} and ${field}[${j}] must not have the same Name.`));
  });
  if ([d.disk, d.lun, d.cdrom].filter(present).length > 1) causes.push(invalid(path, `${path} can only have a single target type defined`));
  const pci = d.disk?.pciAddress;
  if (pci) {
    if (d.disk!.bus !== 'virtio') causes.push(invalid(`${path}.disk.pciAddress`, `disk ${path}.name - setting a PCI address is only possible with bus type virtio.`));
    if (!PCI_ADDRESS.test(pci)) causes.push(invalid(`${path}.disk.pciAddress`, `disk ${path}.name has malformed PCI address (${pci}).`));
  }
  if (d.bootOrder !== undefined && d.bootOrder < 1) causes.push(invalid(`${path}.bootOrder`, `${path} must have a boot order > 0, if supplied`));
  causes.push(...validateBus(path, d));
  if (d.serial && !SERIAL.test(d.serial)) causes.push(invalid(`${path}.serial`, `${path} must be made up of the following characters [A-Za-z0-9_.+-], if specified`));
  if (d.serial && [...d.serial].length > SERIAL_MAX) causes.push(invalid(`${path}.serial`, `${path} must be less than or equal to ${SERIAL_MAX} in length, if specified`));
  if (d.cache && !['none', 'writethrough', 'writeback'].includes(d.cache)) causes.push(invalid(`${path}.cache`, `${path}.cache has invalid value ${d.cache}`));
  if (d.io && !['native', 'threads'].includes(d.io)) causes.push(notSupported(`${path}.io`, `Disk IO mode for ${field} is not supported. Supported modes are: native, threads.`));
  if (d.errorPolicy && !['stop', 'ignore', 'report', 'enospace'].includes(d.errorPolicy))
    causes.push(invalid(`${path}.errorPolicy`, `${path}.errorPolicy has invalid value "${d.errorPolicy}"`));
  // A disk's name becomes a container name in the launcher pod.
  for (const m of isDNS1123Label(d.name ?? '')) causes.push(invalid(`${path}.name`, m));
  return causes;
}

export function validateDisks(field: string, spec: VmiSpecTyped): Cause[] {
  const disks = (spec.domain.devices.disks ?? []) as Disk[];
  return disks.flatMap((_, i) => validateDisk(`${field}.domain.devices.disks`, disks, i));
}

/** validateBootOrder: every disk names a volume, LUNs sit on claims, boot orders are unique across disks and interfaces. */
export function validateBootOrder(field: string, spec: VmiSpecTyped): Cause[] {
  const causes: Cause[] = [];
  const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
  const taken = new Set<number>();
  (spec.domain.devices.disks ?? []).forEach((d, i) => {
    const path = `${field}.domain.devices.disks[${i}]`;
    const volume = volumes.get(d.name);
    if (!volume && !d.cdrom) causes.push(invalid(`${path}.name`, `${path}.Name '${d.name}' not found.`));
    else if (!volume) causes.push(invalid(`${path}.name`, 'DeclarativeHotplugVolumes feature gate not enabled, cannot define an empty CD-ROM disk'));
    if (d.lun && volume && !volume.persistentVolumeClaim && !volume.dataVolume)
      causes.push(invalid(`${path}.lun`, `${path}.lun can only be mapped to a DataVolume or PersistentVolumeClaim volume.`));
    if (d.bootOrder !== undefined) {
      if (taken.has(d.bootOrder)) causes.push(invalid(`${path}.bootOrder`, `Boot order for ${path}.bootOrder already set for a different device.`));
      taken.add(d.bootOrder);
    }
  });
  (spec.domain.devices.interfaces ?? []).forEach((iface, i) => {
    if (iface.bootOrder === undefined) return;
    const path = `${field}.domain.devices.interfaces[${i}]`;
    if (iface.bootOrder < 1) causes.push(invalid(`${path}.bootOrder`, `${path} must have a boot order > 0, if supplied`));
    else if (taken.has(iface.bootOrder)) causes.push(invalid(`${path}.bootOrder`, `Boot order for ${path}.bootOrder already set for a different device.`));
    taken.add(iface.bootOrder);
  });
  return causes;
}

/** The cloud-init checks of validateVolumes, by the code that builds the ISO; Secrets count as set, unread. */
async function validateCloudInit(path: string, source: CloudInitSource): Promise<Cause[]> {
  try {
    await resolveCloudInitData(source, path, async () => ({ userdata: '', networkdata: '' }));
    return [];
  } catch (e) {
    if (e instanceof CloudInitDataError) return [invalid(e.field, e.message)];
    throw e;
  }
}

function validateSourceFields(path: string, v: Volume): Cause[] {
  const causes: Cause[] = [];
  const requiredField = (sub: string, value: unknown) => {
    if (!value) causes.push(invalid(`${path}.${sub}`, `${path}.${sub} is a required field`));
  };
  if (v.dataVolume && !v.dataVolume.name) causes.push(required(`${path}.name`, "DataVolume 'name' must be set"));
  if (v.hostDisk) causes.push(invalid(path, 'HostDisk feature gate is not enabled'));
  if (v.downwardMetrics) causes.push(invalid(path, 'downwardMetrics disks are not allowed: DownwardMetrics feature gate is not enabled.'));
  if (v.configMap) requiredField('configMap.name', v.configMap.name);
  if (v.secret) requiredField('secret.secretName', v.secret.secretName);
  if (v.serviceAccount) requiredField('serviceAccount.serviceAccountName', v.serviceAccount.serviceAccountName);
  if (v.emptyDisk && !(parseQuantity(v.emptyDisk.capacity) > 0)) causes.push(invalid(`${path}.emptyDisk.capacity`, `${path}.emptyDisk.capacity '${v.emptyDisk.capacity}': must be greater than 0.`));
  const diskPath = v.containerDisk?.path;
  if (diskPath) {
    const at = `${path}.containerDisk`;
    if (diskPath === '/') causes.push(invalid(at, `${at} must not point to root`));
    else if (posix.join('/', diskPath) !== diskPath.replace(/\/+$/, '')) causes.push(invalid(at, `${at} must be an absolute path to a file without relative components`));
  }
  return causes;
}

/** validateVolumes (+ ValidateContainerDisks). */
export async function validateVolumes(field: string, spec: VmiSpecTyped): Promise<Cause[]> {
  const causes: Cause[] = [];
  const volumes = (spec.volumes ?? []) as Volume[];
  const path = `${field}.volumes`;
  const firstIndex = new Map<string, number>();
  for (const [i, v] of volumes.entries()) {
    const at = `${path}[${i}]`;
    const other = firstIndex.get(v.name);
    if (other === undefined) firstIndex.set(v.name, i);
    else causes.push(invalid(`${at}.name`, `${at} and ${path}[${other}] must not have the same Name.`));
    if (VOLUME_SOURCES.filter((s) => present(v[s])).length !== 1) causes.push(invalid(at, `${at} must have exactly one source type set`));
    const kind = v.cloudInitNoCloud ? 'cloudInitNoCloud' : v.cloudInitConfigDrive ? 'cloudInitConfigDrive' : undefined;
    if (kind) causes.push(...(await validateCloudInit(`${at}.${kind}`, (v.cloudInitNoCloud ?? v.cloudInitConfigDrive)!)));
    causes.push(...validateSourceFields(at, v));
  }
  const count = (pred: (v: Volume) => unknown) => volumes.filter(pred).length;
  if (count((v) => v.serviceAccount) > 1) causes.push(invalid(path, `${path} must have max one serviceAccount volume set`));
  if (count((v) => v.downwardMetrics) > 1) causes.push(invalid(path, `${path} must have max one downwardMetric volume set`));
  if (count((v) => v.memoryDump) > 1) causes.push(invalid(path, `${path} must have max one memory dump volume set`));
  if (count((v) => v.cloudInitNoCloud || v.cloudInitConfigDrive) > 1) causes.push(invalid(path, `${path} must have max one cloudInitNoCloud or cloudInitConfigDrive volume set`));
  return causes;
}

/**
 * validateVirtualMachineInstanceSpecVolumeDisks (VMIs only: a VM template's volumes get their
 * disks from the defaults): each volume is used by a disk or filesystem. The path is KubeVirt's,
 * `spec.domain.volumes[i].name`.
 */
export function validateVolumesUsed(field: string, spec: VmiSpecTyped): Cause[] {
  const used = new Set([...(spec.domain.devices.disks ?? []).map((d) => d.name), ...((spec.domain.devices.filesystems as { name: string }[] | undefined) ?? []).map((f) => f.name)]);
  const causes: Cause[] = [];
  ((spec.volumes ?? []) as Volume[]).forEach((v, i) => {
    if (v.memoryDump || used.has(v.name)) return;
    const at = `${field}.domain.volumes[${i}].name`;
    causes.push(invalid(at, `${at} '${v.name}' not found.`));
  });
  return causes;
}
