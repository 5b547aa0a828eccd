/**
 * kubevirt.io/v1 VirtualMachineInstanceSpec — the guest definition a VirtualMachine templates
 * and a VirtualMachineInstance runs — with KubeVirt's field names and JSON types: the domain
 * (CPU, memory, resources, firmware, features, clock, devices), volumes of every source kind,
 * networks, probes and scheduling. The pieces instancetypes and preferences reuse (CPU features,
 * NUMA, hugepages, launch security, GPUs, timers, ...) are exported.
 */
import { arr, bool, coreType, empty, int32, int64, mapOf, obj, quantity, str, stringMap, strings } from '../../api/crd-builders.js';

const core = (t: string) => coreType(`io.k8s.api.core.v1.${t}`);
export const localObjectReference = core('LocalObjectReference');
export const typedLocalObjectReference = core('TypedLocalObjectReference');

export const featureState = obj({ enabled: bool });
export const cpuFeature = obj({ name: str, policy: str }, ['name']);
export const numa = obj({ guestMappingPassthrough: empty });
export const realtime = obj({ mask: str });
export const hugepages = obj({ pageSize: str });
export const diskIOThreads = obj({ supplementalPoolThreadCount: int64 });
export const launchSecurity = obj({
  sev: obj({ attestation: empty, dhCert: str, policy: obj({ encryptedState: bool }), session: str }),
  snp: empty,
  tdx: empty,
});
export const vgpuOptions = obj({ display: obj({ enabled: bool, ramFB: featureState }) });
export const gpu = obj({ claimName: str, deviceName: str, name: str, requestName: str, tag: str, virtualGPUOptions: vgpuOptions }, ['name']);
export const hostDevice = obj({ claimName: str, deviceName: str, name: str, requestName: str, tag: str }, ['name']);
export const blockSize = obj({ custom: obj({ discardGranularity: int32, logical: int32, physical: int32 }), matchVolume: featureState });
export const tpmDevice = obj({ enabled: bool, persistent: bool });
export const efi = obj({ persistent: bool, secureBoot: bool });
export const rng = empty;
export const interfaceMasquerade = empty;
const present = obj({ present: bool });
const ticking = obj({ present: bool, tickPolicy: str });
export const timer = obj({ hpet: ticking, hyperv: present, kvm: present, pit: ticking, rtc: obj({ present: bool, tickPolicy: str, track: str }) });
export const clockOffsetUTC = obj({ offsetSeconds: int32 });
export const featureAPIC = obj({ enabled: bool, endOfInterrupt: bool });
export const featureKVM = obj({ hidden: bool });
export const featureHyperv = obj({
  evmcs: featureState,
  frequencies: featureState,
  ipi: featureState,
  reenlightenment: featureState,
  relaxed: featureState,
  reset: featureState,
  runtime: featureState,
  spinlocks: obj({ enabled: bool, spinlocks: int64 }),
  synic: featureState,
  synictimer: obj({ direct: featureState, enabled: bool }),
  tlbflush: obj({ direct: featureState, enabled: bool, extended: featureState }),
  vapic: featureState,
  vendorid: obj({ enabled: bool, vendorid: str }),
  vpindex: featureState,
});

const cpu = obj({
  cores: int64,
  dedicatedCpuPlacement: bool,
  features: arr(cpuFeature),
  isolateEmulatorThread: bool,
  maxSockets: int64,
  model: str,
  numa,
  realtime,
  sockets: int64,
  threads: int64,
});

const memory = obj({ guest: quantity, hugepages, maxGuest: quantity, reservedOverhead: obj({ addedOverhead: quantity, memLock: str }) });

const resources = obj({ limits: mapOf(quantity), overcommitGuestOverhead: bool, requests: mapOf(quantity) });

const firmware = obj({
  acpi: obj({ msdmNameRef: str, slicNameRef: str }),
  bootloader: obj({ bios: obj({ useSerial: bool }), efi }),
  kernelBoot: obj({
    container: obj({ image: str, imagePullPolicy: str, imagePullSecret: str, initrdPath: str, kernelPath: str }, ['image']),
    kernelArgs: str,
  }),
  serial: str,
  uuid: str,
});

const features = obj({ acpi: featureState, apic: featureAPIC, hyperv: featureHyperv, hypervPassthrough: featureState, kvm: featureKVM, pvspinlock: featureState, smm: featureState });

export const disk = obj(
  {
    blockSize,
    bootOrder: int32,
    cache: str,
    cdrom: obj({ bus: str, readonly: bool, tray: str }),
    changedBlockTracking: bool,
    dedicatedIOThread: bool,
    disk: obj({ bus: str, pciAddress: str, readonly: bool }),
    errorPolicy: str,
    io: str,
    lun: obj({ bus: str, readonly: bool, reservation: bool }),
    name: str,
    serial: str,
    shareable: bool,
    tag: str,
  },
  ['name'],
);

const networkInterface = obj(
  {
    acpiIndex: int32,
    binding: obj({ name: str }, ['name']),
    bootOrder: int32,
    bridge: empty,
    dhcpOptions: obj({ bootFileName: str, ntpServers: strings, privateOptions: arr(obj({ option: int32, value: str }, ['option', 'value'])), tftpServerName: str }),
    macAddress: str,
    macvtap: empty,
    masquerade: interfaceMasquerade,
    model: str,
    name: str,
    passt: empty,
    passtBinding: empty,
    pciAddress: str,
    portRanges: arr(obj({ end: int32, protocol: str, start: int32 }, ['protocol', 'start', 'end'])),
    ports: arr(obj({ name: str, port: int32, protocol: str }, ['port'])),
    slirp: empty,
    sriov: empty,
    state: str,
    tag: str,
  },
  ['name'],
);

