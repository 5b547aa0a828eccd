/**
 * Whether a CRD version's openAPIV3Schema is structural (upstream apiextensions
 * ValidateStructural plus the schema checks of ValidateCustomResourceDefinition): a type on every
 * node (except under x-kubernetes-preserve-unknown-fields / int-or-string), no $ref, properties
 * and additionalProperties not both, metadata limited to name/generateName, junctors carrying
 * constraints only, and defaults that validate and survive pruning.
 * Paths are upstream's: `spec.versions[0].schema.openAPIV3Schema.properties[spec].type`.
 */
import type { JSONSchema, SchemaResolver } from './types.js';
import { type FieldError, FieldPath, fieldErr } from '../registry/field-errors.js';
import { isPlainObject } from '../util/object.js';
import { validateValue } from './validate-value.js';
import { pruneUnknownFields } from './unknown-fields.js';

const TYPES = ['object', 'array', 'string', 'integer', 'number', 'boolean'];
/** Keys a node inside allOf/anyOf/oneOf/not may not set: they would make the shape ambiguous. */
const JUNCTOR_FORBIDDEN = ['type', 'default', 'additionalProperties', 'nullable', 'description', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-embedded-resource', 'x-kubernetes-int-or-string'] as const;
const noRefs: SchemaResolver = { resolve: () => undefined };

interface Ctx {
  errs: FieldError[];
  /** Inside an object that preserves unknown fields: an untyped child is allowed there too. */
  preserving: boolean;
  inJunctor: boolean;
  /** Inside metadata of an object: defaults are not allowed there. */
  inMetadata: boolean;
}

export function validateStructuralSchema(schema: unknown, path: FieldPath = FieldPath.root('openAPIV3Schema')): FieldError[] {
  const errs: FieldError[] = [];
  if (!isPlainObject(schema)) return [fieldErr.required(path, 'schemas are required')];
  const s = schema as JSONSchema;
  if (!s.type) errs.push(fieldErr.required(path.child('type'), 'must not be empty at the root'));
  else if (s.type !== 'object') errs.push(fieldErr.invalid(path.child('type'), s.type, 'must be object at the root'));
  const meta = s.properties?.metadata;
  if (meta) errs.push(...validateRootMetadata(meta, path.child('properties').key('metadata')));
  node(s, path, { errs, preserving: false, inJunctor: false, inMetadata: false }, true);
  return errs;
}

function validateRootMetadata(meta: JSONSchema, path: FieldPath): FieldError[] {
  const allowedKeys = ['type', 'properties', 'description'];
  const propsOk = Object.keys(meta.properties ?? {}).every((k) => k === 'name' || k === 'generateName');
  const keysOk = Object.keys(meta).every((k) => allowedKeys.includes(k));
  if (propsOk && keysOk && (meta.type === undefined || meta.type === 'object')) return [];
  return [fieldErr.forbidden(path, 'must not specify anything other than name and generateName, but metadata is implicitly specified')];
}

function node(s: JSONSchema, path: FieldPath, ctx: Ctx, isRoot = false): void {
  const { errs } = ctx;
  if (s.$ref !== undefined) errs.push(fieldErr.forbidden(path.child('$ref'), '$ref is not supported'));
  const preserve = s['x-kubernetes-preserve-unknown-fields'];
  if (preserve === false) errs.push(fieldErr.invalid(path.child('x-kubernetes-preserve-unknown-fields'), false, 'must be true or undefined'));
  const intOrString = s['x-kubernetes-int-or-string'] === true;

  if (ctx.inJunctor) {
    for (const k of JUNCTOR_FORBIDDEN) if (s[k] !== undefined) errs.push(fieldErr.forbidden(path.child(k), 'must be empty to be structural'));
  } else if (!isRoot) {
    if (s.type === undefined && !preserve && !intOrString && !ctx.preserving)
      errs.push(fieldErr.required(path.child('type'), 'must not be empty for specified object fields'));
  }
  if (s.type !== undefined && !TYPES.includes(s.type)) errs.push(fieldErr.notSupported(path.child('type'), s.type, TYPES));
  if (intOrString && s.type !== undefined && !ctx.inJunctor)
    errs.push(fieldErr.invalid(path.child('type'), s.type, 'must be empty if x-kubernetes-int-or-string is true'));
  if (s['x-kubernetes-embedded-resource'] && s.type !== 'object')
    errs.push(fieldErr.invalid(path.child('type'), s.type ?? '', 'must be object if x-kubernetes-embedded-resource is true'));
  if (s.properties && s.additionalProperties !== undefined && s.additionalProperties !== false)
    errs.push(fieldErr.forbidden(path.child('additionalProperties'), 'additionalProperties and properties are mutual exclusive'));
  if (s.type === 'array' && !s.items && !ctx.inJunctor) errs.push(fieldErr.required(path.child('items'), 'must be specified'));
  if (s.pattern !== undefined) {
    try {
      new RegExp(s.pattern, 'u');
    } catch {
      errs.push(fieldErr.invalid(path.child('pattern'), s.pattern, 'must be a valid regular expression'));
    }
  }
  if (s.default !== undefined && !ctx.inJunctor) checkDefault(s, path, ctx);

  const childCtx: Ctx = { ...ctx, preserving: preserve === true || (ctx.preserving && s.type === undefined) };
  for (const [k, p] of Object.entries(s.properties ?? {}))
    node(p, path.child('properties').key(k), { ...childCtx, inMetadata: ctx.inMetadata || (k === 'metadata' && (isRoot || !!s['x-kubernetes-embedded-resource'])) });
  if (isPlainObject(s.additionalProperties)) node(s.additionalProperties as JSONSchema, path.child('additionalProperties'), childCtx);
  if (s.items) node(s.items, path.child('items'), childCtx);
  const junctorCtx: Ctx = { ...childCtx, inJunctor: true };
  for (const j of ['allOf', 'anyOf', 'oneOf'] as const)
    s[j]?.forEach((sub, i) => {
      if (intOrString && j === 'anyOf' && isIntOrStringAnyOf(s.anyOf)) return;
      if (intOrString && j === 'allOf' && i === 0 && isIntOrStringAnyOf(sub.anyOf)) {
        const { anyOf: _typesOnly, ...rest } = sub;
        return node(rest, path.child(j).index(i), junctorCtx);
      }
      node(sub, path.child(j).index(i), junctorCtx);
    });
  if (s.not) node(s.not, path.child('not'), junctorCtx);
}

/**
 * `anyOf: [{type: integer}, {type: string}]`, exactly: the one place upstream lets a junctor name
 * types, on an x-kubernetes-int-or-string node (directly or as the first allOf's anyOf), because
 * that is how generators spell IntOrString and Quantity.
 */
function isIntOrStringAnyOf(anyOf: JSONSchema[] | undefined): boolean {
  return anyOf?.length === 2 && isOnlyType(anyOf[0], 'integer') && isOnlyType(anyOf[1], 'string');
}
const isOnlyType = (s: JSONSchema, type: string) => s.type === type && Object.keys(s).length === 1;

/** A default must itself be valid against its schema and carry no field pruning would drop. */
function checkDefault(s: JSONSchema, path: FieldPath, ctx: Ctx): void {
  const p = path.child('default');
  if (ctx.inMetadata) return void ctx.errs.push(fieldErr.forbidden(p, 'must not be set inside metadata'));
  const { default: def, ...withoutDefault } = s;
  // Problems inside the default are reported under the default's own path, as upstream does.
  for (const e of validateValue(def, withoutDefault, noRefs)) {
    const field = !e.field ? p.toString() : e.field.startsWith('[') ? `${p}${e.field}` : `${p}.${e.field}`;
    ctx.errs.push({ ...e, field });
  }
  const copy = structuredClone(def);
  const pruned = pruneUnknownFields({ v: copy }, { type: 'object', properties: { v: withoutDefault } }, noRefs);
  if (pruned.length) ctx.errs.push(fieldErr.invalid(p, def, `must not have unknown fields, got: ${pruned.map((x) => x.replace(/^v\.?/, '')).join(', ')}`));
}
