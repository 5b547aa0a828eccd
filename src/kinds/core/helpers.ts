/**
 * Small shared helpers for the core/v1 kinds: loose accessors over untyped JSON (objects arrive
 * straight from clients, so every field may be missing or of the wrong type) and field-error
 * wrappers around the validation primitives, so each kind module stays short.
 */
import { type FieldError, type FieldPath, fieldErr } from '../../registry/field-errors.js';
import { isDNS1123Label, isDNS1123Subdomain, isQualifiedName, isValidIP, isValidLabelValue } from '../../registry/validation.js';
import { isPlainObject } from '../../util/object.js';

export type Obj = Record<string, unknown>;

/** The value as an object, or undefined. */
export const asObj = (v: unknown): Obj | undefined => (isPlainObject(v) ? v : undefined);
/** The value as an array, or an empty one. */
export const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
/** The value as a list of objects (non-objects become {} so indexes stay aligned). */
export const asObjList = (v: unknown): Obj[] => asList(v).map((x) => asObj(x) ?? {});
/** The value as a string, or ''. */
export const asStr = (v: unknown): string => (typeof v === 'string' ? v : '');
/** Keys of a map-valued field (labels, data, resource lists). */
export const keysOf = (v: unknown): string[] => Object.keys(asObj(v) ?? {});

/** `parent[key]` as an object, creating it when absent (for defaulting). */
export function ensureObj(parent: Obj, key: string): Obj {
  const cur = asObj(parent[key]);
  if (cur) return cur;
  const created: Obj = {};
  parent[key] = created;
  return created;
}

/** Sets `o[key] = value` when the field is absent or empty (upstream's `if x == "" { x = default }`). */
export function setDefault(o: Obj, key: string, value: unknown): void {
  if (o[key] === undefined || o[key] === null || o[key] === '') o[key] = value;
}

/** Wraps an Is*-style checker (list of messages) into Invalid errors at `path`. */
export function invalidEach(msgs: string[], path: FieldPath, value: unknown): FieldError[] {
  return msgs.map((m) => fieldErr.invalid(path, value, m));
}

export const validateDNSLabel = (v: string, path: FieldPath) => invalidEach(isDNS1123Label(v), path, v);
export const validateDNSSubdomain = (v: string, path: FieldPath) => invalidEach(isDNS1123Subdomain(v), path, v);
export const validateQualifiedName = (v: string, path: FieldPath) => invalidEach(isQualifiedName(v), path, v);
export const validateLabelValue = (v: string, path: FieldPath) => invalidEach(isValidLabelValue(v), path, v);

/** A required string field checked by `check` when present (upstream's `if len(x)==0 {Required} else {Validate...}`). */
export function requiredWith(v: unknown, path: FieldPath, check: (s: string, p: FieldPath) => FieldError[]): FieldError[] {
  const s = asStr(v);
  return s === '' ? [fieldErr.required(path)] : check(s, path);
}

/** An enumerated string: Required when empty, Unsupported when not one of `allowed`. */
export function validateEnum(v: unknown, path: FieldPath, allowed: readonly string[], required = true): FieldError[] {
  if (v === undefined || v === null || v === '') return required ? [fieldErr.required(path)] : [];
  return typeof v === 'string' && allowed.includes(v) ? [] : [fieldErr.notSupported(path, v, allowed)];
}

export const NEGATIVE_MSG = 'must be greater than or equal to 0';

/** Upstream ValidateNonnegativeField for optional integers. */
export function validateNonnegative(v: unknown, path: FieldPath): FieldError[] {
  if (v === undefined || v === null) return [];
  if (typeof v !== 'number' || !Number.isInteger(v)) return [fieldErr.typeInvalid(path, v, 'must be an integer')];
  return v < 0 ? [fieldErr.invalid(path, v, NEGATIVE_MSG)] : [];
}

/** Upstream InclusiveRangeError wording. */
export const inclusiveRange = (lo: number, hi: number) => `must be between ${lo} and ${hi}, inclusive`;

export const IP_MSG = 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)';
export const CIDR_MSG = 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)';

export function validateIP(v: unknown, path: FieldPath): FieldError[] {
  const s = asStr(v);
  if (s === '') return [fieldErr.required(path)];
  return isValidIP(s) ? [] : [fieldErr.invalid(path, v, IP_MSG)];
}

/** Config-map and secret keys, and key selectors (upstream IsConfigMapKey). */
export function isConfigMapKey(k: string): string[] {
  const errs: string[] = [];
  if (k.length > 253) errs.push('must be no more than 253 characters');
  if (!/^[-._a-zA-Z0-9]+$/.test(k))
    errs.push(
      "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
    );
  if (k === '.') errs.push("must not be '.'");
  else if (k === '..') errs.push("must not be '..'");
  else if (k.startsWith('..')) errs.push("must not start with '..'");
  return errs;
}

/** A duplicate tracker: returns true the second time a value is seen. */
export function seenTwice(): (v: string) => boolean {
  const seen = new Set<string>();
  return (v) => {
    if (seen.has(v)) return true;
    seen.add(v);
    return false;
  };
}
