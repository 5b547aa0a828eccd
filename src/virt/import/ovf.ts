/**
 * Reading an OVF descriptor (DMTF OVF 1.x and 2.x, as VMware, VirtualBox and Proxmox export it)
 * into what a VM needs: name, CPU topology, memory, firmware, disks with their files and
 * controllers, CD-ROMs and NICs. Hardware items are matched by CIM ResourceType, whatever element
 * carries them (OVF 1's `Item`, OVF 2's `StorageItem` / `EthernetPortItem`), and namespaces are
 * ignored, as exporters spell prefixes differently. Anything unreadable is an OvfError naming
 * the element; anything optional and absent is simply left out.
 */
import { XMLParser } from 'fast-xml-parser';

export class OvfError extends Error {
  override name = 'OvfError';
}

export type DiskBus = 'virtio' | 'sata' | 'scsi';
export type NicModel = 'virtio' | 'e1000' | 'e1000e' | 'rtl8139';

export interface OvfDisk {
  /** ovf:diskId. */
  id: string;
  /** The disk file (References/File href), absent for a disk with no content (created empty). */
  file?: string;
  /** The disk file's format (`vmdk`, `vhd`, ...), from Disk/@format. */
  format?: string;
  capacityBytes: number;
  /** The bus of its controller. */
  bus: DiskBus;
  /** 1-based boot order: disks in controller order, as the exporting hypervisor boots them. */
  bootOrder: number;
}

export interface OvfNic {
  name: string;
  /** The OVF network it connects to (NetworkSection/Network/@name). */
  network?: string;
  model: NicModel;
  mac?: string;
}

export interface OvfVm {
  name: string;
  /** OperatingSystemSection: VMware's osType (debian10_64Guest) or the CIM description. */
  osType?: string;
  firmware: 'bios' | 'efi';
  cpu: { sockets: number; cores: number; threads: number };
  memoryBytes: number;
  disks: OvfDisk[];
  cdroms: number;
  nics: OvfNic[];
}

/** CIM_ResourceAllocationSettingData ResourceType values. */
const RT = { processor: 3, memory: 4, ide: 5, parallelScsi: 6, ethernet: 10, cdDrive: 15, dvdDrive: 16, disk: 17, sata: 20 } as const;
/** An OVF descriptor bigger than this is not a descriptor. */
export const MAX_OVF_BYTES = 4 * 1024 * 1024;

type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: false,
  isArray: (name) => ['File', 'Disk', 'Network', 'VirtualSystem', 'Item', 'StorageItem', 'EthernetPortItem', 'Config'].includes(name),
});

