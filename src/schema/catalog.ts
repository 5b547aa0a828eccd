/**
 * The set of component schemas the server knows at a moment: the built-ins (fixed at start-up)
 * plus one per served CRD version (added and removed as CRDs change). It resolves `$ref`s for
 * every schema-driven operation and tells the OpenAPI publisher when its documents are stale.
 */
import type { JSONSchema, SchemaResolver } from './types.js';
import type { KindDefinition } from '../kinds/types.js';
import { REF_PREFIX, buildBuiltinSchemas, schemaNameForKind } from './builtin-schemas.js';
import { crdComponentName, customListSchema, wrapCustomSchema } from './custom-schemas.js';

/** The component describing a served kind: its own schemaName, a CRD's reversed-group name, or the built-in table's. */
export function componentNameOf(k: KindDefinition): string | undefined {
  if (k.schemaName) return k.schemaName;
  if (k.custom || k.schema) return crdComponentName(k.group, k.version, k.kind);
  return schemaNameForKind(k.group, k.version, k.kind);
}

export class SchemaCatalog implements SchemaResolver {
  private readonly custom = new Map<string, JSONSchema>();
  private gen = 0;
  private served: readonly KindDefinition[] = [];

  constructor(private readonly builtins: ReadonlyMap<string, JSONSchema> = buildBuiltinSchemas()) {}

  resolve(ref: string): JSONSchema | undefined {
    return this.get(ref.startsWith(REF_PREFIX) ? ref.slice(REF_PREFIX.length) : ref);
  }

  get(name: string): JSONSchema | undefined {
    return this.custom.get(name) ?? this.builtins.get(name);
  }

  has(name: string): boolean {
    return this.custom.has(name) || this.builtins.has(name);
  }

  /**
   * Sets the kinds the server serves (built-in and CRD-derived): the published documents cover
   * exactly these, and each CRD kind's schema (and its list's) becomes a component.
   */
  setKinds(kinds: readonly KindDefinition[]): void {
    this.served = [...kinds];
    this.custom.clear();
    for (const k of kinds) {
      if (!(k.custom || k.schema) || k.schemaName) continue;
      this.custom.set(crdComponentName(k.group, k.version, k.kind), wrapCustomSchema(k.group, k.version, k.kind, k.schema));
      this.custom.set(crdComponentName(k.group, k.version, k.listKind), customListSchema(k.group, k.version, k.kind, k.listKind));
    }
    this.gen++;
  }

  get kinds(): readonly KindDefinition[] {
    return this.served;
  }

  /** The full published schema of a served kind (for CRDs: wrapped with apiVersion/kind/metadata). */
  schemaOf(k: KindDefinition): JSONSchema | undefined {
    const name = componentNameOf(k);
    return name ? this.get(name) : undefined;
  }

  /** Bumped on every change; the OpenAPI publisher keys its cache on it. */
  get generation(): number {
    return this.gen;
  }
}
