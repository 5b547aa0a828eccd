/**
 * The controller service of `cairn.io/ceph-rbd`: one RBD image per volume,
 * `POOL/csi-vol-<pv name>`, with the PV name in its metadata (`csi.volname`), as ceph-csi keeps it.
 *
 * Snapshots are RBD snapshots of the volume's image (`csi-snap-<content name>`). A restore is a
 * clone-v2 child of the snapshot (no snapshot protection needed), flattened at once so that the
 * new volume owns all its data and neither the snapshot nor the source ever waits on it; a clone
 * of a volume goes through a temporary snapshot the same way, removed when the flatten is done.
 * Flattening copies the data (slower for large volumes) in exchange for independent volumes.
 * A volume with snapshots cannot be removed (RBD refuses): DeleteVolume says FailedPrecondition
 * and is retried until its VolumeSnapshots are deleted.
 *
 * Every step is idempotent: an image found already is checked and finished (a half-done clone
 * is flattened again), so a retry after a crash completes the volume.
 */
import type { Capacity, ControllerService, CreatedSnapshot, CreatedVolume, CreateSnapshotRequest, CreateVolumeRequest, ExpandResult, Secrets, VolumeCapability } from '../driver.js';
import { StorageError } from '../errors.js';
import { type CephUser, cephUserOf, EBUSY, EEXIST, ENOENT, ENOTEMPTY, isCephErrno, rbd } from './ceph-exec.js';
import { type CephSnapshotRef, type CephVolumeRef, cephSnapshotName, cephVolumeName, formatSnapshotId, formatVolumeId, parseSnapshotId, parseVolumeId, volumeRefOf } from './ceph-ids.js';

const MI = 1024 * 1024;
/** rbd sizes are given in MiB (`--size NM`): requests round up to whole MiB. */
const mibOf = (bytes: number) => Math.max(1, Math.ceil(bytes / MI));
const spec = (r: CephVolumeRef) => `${r.container}/${r.name}`;
const snapSpec = (r: CephVolumeRef, snap: string) => `${spec(r)}@${snap}`;
/** Clone v2 lets a child hang off an unprotected snapshot (auto picks v1 on older-client clusters). */
const CLONE_V2 = ['--rbd-default-clone-format', '2'];
/** The temporary snapshot a volume clone is made through. */
const cloneSnapshotName = (csiName: string) => `csi-clone-${csiName}`;

interface RbdInfo {
  size: number;
  parent?: { pool: string; image: string; snapshot: string };
}

interface RbdSnap {
  name: string;
  size: number;
  timestamp?: string;
}

/** Multi-node writers only on raw block: a filesystem mounted on two nodes would be corrupted (ceph-csi's rule). */
export function checkRbdCapability(cap: VolumeCapability): void {
  if (cap.mode === 'Filesystem' && cap.accessModes.includes('ReadWriteMany'))
    throw new StorageError('InvalidArgument', 'multi node access modes are only supported on rbd `block` type volumes (ReadWriteMany with volumeMode Filesystem)');
}

export class RbdController implements ControllerService {
  async createVolume(req: CreateVolumeRequest): Promise<CreatedVolume> {
    checkRbdCapability(req.capability);
    const ref = volumeRefOf(req.parameters, 'pool', cephVolumeName(req.name));
    const user = cephUserOf(req.secrets, 'CreateVolume');
    const want = mibOf(req.capacityBytes);
    let size = want * MI;
    // The common case first: one call makes an empty image; an existing one (a retry, a clone) is checked and finished.
    if (req.contentSource || !(await this.createEmpty(ref, user, want, req.parameters.imageFeatures))) {
      let info = await this.info(ref, user);
      if (!info) {
        if (!req.contentSource) throw new StorageError('Unavailable', `rbd image ${spec(ref)} vanished while it was being made`);
        await this.cloneInto(ref, user, req.contentSource, req.name);
        info = (await this.info(ref, user))!;
      }
      if (info.parent) await rbd(ref, user, ['flatten', '--no-progress', spec(ref)]);
      // A clone's temporary snapshot goes once the copy is flat (also when an earlier try stopped short).
      if (req.contentSource && 'volumeId' in req.contentSource) await this.removeSnapshot(parseVolumeId(req.contentSource.volumeId), user, cloneSnapshotName(req.name));
      if (info.size < size) await rbd(ref, user, ['resize', '--no-progress', spec(ref), '--size', `${want}M`]);
      else size = info.size;
    }
    await rbd(ref, user, ['image-meta', 'set', spec(ref), 'csi.volname', req.name]);
    return {
      volumeId: formatVolumeId(ref),
      capacityBytes: size,
      volumeContext: { clusterID: ref.clusterID, monitors: ref.monitors, pool: ref.container, imageName: ref.name },
    };
  }

  /** Makes an empty image; false when it exists already. */
  private async createEmpty(ref: CephVolumeRef, user: CephUser, mib: number, features: string | undefined): Promise<boolean> {
    try {
      await rbd(ref, user, ['create', spec(ref), '--size', `${mib}M`, ...(features ? ['--image-feature', features] : [])]);
      return true;
    } catch (e) {
      if (isCephErrno(e, EEXIST)) return false;
      throw e;
    }
  }

