/**
 * Builds the OpenAPI v3 component schemas of every built-in type Cairn serves, at start-up,
 * from client-node's runtime type maps (field names and Go-ish types) plus Cairn's own tables
 * for what those maps lack (packages, quantities, list/patch semantics, required fields, enums,
 * descriptions, and fields newer than client-node). Names and shapes follow upstream's
 * /openapi/v3 output so kubectl's explain, apply and validation work unchanged.
 */
import * as models from '@kubernetes/client-node/dist/gen/models/all.js';
import type { JSONSchema } from './types.js';
import { shortNameOf, upstreamName, upstreamNameOfModel } from './builtin/packages.js';
import { ANY_FIELDS, LEAF, QUANTITY_FIELDS, SUPPLEMENTARY_FIELDS, SUPPLEMENTARY_TYPES, leaf } from './builtin/field-types.js';
import { ATOMIC_TYPES, FIELD_SEMANTICS, UNIONS, UNMARKED_LISTS } from './builtin/list-semantics.js';
import { REQUIRED } from './builtin/required.js';
import { ENUMS, ITEM_ENUMS } from './builtin/enums.js';
import { FIELD_DESCRIPTIONS, TYPE_DESCRIPTIONS } from './builtin/descriptions.js';
import { PRIMITIVE_SCHEMAS } from './builtin/primitives.js';
import { BUILTIN_KIND_MODELS, META_MODELS } from './builtin/served.js';

interface Attribute {
  baseName: string;
  type: string;
  format: string;
}
type ModelClass = { getAttributeTypeMap(): Attribute[] };
const MODELS = models as unknown as Record<string, ModelClass | undefined>;

export const REF_PREFIX = '#/components/schemas/';
const gvk = (group: string, version: string, kind: string) => ({ group, version, kind });

/** The component name of a served built-in kind (`io.k8s.api.apps.v1.Deployment`), if Cairn serves it. */
export function schemaNameForKind(group: string, version: string, kind: string): string | undefined {
  const m = BUILTIN_KIND_MODELS.find((b) => b.group === group && b.version === version && b.kind === kind);
  return m && upstreamNameOfModel(m.model);
}

/**
 * Wraps a $ref that has siblings in allOf, as upstream's v3 documents do (a $ref must stand alone
 * in OpenAPI 3.0; tools ignore its siblings otherwise).
 */
function wrapRef(s: JSONSchema): JSONSchema {
  if (!s.$ref || Object.keys(s).length === 1) return s;
  const { $ref, ...rest } = s;
  return { allOf: [{ $ref }], ...rest };
}

class BuiltinSchemaBuilder {
  readonly out = new Map<string, JSONSchema>(Object.entries(structuredClone(PRIMITIVE_SCHEMAS)));
  private readonly pending: string[] = [];

  model(cls: string): string {
    const name = upstreamNameOfModel(cls);
    if (!this.out.has(name)) {
      this.out.set(name, {}); // placeholder: breaks reference cycles (JSONSchemaProps)
      this.pending.push(cls);
    }
    return name;
  }

  drain(): void {
    for (let cls = this.pending.shift(); cls; cls = this.pending.shift()) {
      const name = upstreamNameOfModel(cls);
      const short = shortNameOf(name);
      const properties: Record<string, JSONSchema> = {};
      for (const a of MODELS[cls]!.getAttributeTypeMap()) properties[a.baseName] = this.fieldType(short, a);
      Object.assign(properties, SUPPLEMENTARY_FIELDS[short]);
      this.out.set(name, this.decorateType(short, { type: 'object', properties }));
    }
    for (const [short, s] of Object.entries(SUPPLEMENTARY_TYPES)) {
      const name = upstreamName(short);
      if (!this.out.has(name)) this.out.set(name, this.decorateType(short, structuredClone(s)));
    }
  }

  /** The schema of one client-node attribute, before per-field decoration. */
  private fieldType(typeShort: string, a: Attribute): JSONSchema {
    const special = ANY_FIELDS[typeShort]?.[a.baseName];
    if (special) return structuredClone(special);
    const base = this.typeString(a.type, a.format);
    if (QUANTITY_FIELDS[typeShort]?.includes(a.baseName))
      return base.type === 'object' ? { type: 'object', additionalProperties: leaf(LEAF.quantity) } : leaf(LEAF.quantity);
    return base;
  }

