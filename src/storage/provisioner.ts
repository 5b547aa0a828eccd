/**
 * Dynamic provisioning through a StorageDriver, as upstream's external-provisioner sidecar does
 * it: a claim whose class names the driver's provisioner (and, with WaitForFirstConsumer, whose
 * volume.kubernetes.io/selected-node is set) gets CreateVolume and then a PersistentVolume
 * pre-bound to it (the PV binder completes the binding); a provisioned volume that is Released
 * with reclaimPolicy Delete gets DeleteVolume and its PersistentVolume removed.
 *
 * For a node-scoped driver (`cairn.io/local`) each node's agent runs one of these limited to its
 * node — the external-provisioner's distributed mode: claims whose selected node is this node,
 * volumes whose node affinity names it. When the node has no room (ResourceExhausted) the
 * selected-node annotation is removed, which sends the pod back to the scheduler, now with the
 * node's lower capacity in view.
 *
 * A claim with a data source (dataSourceRef, else dataSource, as upstream) is a restore — kind
 * VolumeSnapshot: its snapshot must be bound to a content of this driver and readyToUse (until it
 * is, the claim waits with an event), the request at least its restoreSize — or a clone — kind
 * PersistentVolumeClaim in the same namespace: Bound, of the same class and volume mode, the
 * request at least its size, held by upstream's cloning-protection finalizer until no Pending
 * clone needs it; the driver gets it as CreateVolume's content source. Claims with other data
 * sources are left to their volume populators.
 *
 * Everything is level-triggered from the informer caches and idempotent: the PV name is
 * `pvc-<claim uid>`, CreateVolume with that name returns the existing volume, so a crash between
 * creating the volume and creating its PV only repeats the first step.
 */
import { type Client, finalStateOf, isAlreadyExists, isConflict, isNotFound, type Logger, type RunningController, runController, type SharedInformerFactory, WorkQueue } from '../client/index.js';
import type { EventRecorder } from '../controllers/events.js';
import { nodeSelectorTermMatches } from '../controllers/util/node-fit.js';
import { binaryQuantity } from '../agent/node/quantity.js';
import { parseQuantity } from '../registry/validation.js';
import type { KubeObject } from '../util/object.js';
import {
  ANN_PROVISIONED_BY,
  ANN_SELECTED_NODE,
  claimClass,
  claimKeyOf,
  phaseOf,
  PVCS,
  pvcSpec,
  pvcStatus,
  PVS,
  pvSpec,
  type StorageClass,
  STORAGE_CLASSES,
} from './api.js';
import { type AccessMode, CSI_PARAMETER_PREFIX, type StorageDriver, type Topology, type VolumeCapability, type VolumeContentSource, type VolumeMode } from './driver.js';
import { asStorageError, StorageError } from './errors.js';
import { deletionSecretRef, provisioningSecrets, type ProvisioningSecrets, pvSecretFields, readSecret } from './csi-secrets.js';
import { type FsType, isFsType, FS_TYPES } from './mkfs.js';
import { type ClaimDataSource, claimDataSource, contentSnapshotHandle, contentPointsTo, isClaimSource, isSnapshotSource, VOLUME_SNAPSHOT_CONTENTS, VOLUME_SNAPSHOTS, type VolumeSnapshot, type VolumeSnapshotContent } from './snapshot-api.js';

const CSI_FSTYPE_PARAMETER = `${CSI_PARAMETER_PREFIX}fstype`;
const DEFAULT_FS_TYPE: FsType = 'ext4';
const BUSY_GRACE_MS = 30_000;
/** A restore from a snapshot not ready yet is tried again this often. */
const SOURCE_WAIT_MS = 5_000;
/** external-provisioner's: on a claim while a clone of it is being provisioned. */
export const CLONE_FINALIZER = 'provisioner.storage.kubernetes.io/cloning-protection';

/** Why a claim's data source cannot be used: `retry` when it may still become usable by itself. */
class DataSourceError extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
  ) {
    super(message);
  }
}

export interface ProvisionerOptions {
  client: Client;
  informers: SharedInformerFactory;
  /** Reports as `<provisioner>_<node>`, as external-provisioner names itself. */
  recorder: EventRecorder;
  logger: Logger;
  driver: StorageDriver;
  /**
   * For a node-scoped driver: the node this provisioner serves, its labels (matched against the
   * node affinity of volumes to delete) and its topology segment (where new volumes live).
   */
  node?: { name: string; labels: () => Record<string, string>; topology: () => Topology };
  /** Told after a volume was created, expanded or deleted (capacity changed). */
  onChange?: () => void;
}

