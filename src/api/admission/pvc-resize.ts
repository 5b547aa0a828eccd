/**
 * PersistentVolumeClaimResize admission, as upstream's plugin: a claim may only grow when its
 * StorageClass says allowVolumeExpansion: true; otherwise 403 with upstream's message. The
 * claim's own validation (which runs first) refuses growing an unbound claim, and shrinking.
 */
import { quantityOf } from '../../kinds/core/quantity.js';
import type { AdmissionPlugin } from '../../registry/hooks.js';
import { claimClass } from '../../storage/api.js';
import type { KubeObject } from '../../util/object.js';
import { ApiError } from '../errors.js';
import type { RegistryAccess } from './resource-quota.js';

const requested = (c: KubeObject) => quantityOf((c.spec as { resources?: { requests?: Record<string, unknown> } } | undefined)?.resources?.requests, 'storage') ?? 0;

export function pvcResizeAdmission(access: RegistryAccess): AdmissionPlugin {
  return {
    name: 'PersistentVolumeClaimResize',
    async admit(a) {
      if (a.operation !== 'UPDATE' || a.subresource || a.kind.group !== '' || a.kind.plural !== 'persistentvolumeclaims' || !a.object || !a.oldObject) return;
      if (requested(a.object) <= requested(a.oldObject)) return;
      const forbidden = (why: string) => ApiError.forbidden({ group: '', resource: 'persistentvolumeclaims' }, a.name, why);
      const cls = claimClass(a.object);
      let allowed = false;
      if (cls && cls === claimClass(a.oldObject)) {
        const kind = access.catalog().byPlural('storage.k8s.io', 'v1', 'storageclasses');
        const sc = kind ? await access.registry().get(kind, undefined, cls).catch(() => undefined) : undefined;
        allowed = (sc as { allowVolumeExpansion?: boolean } | undefined)?.allowVolumeExpansion === true;
      }
      if (!allowed) throw forbidden('only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize');
    },
  };
}
