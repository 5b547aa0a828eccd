/**
 * The contract of a live migration between its three actors, as KubeVirt splits it:
 *   - the migration controller (controller manager) owns the VirtualMachineInstanceMigration
 *     (VMIM), its phase and its target launcher pod, and on the VMI the fields it starts and ends
 *     a migration with;
 *   - the target node's VirtHandler prepares the target launcher (QEMU with `-incoming defer`,
 *     NBD exports for disks that are copied) and opens the migration proxy on its node address;
 *   - the source node's VirtHandler runs the migration (parameters, block mirror, `migrate`,
 *     switchover) and reports how it ended.
 * They talk only through `vmi.status.migrationState` (KubeVirt's
 * VirtualMachineInstanceMigrationState) and the VMIM; each field below says who writes it, so no
 * two writers touch the same field and every step is level-triggered from the caches.
 *
 * The migration stream and the NBD traffic go between node network namespaces (the underlay) over
 * TLS unless the configuration disables it (handler/migration-tls.ts), never over the pod
 * network: the target launcher takes the source pod's IP (pod IP handoff), so
 * the two pods share an address while the migration runs. Each node's handler proxies between
 * its launcher's unix sockets and its node address, as KubeVirt's virt-handler migration proxy.
 */
import type { ResourceRef } from '../../client/index.js';
import { KUBEVIRT_GROUP } from '../api/kubevirt.js';

export const VMIMS: ResourceRef = { group: KUBEVIRT_GROUP, version: 'v1', plural: 'virtualmachineinstancemigrations', namespaced: true, kind: 'VirtualMachineInstanceMigration' };
export const MIGRATION_POLICIES: ResourceRef = { group: 'migrations.kubevirt.io', version: 'v1alpha1', plural: 'migrationpolicies', namespaced: false, kind: 'MigrationPolicy' };

/** KubeVirt's VirtualMachineInstanceMigrationPhase, in order. */
export type MigrationPhase = 'Pending' | 'Scheduling' | 'Scheduled' | 'PreparingTarget' | 'TargetReady' | 'Running' | 'Succeeded' | 'Failed';

/** The target launcher pod carries layout.ts's LABEL_MIGRATION_JOB_UID (the VMIM's uid). */
export { LABEL_MIGRATION_JOB_UID } from '../launcher/layout.js';
/** Label on the VMI while a migration prepares its target (KubeVirt's). */
export const LABEL_MIGRATION_TARGET_NODE = 'kubevirt.io/migrationTargetNodeName';
/**
 * Annotation on a target launcher pod: the address its network must take — the source pod's
 * IP — instead of one from its node's pod subnet (Cairn's pod IP handoff). Set only by the
 * migration controller; the API refuses it from anyone else.
 */
export const ANN_POD_IP_HANDOFF = 'cairn.io/pod-ip-handoff';

/**
 * Ports in `targetDirectMigrationNodePorts` map a node port to what it reaches in the target
 * launcher (KubeVirt's LibvirtDirectMigrationPort and LibvirtBlockMigrationPort).
 */
export const MIGRATION_PORT_MEMORY = 49152;
export const MIGRATION_PORT_BLOCK = 49153;

/** Files in the launcher's PRIVATE_DIR (layout.ts) the migration uses. */
export const MIGRATION_FILES = {
  /** Target: QEMU's `migrate-incoming` listens here; the target proxy connects to it. */
  incoming: 'migration-in.sock',
  /** Target: QEMU's NBD server for the copied disks. */
  nbd: 'migration-nbd.sock',
  /** Source: the source proxy listens here and forwards to the target node's memory port. */
  outgoing: 'migration-out.sock',
  /** Source: the source proxy listens here and forwards to the target node's block port. */
  outgoingNbd: 'migration-out-nbd.sock',
} as const;

