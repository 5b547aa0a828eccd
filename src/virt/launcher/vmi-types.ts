/**
 * The parts of a kubevirt.io/v1 VirtualMachineInstance that launching one reads (the whole schema
 * is src/virt/api/vmi-spec.ts): the domain's CPU, memory and devices, the volumes behind the
 * disks, the networks behind the interfaces, and the pod-level fields the launcher pod copies.
 * Field names and meanings are KubeVirt's.
 */
import type { KubeObject } from '../../util/object.js';
import type { CloudInitSource } from '../cloud-init/cloud-init-data.js';
import type { VmCondition } from '../controllers/vm-api.js';

export type { CloudInitSource };

export interface LocalObjectReference {
  name?: string;
}

export interface DiskTarget {
  bus?: 'virtio' | 'sata' | 'scsi' | 'usb';
  readonly?: boolean;
  pciAddress?: string;
}

export interface VmiDisk {
  name: string;
  disk?: DiskTarget;
  cdrom?: { bus?: 'sata' | 'scsi'; readonly?: boolean; tray?: string };
  lun?: DiskTarget;
  bootOrder?: number;
  serial?: string;
  cache?: 'none' | 'writethrough' | 'writeback';
  shareable?: boolean;
}

export interface VmiInterface {
  name: string;
  masquerade?: Record<string, never>;
  bridge?: Record<string, never>;
  macAddress?: string;
  model?: string;
  bootOrder?: number;
  ports?: { name?: string; port: number; protocol?: 'TCP' | 'UDP' }[];
}

export interface VmiVolume {
  name: string;
  containerDisk?: { image: string; imagePullPolicy?: string; imagePullSecret?: string; path?: string };
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  dataVolume?: { name: string };
  emptyDisk?: { capacity: string };
  ephemeral?: { persistentVolumeClaim: { claimName: string; readOnly?: boolean } };
  cloudInitNoCloud?: CloudInitSource;
  cloudInitConfigDrive?: CloudInitSource;
  configMap?: { name?: string; optional?: boolean; volumeLabel?: string };
  secret?: { secretName?: string; optional?: boolean; volumeLabel?: string };
  serviceAccount?: { serviceAccountName?: string };
}

export interface VmiNetwork {
  name: string;
  pod?: { vmNetworkCIDR?: string };
  multus?: { networkName: string; default?: boolean };
}

export interface VmiResources {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
  overcommitGuestOverhead?: boolean;
}

export interface VmiDomain {
  cpu?: { cores?: number; sockets?: number; threads?: number; model?: string };
  memory?: { guest?: string; hugepages?: { pageSize?: string } };
  resources?: VmiResources;
  machine?: { type?: string };
  firmware?: { uuid?: string; serial?: string };
  devices: {
    disks?: VmiDisk[];
    interfaces?: VmiInterface[];
    autoattachPodInterface?: boolean;
    autoattachSerialConsole?: boolean;
    autoattachGraphicsDevice?: boolean;
    [other: string]: unknown;
  };
  [other: string]: unknown;
}

export interface VmiProbe {
  tcpSocket?: { port: number | string; host?: string };
  httpGet?: { port: number | string; path?: string; host?: string; scheme?: string; httpHeaders?: { name: string; value: string }[] };
  exec?: { command?: string[] };
  guestAgentPing?: Record<string, never>;
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}

export interface VmiSpecTyped {
  domain: VmiDomain;
  volumes?: VmiVolume[];
  networks?: VmiNetwork[];
  terminationGracePeriodSeconds?: number;
  nodeSelector?: Record<string, string>;
  affinity?: Record<string, unknown>;
  tolerations?: Record<string, unknown>[];
  topologySpreadConstraints?: Record<string, unknown>[];
  schedulerName?: string;
  priorityClassName?: string;
  evictionStrategy?: 'None' | 'LiveMigrate' | 'LiveMigrateIfPossible' | 'External';
  hostname?: string;
  subdomain?: string;
  dnsPolicy?: string;
  dnsConfig?: Record<string, unknown>;
  readinessProbe?: VmiProbe;
  livenessProbe?: VmiProbe;
  startStrategy?: 'Paused';
  [other: string]: unknown;
}

/** One entry of status.interfaces (KubeVirt's VirtualMachineInstanceNetworkInterface). */
export interface VmiInterfaceStatus {
  name?: string;
  mac?: string;
  ipAddress?: string;
  ipAddresses?: string[];
  interfaceName?: string;
  infoSource?: string;
  queueCount?: number;
  linkState?: string;
  podInterfaceName?: string;
}

export interface VmiStatusTyped {
  phase?: 'Pending' | 'Scheduling' | 'Scheduled' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  reason?: string;
  nodeName?: string;
  conditions?: VmCondition[];
  interfaces?: VmiInterfaceStatus[];
  /** Launcher pod uid → node, as KubeVirt's activePods. */
  activePods?: Record<string, string>;
  guestOSInfo?: Record<string, string>;
  launcherContainerImageVersion?: string;
  qosClass?: string;
  machine?: { type: string };
  currentCPUTopology?: { cores?: number; sockets?: number; threads?: number };
  memory?: { guestAtBoot?: string; guestCurrent?: string; guestRequested?: string };
  phaseTransitionTimestamps?: { phase: string; phaseTransitionTimestamp: string }[];
  migrationState?: Record<string, unknown>;
  [other: string]: unknown;
}

export interface Vmi extends KubeObject {
  spec: VmiSpecTyped;
  status?: VmiStatusTyped;
}