/** The CSI VolumeCapability of a claim under its class. */
export function claimCapability(claim: KubeObject, sc: StorageClass): VolumeCapability {
  const mode = (pvcSpec(claim).volumeMode ?? 'Filesystem') as VolumeMode;
  const accessModes = (pvcSpec(claim).accessModes ?? []) as AccessMode[];
  if (mode === 'Block') return { mode, accessModes };
  const fsType = sc.parameters?.[CSI_FSTYPE_PARAMETER] ?? sc.parameters?.fsType ?? DEFAULT_FS_TYPE;
  if (!isFsType(fsType)) throw new StorageError('InvalidArgument', `fsType "${fsType}" is not supported (supported: ${FS_TYPES.join(', ')})`);
  return { mode, fsType, accessModes, ...(sc.mountOptions?.length ? { mountFlags: sc.mountOptions } : {}) };
}

/** The class parameters the driver gets, refusing any it does not know (naming the first). */
export function driverParameters(driver: StorageDriver, sc: StorageClass): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sc.parameters ?? {})) {
    if (k.startsWith(CSI_PARAMETER_PREFIX)) continue;
    if (!driver.capabilities.parameters.includes(k))
      throw new StorageError('InvalidArgument', `unknown StorageClass parameter "${k}" (${driver.name} understands: ${driver.capabilities.parameters.join(', ') || 'none'})`);
    out[k] = v;
  }
  return out;
}

/** Why the driver cannot make this claim's volume at all (checked before CreateVolume). */
function unsupported(driver: StorageDriver, cap: VolumeCapability): StorageError | undefined {
  const bad = cap.accessModes.find((m) => !driver.capabilities.accessModes.includes(m));
  if (bad) return new StorageError('InvalidArgument', `access mode ${bad} is not supported by ${driver.name} (supported: ${driver.capabilities.accessModes.join(', ')})`);
  return undefined;
}

/** PV node affinity from the volume's accessible topology. */
function nodeAffinity(segments: Topology[] | undefined): Record<string, unknown> | undefined {
  if (!segments?.length) return undefined;
  const terms = segments.map((seg) => ({ matchExpressions: Object.entries(seg).map(([key, value]) => ({ key, operator: 'In', values: [value] })) }));
  return { required: { nodeSelectorTerms: terms } };
}

export class ClaimProvisioner {
  private readonly pvcs;
  private readonly pvs;
  private readonly classes;
  private readonly queue = new WorkQueue<string>({ name: 'storage-provisioner' });
  private readonly identity: string;
  /** Volumes made whose PV the cache does not show yet (a claim update in between must not make them again). */
  private readonly made = new Set<string>();
  /** Released volumes still in use on the node (a pod's teardown lags its deletion), since when. */
  private readonly busySince = new Map<string, number>();

  constructor(private readonly o: ProvisionerOptions) {
    this.pvcs = o.informers.forResource<KubeObject>(PVCS);
    this.pvs = o.informers.forResource<KubeObject>(PVS);
    this.classes = o.informers.forResource<StorageClass>(STORAGE_CLASSES);
    this.identity = o.node ? `${o.driver.provisioner}_${o.node.name}` : o.driver.provisioner;
    // A clone's progress may release its source's cloning-protection.
    const cloneSource = (c: KubeObject) => {
      const src = claimDataSource(c);
      if (isClaimSource(src)) this.queue.add(`claim:${c.metadata.namespace}/${src!.name}`);
    };
    this.pvcs.addEventHandler({
      onAdd: (c) => this.queue.add(`claim:${claimKeyOf(c)}`),
      onUpdate: (_o, c) => {
        this.queue.add(`claim:${claimKeyOf(c)}`);
        cloneSource(c);
      },
      onDelete: (d) => cloneSource(finalStateOf(d)),
    });
    this.pvs.addEventHandler({
      onAdd: (pv) => {
        this.made.delete(pv.metadata.name!);
        this.queue.add(`volume:${pv.metadata.name}`);
      },
      onUpdate: (_o, pv) => this.queue.add(`volume:${pv.metadata.name}`),
      onDelete: (d) => {
        // A claim whose volume vanished before binding gets another try.
        const ref = pvSpec(finalStateOf(d)).claimRef;
        if (ref?.namespace && ref.name) this.queue.add(`claim:${ref.namespace}/${ref.name}`);
      },
    });
    this.classes.onAdd(() => {
      for (const c of this.pvcs.store.list()) if (!pvcSpec(c).volumeName) this.queue.add(`claim:${claimKeyOf(c)}`);
    });
  }

