/**
 * CRD structural defaulting (upstream apiextensions structuraldefaulting): a property's default
 * is set when the field is absent, or null while the property is not nullable; then defaulting
 * continues into every present value, so defaults nest (a defaulted object gets its own
 * children's defaults) and reach array items and map values.
 */
import { derefSchema, type JSONSchema, type SchemaResolver } from './types.js';
import { isPlainObject } from '../util/object.js';

export function applyDefaults(obj: unknown, schema: JSONSchema, resolver: SchemaResolver): void {
  const s = derefSchema(schema, resolver);
  if (!s) return;
  if (Array.isArray(obj)) {
    if (s.items) for (const x of obj) applyDefaults(x, s.items, resolver);
    return;
  }
  if (!isPlainObject(obj)) return;
  for (const [k, prop] of Object.entries(s.properties ?? {})) {
    const p = derefSchema(prop, resolver);
    if (p?.default === undefined) continue;
    if (obj[k] === undefined || (obj[k] === null && !p.nullable)) obj[k] = structuredClone(p.default);
  }
  for (const [k, v] of Object.entries(obj)) {
    const sub = s.properties?.[k] ?? (isPlainObject(s.additionalProperties) ? s.additionalProperties : undefined);
    if (sub) applyDefaults(v, sub, resolver);
  }
}