/** The configuration a migration runs with (KubeVirt's VMIMConfigurationOptions, resolved from the cluster defaults and a MigrationPolicy). */
export interface MigrationConfiguration {
  /** A quantity per second; "0" is unlimited (KubeVirt's default). */
  bandwidthPerMigration: string;
  /** Seconds per GiB of guest memory (and copied disk) before the migration is cancelled (KubeVirt: 150). */
  completionTimeoutPerGiB: number;
  /** Seconds without progress before the migration is cancelled (KubeVirt: 150). */
  progressTimeout: number;
  allowAutoConverge: boolean;
  allowPostCopy: boolean;
  /** QEMU's downtime limit (KubeVirt leaves libvirt's 300 ms; Cairn's default is 100 ms, as Proxmox's). */
  maxDowntimeMs: number;
  parallelMigrationsPerCluster: number;
  parallelOutboundMigrationsPerNode: number;
  /** The proxies speak plain TCP between the nodes instead of TLS (KubeVirt's; off by default). */
  disableTLS: boolean;
}

export const DEFAULT_MIGRATION_CONFIGURATION: MigrationConfiguration = {
  bandwidthPerMigration: '0',
  completionTimeoutPerGiB: 150,
  progressTimeout: 150,
  allowAutoConverge: false,
  allowPostCopy: false,
  maxDowntimeMs: 100,
  parallelMigrationsPerCluster: 5,
  parallelOutboundMigrationsPerNode: 2,
  disableTLS: false,
};

/** vmi.status.migrationState. Who writes each field is named; nobody else touches it. */
export interface MigrationState {
  // -- the controller, when the target pod runs (VMIM Scheduled → PreparingTarget) --
  migrationUid: string;
  sourceNode: string;
  sourcePod: string;
  targetNode: string;
  targetPod: string;
  migrationConfiguration: MigrationConfiguration;
  migrationPolicyName?: string;
  // -- the target handler, once QEMU waits for the stream and the proxies listen (→ TargetReady) --
  /** The target node's address the source connects to (its InternalIP or VTEP address). */
  targetNodeAddress?: string;
  /** Node port → MIGRATION_PORT_MEMORY or MIGRATION_PORT_BLOCK. */
  targetDirectMigrationNodePorts?: Record<string, number>;
  targetNodeDomainDetected?: boolean;
  // -- the source handler --
  /** The migration started (→ Running). */
  startTimestamp?: string;
  mode?: 'PreCopy' | 'PostCopy';
  /** The source's QEMU handed the guest over (QEMU's `completed`), or the migration failed. */
  endTimestamp?: string;
  completed?: boolean;
  failed?: boolean;
  failureReason?: string;
  /** Aborting | Succeeded | Failed, after abortRequested. */
  abortStatus?: 'Aborting' | 'Succeeded' | 'Failed';
  // -- the target handler, once the guest runs on the target --
  targetNodeDomainReadyTimestamp?: string;
  // -- the controller, when the VMIM is deleted before it ended --
  abortRequested?: boolean;
}

/** A VMI's migration state, typed (the VMI's own type keeps it open). */
export const migrationStateOf = (vmi: { status?: { migrationState?: unknown } } | undefined): MigrationState | undefined => vmi?.status?.migrationState as MigrationState | undefined;

/** The VMIM's spec and status (KubeVirt's). */
export interface VirtualMachineInstanceMigration {
  apiVersion?: string;
  kind?: string;
  metadata: { name?: string; namespace?: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string>; creationTimestamp?: string; deletionTimestamp?: string; finalizers?: string[]; resourceVersion?: string; generateName?: string };
  spec: { vmiName: string; addedNodeSelector?: Record<string, string> };
  status?: {
    phase?: MigrationPhase;
    phaseTransitionTimestamps?: { phase: MigrationPhase; phaseTransitionTimestamp: string }[];
    migrationState?: MigrationState;
    conditions?: { type: string; status: 'True' | 'False' | 'Unknown'; reason?: string; message?: string; lastProbeTime?: string | null; lastTransitionTime?: string }[];
  };
}
