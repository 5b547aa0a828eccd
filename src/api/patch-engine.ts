/**
 * The registry's patch hooks, answered by the patch engines in registry/patch with each kind's
 * schema from the catalog (merge keys, list types, map types).
 */
import { apiVersionOf, type KindDefinition } from '../kinds/types.js';
import type { PatchEngine } from '../registry/hooks.js';
import { apply, applyJsonPatch, applyMergePatch, applyStrategicMergePatch, decodeJsonBody, updateManagedFields } from '../registry/patch/index.js';
import type { SchemaCatalog } from '../schema/catalog.js';
import type { KubeObject } from '../util/object.js';

/** Fields a write to an endpoint does not own: status on the main resource, everything else on /status. */
function resetFields(subresource: string | undefined): string[][] | undefined {
  if (subresource === 'status') return [['spec'], ['metadata', 'labels'], ['metadata', 'annotations'], ['metadata', 'finalizers'], ['metadata', 'ownerReferences']];
  return [['status']];
}

export function createPatchEngine(catalog: SchemaCatalog): PatchEngine {
  const common = (kind: KindDefinition, subresource?: string) => ({
    schema: catalog.schemaOf(kind),
    resolver: catalog,
    apiVersion: apiVersionOf(kind),
    subresource,
    customResource: !!kind.custom,
    resetFields: kind.statusSubresource ? resetFields(subresource) : undefined,
  });
  return {
    patch(kind, current, type, body) {
      const patch = decodeJsonBody(body);
      switch (type) {
        case 'json':
          return applyJsonPatch(current, patch);
        case 'merge':
          return applyMergePatch(current, patch);
        case 'strategic':
          return applyStrategicMergePatch(current, patch, { schema: catalog.schemaOf(kind), resolver: catalog, customResource: !!kind.custom });
      }
    },
    apply(kind, live, applied, opts) {
      return apply(live, applied, {
        ...common(kind, opts.subresource),
        manager: opts.manager,
        force: opts.force,
        kind: kind.kind,
        now: opts.now,
      });
    },
    updateManagedFields(kind, old, obj: KubeObject, opts) {
      const r = updateManagedFields(old, obj, { ...common(kind, opts.subresource), manager: opts.manager, now: opts.now });
      if (r.metadata.managedFields) obj.metadata.managedFields = r.metadata.managedFields;
      else delete obj.metadata.managedFields;
    },
  };
}
