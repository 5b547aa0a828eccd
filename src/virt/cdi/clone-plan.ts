/**
 * How a DataVolume with a `pvc` source is cloned, as CDI decides it: a CSI clone (the target
 * claim's dataSource names the source claim and the driver copies the volume) when source and
 * target are in the same namespace, of the same StorageClass and volume mode — Kubernetes
 * allows claim data sources only within a namespace, and every Cairn provisioner clones its own
 * volumes — else a host-assisted copy (CDI's `copy` strategy: a source pod on the source claim
 * streams the disk to an upload server pod on the target claim, so a `cairn.io/local` source is
 * read on its node while the target may be anywhere). Also CDI's checks around it: the target
 * may not be smaller than the source, and a host-assisted clone waits while a pod other than
 * CDI's own uses the source claim (CloneSourceInUse).
 */
import { parseQuantity } from '../../registry/validation.js';
import { claimClass, pvcSpec } from '../../storage/api.js';
import type { KubeObject } from '../../util/object.js';
import { requiredSpace } from './claim-spec.js';
import type { DataVolume } from './datavolume-api.js';

export type CloneStrategy = 'csi-clone' | 'copy';

/** CDI's size refusal (ValidateRequestedCloneSize). */
export const CLONE_TARGET_TOO_SMALL = 'target resources requests storage size is smaller than the source';

export interface CloneSourceRef {
  namespace: string;
  name: string;
}

export const cloneSourceOf = (dv: DataVolume): CloneSourceRef | undefined => {
  const pvc = dv.spec.source?.pvc;
  return pvc ? { namespace: pvc.namespace, name: pvc.name } : undefined;
};

export function cloneStrategy(dv: DataVolume, target: KubeObject, source: KubeObject): CloneStrategy {
  const t = pvcSpec(target);
  const s = pvcSpec(source);
  const same = source.metadata.namespace === dv.metadata.namespace && claimClass(source) === claimClass(target) && (s.volumeMode ?? 'Filesystem') === (t.volumeMode ?? 'Filesystem');
  return same ? 'csi-clone' : 'copy';
}

/**
 * The size the target claim would ask for, in bytes, against the source claim's request — the
 * same inflation for a Filesystem `spec.storage` as claim-spec.ts applies; undefined when the
 * DataVolume names no size (CDI then takes the source's).
 */
function targetRequestBytes(dv: DataVolume): number | undefined {
  const pvcReq = (dv.spec.pvc as { resources?: { requests?: { storage?: string } } } | undefined)?.resources?.requests?.storage;
  if (pvcReq !== undefined) return parseQuantity(pvcReq);
  const s = dv.spec.storage;
  const req = s?.resources?.requests?.storage;
  if (req === undefined) return undefined;
  return s?.volumeMode === 'Block' ? parseQuantity(req) : requiredSpace(parseQuantity(req));
}

/** CDI's refusal when the target is smaller than the source, else undefined. */
export function cloneSizeRefusal(dv: DataVolume, source: KubeObject): string | undefined {
  const want = targetRequestBytes(dv);
  const have = parseQuantity(pvcSpec(source).resources?.requests?.storage ?? '0');
  return want !== undefined && Number.isFinite(have) && want < have ? CLONE_TARGET_TOO_SMALL : undefined;
}

/** The source claim's request, for a clone DataVolume that names no size (CDI copies it). */
export const sourceRequest = (source: KubeObject): string | undefined => pvcSpec(source).resources?.requests?.storage as string | undefined;

const finished = (p: KubeObject) => ['Succeeded', 'Failed'].includes((p.status as { phase?: string } | undefined)?.phase ?? '');

/**
 * Pods that use the claim writably and have not ended (CDI's getPodsUsingPVCs, readOnly mounts
 * allowed), apart from `except` (the clone's own source pod).
 */
export function podsUsingClaim(pods: KubeObject[], claim: KubeObject, except?: string): KubeObject[] {
  return pods.filter(
    (p) =>
      p.metadata.namespace === claim.metadata.namespace &&
      p.metadata.name !== except &&
      !finished(p) &&
      ((p.spec as { volumes?: { persistentVolumeClaim?: { claimName?: string; readOnly?: boolean } }[] } | undefined)?.volumes ?? []).some(
        (v) => v.persistentVolumeClaim?.claimName === claim.metadata.name && !v.persistentVolumeClaim?.readOnly,
      ),
  );
}
