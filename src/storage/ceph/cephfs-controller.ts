/**
 * The controller service of `cairn.io/cephfs`: one CephFS subvolume per volume
 * (`ceph fs subvolume create FS csi-vol-<pv name> --size BYTES`, the size a quota the clients
 * enforce and `df` shows), through the mgr `volumes` module as ceph-csi does. Expansion raises
 * the quota (`subvolume resize --no_shrink`), which mounted clients see at once: no node step.
 *
 * Snapshots are subvolume snapshots (`csi-snap-<content name>`). Restores and clones are
 * `subvolume snapshot clone`, which copies asynchronously: CreateVolume polls the clone's status
 * for a while and otherwise answers Unavailable, so the provisioner retries and finds the clone
 * further along (a failed clone is removed and started again). A clone of a volume goes through a
 * temporary snapshot of it, removed once the copy is complete. A volume with snapshots cannot be
 * removed: DeleteVolume says FailedPrecondition until its VolumeSnapshots are deleted.
 */
import type { Capacity, ControllerService, CreatedSnapshot, CreatedVolume, CreateSnapshotRequest, CreateVolumeRequest, ExpandResult, Secrets, VolumeCapability } from '../driver.js';
import { StorageError } from '../errors.js';
import { type CephUser, cephJson, cephUserOf, ENOENT, ENOTEMPTY, isCephErrno } from './ceph-exec.js';
import { type CephSnapshotRef, type CephVolumeRef, cephSnapshotName, cephVolumeName, checkName, formatSnapshotId, formatVolumeId, parseSnapshotId, parseVolumeId, volumeRefOf } from './ceph-ids.js';

const CLONE_WAIT_MS = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface SubvolumeInfo {
  bytes_quota: number | 'infinite';
  bytes_used: number;
  path: string;
}

interface SnapshotInfo {
  created_at: string;
  has_pending_clones?: string;
}

interface CloneStatus {
  status: { state: 'pending' | 'in-progress' | 'complete' | 'failed' | 'canceled'; failure?: { errno: string; error_msg: string } };
}

/** CephFS volumes are directories: no raw block device to hand out. */
export function checkCephfsCapability(cap: VolumeCapability): void {
  if (cap.mode === 'Block') throw new StorageError('InvalidArgument', 'volumeMode Block is not supported by CephFS volumes (a CephFS subvolume is a directory tree: use volumeMode Filesystem, or cairn.io/ceph-rbd for block volumes)');
}

/** "2026-11-21 06:00:00.123456" (UTC, as the volumes module prints it) → Date. */
const parseCephTime = (s: string) => new Date(`${s.replace(' ', 'T')}Z`);

export class CephfsController implements ControllerService {
  async createVolume(req: CreateVolumeRequest): Promise<CreatedVolume> {
    checkCephfsCapability(req.capability);
    const ref = volumeRefOf(req.parameters, 'fsName', cephVolumeName(req.name));
    const user = cephUserOf(req.secrets, 'CreateVolume');
    const layout = req.parameters.pool ? ['--pool_layout', checkName('pool', req.parameters.pool)] : [];
    if (req.contentSource) await this.cloneInto(ref, user, req.contentSource, req.name, layout);
    else await cephJson(ref, user, ['fs', 'subvolume', 'create', ref.container, ref.name, '--size', String(req.capacityBytes), ...layout]);
    const info = (await this.info(ref, user))!;
    // A restore starts at its source's size; the claim may ask for more.
    if (info.bytes_quota === 'infinite' || info.bytes_quota < req.capacityBytes)
      await cephJson(ref, user, ['fs', 'subvolume', 'resize', ref.container, ref.name, String(req.capacityBytes), '--no_shrink']);
    return {
      volumeId: formatVolumeId(ref),
      capacityBytes: req.capacityBytes,
      volumeContext: { clusterID: ref.clusterID, monitors: ref.monitors, fsName: ref.container, subvolumeName: ref.name, subvolumePath: info.path },
    };
  }

  /** Starts (or follows) the clone that fills `ref` from a snapshot or a volume, until it is complete. */
  private async cloneInto(ref: CephVolumeRef, user: CephUser, source: NonNullable<CreateVolumeRequest['contentSource']>, csiName: string, layout: string[]): Promise<void> {
    let snap: CephSnapshotRef;
    let temporary = false;
    if ('snapshotId' in source) snap = parseSnapshotId(source.snapshotId);
    else {
      const src = parseVolumeId(source.volumeId);
      snap = { ...src, snapshot: `csi-clone-${csiName}` };
      temporary = true;
    }
    if (snap.container !== ref.container) throw new StorageError('InvalidArgument', `a CephFS volume can only be restored or cloned within its filesystem (source in ${snap.container}, class names ${ref.container})`);
    let state = await this.cloneState(ref, user);
    if (state === 'failed' || state === 'canceled') {
      await cephJson(ref, user, ['fs', 'subvolume', 'rm', ref.container, ref.name, '--force']);
      state = undefined;
    }
    if (state === undefined) {
      if (temporary && !(await this.snapshotInfo(snap, user))) await cephJson(snap, user, ['fs', 'subvolume', 'snapshot', 'create', snap.container, snap.name, snap.snapshot]);
      try {
        await cephJson(ref, user, ['fs', 'subvolume', 'snapshot', 'clone', snap.container, snap.name, snap.snapshot, ref.name, ...layout]);
      } catch (e) {
        if (isCephErrno(e, ENOENT)) throw new StorageError('NotFound', `source ${'snapshotId' in source ? `snapshot ${source.snapshotId}` : `volume ${source.volumeId}`} not found`);
        throw e;
      }
    }
    const deadline = Date.now() + CLONE_WAIT_MS;
    while ((state = await this.cloneState(ref, user)) !== 'complete') {
      if (state === 'failed' || state === 'canceled') throw new StorageError('Internal', `clone of ${snap.name}@${snap.snapshot} into ${ref.name} ${state}`);
      if (Date.now() > deadline) throw new StorageError('Unavailable', `clone of ${snap.name}@${snap.snapshot} into ${ref.name} is still ${state}`);
      await sleep(500);
    }
    if (temporary) await this.removeSnapshot(snap, user);
  }

