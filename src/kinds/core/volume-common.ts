/** Shared by PersistentVolume and PersistentVolumeClaim: access modes, volume modes, class names. */
import { type FieldError, type FieldPath, fieldErr } from '../../registry/field-errors.js';
import { asList, asStr, validateDNSSubdomain, validateEnum } from './helpers.js';

export const ACCESS_MODES = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'] as const;
export const VOLUME_MODES = ['Block', 'Filesystem'] as const;

/** Access modes: required, supported, and ReadWriteOncePod alone. */
export function validateAccessModes(modes: unknown, path: FieldPath, requiredDetail?: string): FieldError[] {
  const list = asList(modes);
  if (list.length === 0) return [fieldErr.required(path, requiredDetail)];
  const errs = list.flatMap((m) => (ACCESS_MODES.includes(m as (typeof ACCESS_MODES)[number]) ? [] : [fieldErr.notSupported(path, m, ACCESS_MODES)]));
  if (list.includes('ReadWriteOncePod') && list.length > 1) errs.push(fieldErr.forbidden(path, 'may not use ReadWriteOncePod with other access modes'));
  return errs;
}

export const validateVolumeMode = (v: unknown, path: FieldPath) => validateEnum(v, path, VOLUME_MODES, false);

export function validateClassName(v: unknown, path: FieldPath): FieldError[] {
  const s = asStr(v);
  return s ? validateDNSSubdomain(s, path) : [];
}

/** Access modes as kubectl abbreviates them, in its fixed order. */
export function accessModesText(modes: unknown): string {
  const list = asList(modes);
  const abbrev: [string, string][] = [
    ['ReadWriteOnce', 'RWO'],
    ['ReadOnlyMany', 'ROX'],
    ['ReadWriteMany', 'RWX'],
    ['ReadWriteOncePod', 'RWOP'],
  ];
  return abbrev
    .filter(([m]) => list.includes(m))
    .map(([, a]) => a)
    .join(',');
}
