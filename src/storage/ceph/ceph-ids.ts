/**
 * The class parameters of the Ceph drivers and the ids of their volumes and snapshots.
 *
 * Parameters keep ceph-csi's names (`clusterID`, `pool`, `fsName`, `imageFeatures`) plus
 * `monitors`, the comma-separated monitor addresses, which ceph-csi keeps in a config map keyed
 * by clusterID and Cairn keeps in the class.
 *
 * A volume id must be enough for every later call (DeleteVolume gets nothing else), so it
 * carries the cluster as ceph-csi's does — here in the clear: `clusterID|monitors|pool|image`
 * (RBD) or `clusterID|monitors|fsName|subvolume` (CephFS); a snapshot id adds `@snapshot`.
 */
import { StorageError } from '../errors.js';
import type { CephCluster } from './ceph-exec.js';

/** A volume (or snapshot) in a Ceph cluster: `container` is the RBD pool or the CephFS name. */
export interface CephVolumeRef extends CephCluster {
  clusterID: string;
  container: string;
  name: string;
}

export interface CephSnapshotRef extends CephVolumeRef {
  snapshot: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Monitor addresses: host:port (or [v2:...,v1:...]) items, comma-separated, no separators of ours. */
const MONITORS = /^[^|@\s]+$/;

export function checkName(what: string, v: string | undefined): string {
  if (!v || !NAME.test(v)) throw new StorageError('InvalidArgument', `${what} "${v ?? ''}" is missing or invalid (letters, digits, '.', '_', '-')`);
  return v;
}

export function checkMonitors(v: string | undefined): string {
  if (!v || !MONITORS.test(v)) throw new StorageError('InvalidArgument', `monitors "${v ?? ''}" is missing or invalid (comma-separated monitor addresses, e.g. 10.0.0.1:6789)`);
  return v;
}

/** The cluster and pool/filesystem a class names (`containerParam`: `pool` or `fsName`). */
export function volumeRefOf(parameters: Record<string, string>, containerParam: 'pool' | 'fsName', name: string): CephVolumeRef {
  return {
    clusterID: checkName('clusterID', parameters.clusterID),
    monitors: checkMonitors(parameters.monitors),
    container: checkName(containerParam, parameters[containerParam]),
    name: checkName('volume name', name),
  };
}

export const formatVolumeId = (r: CephVolumeRef) => [r.clusterID, r.monitors, r.container, r.name].join('|');
export const formatSnapshotId = (r: CephSnapshotRef) => `${formatVolumeId(r)}@${r.snapshot}`;

export function parseVolumeId(id: string): CephVolumeRef {
  const parts = id.split('|');
  if (parts.length !== 4 || id.includes('@')) throw new StorageError('NotFound', `"${id}" is not a Ceph volume id (clusterID|monitors|pool|name)`);
  const [clusterID, monitors, container, name] = parts;
  try {
    return { clusterID: checkName('clusterID', clusterID), monitors: checkMonitors(monitors), container: checkName('pool', container), name: checkName('volume name', name) };
  } catch (e) {
    throw new StorageError('NotFound', `"${id}" is not a Ceph volume id: ${(e as StorageError).desc}`);
  }
}

export function parseSnapshotId(id: string): CephSnapshotRef {
  const at = id.lastIndexOf('@');
  if (at < 0) throw new StorageError('NotFound', `"${id}" is not a Ceph snapshot id (clusterID|monitors|pool|name@snapshot)`);
  const vol = parseVolumeId(id.slice(0, at));
  const snapshot = id.slice(at + 1);
  if (!NAME.test(snapshot)) throw new StorageError('NotFound', `"${id}" is not a Ceph snapshot id: bad snapshot name`);
  return { ...vol, snapshot };
}

/** The Ceph name of a volume made for CSI name `pvc-<uid>` (ceph-csi's `csi-vol-` prefix). */
export const cephVolumeName = (csiName: string) => checkName('volume name', `csi-vol-${csiName}`);
/** The Ceph name of a snapshot made for CSI name `snapcontent-<uid>`. */
export const cephSnapshotName = (csiName: string) => checkName('snapshot name', `csi-snap-${csiName}`);
