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

export function schemaChecks(catalog: SchemaCatalog): SchemaChecks {
  return {
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