const list = (v: unknown): Node[] => (Array.isArray(v) ? (v as Node[]) : v && typeof v === 'object' ? [v as Node] : []);
/** Text of a child element (`#text` when it also has attributes). */
function text(n: Node | undefined, key: string): string | undefined {
  const v = n?.[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object') return (v as Node)['#text'] === undefined ? undefined : String((v as Node)['#text']);
  return String(v);
}
const attr = (n: Node | undefined, key: string): string | undefined => (n?.[`@${key}`] === undefined ? undefined : String(n[`@${key}`]));

function int(value: string | undefined, what: string): number {
  if (value === undefined) throw new OvfError(`${what} is missing`);
  if (!/^\d+$/.test(value.trim())) throw new OvfError(`${what} ${JSON.stringify(value)} is not a whole number`);
  return Number(value.trim());
}

/**
 * Bytes per unit of an OVF/CIM programmatic unit: `byte * 2^20`, `byte * 10^9`, `MegaBytes`,
 * `KB`, ... (DSP0004 Annex C).
 */
export function allocationUnit(units: string | undefined, fallback: number): number {
  if (!units) return fallback;
  const u = units.replace(/\s+/g, '').toLowerCase();
  const pow = /^byte(?:\*(\d+)\^(\d+))?(?:\*(\d+))?$/.exec(u);
  if (pow) return (pow[1] ? Number(pow[1]) ** Number(pow[2]) : 1) * (pow[3] ? Number(pow[3]) : 1);
  const named: Record<string, number> = { bytes: 1, kilobytes: 2 ** 10, kb: 2 ** 10, megabytes: 2 ** 20, mb: 2 ** 20, gigabytes: 2 ** 30, gb: 2 ** 30, terabytes: 2 ** 40, tb: 2 ** 40 };
  if (named[u] !== undefined) return named[u];
  throw new OvfError(`unknown allocation units ${JSON.stringify(units)}`);
}

function nicModel(subtype: string | undefined): NicModel {
  const s = (subtype ?? '').toLowerCase();
  if (s === 'e1000') return 'e1000';
  if (s === 'e1000e') return 'e1000e';
  if (s === 'pcnet32' || s === 'rtl8139') return 'rtl8139';
  // VmxNet3, VirtIO and anything else: the paravirtual NIC every Linux guest has a driver for.
  return 'virtio';
}

function busOf(controller: Node | undefined): DiskBus {
  const type = Number(text(controller, 'ResourceType'));
  if (type === RT.ide || type === RT.sata) return 'sata';
  if (type === RT.parallelScsi) return 'scsi';
  return 'virtio';
}

export function parseOvf(xml: string): OvfVm {
  if (Buffer.byteLength(xml) > MAX_OVF_BYTES) throw new OvfError(`the descriptor is larger than ${MAX_OVF_BYTES} bytes`);
  if (/<!DOCTYPE/i.test(xml)) throw new OvfError('the descriptor declares a DOCTYPE, which OVF never needs');
  let doc: Node;
  try {
    doc = parser.parse(xml, true) as Node;
  } catch (e) {
    throw new OvfError(`the descriptor is not XML: ${(e as Error).message}`);
  }
  const env = doc.Envelope as Node | undefined;
  if (!env || typeof env !== 'object') throw new OvfError('no Envelope element: not an OVF descriptor');
  const systems = list(env.VirtualSystem);
  if (!systems.length) throw new OvfError('VirtualSystemCollection' in env ? 'a VirtualSystemCollection (vApp) holds several VMs: import them one by one' : 'no VirtualSystem element');
  if (systems.length > 1) throw new OvfError(`${systems.length} VirtualSystem elements: import one VM at a time`);
  const vs = systems[0]!;

  const files = new Map(list((env.References as Node | undefined)?.File).map((f) => [attr(f, 'id'), attr(f, 'href')]));
  const disks = new Map(list((env.DiskSection as Node | undefined)?.Disk).map((d) => [attr(d, 'diskId'), d]));

  const hw = list(vs.VirtualHardwareSection)[0];
  if (!hw) throw new OvfError('no VirtualHardwareSection');
  const items = [...list(hw.Item), ...list(hw.StorageItem), ...list(hw.EthernetPortItem)];
  const byInstance = new Map(items.map((i) => [text(i, 'InstanceID'), i]));
  const ofType = (t: number) => items.filter((i) => Number(text(i, 'ResourceType')) === t);

  const proc = ofType(RT.processor)[0];
  const vcpus = proc ? int(text(proc, 'VirtualQuantity'), 'the processor item VirtualQuantity') : 1;
  if (vcpus < 1) throw new OvfError('the processor item asks for 0 CPUs');
  const coresPerSocket = proc && text(proc, 'CoresPerSocket') ? int(text(proc, 'CoresPerSocket'), 'CoresPerSocket') : 1;
  const cores = coresPerSocket >= 1 && vcpus % coresPerSocket === 0 ? coresPerSocket : 1;

  const mem = ofType(RT.memory)[0];
  if (!mem) throw new OvfError('no memory item (ResourceType 4)');
  const memoryBytes = int(text(mem, 'VirtualQuantity'), 'the memory item VirtualQuantity') * allocationUnit(text(mem, 'AllocationUnits'), 2 ** 20);
  if (memoryBytes <= 0) throw new OvfError('the memory item asks for no memory');

  const diskItems = ofType(RT.disk).sort((a, b) => {
    const ka = `${text(a, 'Parent') ?? ''}`.padStart(8, '0') + `${text(a, 'AddressOnParent') ?? ''}`.padStart(8, '0');
    const kb = `${text(b, 'Parent') ?? ''}`.padStart(8, '0') + `${text(b, 'AddressOnParent') ?? ''}`.padStart(8, '0');
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  const outDisks: OvfDisk[] = diskItems.map((item, i) => {
    const ref = text(item, 'HostResource') ?? '';
    const m = /^ovf:\/(?:disk|file)\/(.+)$/.exec(ref.trim());
    if (!m) throw new OvfError(`disk item ${text(item, 'ElementName') ?? i}: HostResource ${JSON.stringify(ref)} names no disk`);
    const disk = disks.get(m[1]);
    if (!disk) throw new OvfError(`disk item ${text(item, 'ElementName') ?? i}: no Disk with diskId ${JSON.stringify(m[1])} in the DiskSection`);
    const fileRef = attr(disk, 'fileRef');
    const file = fileRef === undefined ? undefined : files.get(fileRef);
    if (fileRef !== undefined && file === undefined) throw new OvfError(`disk ${m[1]}: no File with id ${JSON.stringify(fileRef)} in References`);
    const capacity = int(attr(disk, 'capacity'), `disk ${m[1]} capacity`) * allocationUnit(attr(disk, 'capacityAllocationUnits'), 1);
    const format = /vmdk/i.test(attr(disk, 'format') ?? '') ? 'vmdk' : /vhd/i.test(attr(disk, 'format') ?? '') ? 'vhd' : undefined;
    return { id: m[1]!, ...(file ? { file } : {}), ...(format ? { format } : {}), capacityBytes: capacity, bus: busOf(byInstance.get(text(item, 'Parent'))), bootOrder: i + 1 };
  });

  const nics: OvfNic[] = ofType(RT.ethernet).map((n, i) => ({
    name: `nic${i}`,
    ...(text(n, 'Connection') ? { network: text(n, 'Connection') } : {}),
    model: nicModel(text(n, 'ResourceSubType')),
    ...(text(n, 'Address') && /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(text(n, 'Address')!) ? { mac: text(n, 'Address')!.toLowerCase() } : {}),
  }));

  const configs = list(hw.Config);
  const firmware = configs.some((c) => attr(c, 'key') === 'firmware' && attr(c, 'value') === 'efi') ? 'efi' : 'bios';
  const os = list(vs.OperatingSystemSection)[0];
  const osType = attr(os, 'osType') ?? text(os, 'Description');
  const name = text(vs, 'Name') ?? attr(vs, 'id');
  if (!name) throw new OvfError('the VirtualSystem has no Name or ovf:id');
  return {
    name,
    ...(osType ? { osType } : {}),
    firmware,
    cpu: { sockets: vcpus / cores, cores, threads: 1 },
    memoryBytes,
    disks: outDisks,
    cdroms: ofType(RT.cdDrive).length + ofType(RT.dvdDrive).length,
    nics,
  };
}
