/**
 * The cluster-wide instancetypes and preferences every `cairn up` cluster ships, named as the
 * KubeVirt common-instancetypes project names them, so `instancetype: {name: u1.small}` and
 * `preference: {name: fedora}` in manifests written for KubeVirt resolve here too. The series:
 * u1 (general purpose, shared CPUs), o1 (u1 with memory overcommitted 50%), cx1 (dedicated CPUs,
 * isolated emulator thread, guest NUMA, 2Mi hugepages) and m1 (memory intensive, 2Mi hugepages).
 * Preferences carry what a guest OS wants (buses, NIC model, firmware, Hyper-V enlightenments for
 * Windows) and its minimum CPU and memory. The data is Cairn's, written to those names.
 */
import type { ResourceRef } from '../../client/index.js';
import type { KubeObject } from '../../util/object.js';
import { INSTANCETYPE_GROUP } from './instancetype.js';

const VERSION = 'v1beta1';
const API_VERSION = `${INSTANCETYPE_GROUP}/${VERSION}`;
const VENDOR = { 'instancetype.kubevirt.io/vendor': 'cairn' };

export const CLUSTER_INSTANCETYPES: ResourceRef = { group: INSTANCETYPE_GROUP, version: VERSION, plural: 'virtualmachineclusterinstancetypes', namespaced: false, kind: 'VirtualMachineClusterInstancetype' };
export const CLUSTER_PREFERENCES: ResourceRef = { group: INSTANCETYPE_GROUP, version: VERSION, plural: 'virtualmachineclusterpreferences', namespaced: false, kind: 'VirtualMachineClusterPreference' };

type Size = [size: string, cpus: number, memory: string];
type Spec = Record<string, unknown>;

interface Series {
  prefix: string;
  sizes: Size[];
  cpu?: Spec;
  memory?: Spec;
  extra?: Spec;
}

const UNIVERSAL: Size[] = [
  ['nano', 1, '512Mi'],
  ['micro', 1, '1Gi'],
  ['small', 1, '2Gi'],
  ['medium', 1, '4Gi'],
  ['2xmedium', 2, '4Gi'],
  ['large', 2, '8Gi'],
  ['xlarge', 4, '16Gi'],
  ['2xlarge', 8, '32Gi'],
  ['4xlarge', 16, '64Gi'],
  ['8xlarge', 32, '128Gi'],
];

const SERIES: Series[] = [
  { prefix: 'u1', sizes: UNIVERSAL },
  { prefix: 'o1', sizes: UNIVERSAL.filter(([s]) => s !== '2xmedium'), memory: { overcommitPercent: 50 } },
  {
    prefix: 'cx1',
    sizes: [['medium', 1, '2Gi'], ['large', 2, '4Gi'], ['xlarge', 4, '8Gi'], ['2xlarge', 8, '16Gi'], ['4xlarge', 16, '32Gi'], ['8xlarge', 32, '64Gi']],
    cpu: { dedicatedCPUPlacement: true, isolateEmulatorThread: true, numa: { guestMappingPassthrough: {} } },
    memory: { hugepages: { pageSize: '2Mi' } },
    extra: { ioThreadsPolicy: 'auto' },
  },
  {
    prefix: 'm1',
    sizes: [['large', 2, '16Gi'], ['xlarge', 4, '32Gi'], ['2xlarge', 8, '64Gi'], ['4xlarge', 16, '128Gi'], ['8xlarge', 32, '256Gi']],
    memory: { hugepages: { pageSize: '2Mi' } },
  },
];

function instancetype(s: Series, [size, cpus, memory]: Size): KubeObject {
  return {
    apiVersion: API_VERSION,
    kind: 'VirtualMachineClusterInstancetype',
    metadata: {
      name: `${s.prefix}.${size}`,
      labels: { ...VENDOR, 'instancetype.kubevirt.io/cpu': String(cpus), 'instancetype.kubevirt.io/memory': memory, 'instancetype.kubevirt.io/size': size },
    },
    spec: { cpu: { guest: cpus, ...s.cpu }, memory: { guest: memory, ...s.memory }, ...s.extra },
  };
}

export const COMMON_INSTANCETYPES: KubeObject[] = SERIES.flatMap((s) => s.sizes.map((size) => instancetype(s, size)));

const linux: Spec = {
  cpu: { preferredCPUTopology: 'sockets' },
  devices: { preferredDiskBus: 'virtio', preferredInterfaceModel: 'virtio', preferredRng: {} },
};
const linuxEfi: Spec = { ...linux, firmware: { preferredUseEfi: true, preferredUseSecureBoot: false } };

