/**
 * OpenAPI v3 value validation of custom resources, with upstream's messages
 * (k8s.io/kube-openapi validate, as converted to field errors by apiextensions), e.g.
 * `spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`.
 */
import { derefSchema, type JSONSchema, type SchemaResolver } from './types.js';
import { type FieldError, fieldErr } from '../registry/field-errors.js';
import { deepEqual, isPlainObject } from '../util/object.js';
import { matchesFormat } from './formats.js';

/** The JSON type name upstream prints for a value. */
function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v === 'object' ? 'object' : typeof v;
}

function typeMatches(type: string, v: unknown): boolean {
  const t = jsonType(v);
  return t === type || (type === 'number' && t === 'integer');
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);
const inBody = (path: string, what: string) => (path ? `${path} in body ${what}` : `in body ${what}`);

export function validateValue(obj: unknown, schema: JSONSchema, resolver: SchemaResolver, path = ''): FieldError[] {
  const s = derefSchema(schema, resolver);
  if (!s) return [];
  const errs: FieldError[] = [];
  const v = obj;

  if (v === null) {
    if (s.nullable || (!s.type && !s['x-kubernetes-int-or-string'])) return [];
    return [fieldErr.typeInvalid(path, 'null', inBody(path, `must be of type ${s.type ?? 'integer or string'}: "null"`))];
  }
  if (s['x-kubernetes-int-or-string']) {
    if (jsonType(v) !== 'integer' && typeof v !== 'string')
      return [fieldErr.typeInvalid(path, jsonType(v), inBody(path, `must be of type integer,string: "${jsonType(v)}"`))];
  } else if (s.type && !typeMatches(s.type, v)) {
    return [fieldErr.typeInvalid(path, jsonType(v), inBody(path, `must be of type ${s.type}: "${jsonType(v)}"`))];
  }

  if (s.enum && !s.enum.some((e) => deepEqual(e, v)))
    errs.push(fieldErr.notSupported(path, v, s.enum.map((e) => (typeof e === 'string' ? e : JSON.stringify(e)))));

  if (typeof v === 'number') errs.push(...numberErrors(s, v, path));
  if (typeof v === 'string') errs.push(...stringErrors(s, v, path));
  if (Array.isArray(v)) errs.push(...arrayErrors(s, v, resolver, path));
  if (isPlainObject(v)) errs.push(...objectErrors(s, v, resolver, path));
  errs.push(...junctorErrors(s, v, resolver, path));
  return errs;
}

function numberErrors(s: JSONSchema, v: number, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (s.maximum !== undefined && (s.exclusiveMaximum ? v >= s.maximum : v > s.maximum))
    errs.push(fieldErr.invalid(path, v, inBody(path, `should be less than ${s.exclusiveMaximum ? '' : 'or equal to '}${s.maximum}`)));
  if (s.minimum !== undefined && (s.exclusiveMinimum ? v <= s.minimum : v < s.minimum))
    errs.push(fieldErr.invalid(path, v, inBody(path, `should be greater than ${s.exclusiveMinimum ? '' : 'or equal to '}${s.minimum}`)));
  if (s.multipleOf && !Number.isInteger(v / s.multipleOf))
    errs.push(fieldErr.invalid(path, v, inBody(path, `should be a multiple of ${s.multipleOf}`)));
  if (s.type === 'integer' && s.format === 'int32' && (v > 2 ** 31 - 1 || v < -(2 ** 31)))
    errs.push(fieldErr.invalid(path, v, inBody(path, 'must be of type int32')));
  return errs;
}