  private typeString(t: string, format: string): JSONSchema {
    const arr = /^Array<(.+)>$/.exec(t);
    if (arr) return { type: 'array', items: this.typeString(arr[1], format) };
    const map = /^\{ \[key: string\]: (.+); \}$/.exec(t);
    if (map) return { type: 'object', additionalProperties: this.typeString(map[1], format) };
    switch (t) {
      case 'string':
        return format ? { type: 'string', format } : { type: 'string' };
      case 'boolean':
        return { type: 'boolean' };
      case 'number':
        return format === 'int32' || format === 'int64' ? { type: 'integer', format } : { type: 'number', format: format || 'double' };
      case 'Date':
        return leaf(LEAF.time);
      case 'V1MicroTime':
        return leaf(LEAF.microTime);
      case 'IntOrString':
        return leaf(LEAF.intOrString);
      case 'any':
        return { 'x-kubernetes-preserve-unknown-fields': true };
    }
    if (!MODELS[t]) throw new Error(`client-node type ${t} has no model class`);
    return { $ref: REF_PREFIX + this.model(t) };
  }

  private decorateType(short: string, s: JSONSchema): JSONSchema {
    const props = s.properties ?? {};
    for (const [field, p] of Object.entries(props)) props[field] = this.decorateField(short, field, p);
    const isList = short.endsWith('List') && props.items?.type === 'array';
    const required = isList ? ['items'] : REQUIRED[short];
    const typeDesc = TYPE_DESCRIPTIONS[short];
    return {
      ...(typeDesc ? { description: typeDesc } : {}),
      ...s,
      ...(required ? { required: [...required] } : {}),
      ...(ATOMIC_TYPES.includes(short) ? { 'x-kubernetes-map-type': 'atomic' as const } : {}),
      ...(UNIONS[short] ? { 'x-kubernetes-unions': structuredClone(UNIONS[short]) } : {}),
    };
  }

  private decorateField(typeShort: string, field: string, p: JSONSchema): JSONSchema {
    const out: JSONSchema = { ...p };
    const desc = FIELD_DESCRIPTIONS[field];
    if (desc && !out.description) out.description = desc;
    const isListItems = typeShort.endsWith('List') && field === 'items';
    if (out.type === 'array' && !isListItems && !UNMARKED_LISTS[typeShort]?.includes(field)) out['x-kubernetes-list-type'] = 'atomic';
    Object.assign(out, FIELD_SEMANTICS[typeShort]?.[field]);
    const e = ENUMS[typeShort]?.[field];
    if (e) out.enum = [...e];
    const ie = ITEM_ENUMS[typeShort]?.[field];
    if (ie && out.items) out.items = { ...out.items, enum: [...ie] };
    return wrapRef(out);
  }
}

let cached: Map<string, JSONSchema> | undefined;

/**
 * Every built-in component schema, by upstream name. Built once per process (it is pure);
 * callers must not mutate the returned schemas.
 */
export function buildBuiltinSchemas(): Map<string, JSONSchema> {
  if (cached) return cached;
  const b = new BuiltinSchemaBuilder();
  const kindNames: [string, ReturnType<typeof gvk>][] = [];
  for (const k of BUILTIN_KIND_MODELS) {
    kindNames.push([b.model(k.model), gvk(k.group, k.version, k.kind)]);
    if (!k.noList) kindNames.push([b.model(`${k.model}List`), gvk(k.group, k.version, `${k.kind}List`)]);
  }
  for (const m of META_MODELS) b.model(m);
  b.drain();
  for (const [name, g] of kindNames) b.out.get(name)!['x-kubernetes-group-version-kind'] = [g];
  tagMetaKinds(b.out);
  cached = b.out;
  return cached;
}

/**
 * Request and watch wrappers are valid in every group-version, so they list each served one,
 * as upstream does; Status is only ever core/v1.
 */
function tagMetaKinds(out: Map<string, JSONSchema>): void {
  const gvs = new Map<string, [string, string]>([['/v1', ['', 'v1']]]);
  for (const k of BUILTIN_KIND_MODELS) gvs.set(`${k.group}/${k.version}`, [k.group, k.version]);
  const sorted = [...gvs.values()].sort((a, b) => a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]));
  for (const kind of ['DeleteOptions', 'WatchEvent']) {
    out.get(upstreamName(`meta.v1.${kind}`))!['x-kubernetes-group-version-kind'] = sorted.map(([g, v]) => gvk(g, v, kind));
  }
  out.get(upstreamName('meta.v1.Status'))!['x-kubernetes-group-version-kind'] = [gvk('', 'v1', 'Status')];
}

/** Names of all components reachable from `roots` through $ref (roots included). */
export function reachableSchemas(roots: Iterable<string>, lookup: (name: string) => JSONSchema | undefined): Set<string> {
  const seen = new Set<string>();
  const stack = [...roots];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === '$ref' && typeof x === 'string' && x.startsWith(REF_PREFIX)) stack.push(x.slice(REF_PREFIX.length));
        else if (k !== 'enum' && k !== 'default' && k !== 'example') visit(x);
      }
    }
  };
  for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
    if (seen.has(n)) continue;
    const s = lookup(n);
    if (!s) continue;
    seen.add(n);
    visit(s);
  }
  return seen;
}