  start(signal: AbortSignal): RunningController {
    return runController({
      name: `storage-provisioner(${this.o.driver.provisioner})`,
      queue: this.queue,
      reconcile: (key) => (key.startsWith('claim:') ? this.syncClaim(key.slice(6)) : this.syncVolume(key.slice(7))),
      informers: [this.pvcs, this.pvs, this.classes],
      workers: 2,
      signal,
      logger: this.o.logger,
    });
  }

  private async syncClaim(key: string): Promise<{ requeueAfterMs: number } | void> {
    const claim = this.pvcs.store.get(key);
    if (claim?.metadata.deletionTimestamp && claim.metadata.finalizers?.includes(CLONE_FINALIZER)) return this.releaseCloneSource(claim);
    if (!claim || claim.metadata.deletionTimestamp || pvcSpec(claim).volumeName) return;
    const className = claimClass(claim);
    const sc = className ? this.classes.store.get(className) : undefined;
    if (!sc || sc.provisioner !== this.o.driver.provisioner) return;
    const selected = claim.metadata.annotations?.[ANN_SELECTED_NODE];
    if (this.o.node ? selected !== this.o.node.name : sc.volumeBindingMode === 'WaitForFirstConsumer' && !selected) return;
    const pvName = `pvc-${claim.metadata.uid}`;
    if (this.pvs.store.get(pvName) || this.made.has(pvName)) return;
    const failed = (e: StorageError | Error) =>
      this.o.recorder.event(claim, 'Warning', 'ProvisioningFailed', `failed to provision volume with StorageClass "${className}": ${e.message}`);

    const dataSource = claimDataSource(claim);
    // Other kinds are a volume populator's to fill.
    if (dataSource && !isSnapshotSource(dataSource) && !isClaimSource(dataSource)) return;
    if (pvcSpec(claim).volumeMode === 'Block' && !this.o.driver.capabilities.volumeModes.includes('Block')) {
      this.o.recorder.event(claim, 'Warning', 'ProvisioningFailed', `${this.o.driver.provisioner} does not support block volume provisioning`);
      return;
    }
    let capability: VolumeCapability;
    let parameters: Record<string, string>;
    let secretRefs: ProvisioningSecrets;
    try {
      capability = claimCapability(claim, sc);
      parameters = driverParameters(this.o.driver, sc);
      secretRefs = provisioningSecrets(sc.parameters, claim, pvName);
      const why = unsupported(this.o.driver, capability);
      if (why) throw why;
    } catch (e) {
      // The class or claim cannot change into something that works: no retry loop.
      failed(e as Error);
      return;
    }
    this.o.recorder.event(claim, 'Normal', 'Provisioning', `External provisioner is provisioning volume for claim "${key}"`);
    const capacityBytes = parseQuantity(pvcSpec(claim).resources?.requests?.storage);
    let contentSource: VolumeContentSource | undefined;
    if (dataSource) {
      try {
        contentSource = await this.contentSource(claim, dataSource, capacityBytes);
      } catch (e) {
        if (!(e instanceof DataSourceError)) throw e;
        failed(e);
        return e.retry ? { requeueAfterMs: SOURCE_WAIT_MS } : undefined;
      }
    }
    let vol;
    try {
      const secrets = secretRefs.provisioner && (await readSecret(this.o.client, secretRefs.provisioner));
      vol = await this.o.driver.controller.createVolume({
        ...(secrets ? { secrets } : {}),
        name: pvName,
        capacityBytes,
        capability,
        parameters,
        topology: this.o.node?.topology(),
        ...(contentSource ? { contentSource } : {}),
      });
    } catch (e) {
      const err = asStorageError(e);
      failed(err);
      if (err.code === 'ResourceExhausted' && this.o.node) {
        // This node cannot hold it: let the scheduler choose again.
        await this.clearSelectedNode(claim);
        return;
      }
      throw err;
    }
    this.o.onChange?.();
    const pv: KubeObject = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: pvName, annotations: { [ANN_PROVISIONED_BY]: this.o.driver.provisioner, ...pvSecretFields(secretRefs).annotations } },
      spec: {
        capacity: { storage: binaryQuantity(vol.capacityBytes) },
        accessModes: pvcSpec(claim).accessModes,
        volumeMode: capability.mode,
        storageClassName: className,
        persistentVolumeReclaimPolicy: sc.reclaimPolicy ?? 'Delete',
        ...(sc.mountOptions?.length ? { mountOptions: sc.mountOptions } : {}),
        claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: claim.metadata.namespace, name: claim.metadata.name, uid: claim.metadata.uid, resourceVersion: claim.metadata.resourceVersion },
        csi: {
          driver: this.o.driver.name,
          volumeHandle: vol.volumeId,
          ...(capability.fsType ? { fsType: capability.fsType } : {}),
          volumeAttributes: { ...vol.volumeContext, 'storage.kubernetes.io/csiProvisionerIdentity': this.identity },
          ...pvSecretFields(secretRefs).csi,
        },
        ...(nodeAffinity(vol.accessibleTopology) ? { nodeAffinity: nodeAffinity(vol.accessibleTopology) } : {}),
      },
    };
    try {
      await this.o.client.resource(PVS).create(pv);
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
    if (!this.pvs.store.get(pvName)) this.made.add(pvName);
    this.o.recorder.event(claim, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${pvName}`);
  }

  /** upstream getVolumeContentSource: the snapshot or claim the new volume is to be a copy of, checked. */
  private async contentSource(claim: KubeObject, src: ClaimDataSource, capacityBytes: number): Promise<VolumeContentSource> {
    const ns = claim.metadata.namespace!;
    const get = async <T extends KubeObject>(r: typeof PVCS, name: string, namespace?: string): Promise<T | undefined> => {
      try {
        return (await this.o.client.resource<T>(r).get(name, namespace)) as T;
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    };
    if (isSnapshotSource(src)) {
      const snap = await get<VolumeSnapshot>(VOLUME_SNAPSHOTS, src.name, ns);
      if (!snap) throw new DataSourceError(`error getting snapshot ${src.name} from api server: volumesnapshots.snapshot.storage.k8s.io "${src.name}" not found`, true);
      if (snap.metadata.deletionTimestamp) throw new DataSourceError(`snapshot ${src.name} is currently being deleted`, false);
      const contentName = snap.status?.boundVolumeSnapshotContentName;
      if (!contentName) throw new DataSourceError(`snapshot ${src.name} not bound`, true);
      const content = await get<VolumeSnapshotContent>(VOLUME_SNAPSHOT_CONTENTS, contentName);
      if (!content || !contentPointsTo(content, snap)) throw new DataSourceError(`snapshot ${src.name} is not bound to content ${contentName}`, true);
      if (content.spec?.driver !== this.o.driver.name) throw new DataSourceError(`snapshot ${src.name} is of driver ${content.spec?.driver}, not ${this.o.driver.name}`, false);
      const handle = contentSnapshotHandle(content);
      if (snap.status?.readyToUse !== true || !handle) throw new DataSourceError(`snapshot ${src.name} is not Ready`, true);
      const restoreSize = parseQuantity(snap.status.restoreSize ?? '0');
      if (capacityBytes < restoreSize) throw new DataSourceError(`requested volume size ${capacityBytes} is less than the size ${restoreSize} for the source snapshot ${src.name}`, false);
      return { snapshotId: handle };
    }
    const source = await get<KubeObject>(PVCS, src.name, ns);
    if (!source) throw new DataSourceError(`error getting PVC ${src.name} (namespace "${ns}") from api server: persistentvolumeclaims "${src.name}" not found`, true);
    if (claimClass(source) !== claimClass(claim))
      throw new DataSourceError(`the source PVC and destination PVCs must be in the same storage class for cloning.  Source is in ${claimClass(source) || '""'}, but new PVC is in ${claimClass(claim) || '""'}`, false);
    const mode = (c: KubeObject) => pvcSpec(c).volumeMode ?? 'Filesystem';
    if (mode(source) !== mode(claim)) throw new DataSourceError(`the source PVC and destination PVCs must have the same volume mode for cloning.  Source is ${mode(source)}.  Requested is ${mode(claim)}`, false);
    const pv = phaseOf(source) === 'Bound' && pvcSpec(source).volumeName ? await get<KubeObject>(PVS, pvcSpec(source).volumeName!) : undefined;
    if (!pv) throw new DataSourceError(`the PVC ${src.name} not yet bound to a pv`, true);
    if (pvSpec(pv).csi?.driver !== this.o.driver.name) throw new DataSourceError(`the source PVC ${src.name} is of driver ${pvSpec(pv).csi?.driver ?? '(none)'}, not ${this.o.driver.name}`, false);
    const sourceBytes = parseQuantity(pvcStatus(source).capacity?.storage ?? pvSpec(pv).capacity?.storage);
    if (capacityBytes < sourceBytes)
      throw new DataSourceError(`error, new PVC request must be greater than or equal in size to the specified PVC data source, requested ${capacityBytes} but source is ${sourceBytes}`, false);
    if (source.metadata.deletionTimestamp) throw new DataSourceError(`the source PVC ${src.name} is being deleted`, false);
    if (!source.metadata.finalizers?.includes(CLONE_FINALIZER))
      await this.o.client.resource(PVCS).update({ ...source, metadata: { ...source.metadata, finalizers: [...(source.metadata.finalizers ?? []), CLONE_FINALIZER] } });
    return { volumeId: pvSpec(pv).csi!.volumeHandle };
  }

  /** upstream's CloningProtectionController: a source being deleted is let go once no clone of it is Pending. */
  private async releaseCloneSource(source: KubeObject): Promise<void> {
    const pv = this.pvs.store.get(pvcSpec(source).volumeName ?? '');
    if (!pv || !this.owns(pv)) return;
    const pending = this.pvcs.store.byNamespace(source.metadata.namespace!).some((c) => {
      const src = claimDataSource(c);
      return isClaimSource(src) && src!.name === source.metadata.name && (phaseOf(c) ?? 'Pending') === 'Pending' && !c.metadata.deletionTimestamp;
    });
    if (pending) return;
    const finalizers = source.metadata.finalizers!.filter((f) => f !== CLONE_FINALIZER);
    await this.o.client.resource(PVCS).update({ ...source, metadata: { ...source.metadata, finalizers } });
  }

  private async clearSelectedNode(claim: KubeObject): Promise<void> {
    try {
      await this.o.client.resource(PVCS).patch(claim.metadata.name!, { metadata: { annotations: { [ANN_SELECTED_NODE]: null } } }, 'merge', { namespace: claim.metadata.namespace });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** Whether the volume is this provisioner's to delete. */
  private owns(pv: KubeObject): boolean {
    const s = pvSpec(pv);
    if (pv.metadata.annotations?.[ANN_PROVISIONED_BY] !== this.o.driver.provisioner || s.csi?.driver !== this.o.driver.name) return false;
    if (!this.o.node) return true;
    const labels = this.o.node.labels();
    const terms = s.nodeAffinity?.required?.nodeSelectorTerms ?? [];
    return terms.some((t) => nodeSelectorTermMatches(t, labels, this.o.node!.name));
  }

  private async syncVolume(name: string): Promise<void> {
    const pv = this.pvs.store.get(name);
    if (!pv || !this.owns(pv)) return;
    const s = pvSpec(pv);
    if ((s.persistentVolumeReclaimPolicy ?? 'Delete') !== 'Delete') return;
    // Released: its claim is gone. A volume an administrator deleted goes too, unless a claim still holds it.
    if (phaseOf(pv) !== 'Released' && !(pv.metadata.deletionTimestamp && phaseOf(pv) !== 'Bound')) return;
    try {
      const ref = deletionSecretRef(pv);
      await this.o.driver.controller.deleteVolume(s.csi!.volumeHandle, ref && (await readSecret(this.o.client, ref)));
    } catch (e) {
      const err = asStorageError(e);
      // The last pod's unmount usually follows within seconds: only a volume busy for long is news.
      const since = this.busySince.get(name) ?? Date.now();
      this.busySince.set(name, since);
      if (err.code !== 'FailedPrecondition' || Date.now() - since > BUSY_GRACE_MS) this.o.recorder.event(pv, 'Warning', 'VolumeFailedDelete', err.message);
      throw err;
    }
    this.busySince.delete(name);
    this.o.onChange?.();
    if (pv.metadata.deletionTimestamp) return;
    try {
      await this.o.client.resource(PVS).delete(name, { preconditions: { uid: pv.metadata.uid } });
    } catch (e) {
      if (!isNotFound(e) && !isConflict(e)) throw e;
    }
  }
}