function stringErrors(s: JSONSchema, v: string, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const len = [...v].length; // upstream counts runes, not bytes
  if (s.maxLength !== undefined && len > s.maxLength) errs.push(fieldErr.tooLong(path, v, s.maxLength));
  if (s.minLength !== undefined && len < s.minLength)
    errs.push(fieldErr.invalid(path, v, inBody(path, `should be at least ${s.minLength} chars long`)));
  if (s.pattern !== undefined && !safeRegExp(s.pattern)?.test(v))
    errs.push(fieldErr.invalid(path, v, inBody(path, `should match '${s.pattern}'`)));
  if (s.format && s.type === 'string' && !matchesFormat(s.format, v))
    errs.push(fieldErr.invalid(path, v, inBody(path, `must be of type ${s.format}: ${JSON.stringify(v)}`)));
  return errs;
}

const regexCache = new Map<string, RegExp | undefined>();
/** Patterns are ECMA-262 per OpenAPI; a pattern that does not compile matches nothing (structural validation rejects it first). */
function safeRegExp(p: string): RegExp | undefined {
  if (!regexCache.has(p)) {
    let re: RegExp | undefined;
    try {
      re = new RegExp(p, 'u');
    } catch {
      re = undefined;
    }
    regexCache.set(p, re);
  }
  return regexCache.get(p);
}

function arrayErrors(s: JSONSchema, v: unknown[], r: SchemaResolver, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (s.maxItems !== undefined && v.length > s.maxItems) errs.push(fieldErr.tooMany(path, v.length, s.maxItems));
  if (s.minItems !== undefined && v.length < s.minItems)
    errs.push(fieldErr.invalid(path, v, inBody(path, `should have at least ${s.minItems} items`)));
  if (s.uniqueItems)
    v.forEach((x, i) => {
      if (v.slice(0, i).some((y) => deepEqual(x, y))) errs.push(fieldErr.duplicate(`${path}[${i}]`, x));
    });
  if (s.items) v.forEach((x, i) => errs.push(...validateValue(x, s.items!, r, `${path}[${i}]`)));
  return errs;
}

function objectErrors(s: JSONSchema, v: Record<string, unknown>, r: SchemaResolver, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const n = Object.keys(v).length;
  if (s.maxProperties !== undefined && n > s.maxProperties)
    errs.push(fieldErr.tooMany(path, n, s.maxProperties));
  if (s.minProperties !== undefined && n < s.minProperties)
    errs.push(fieldErr.invalid(path, n, inBody(path, `should have at least ${s.minProperties} properties`)));
  for (const req of s.required ?? []) if (v[req] === undefined) errs.push(fieldErr.required(join(path, req)));
  for (const [k, x] of Object.entries(v)) {
    if (x === undefined) continue;
    const sub = s.properties?.[k] ?? (isPlainObject(s.additionalProperties) ? s.additionalProperties : undefined);
    if (sub) errs.push(...validateValue(x, sub, r, join(path, k)));
  }
  return errs;
}

/** allOf/anyOf/oneOf/not: constraints only (structural schemas keep types out of junctors). */
function junctorErrors(s: JSONSchema, v: unknown, r: SchemaResolver, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const ok = (sub: JSONSchema) => validateValue(v, sub, r, path).length === 0;
  // A single-ref allOf was already followed by derefSchema.
  const allOf = s.allOf?.length === 1 && s.allOf[0].$ref ? [] : (s.allOf ?? []);
  for (const sub of allOf) errs.push(...validateValue(v, sub, r, path));
  if (s.anyOf && !s.anyOf.some(ok)) errs.push(fieldErr.invalid(path, v, inBody(path, 'must validate at least one schema (anyOf)')));
  if (s.oneOf && s.oneOf.filter(ok).length !== 1) {
    // oneOf only describes the scalar union of a leaf like Quantity when the node has no type of its own.
    const isTypeUnion = !s.type && s.oneOf.every((o) => o.type && Object.keys(o).length === 1);
    if (!isTypeUnion || !s.oneOf.some(ok)) errs.push(fieldErr.invalid(path, v, inBody(path, 'must validate one and only one schema (oneOf)')));
  }
  if (s.not && ok(s.not)) errs.push(fieldErr.invalid(path, v, inBody(path, 'must not validate the schema (not)')));
  return errs;
}
