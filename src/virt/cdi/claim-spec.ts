/**
 * The claim a DataVolume gets, as CDI renders it: `spec.pvc` verbatim; `spec.storage` completed —
 * access modes and volume mode, when absent, from what the class's provisioner offers (CDI's
 * StorageProfile claimPropertySets, which CDI fills from a table of known provisioners as here),
 * and for a Filesystem volume the requested size inflated by the filesystem overhead, so the
 * disk.img inside can be as large as asked (CDI's GetRequiredSpace).
 */
import { LOCAL_PROVISIONER } from '../../storage/names.js';
import { parseQuantity } from '../../registry/validation.js';
import type { StorageClass } from '../../storage/api.js';
import { DEFAULT_FILESYSTEM_OVERHEAD } from './importer.js';
import type { DataVolume } from './datavolume-api.js';

export class ClaimSpecError extends Error {
  override name = 'ClaimSpecError';
}

interface ClaimProperties {
  accessModes: string[];
  volumeMode: 'Filesystem' | 'Block';
}

/** The first (preferred) claim properties of each Cairn provisioner, as CDI's storagecapabilities table. */
const KNOWN_PROVISIONERS: Record<string, ClaimProperties> = {
  [LOCAL_PROVISIONER]: { accessModes: ['ReadWriteOnce'], volumeMode: 'Filesystem' },
  'cairn.io/ceph-rbd': { accessModes: ['ReadWriteMany'], volumeMode: 'Block' },
  'cairn.io/cephfs': { accessModes: ['ReadWriteMany'], volumeMode: 'Filesystem' },
};
const FALLBACK: ClaimProperties = { accessModes: ['ReadWriteOnce'], volumeMode: 'Filesystem' };

/** The space a Filesystem claim needs for a disk of `bytes` (CDI's GetRequiredSpace). */
export const requiredSpace = (bytes: number, overhead = DEFAULT_FILESYSTEM_OVERHEAD) => Math.ceil(bytes / (1 - overhead));

/** The PVC spec for the DataVolume; `storageClass` is the named class, or the default when none is named. */
export function claimSpec(dv: DataVolume, storageClass: StorageClass | undefined): Record<string, unknown> {
  if (dv.spec.pvc) return structuredClone(dv.spec.pvc);
  const s = dv.spec.storage;
  if (!s) throw new ClaimSpecError('the DataVolume has neither spec.pvc nor spec.storage');
  const props = (storageClass?.provisioner && KNOWN_PROVISIONERS[storageClass.provisioner]) || FALLBACK;
  const volumeMode = s.volumeMode ?? props.volumeMode;
  const { resources, ...rest } = s;
  const requested = resources?.requests?.storage;
  if (requested === undefined) throw new ClaimSpecError('spec.storage.resources.requests.storage is required');
  const bytes = parseQuantity(requested);
  if (!Number.isFinite(bytes) || bytes <= 0) throw new ClaimSpecError(`spec.storage.resources.requests.storage: invalid quantity ${JSON.stringify(requested)}`);
  const storage = volumeMode === 'Filesystem' ? String(requiredSpace(bytes)) : requested;
  return {
    ...structuredClone(rest),
    accessModes: s.accessModes?.length ? [...s.accessModes] : [...props.accessModes],
    volumeMode,
    resources: { ...resources, requests: { ...resources?.requests, storage } },
    ...(storageClass && !s.storageClassName ? { storageClassName: storageClass.metadata.name } : {}),
  };
}