const windowsBase = (bus: 'sata' | 'virtio', nic: 'e1000e' | 'virtio'): Spec => ({
  clock: { preferredClockOffset: { utc: {} }, preferredTimer: { hpet: { present: false }, pit: { tickPolicy: 'delay' }, rtc: { tickPolicy: 'catchup' }, hyperv: {} } },
  cpu: { preferredCPUTopology: 'sockets' },
  features: {
    preferredAcpi: {},
    preferredApic: {},
    preferredHyperv: {
      relaxed: {},
      vapic: {},
      vpindex: {},
      spinlocks: { spinlocks: 8191 },
      synic: {},
      synictimer: { direct: {} },
      tlbflush: {},
      frequencies: {},
      reenlightenment: {},
      ipi: {},
      runtime: {},
      reset: {},
    },
  },
  devices: { preferredDiskBus: bus, preferredInterfaceModel: nic },
});
/** Windows 11 and Server 2022 need UEFI with Secure Boot (and so SMM) and a TPM. */
const secureWindows = (base: Spec): Spec => ({
  ...base,
  devices: { ...(base.devices as Spec), preferredTPM: {} },
  features: { ...(base.features as Spec), preferredSmm: {} },
  firmware: { preferredUseEfi: true, preferredUseSecureBoot: true },
});

const requirements = (guestCpus: number, memory: string): Spec => ({ requirements: { cpu: { guest: guestCpus }, memory: { guest: memory } } });

/** name -> [display name, spec]. */
const PREFERENCES: Record<string, [string, Spec]> = {
  alpine: ['Alpine', { ...linux, ...requirements(1, '512Mi') }],
  cirros: ['CirrOS', { ...linux, ...requirements(1, '256Mi') }],
  'centos.stream9': ['CentOS Stream 9', { ...linux, ...requirements(1, '1536Mi') }],
  'centos.stream10': ['CentOS Stream 10', { ...linux, ...requirements(1, '1536Mi') }],
  debian: ['Debian', { ...linuxEfi, ...requirements(1, '512Mi') }],
  fedora: ['Fedora', { ...linuxEfi, ...requirements(1, '2Gi') }],
  'opensuse.leap': ['openSUSE Leap', { ...linux, ...requirements(1, '2Gi') }],
  'opensuse.tumbleweed': ['openSUSE Tumbleweed', { ...linux, ...requirements(1, '2Gi') }],
  'rhel.8': ['Red Hat Enterprise Linux 8', { ...linux, ...requirements(1, '1536Mi') }],
  'rhel.9': ['Red Hat Enterprise Linux 9', { ...linuxEfi, ...requirements(1, '1536Mi') }],
  'rhel.10': ['Red Hat Enterprise Linux 10', { ...linuxEfi, ...requirements(1, '1536Mi') }],
  ubuntu: ['Ubuntu', { ...linuxEfi, ...requirements(1, '2Gi') }],
  'windows.10': ['Microsoft Windows 10', { ...windowsBase('sata', 'e1000e'), ...requirements(1, '2Gi') }],
  'windows.10.virtio': ['Microsoft Windows 10 (virtio)', { ...windowsBase('virtio', 'virtio'), ...requirements(1, '2Gi') }],
  'windows.11': ['Microsoft Windows 11', { ...secureWindows(windowsBase('sata', 'e1000e')), ...requirements(2, '4Gi') }],
  'windows.11.virtio': ['Microsoft Windows 11 (virtio)', { ...secureWindows(windowsBase('virtio', 'virtio')), ...requirements(2, '4Gi') }],
  'windows.2k22': ['Microsoft Windows Server 2022', { ...secureWindows(windowsBase('sata', 'e1000e')), ...requirements(1, '2Gi') }],
  'windows.2k22.virtio': ['Microsoft Windows Server 2022 (virtio)', { ...secureWindows(windowsBase('virtio', 'virtio')), ...requirements(1, '2Gi') }],
};

export const COMMON_PREFERENCES: KubeObject[] = Object.entries(PREFERENCES).map(([name, [displayName, spec]]) => ({
  apiVersion: API_VERSION,
  kind: 'VirtualMachineClusterPreference',
  metadata: { name, labels: { ...VENDOR }, annotations: { 'openshift.io/display-name': displayName } },
  spec,
}));

/** Every common object with the resource it is served as, in the order `cairn up` applies them. */
export const COMMON_INSTANCETYPE_OBJECTS: { ref: ResourceRef; obj: KubeObject }[] = [
  ...COMMON_INSTANCETYPES.map((obj) => ({ ref: CLUSTER_INSTANCETYPES, obj })),
  ...COMMON_PREFERENCES.map((obj) => ({ ref: CLUSTER_PREFERENCES, obj })),
];