  /** A new image as a copy of a snapshot (restore) or of a volume (clone, through a temporary snapshot). */
  private async cloneInto(ref: CephVolumeRef, user: CephUser, source: NonNullable<CreateVolumeRequest['contentSource']>, csiName: string): Promise<void> {
    if ('snapshotId' in source) {
      const snap = parseSnapshotId(source.snapshotId);
      if (!(await this.snapshots(snap, user)).some((s) => s.name === snap.snapshot)) throw new StorageError('NotFound', `snapshot ${source.snapshotId} not found`);
      await rbd(ref, user, ['clone', ...CLONE_V2, snapSpec(snap, snap.snapshot), spec(ref)]);
      return;
    }
    const src = parseVolumeId(source.volumeId);
    const tmp = cloneSnapshotName(csiName);
    if (!(await this.info(src, user))) throw new StorageError('NotFound', `volume ${source.volumeId} not found`);
    if (!(await this.snapshots(src, user)).some((s) => s.name === tmp)) await rbd(src, user, ['snap', 'create', snapSpec(src, tmp)]);
    await rbd(ref, user, ['clone', ...CLONE_V2, snapSpec(src, tmp), spec(ref)]);
  }

  async deleteVolume(volumeId: string, secrets?: Secrets): Promise<void> {
    const ref = parseVolumeId(volumeId);
    const user = cephUserOf(secrets, 'DeleteVolume');
    try {
      await rbd(ref, user, ['rm', '--no-progress', spec(ref)]);
    } catch (e) {
      if (isCephErrno(e, ENOENT)) return;
      if (isCephErrno(e, EBUSY)) throw new StorageError('FailedPrecondition', `rbd image ${spec(ref)} is still in use (it has watchers): it is removed once no node has it staged`);
      if (isCephErrno(e, ENOTEMPTY)) throw new StorageError('FailedPrecondition', `rbd image ${spec(ref)} has snapshots: delete its VolumeSnapshots first`);
      throw e;
    }
  }

  async controllerExpandVolume(volumeId: string, capacityBytes: number, _cap: VolumeCapability, secrets?: Secrets): Promise<ExpandResult> {
    const ref = parseVolumeId(volumeId);
    const user = cephUserOf(secrets, 'ControllerExpandVolume');
    const info = await this.info(ref, user);
    if (!info) throw new StorageError('NotFound', `rbd image ${spec(ref)} not found`);
    const want = mibOf(capacityBytes);
    // No --allow-shrink: rbd refuses to shrink, and the API refuses it before that.
    if (info.size < want * MI) await rbd(ref, user, ['resize', '--no-progress', spec(ref), '--size', `${want}M`]);
    return { capacityBytes: Math.max(info.size, want * MI), nodeExpansionRequired: true };
  }

  async getCapacity(): Promise<Capacity> {
    throw new StorageError('FailedPrecondition', 'GetCapacity is not offered by the Ceph drivers (a pool has no per-node capacity)');
  }

  async createSnapshot(req: CreateSnapshotRequest): Promise<CreatedSnapshot> {
    const src = parseVolumeId(req.sourceVolumeId);
    const user = cephUserOf(req.secrets, 'CreateSnapshot');
    const snap: CephSnapshotRef = { ...src, snapshot: cephSnapshotName(req.name) };
    let found = (await this.snapshots(src, user)).find((s) => s.name === snap.snapshot);
    if (!found) {
      await rbd(src, user, ['snap', 'create', snapSpec(src, snap.snapshot)]);
      found = (await this.snapshots(src, user)).find((s) => s.name === snap.snapshot);
      if (!found) throw new StorageError('Internal', `rbd snapshot ${snapSpec(src, snap.snapshot)} vanished after it was made`);
    }
    return {
      snapshotId: formatSnapshotId(snap),
      sourceVolumeId: req.sourceVolumeId,
      sizeBytes: found.size,
      creationTime: found.timestamp ? new Date(found.timestamp) : new Date(),
      readyToUse: true,
    };
  }

  async deleteSnapshot(snapshotId: string, secrets?: Secrets): Promise<void> {
    const snap = parseSnapshotId(snapshotId);
    await this.removeSnapshot(snap, cephUserOf(secrets, 'DeleteSnapshot'), snap.snapshot);
  }

  private async removeSnapshot(image: CephVolumeRef, user: CephUser, snapshot: string): Promise<void> {
    try {
      await rbd(image, user, ['snap', 'rm', '--no-progress', snapSpec(image, snapshot)]);
    } catch (e) {
      if (isCephErrno(e, ENOENT)) return;
      throw e;
    }
  }

  private async info(ref: CephVolumeRef, user: CephUser): Promise<RbdInfo | undefined> {
    try {
      return await rbd<RbdInfo>(ref, user, ['info', spec(ref)], { json: true });
    } catch (e) {
      if (isCephErrno(e, ENOENT)) return undefined;
      throw e;
    }
  }

  private async snapshots(ref: CephVolumeRef, user: CephUser): Promise<RbdSnap[]> {
    try {
      return await rbd<RbdSnap[]>(ref, user, ['snap', 'ls', spec(ref)], { json: true });
    } catch (e) {
      if (isCephErrno(e, ENOENT)) return [];
      throw e;
    }
  }
}
