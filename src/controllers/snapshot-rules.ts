/**
 * The decisions of the snapshot controller that depend on nothing but objects, with upstream's
 * (external-snapshotter pkg/common-controller) messages: which class a snapshot without one gets,
 * what a snapshot's status becomes from its content's, and whether a claim is being restored
 * from a snapshot or a snapshot is being taken of a claim (which keep finalizers in place).
 */
import { binaryQuantity } from '../agent/node/quantity.js';
import type { KubeObject } from '../util/object.js';
import { phaseOf } from '../storage/api.js';
import { DEFAULT_SNAPSHOT_CLASS_ANNOTATION } from '../storage/snapshot-crds.js';
import { claimDataSource, isSnapshotReady, isSnapshotSource, type VolumeSnapshot, type VolumeSnapshotClass, type VolumeSnapshotContent } from '../storage/snapshot-api.js';

/** A snapshot that cannot be taken as asked: its message goes to status.error and an event. */
export class SnapshotRuleError extends Error {
  override name = 'SnapshotRuleError';
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** upstream SetDefaultSnapshotClass: the one class annotated default for the volume's driver. */
export function defaultSnapshotClass(classes: VolumeSnapshotClass[], driver: string): VolumeSnapshotClass {
  const defaults = classes.filter((c) => c.metadata.annotations?.[DEFAULT_SNAPSHOT_CLASS_ANNOTATION] === 'true' && c.driver === driver);
  if (defaults.length === 0) throw new SnapshotRuleError('SetDefaultSnapshotClassFailed', `Failed to set default snapshot class with error cannot find default snapshot class for driver ${driver}`);
  if (defaults.length > 1) throw new SnapshotRuleError('SetDefaultSnapshotClassFailed', `Failed to set default snapshot class with error ${defaults.length} default snapshot classes were found`);
  return defaults[0]!;
}

/** Seconds-precision RFC 3339, as metav1.Time serializes. */
export const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface StatusChange {
  status: NonNullable<VolumeSnapshot['status']>;
  /** The snapshot was cut now (SnapshotCreated event). */
  created: boolean;
  /** It became ready now (SnapshotReady event). */
  ready: boolean;
}

/** upstream updateSnapshotStatus: the snapshot's status from its bound content's; undefined when nothing changes. */
export function snapshotStatusFromContent(snapshot: VolumeSnapshot, content: VolumeSnapshotContent): StatusChange | undefined {
  const cs = content.status ?? {};
  const old = snapshot.status ?? {};
  const next = { ...old };
  let changed = false;
  if (next.boundVolumeSnapshotContentName !== content.metadata.name) {
    next.boundVolumeSnapshotContentName = content.metadata.name;
    changed = true;
  }
  if (!next.creationTime && cs.creationTime !== undefined) {
    next.creationTime = rfc3339(new Date(Math.floor(cs.creationTime / 1e6)));
    changed = true;
  }
  const ready = cs.readyToUse === true;
  if (next.readyToUse !== ready) {
    next.readyToUse = ready;
    changed = true;
  }
  if (cs.restoreSize !== undefined && (next.restoreSize === undefined || (next.restoreSize === '0' && cs.restoreSize > 0))) {
    next.restoreSize = binaryQuantity(cs.restoreSize);
    changed = true;
  }
  // The content's error replaces the snapshot's, also clearing one the controller set earlier.
  if (JSON.stringify(cs.error ?? null) !== JSON.stringify(next.error ?? null)) {
    if (cs.error) next.error = { ...cs.error };
    else delete next.error;
    changed = true;
  }
  if (!changed) return undefined;
  return { status: next, created: !old.creationTime && !!next.creationTime, ready: old.readyToUse !== true && ready };
}

/** upstream isVolumeBeingCreatedFromSnapshot: a Pending claim in the namespace names the snapshot as its source. */
export function isBeingRestored(snapshot: VolumeSnapshot, claimsInNamespace: KubeObject[]): boolean {
  return claimsInNamespace.some((c) => {
    const src = claimDataSource(c);
    return isSnapshotSource(src) && src?.name === snapshot.metadata.name && (phaseOf(c) ?? 'Pending') === 'Pending';
  });
}

/** upstream isPVCBeingUsed: another snapshot of the claim is not ready yet. */
export function isClaimBeingSnapshotted(claimName: string, snapshotsInNamespace: VolumeSnapshot[], skip?: VolumeSnapshot): boolean {
  return snapshotsInNamespace.some((s) => s !== skip && s.metadata.uid !== skip?.metadata.uid && s.spec?.source?.persistentVolumeClaimName === claimName && !isSnapshotReady(s) && !s.metadata.deletionTimestamp);
}
