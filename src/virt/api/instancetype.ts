/**
 * instancetype.kubevirt.io/v1beta1: VirtualMachine(Cluster)Instancetype — the CPU and memory a
 * VM gets — and VirtualMachine(Cluster)Preference — the defaults it prefers (buses, firmware,
 * topology). Names, short names and scopes as KubeVirt's; no status subresource and no printer
 * columns (KubeVirt declares none, so kubectl prints NAME and AGE).
 */
import { arr, bool, crd, int32, int64, obj, quantity, str, stringMap } from '../../api/crd-builders.js';
import { KUBEVIRT_CRD_LABELS } from './kubevirt.js';
import {
  blockSize,
  clockOffsetUTC,
  cpuFeature,
  diskIOThreads,
  efi,
  featureAPIC,
  featureHyperv,
  featureKVM,
  featureState,
  gpu,
  hostDevice,
  hugepages,
  interfaceMasquerade,
  launchSecurity,
  numa,
  realtime,
  rng,
  timer,
  tpmDevice,
  vgpuOptions,
} from './vmi-spec.js';

export const INSTANCETYPE_GROUP = 'instancetype.kubevirt.io';

const instancetypeSpec = obj(
  {
    annotations: stringMap,
    cpu: obj({ dedicatedCPUPlacement: bool, guest: int64, isolateEmulatorThread: bool, maxSockets: int64, model: str, numa, realtime }, ['guest']),
    gpus: arr(gpu),
    hostDevices: arr(hostDevice),
    ioThreads: diskIOThreads,
    ioThreadsPolicy: str,
    launchSecurity,
    memory: obj({ guest: quantity, hugepages, maxGuest: quantity, overcommitPercent: int32 }, ['guest']),
    nodeSelector: stringMap,
    schedulerName: str,
  },
  ['cpu', 'memory'],
);

const preferenceSpec = obj({
  annotations: stringMap,
  clock: obj({ preferredClockOffset: obj({ timezone: str, utc: clockOffsetUTC }), preferredTimer: timer }),
  cpu: obj({ preferredCPUFeatures: arr(cpuFeature), preferredCPUTopology: str, spreadOptions: obj({ across: str, ratio: int64 }) }),
  devices: obj({
    preferredAutoattachGraphicsDevice: bool,
    preferredAutoattachInputDevice: bool,
    preferredAutoattachMemBalloon: bool,
    preferredAutoattachPodInterface: bool,
    preferredAutoattachSerialConsole: bool,
    preferredBlockMultiQueue: bool,
    preferredCdromBus: str,
    preferredDisableHotplug: bool,
    preferredDiskBlockSize: blockSize,
    preferredDiskBus: str,
    preferredDiskCache: str,
    preferredDiskDedicatedIoThread: bool,
    preferredDiskIO: str,
    preferredInputBus: str,
    preferredInputType: str,
    preferredInterfaceMasquerade: interfaceMasquerade,
    preferredInterfaceModel: str,
    preferredLunBus: str,
    preferredNetworkInterfaceMultiQueue: bool,
    preferredPanicDeviceModel: str,
    preferredRng: rng,
    preferredSoundModel: str,
    preferredTPM: tpmDevice,
    preferredUseVirtioTransitional: bool,
    preferredVideoType: str,
    preferredVirtualGPUOptions: vgpuOptions,
  }),
  features: obj({ preferredAcpi: featureState, preferredApic: featureAPIC, preferredHyperv: featureHyperv, preferredKvm: featureKVM, preferredPvspinlock: featureState, preferredSmm: featureState }),
  firmware: obj({ preferredEfi: efi, preferredUseBios: bool, preferredUseBiosSerial: bool, preferredUseEfi: bool, preferredUseSecureBoot: bool }),
  machine: obj({ preferredMachineType: str }),
  preferSpreadSocketToCoreRatio: int64,
  preferredArchitecture: str,
  preferredLaunchSecurity: launchSecurity,
  preferredSubdomain: str,
  preferredTerminationGracePeriodSeconds: int64,
  requirements: obj({ architecture: str, cpu: obj({ guest: int64 }, ['guest']), memory: obj({ guest: quantity }, ['guest']) }),
  volumes: obj({ preferredStorageClassName: str }),
});

const common = { group: INSTANCETYPE_GROUP, version: 'v1beta1', status: false, required: ['spec'], labels: KUBEVIRT_CRD_LABELS } as const;

export const INSTANCETYPE_CRDS = [
  crd({ ...common, kind: 'VirtualMachineInstancetype', plural: 'virtualmachineinstancetypes', scope: 'Namespaced', shortNames: ['vminstancetype', 'vminstancetypes', 'vmf', 'vmfs'], categories: ['all'], schema: { spec: instancetypeSpec } }),
  crd({ ...common, kind: 'VirtualMachineClusterInstancetype', plural: 'virtualmachineclusterinstancetypes', scope: 'Cluster', shortNames: ['vmclusterinstancetype', 'vmclusterinstancetypes', 'vmcf', 'vmcfs'], schema: { spec: instancetypeSpec } }),
  crd({ ...common, kind: 'VirtualMachinePreference', plural: 'virtualmachinepreferences', scope: 'Namespaced', shortNames: ['vmpref', 'vmprefs', 'vmp', 'vmps'], categories: ['all'], schema: { spec: preferenceSpec } }),
  crd({ ...common, kind: 'VirtualMachineClusterPreference', plural: 'virtualmachineclusterpreferences', scope: 'Cluster', shortNames: ['vmcp', 'vmcps'], schema: { spec: preferenceSpec } }),
];
