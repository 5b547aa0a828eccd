/**
 * Objects a CRD schema marks x-kubernetes-embedded-resource (a template holding a whole object)
 * must name what they are, as upstream's apiextensions objectmeta validation requires of every
 * embedded resource below the root: apiVersion and kind present, non-empty strings, and
 * apiVersion a valid group/version.
 */
import { type FieldError, fieldErr } from '../registry/field-errors.js';
import { isPlainObject } from '../util/object.js';
import type { JSONSchema } from './types.js';

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

export function validateEmbeddedResources(obj: unknown, schema: JSONSchema, path = ''): FieldError[] {
  const errs: FieldError[] = [];
  if (Array.isArray(obj)) {
    if (schema.items) obj.forEach((x, i) => errs.push(...validateEmbeddedResources(x, schema.items!, `${path}[${i}]`)));
    return errs;
  }
  if (!isPlainObject(obj)) return errs;
  if (schema['x-kubernetes-embedded-resource'] && path) errs.push(...envelopeErrors(obj, path));
  for (const [k, v] of Object.entries(obj)) {
    const sub = schema.properties?.[k] ?? (isPlainObject(schema.additionalProperties) ? schema.additionalProperties : undefined);
    if (sub) errs.push(...validateEmbeddedResources(v, sub, join(path, k)));
  }
  return errs;
}

function envelopeErrors(obj: Record<string, unknown>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const key of ['apiVersion', 'kind']) {
    const p = join(path, key);
    const v = obj[key];
    if (v === undefined) errs.push(fieldErr.required(p, ''));
    else if (typeof v !== 'string') errs.push(fieldErr.invalid(p, v, 'must be a string'));
    else if (!v) errs.push(fieldErr.invalid(p, v, 'must not be empty'));
    else if (key === 'apiVersion' && v.split('/').length > 2) errs.push(fieldErr.invalid(p, v, `unexpected GroupVersion string: ${v}`));
  }
  return errs;
}
