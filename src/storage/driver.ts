/**
 * The storage driver interface, shaped after CSI's Controller and Node services so that an
 * external CSI driver (over its gRPC socket) can take a built-in driver's place: the control
 * loops and the node agent only ever speak this interface.
 *
 * Controller side — CreateVolume (empty, or from a snapshot or another volume: CSI's
 * VolumeContentSource), DeleteVolume, ControllerExpandVolume, GetCapacity, CreateSnapshot and
 * DeleteSnapshot. A driver says where its
 * controller calls must run: `cluster` (anywhere, e.g. Ceph) or `node` (on the node that holds
 * the volume: `cairn.io/local` creates a file on that node's disk), in which case the node's
 * agent runs the provisioner, resizer and capacity loops for the volumes of its own node — the
 * external-provisioner's distributed ("node deployment") mode.
 *
 * Node side — NodeStageVolume (once per node: attach, mkfs'd device mounted at the staging
 * path), NodePublishVolume (once per pod: bind to the pod's target path), their inverses,
 * NodeExpandVolume (grow the filesystem) and NodeGetVolumeStats. Every call is idempotent, as
 * CSI requires: repeating one after a crash finishes or confirms what the first one did.
 */
import type { FsType } from './mkfs.js';

export type AccessMode = 'ReadWriteOnce' | 'ReadOnlyMany' | 'ReadWriteMany' | 'ReadWriteOncePod';
export type VolumeMode = 'Filesystem' | 'Block';

/** CSI VolumeCapability: mount (with fsType and flags) or block, and the access mode. */
export interface VolumeCapability {
  mode: VolumeMode;
  /** Filesystem volumes: the filesystem to make and mount. */
  fsType?: FsType;
  mountFlags?: string[];
  accessModes: AccessMode[];
}

/** A topology segment, e.g. `{ 'kubernetes.io/hostname': 'node-1' }`. */
export type Topology = Record<string, string>;

export interface CreateVolumeRequest {
  /** The idempotency key: the PersistentVolume name (`pvc-<claim uid>`). */
  name: string;
  /** capacity_range.required_bytes. */
  capacityBytes: number;
  capability: VolumeCapability;
  /** The StorageClass parameters, without the `csi.storage.k8s.io/` ones the sidecars consume. */
  parameters: Record<string, string>;
  /** Where the volume must be reachable from (accessibility_requirements). */
  topology?: Topology;
  /** Fill the new volume from a snapshot (restore) or another volume (clone). */
  contentSource?: VolumeContentSource;
  /** CSI's per-call secrets: the class's provisioner secret (`csi.storage.k8s.io/provisioner-secret-*`). */
  secrets?: Secrets;
}

/** The data of a Secret a CSI call is given (decoded), e.g. a Ceph user's id and key. */
export type Secrets = Record<string, string>;

/** CSI VolumeContentSource: the snapshot or volume a new volume starts as a copy of. */
export type VolumeContentSource = { snapshotId: string } | { volumeId: string };

export interface CreateSnapshotRequest {
  /** The idempotency key: the VolumeSnapshotContent name (`snapcontent-<snapshot uid>`). */
  name: string;
  sourceVolumeId: string;
  /** The VolumeSnapshotClass parameters, without the `csi.storage.k8s.io/` ones. */
  parameters: Record<string, string>;
  /** The snapshot class's snapshotter secret (`csi.storage.k8s.io/snapshotter-secret-*`). */
  secrets?: Secrets;
}

export interface CreatedSnapshot {
  snapshotId: string;
  sourceVolumeId: string;
  /** The size of the source at snapshot time: a restore needs at least this much. */
  sizeBytes: number;
  creationTime: Date;
  readyToUse: boolean;
}

export interface CreatedVolume {
  volumeId: string;
  /** What was really allocated (at least the request). */
  capacityBytes: number;
  /** Passed back to every node call for the volume (PV spec.csi.volumeAttributes). */
  volumeContext: Record<string, string>;
  /** Where the volume can be used (becomes the PV's node affinity). */
  accessibleTopology?: Topology[];
}

