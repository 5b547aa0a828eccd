/**
 * What `cairn vm import` creates from an OVF: a KubeVirt VirtualMachine with the source's CPU
 * topology, memory, firmware, disks (bus and boot order kept) and NICs (model and MAC kept), and
 * one DataVolume per disk that the disk file is uploaded into. The first NIC goes on the pod
 * network (masquerade); the others on Multus networks named after their OVF networks (through
 * the caller's map), which the user creates as NetworkAttachmentDefinitions. What cannot be
 * carried over is returned as warnings, never silently dropped.
 */
import type { KubeObject } from '../../util/object.js';
import type { OvfVm } from './ovf.js';

export interface ImportPlanOptions {
  namespace: string;
  /** The VM's name (default: the OVF name made a DNS-1123 label). */
  name?: string;
  storageClassName?: string;
  /** OVF network name → NetworkAttachmentDefinition name for NICs after the first. */
  networkMap?: Record<string, string>;
  /** runStrategy of the new VM (default Halted: started once the disks are in). */
  runStrategy?: 'Always' | 'Halted' | 'Manual' | 'RerunOnFailure' | 'Once';
}

export interface ImportPlan {
  vm: KubeObject;
  /** One per disk, in the VM's disk order; `file` is the OVF disk file to upload into it (none: blank). */
  dataVolumes: { object: KubeObject; file?: string; diskId: string }[];
  warnings: string[];
}

const MI = 2 ** 20;

/** A DNS-1123 label from any name (`Web Server 01` → `web-server-01`). */
export function dnsLabel(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return s || 'imported-vm';
}

export function planImport(ovf: OvfVm, o: ImportPlanOptions): ImportPlan {
  const name = o.name ?? dnsLabel(ovf.name);
  const warnings: string[] = [];
  if (!ovf.disks.length) warnings.push('the OVF has no disks: the VM has nothing to boot from');
  if (ovf.cdroms) warnings.push(`${ovf.cdroms} CD-ROM drive(s) not carried over (attach an image as a cdrom disk if needed)`);

  const dataVolumes = ovf.disks.map((d, i) => {
    // Whole MiB, at least the disk's size; the DataVolume adds the filesystem overhead itself.
    const size = Math.ceil(d.capacityBytes / MI);
    const object: KubeObject = {
      apiVersion: 'cdi.kubevirt.io/v1beta1',
      kind: 'DataVolume',
      metadata: { name: `${name}-disk${i}`.slice(0, 63), namespace: o.namespace, labels: { 'cairn.io/imported-vm': name } },
      spec: {
        source: d.file ? { upload: {} } : { blank: {} },
        storage: { resources: { requests: { storage: `${size}Mi` } }, ...(o.storageClassName ? { storageClassName: o.storageClassName } : {}) },
      },
    };
    return { object, diskId: d.id, ...(d.file ? { file: d.file } : {}) };
  });

  const interfaces: Record<string, unknown>[] = [];
  const networks: Record<string, unknown>[] = [];
  ovf.nics.forEach((n, i) => {
    const iface: Record<string, unknown> = { name: n.name, model: n.model, ...(n.mac ? { macAddress: n.mac } : {}) };
    if (i === 0) {
      interfaces.push({ ...iface, masquerade: {} });
      networks.push({ name: n.name, pod: {} });
      return;
    }
    const nad = (n.network && o.networkMap?.[n.network]) ?? (n.network ? dnsLabel(n.network) : undefined);
    if (!nad) {
      warnings.push(`${n.name} is connected to no network in the OVF: left out`);
      return;
    }
    interfaces.push({ ...iface, bridge: {} });
    networks.push({ name: n.name, multus: { networkName: nad } });
    if (!o.networkMap?.[n.network ?? '']) warnings.push(`${n.name} (OVF network ${JSON.stringify(n.network)}) goes to NetworkAttachmentDefinition ${nad}: create it, or map the network`);
  });

  const vm: KubeObject = {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name, namespace: o.namespace, labels: { 'cairn.io/imported-vm': name }, annotations: { 'cairn.io/imported-from-ovf': ovf.name, ...(ovf.osType ? { 'cairn.io/ovf-os-type': ovf.osType } : {}) } },
    spec: {
      runStrategy: o.runStrategy ?? 'Halted',
      template: {
        metadata: { labels: { 'kubevirt.io/domain': name } },
        spec: {
          domain: {
            cpu: { ...ovf.cpu },
            memory: { guest: `${Math.ceil(ovf.memoryBytes / MI)}Mi` },
            firmware: { bootloader: ovf.firmware === 'efi' ? { efi: { secureBoot: false } } : { bios: {} } },
            devices: {
              disks: ovf.disks.map((d, i) => ({ name: `disk${i}`, bootOrder: d.bootOrder, disk: { bus: d.bus } })),
              interfaces,
            },
          },
          networks,
          volumes: dataVolumes.map((dv, i) => ({ name: `disk${i}`, dataVolume: { name: dv.object.metadata.name } })),
        },
      },
    },
  };
  return { vm, dataVolumes, warnings };
}
