/**
 * Small helpers shared by the patch engines. Patches are attacker-controlled JSON, so every read
 * goes through own properties only and every write of a key named `__proto__` defines a plain
 * data property instead of re-pointing the object's prototype (prototype pollution).
 */
import { isPlainObject } from '../../util/object.js';

export type Obj = Record<string, unknown>;

export const isObj = isPlainObject;

/** The own property `key` of `o`, never one inherited from Object.prototype. */
export function own(o: Obj, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

export function hasOwn(o: Obj, key: string): boolean {
  return Object.hasOwn(o, key);
}

/** Sets an own data property, safely even for `__proto__`. */
export function setOwn(o: Obj, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    o[key] = value;
  }
}

/** A deep copy of a JSON value (structuredClone keeps `__proto__` own keys as data). */
export function cloneJson<T>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}

/** JSON type of a value as Go's reflect.Kind would name the decoded form: map, slice, or scalar. */
export function jsonKind(v: unknown): 'map' | 'slice' | 'string' | 'number' | 'bool' | 'null' {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'slice';
  if (typeof v === 'object') return 'map';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  return 'number';
}

/**
 * Formats a JSON value the way Go's `%v` prints decoded JSON, so error messages read as
 * upstream's (`map[image:nginx]`, `[a b]`).
 */
export function goString(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  if (typeof v === 'object') {
    const o = v as Obj;
    const keys = Object.keys(o).sort();
    return `map[${keys.map((k) => `${k}:${goString(o[k])}`).join(' ')}]`;
  }
  return String(v);
}

/** Go's reflect type name of a decoded JSON value, for `expected a X, but received a Y` messages. */
export function goTypeName(v: unknown): string {
  switch (jsonKind(v)) {
    case 'map':
      return 'map[string]interface {}';
    case 'slice':
      return '[]interface {}';
    case 'string':
      return 'string';
    case 'bool':
      return 'bool';
    case 'number':
      return Number.isInteger(v) ? 'int64' : 'float64';
    default:
      return '<nil>';
  }
}
