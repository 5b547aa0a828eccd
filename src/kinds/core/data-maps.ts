/** What ConfigMaps and Secrets share: key rules, the 1 MiB size cap and the `immutable` flag. */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import { asObj, invalidEach, isConfigMapKey } from './helpers.js';

/** Upstream MaxSecretSize, shared by config maps: both must fit in one store value. */
export const MAX_DATA_SIZE = 1024 * 1024;

/** Invalid keys of a data map, reported at `<field>[<key>]` with the key as value. */
export function validateDataKeys(map: unknown, field: string): FieldError[] {
  const path = FieldPath.root(field);
  return Object.keys(asObj(map) ?? {}).flatMap((k) => invalidEach(isConfigMapKey(k), path.key(k), k));
}

/** Base64 text decodes to this many bytes (approximately, for malformed input). */
export const base64Size = (v: string) => Buffer.from(v, 'base64').length;

/** Once `immutable: true` is set it stays, and so do the listed data fields. */
export function validateImmutableData(obj: KubeObject, old: KubeObject, fields: string[]): FieldError[] {
  if (old.immutable !== true) return [];
  const errs: FieldError[] = [];
  if (obj.immutable !== true) errs.push(fieldErr.forbidden(FieldPath.root('immutable'), 'field is immutable when `immutable` is set'));
  for (const f of fields)
    if (!deepEqual(obj[f], old[f])) errs.push(fieldErr.forbidden(FieldPath.root(f), 'field is immutable when `immutable` is set'));
  return errs;
}