const watchdogAction = obj({ action: str });
const devices = obj({
  autoattachGraphicsDevice: bool,
  autoattachInputDevice: bool,
  autoattachMemBalloon: bool,
  autoattachPodInterface: bool,
  autoattachSerialConsole: bool,
  autoattachVSOCK: bool,
  blockMultiQueue: bool,
  clientPassthrough: empty,
  disableHotplug: bool,
  disks: arr(disk),
  downwardMetrics: empty,
  filesystems: arr(obj({ name: str, virtiofs: empty }, ['name', 'virtiofs'])),
  gpus: arr(gpu),
  hostDevices: arr(hostDevice),
  inputs: arr(obj({ bus: str, name: str, type: str }, ['type', 'name'])),
  interfaces: arr(networkInterface),
  logSerialConsole: bool,
  networkInterfaceMultiqueue: bool,
  panicDevices: arr(obj({ model: str })),
  rng,
  sound: obj({ model: str, name: str }, ['name']),
  tpm: tpmDevice,
  useVirtioTransitional: bool,
  video: obj({ type: str }),
  watchdog: obj({ diag288: watchdogAction, i6300esb: watchdogAction, name: str }, ['name']),
});

const domain = obj(
  {
    chassis: obj({ asset: str, manufacturer: str, serial: str, sku: str, version: str }),
    clock: obj({ timer, timezone: str, utc: clockOffsetUTC }),
    cpu,
    devices,
    features,
    firmware,
    ioThreads: diskIOThreads,
    ioThreadsPolicy: str,
    launchSecurity,
    machine: obj({ type: str }),
    memory,
    rebootPolicy: str,
    resources,
  },
  ['devices'],
);

const cloudInit = obj({ networkData: str, networkDataBase64: str, networkDataSecretRef: localObjectReference, secretRef: localObjectReference, userData: str, userDataBase64: str });
export const dataVolumeVolumeSource = obj({ hotpluggable: bool, name: str }, ['name']);
export const pvcVolumeSource = obj({ claimName: str, hotpluggable: bool, readOnly: bool }, ['claimName']);

const volume = obj(
  {
    cloudInitConfigDrive: cloudInit,
    cloudInitNoCloud: cloudInit,
    configMap: obj({ name: str, optional: bool, volumeLabel: str }),
    containerDisk: obj({ image: str, imagePullPolicy: str, imagePullSecret: str, path: str }, ['image']),
    containerPath: obj({ path: str, readOnly: bool }, ['path']),
    dataVolume: dataVolumeVolumeSource,
    downwardAPI: obj({ fields: arr(core('DownwardAPIVolumeFile')), volumeLabel: str }),
    downwardMetrics: empty,
    emptyDisk: obj({ capacity: quantity }, ['capacity']),
    ephemeral: obj({ persistentVolumeClaim: core('PersistentVolumeClaimVolumeSource') }),
    hostDisk: obj({ capacity: quantity, path: str, shared: bool, type: str }, ['path', 'type']),
    memoryDump: obj({ claimName: str, hotpluggable: bool, readOnly: bool }, ['claimName']),
    name: str,
    persistentVolumeClaim: pvcVolumeSource,
    secret: obj({ optional: bool, secretName: str, volumeLabel: str }),
    serviceAccount: obj({ serviceAccountName: str }),
    sysprep: obj({ configMap: localObjectReference, secret: localObjectReference }),
  },
  ['name'],
);

const network = obj(
  {
    multus: obj({ default: bool, networkName: str }, ['networkName']),
    name: str,
    pod: obj({ vmIPv6NetworkCIDR: str, vmNetworkCIDR: str }),
    resourceClaim: obj({ claimName: str, requestName: str }),
  },
  ['name'],
);

const probe = obj({
  exec: core('ExecAction'),
  failureThreshold: int32,
  guestAgentPing: empty,
  httpGet: core('HTTPGetAction'),
  initialDelaySeconds: int32,
  periodSeconds: int32,
  successThreshold: int32,
  tcpSocket: core('TCPSocketAction'),
  timeoutSeconds: int32,
});

const secretSource = obj({ secret: obj({ secretName: str }, ['secretName']) });
const accessCredential = obj({
  sshPublicKey: obj(
    {
      propagationMethod: obj({ configDrive: empty, noCloud: empty, qemuGuestAgent: obj({ users: strings }, ['users']) }),
      source: secretSource,
    },
    ['source', 'propagationMethod'],
  ),
  userPassword: obj({ propagationMethod: obj({ qemuGuestAgent: empty }), source: secretSource }, ['source', 'propagationMethod']),
});

export const vmiSpec = obj(
  {
    accessCredentials: arr(accessCredential),
    affinity: core('Affinity'),
    architecture: str,
    dnsConfig: core('PodDNSConfig'),
    dnsPolicy: str,
    domain,
    evictionStrategy: str,
    hostname: str,
    livenessProbe: probe,
    networks: arr(network),
    nodeSelector: stringMap,
    priorityClassName: str,
    readinessProbe: probe,
    resourceClaims: arr(obj({ name: str, resourceClaimName: str, resourceClaimTemplateName: str }, ['name'])),
    schedulerName: str,
    serviceAccountName: str,
    startStrategy: str,
    subdomain: str,
    terminationGracePeriodSeconds: int64,
    tolerations: arr(core('Toleration')),
    topologySpreadConstraints: arr(core('TopologySpreadConstraint')),
    utilityVolumes: arr(obj({ claimName: str, name: str, readOnly: bool, type: str }, ['name', 'claimName'])),
    volumes: arr(volume),
  },
  ['domain'],
);

/** Kept for hotplug requests on a VirtualMachine's status. */
export const hotplugVolumeSource = obj({ dataVolume: dataVolumeVolumeSource, persistentVolumeClaim: pvcVolumeSource });