  /** The state of the clone into `ref`, undefined when there is none (no such subvolume). */
  private async cloneState(ref: CephVolumeRef, user: CephUser): Promise<CloneStatus['status']['state'] | undefined> {
    try {
      return (await cephJson<CloneStatus>(ref, user, ['fs', 'clone', 'status', ref.container, ref.name]))?.status.state;
    } catch (e) {
      if (isCephErrno(e, ENOENT)) return undefined;
      throw e;
    }
  }

  async deleteVolume(volumeId: string, secrets?: Secrets): Promise<void> {
    const ref = parseVolumeId(volumeId);
    const user = cephUserOf(secrets, 'DeleteVolume');
    try {
      await cephJson(ref, user, ['fs', 'subvolume', 'rm', ref.container, ref.name]);
    } catch (e) {
      if (isCephErrno(e, ENOENT)) return;
      if (isCephErrno(e, ENOTEMPTY)) throw new StorageError('FailedPrecondition', `subvolume ${ref.container}/${ref.name} has snapshots: delete its VolumeSnapshots first`);
      throw e;
    }
  }

  async controllerExpandVolume(volumeId: string, capacityBytes: number, _cap: VolumeCapability, secrets?: Secrets): Promise<ExpandResult> {
    const ref = parseVolumeId(volumeId);
    const user = cephUserOf(secrets, 'ControllerExpandVolume');
    try {
      await cephJson(ref, user, ['fs', 'subvolume', 'resize', ref.container, ref.name, String(capacityBytes), '--no_shrink']);
    } catch (e) {
      if (isCephErrno(e, ENOENT)) throw new StorageError('NotFound', `subvolume ${ref.container}/${ref.name} not found`);
      throw e;
    }
    return { capacityBytes, nodeExpansionRequired: false };
  }

  async getCapacity(): Promise<Capacity> {
    throw new StorageError('FailedPrecondition', 'GetCapacity is not offered by the Ceph drivers (a pool has no per-node capacity)');
  }

  async createSnapshot(req: CreateSnapshotRequest): Promise<CreatedSnapshot> {
    const src = parseVolumeId(req.sourceVolumeId);
    const user = cephUserOf(req.secrets, 'CreateSnapshot');
    const snap: CephSnapshotRef = { ...src, snapshot: cephSnapshotName(req.name) };
    const vol = await this.info(src, user);
    if (!vol) throw new StorageError('NotFound', `source volume ${req.sourceVolumeId} not found`);
    let info = await this.snapshotInfo(snap, user);
    if (!info) {
      await cephJson(src, user, ['fs', 'subvolume', 'snapshot', 'create', src.container, src.name, snap.snapshot]);
      info = await this.snapshotInfo(snap, user);
      if (!info) throw new StorageError('Internal', `snapshot ${src.name}@${snap.snapshot} vanished after it was made`);
    }
    return {
      snapshotId: formatSnapshotId(snap),
      sourceVolumeId: req.sourceVolumeId,
      sizeBytes: vol.bytes_quota === 'infinite' ? vol.bytes_used : vol.bytes_quota,
      creationTime: parseCephTime(info.created_at),
      readyToUse: true,
    };
  }

  async deleteSnapshot(snapshotId: string, secrets?: Secrets): Promise<void> {
    await this.removeSnapshot(parseSnapshotId(snapshotId), cephUserOf(secrets, 'DeleteSnapshot'));
  }

  private async removeSnapshot(snap: CephSnapshotRef, user: CephUser): Promise<void> {
    try {
      await cephJson(snap, user, ['fs', 'subvolume', 'snapshot', 'rm', snap.container, snap.name, snap.snapshot]);
    } catch (e) {
      if (isCephErrno(e, ENOENT)) return;
      throw e;
    }
  }

  private async info(ref: CephVolumeRef, user: CephUser): Promise<SubvolumeInfo | undefined> {
    try {
      return await cephJson<SubvolumeInfo>(ref, user, ['fs', 'subvolume', 'info', ref.container, ref.name]);
    } catch (e) {
      if (isCephErrno(e, ENOENT)) return undefined;
      throw e;
    }
  }

  private async snapshotInfo(snap: CephSnapshotRef, user: CephUser): Promise<SnapshotInfo | undefined> {
    try {
      return await cephJson<SnapshotInfo>(snap, user, ['fs', 'subvolume', 'snapshot', 'info', snap.container, snap.name, snap.snapshot]);
    } catch (e) {
      if (isCephErrno(e, ENOENT)) return undefined;
      throw e;
    }
  }
}
