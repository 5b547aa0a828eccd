/**
 * Walking an OpenAPI v3 schema alongside a JSON value, for the merge rules both strategic merge
 * patch and server-side apply read from it. A missing schema (no schema at all, an unknown
 * field, or a subtree under x-kubernetes-preserve-unknown-fields) is `undefined`; callers fall
 * back to generic behaviour there.
 */
import { type JSONSchema, type SchemaResolver, derefSchema } from '../../schema/types.js';

/** The concrete schema behind $ref / allOf:[{$ref}], with the property's own extensions kept. */
export function resolveSchema(s: JSONSchema | undefined, resolver: SchemaResolver): JSONSchema | undefined {
  return derefSchema(s, resolver);
}

/** The schema of member `key` of an object schema: a declared property, else additionalProperties. */
export function memberSchema(s: JSONSchema | undefined, key: string, resolver: SchemaResolver): JSONSchema | undefined {
  if (!s) return undefined;
  const props = s.properties;
  if (props && Object.hasOwn(props, key)) return resolveSchema(props[key], resolver);
  if (typeof s.additionalProperties === 'object') return resolveSchema(s.additionalProperties, resolver);
  return undefined;
}

/** True when `key` is a declared property (a struct field, in Go terms). */
export function isDeclared(s: JSONSchema | undefined, key: string): boolean {
  return !!s?.properties && Object.hasOwn(s.properties, key);
}

export function itemSchema(s: JSONSchema | undefined, resolver: SchemaResolver): JSONSchema | undefined {
  return s?.items ? resolveSchema(s.items, resolver) : undefined;
}

/** The comma-separated x-kubernetes-patch-strategy of a field (`merge`, `retainKeys`, `replace`). */
export function patchStrategies(s: JSONSchema | undefined): string[] {
  const v = s?.['x-kubernetes-patch-strategy'];
  return typeof v === 'string' && v ? v.split(',').map((x) => x.trim()) : [];
}

export function patchMergeKey(s: JSONSchema | undefined): string {
  const v = s?.['x-kubernetes-patch-merge-key'];
  return typeof v === 'string' ? v : '';
}