export interface ExpandResult {
  capacityBytes: number;
  /** The filesystem on the volume still has to grow (NodeExpandVolume). */
  nodeExpansionRequired: boolean;
}

export interface Capacity {
  availableBytes: number;
  /** The largest single volume that fits (CSI maximum_volume_size). */
  maximumVolumeBytes: number;
}

export interface ControllerService {
  createVolume(req: CreateVolumeRequest): Promise<CreatedVolume>;
  /** Gone already is success. `secrets`: the provisioner secret the volume was made with. */
  deleteVolume(volumeId: string, secrets?: Secrets): Promise<void>;
  /** `secrets`: the PV's controllerExpandSecretRef. */
  controllerExpandVolume(volumeId: string, capacityBytes: number, capability: VolumeCapability, secrets?: Secrets): Promise<ExpandResult>;
  getCapacity(parameters: Record<string, string>, topology?: Topology): Promise<Capacity>;
  /** Absent when the driver cannot snapshot (CREATE_DELETE_SNAPSHOT not offered). */
  createSnapshot?(req: CreateSnapshotRequest): Promise<CreatedSnapshot>;
  /** Gone already is success. */
  deleteSnapshot?(snapshotId: string, secrets?: Secrets): Promise<void>;
}

export interface NodeStageRequest {
  volumeId: string;
  /** A directory (Filesystem) or the path of a device link (Block) the driver owns. */
  stagingPath: string;
  capability: VolumeCapability;
  volumeContext: Record<string, string>;
  /** The PV's nodeStageSecretRef, read by the node (CSI passes it to NodeStageVolume). */
  secrets?: Secrets;
}

export interface NodePublishRequest extends NodeStageRequest {
  /** The pod's path: a directory to bind the filesystem on, or a file to bind the device on. */
  targetPath: string;
  readOnly: boolean;
}

export interface VolumeStats {
  capacityBytes: number;
  availableBytes?: number;
  usedBytes?: number;
  inodes?: number;
  inodesFree?: number;
  inodesUsed?: number;
}

export interface NodeService {
  nodeStageVolume(req: NodeStageRequest): Promise<void>;
  nodeUnstageVolume(volumeId: string, stagingPath: string): Promise<void>;
  nodePublishVolume(req: NodePublishRequest): Promise<void>;
  nodeUnpublishVolume(volumeId: string, targetPath: string): Promise<void>;
  /** Grows the staged volume's filesystem (or block device) to its new size; returns the size now usable. */
  nodeExpandVolume(volumeId: string, stagingPath: string, capability: VolumeCapability): Promise<{ capacityBytes: number }>;
  nodeGetVolumeStats(volumeId: string, volumePath: string, mode: VolumeMode): Promise<VolumeStats>;
  /** Whether the volume is staged at `stagingPath` now (CSI has no such call; the kubelet reads its mount table). */
  isStaged(volumeId: string, stagingPath: string): Promise<boolean>;
}

/** What the provisioner checks before it asks the driver for a volume. */
export interface DriverCapabilities {
  volumeModes: readonly VolumeMode[];
  accessModes: readonly AccessMode[];
  /** StorageClass parameters the driver understands; any other is refused, naming it. */
  parameters: readonly string[];
}

export interface StorageDriver {
  /** The CSI driver name (PV spec.csi.driver), a DNS subdomain: `local.cairn.io`. */
  readonly name: string;
  /** The StorageClass provisioner it serves: `cairn.io/local`. */
  readonly provisioner: string;
  /** Where controller calls run: on the volume's node (`node`) or anywhere (`cluster`). */
  readonly controllerScope: 'node' | 'cluster';
  readonly capabilities: DriverCapabilities;
  readonly controller: ControllerService;
  readonly node: NodeService;
}

/** The StorageClass parameters the CSI sidecars consume themselves (secrets, fsType). */
export const CSI_PARAMETER_PREFIX = 'csi.storage.k8s.io/';
