/**
 * Which of a VM's volumes a snapshot takes and how (KubeVirt's storageutils.GetVolumes,
 * GetPVCsFromVolumes and the snapshot controller's getVolumeSnapshotClassName): only
 * persistentVolumeClaim and dataVolume volumes are snapshotted, each through the
 * VolumeSnapshotClass whose driver provisions the claim's StorageClass; the names KubeVirt gives
 * the objects a snapshot makes.
 */
import { csiDriverOfProvisioner } from '../../storage/names.js';
import type { KubeObject } from '../../util/object.js';
import type { VmSpec } from '../controllers/vm-api.js';

/** external-snapshotter's annotation marking a driver's default class. */
export const ANN_DEFAULT_SNAPSHOT_CLASS = 'snapshot.storage.kubernetes.io/is-default-class';

export interface VmVolume {
  name: string;
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean; hotpluggable?: boolean };
  dataVolume?: { name: string; hotpluggable?: boolean };
  [source: string]: unknown;
}

export const vmVolumes = (spec: VmSpec): VmVolume[] => ((spec.template?.spec?.volumes as VmVolume[] | undefined) ?? []).filter((v) => v && typeof v.name === 'string');

/** The claim behind a volume: a PVC's claim, or the DataVolume's claim of the same name. */
export const claimOfVolume = (v: VmVolume): string | undefined => v.persistentVolumeClaim?.claimName ?? v.dataVolume?.name;

/** volume name → claim name, for the volumes a snapshot may take. */
export function claimVolumes(spec: VmSpec): Map<string, string> {
  const m = new Map<string, string>();
  for (const v of vmVolumes(spec)) {
    const claim = claimOfVolume(v);
    if (claim) m.set(v.name, claim);
  }
  return m;
}

/** KubeVirt's VolumeSnapshot name for a volume of a snapshot. */
export const volumeSnapshotName = (snapshotUid: string, volumeName: string) => `vmsnapshot-${snapshotUid}-volume-${volumeName}`;
/** GetVMSnapshotContentName. */
export const snapshotContentName = (snapshot: KubeObject & { status?: { virtualMachineSnapshotContentName?: string } }) =>
  snapshot.status?.virtualMachineSnapshotContentName ?? `vmsnapshot-content-${snapshot.metadata.uid}`;

export class AmbiguousSnapshotClassError extends Error {
  override name = 'AmbiguousSnapshotClassError';
}

/**
 * The VolumeSnapshotClass for claims of a StorageClass: the one class of its provisioner's
 * driver, or the default among several; undefined when there is none (the volume is left out).
 * KubeVirt compares the class's driver with the provisioner, which a CSI provisioner is named
 * after; Cairn's built-in provisioners map to their drivers' names first.
 */
export function snapshotClassFor(storageClass: KubeObject & { provisioner?: string }, classes: (KubeObject & { driver?: string })[]): string | undefined {
  const driver = csiDriverOfProvisioner(storageClass.provisioner ?? '');
  const matches = classes.filter((c) => c.driver === driver);
  if (matches.length === 0) return undefined;
  if (matches.length === 1) return matches[0].metadata.name;
  // KubeVirt looks for the annotation's presence, whatever its value.
  const def = matches.find((c) => Object.hasOwn(c.metadata.annotations ?? {}, ANN_DEFAULT_SNAPSHOT_CLASS));
  if (def) return def.metadata.name;
  throw new AmbiguousSnapshotClassError(`${matches.length} matching VolumeSnapshotClasses for ${storageClass.metadata.name}`);
}

/** status.snapshotVolumes of a finished snapshot, and whether a snapshottable volume was left out (PartialSnapshot). */
export function snapshotVolumeLists(spec: VmSpec, backedUp: string[]): { includedVolumes?: string[]; excludedVolumes?: string[]; partial: boolean } {
  const included: string[] = [];
  const excluded: string[] = [];
  let partial = false;
  for (const v of vmVolumes(spec)) {
    if (backedUp.includes(v.name)) included.push(v.name);
    else {
      excluded.push(v.name);
      if (claimOfVolume(v)) partial = true;
    }
  }
  return { ...(included.length ? { includedVolumes: included } : {}), ...(excluded.length ? { excludedVolumes: excluded } : {}), partial };
}
