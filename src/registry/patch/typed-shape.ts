/**
 * How server-side apply sees a value: its "atom" in structured-merge-diff terms, derived from
 * the OpenAPI schema the way kube-openapi's schemaconv does for the apiserver:
 * - lists: `x-kubernetes-list-type` (atomic | set | map with `x-kubernetes-list-map-keys`);
 *   without it, a `merge` patch strategy makes the list associative (keyed by the patch merge
 *   key, or a set for primitives), otherwise the list is atomic;
 * - maps: granular unless `x-kubernetes-map-type: atomic`; declared properties are struct
 *   fields, other keys are map entries;
 * - no schema (unknown fields, preserve-unknown-fields, schemaless objects): deduced from the
 *   value — objects are granular maps, lists are atomic, the rest scalars.
 */
import type { JSONSchema, SchemaResolver } from '../../schema/types.js';
import { isObj, own } from './json-util.js';
import { type PathElement, keyPE, valuePE } from './field-set.js';
import { isDeclared, itemSchema, memberSchema, patchMergeKey, patchStrategies } from './schema-nav.js';

export interface TypeContext {
  resolver: SchemaResolver;
  /** Custom resources are unstructured: every object that appears is itself added. */
  customResource: boolean;
}

export interface TypeRef {
  schema: JSONSchema | undefined;
  ctx: TypeContext;
}

export type Atom =
  | { kind: 'scalar' }
  | {
      kind: 'map';
      atomic: boolean;
      member(key: string): TypeRef;
      declared(key: string): boolean;
      /** The field exists (maybe null) in every Go object of this built-in type: see zeroPresent. */
      zeroPresent(key: string): boolean;
    }
  | { kind: 'list'; relation: 'atomic' | 'set' | 'map'; keys: string[]; item: TypeRef };

/** The atom for a value of type `t` (the value decides only where the schema says nothing). */
export function atomOf(t: TypeRef, value: unknown): Atom {
  const s = t.schema;
  const schemaKind = kindFromSchema(s);
  const valueKind = Array.isArray(value) ? 'list' : isObj(value) ? 'map' : 'scalar';
  // A value of another shape than its schema declares is treated by what it is.
  const kind = schemaKind === undefined || (value !== undefined && value !== null && schemaKind !== valueKind) ? valueKind : schemaKind;
  const typed = schemaKind === kind ? s : undefined;
  const { ctx } = t;
  if (kind === 'map') {
    return {
      kind,
      atomic: typed?.['x-kubernetes-map-type'] === 'atomic',
      member: (key) => ({ schema: memberSchema(typed, key, ctx.resolver), ctx }),
      declared: (key) => isDeclared(typed, key),
      zeroPresent: (key) => !ctx.customResource && isDeclared(typed, key) && (!!typed?.required?.includes(key) || isStruct(memberSchema(typed, key, ctx.resolver))),
    };
  }
  if (kind === 'list') {
    const { relation, keys } = listRelation(typed);
    return { kind, relation, keys, item: { schema: itemSchema(typed, ctx.resolver), ctx } };
  }
  return { kind: 'scalar' };
}

/**
 * Built-in kinds are Go structs upstream, and the field manager compares typed objects: a
 * nested struct that is not a pointer exists in every object, and so does a required field
 * (no omitempty: it encodes as null). Such a field never appears or disappears by itself, so
 * an Update entry shows no `.` for it (`f:spec`, `f:template`, `f:containers`). Which struct
 * fields are pointers is not in the schema; we assume none is.
 */
function isStruct(s: JSONSchema | undefined): boolean {
  return kindFromSchema(s) === 'map' && !!s?.properties;
}

function kindFromSchema(s: JSONSchema | undefined): 'map' | 'list' | 'scalar' | undefined {
  if (!s) return undefined;
  if (s.type === 'object' || s.properties || s.additionalProperties) return 'map';
  if (s.type === 'array' || s.items) return 'list';
  if (s.type || s['x-kubernetes-int-or-string']) return 'scalar';
  return undefined; // preserve-unknown-fields or an empty schema: anything goes
}

function listRelation(s: JSONSchema | undefined): { relation: 'atomic' | 'set' | 'map'; keys: string[] } {
  const listType = s?.['x-kubernetes-list-type'];
  if (listType === 'map') return { relation: 'map', keys: s?.['x-kubernetes-list-map-keys'] ?? [] };
  if (listType === 'set' || listType === 'atomic') return { relation: listType, keys: [] };
  if (patchStrategies(s).includes('merge')) {
    const key = patchMergeKey(s);
    return key ? { relation: 'map', keys: [key] } : { relation: 'set', keys: [] };
  }
  return { relation: 'atomic', keys: [] };
}

/**
 * The path element naming an item of an associative list: `k:{...}` from its key fields (a key
 * field it omits takes the schema default, as `protocol: TCP` for ports) or `v:` for a set.
 * Throws a message for items that cannot be keyed.
 */
export function itemPE(list: Extract<Atom, { kind: 'list' }>, item: unknown): PathElement {
  if (list.keys.length > 0) {
    if (item === null) throw new Error('associative list with keys may not have a null element');
    if (!isObj(item)) throw new Error('associative list with keys may not have non-map elements');
    const fields: [string, unknown][] = [];
    for (const name of [...list.keys].sort()) {
      const v = own(item, name);
      const def = v === undefined ? memberSchema(list.item.schema, name, list.item.ctx.resolver)?.default : undefined;
      if (v !== undefined) fields.push([name, v]);
      else if (def !== undefined) fields.push([name, def]);
    }
    if (fields.length === 0) {
      throw new Error(
        `associative list with keys has an element that omits all key fields ${JSON.stringify(list.keys)} (and doesn't have default values for any key fields)`,
      );
    }
    return keyPE(fields);
  }
  if (isObj(item)) throw new Error("associative list without keys has an element that's a map type");
  if (Array.isArray(item)) throw new Error('not supported: associative list with lists as elements');
  if (item === null) throw new Error("associative list without keys has an element that's an explicit null");
  return valuePE(item);
}
