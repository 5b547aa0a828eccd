/**
 * DefaultStorageClass admission, as upstream's plugin: a claim created without a class (no
 * storageClassName field and no beta annotation — an empty string is an explicit "no class")
 * gets the default StorageClass; with several defaults, the newest (then the first by name).
 */
import { isDefaultStorageClass } from '../../kinds/storage/storage-class.js';
import type { AdmissionPlugin } from '../../registry/hooks.js';
import { ANN_BETA_STORAGE_CLASS } from '../../storage/api.js';
import type { KubeObject } from '../../util/object.js';
import type { RegistryAccess } from './resource-quota.js';

/** upstream GetDefaultClass: the newest default class, ties broken by name. */
export function defaultClassOf(classes: KubeObject[]): KubeObject | undefined {
  const defaults = classes.filter(isDefaultStorageClass);
  defaults.sort((a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '') || a.metadata.name!.localeCompare(b.metadata.name!));
  return defaults[0];
}

export function defaultStorageClassAdmission(access: RegistryAccess): AdmissionPlugin {
  return {
    name: 'DefaultStorageClass',
    async admit(a) {
      if (a.operation !== 'CREATE' || a.subresource || a.kind.group !== '' || a.kind.plural !== 'persistentvolumeclaims' || !a.object) return;
      const spec = (a.object.spec ??= {}) as { storageClassName?: string | null };
      if ((spec.storageClassName !== undefined && spec.storageClassName !== null) || a.object.metadata.annotations?.[ANN_BETA_STORAGE_CLASS] !== undefined) return;
      const kind = access.catalog().byPlural('storage.k8s.io', 'v1', 'storageclasses');
      if (!kind) return;
      const def = defaultClassOf((await access.registry().list(kind, undefined)).items);
      if (def) spec.storageClassName = def.metadata.name;
    },
  };
}
