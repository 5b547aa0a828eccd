/**
 * The built-in component schemas as a resolver, built once on first use: for code that needs
 * upstream types without a server's SchemaCatalog at hand (CRD pruning of embedded ObjectMeta,
 * CRD schemas that inline core types such as Affinity).
 */
import type { JSONSchema, SchemaResolver } from './types.js';
import { REF_PREFIX, buildBuiltinSchemas } from './builtin-schemas.js';

let built: ReadonlyMap<string, JSONSchema> | undefined;

export const builtinResolver: SchemaResolver = {
  resolve(ref: string): JSONSchema | undefined {
    built ??= buildBuiltinSchemas();
    return built.get(ref.startsWith(REF_PREFIX) ? ref.slice(REF_PREFIX.length) : ref);
  },
};
