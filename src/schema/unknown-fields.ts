/**
 * Fields an object has that its schema does not declare: reported for fieldValidation
 * Strict/Warn (`unknown field "spec.foo"`) and removed by CRD pruning. One walk serves both, so
 * what Warn reports is exactly what pruning would drop.
 *
 * A field is known when a property declares it, when additionalProperties covers it, or when
 * the node (or an ancestor object node) sets x-kubernetes-preserve-unknown-fields. At the root
 * and in x-kubernetes-embedded-resource objects, apiVersion, kind and metadata are always known,
 * and metadata is checked against ObjectMeta.
 */
import { derefSchema, type JSONSchema, type SchemaResolver } from './types.js';
import { isPlainObject } from '../util/object.js';
import { REF_PREFIX } from './builtin-schemas.js';
import { OBJECT_META } from './custom-schemas.js';

type OnUnknown = (container: Record<string, unknown>, key: string, path: string) => void;
const ENVELOPE = ['apiVersion', 'kind', 'metadata'];

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

function walk(v: unknown, schema: JSONSchema | undefined, r: SchemaResolver, path: string, isResource: boolean, on: OnUnknown): void {
  const s = derefSchema(schema, r);
  if (!s || v === null || v === undefined) return;
  if (Array.isArray(v)) {
    if (s.items) v.forEach((x, i) => walk(x, s.items, r, `${path}[${i}]`, false, on));
    return;
  }
  if (!isPlainObject(v)) return;
  const embedded = isResource || s['x-kubernetes-embedded-resource'] === true;
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  // Schemas with no shape at all (unions, untyped JSON) accept anything.
  if (!s.type && !s.properties && !s.additionalProperties) return;
  for (const key of Object.keys(v)) {
    const p = join(path, key);
    const prop = s.properties?.[key];
    // The envelope of a resource is never the schema's to prune: upstream skips apiVersion and
    // kind and reduces metadata to ObjectMeta whatever the schema declares there (KubeVirt's own
    // CRDs declare a bare `metadata: {type: object}`, which would otherwise drop every field).
    if (embedded && key === 'metadata') walk(v[key], { $ref: REF_PREFIX + OBJECT_META }, r, p, false, on);
    else if (embedded && ENVELOPE.includes(key)) continue;
    else if (prop) walk(v[key], prop, r, p, false, on);
    else if (isPlainObject(s.additionalProperties)) walk(v[key], s.additionalProperties, r, p, false, on);
    else if (s.additionalProperties === true || preserve) continue;
    else on(v, key, p);
  }
}

/** Paths (`spec.foo`, `spec.containers[0].bar`) of the fields `obj` has that `schema` does not know, in document order. */
export function findUnknownFields(obj: unknown, schema: JSONSchema, resolver: SchemaResolver): string[] {
  const found: string[] = [];
  walk(obj, schema, resolver, '', true, (_c, _k, p) => found.push(p));
  return found;
}

/** Removes unknown fields in place (CRD pruning); returns the removed paths. */
export function pruneUnknownFields(obj: unknown, schema: JSONSchema, resolver: SchemaResolver): string[] {
  const removed: string[] = [];
  walk(obj, schema, resolver, '', true, (c, k, p) => {
    delete c[k];
    removed.push(p);
  });
  return removed;
}

/** Upstream's message for one unknown field under fieldValidation=Strict or Warn. */
export const unknownFieldMessage = (path: string) => `unknown field "${path}"`;
