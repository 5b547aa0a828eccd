/**
 * The registry's schema hook, answered from the schema catalog: unknown-field detection for
 * fieldValidation Strict/Warn. (CRD kinds prune, default and validate against their schema in
 * the strategy kindsFromCRD gives them.)
 */
import type { KindDefinition } from '../kinds/types.js';
import type { SchemaChecks } from '../registry/hooks.js';
import type { SchemaCatalog } from '../schema/catalog.js';
import { findUnknownFields, pruneUnknownFields } from '../schema/unknown-fields.js';
import type { KubeObject } from '../util/object.js';
import { typedDecode } from '../schema/type-check.js';

export function schemaChecks(catalog: SchemaCatalog): SchemaChecks {
  return {
    typedDecode(kind: KindDefinition, obj: KubeObject): string | undefined {
      if (kind.custom) return undefined;
      const schema = catalog.schemaOf(kind);
      const m = schema && typedDecode(obj, schema, catalog);
      if (!m) return undefined;
      const field = m.path ? `${kind.kind}.${m.path}` : kind.kind;
      return `${kind.kind} in version "${kind.version}" cannot be handled as a ${kind.kind}: json: cannot unmarshal ${m.found} into Go struct field ${field} of type ${m.expected}`;
    },
    unknownFields(kind: KindDefinition, obj: KubeObject): string[] {
      const schema = catalog.schemaOf(kind);
      return schema ? findUnknownFields(obj, schema, catalog) : [];
    },
    pruneUnknownFields(kind: KindDefinition, obj: KubeObject): void {
      const schema = catalog.schemaOf(kind);
      if (schema) pruneUnknownFields(obj, schema, catalog);
    },
  };
}
