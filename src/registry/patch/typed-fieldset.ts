/**
 * The two ways server-side apply turns objects into field sets (structured-merge-diff's
 * typed.ToFieldSet and typed.Compare):
 * - `toFieldSet(config)`: every field an apply configuration specifies — leaves, list items
 *   (as `.` of `k:`/`v:` elements), atomic lists/maps as a whole, empty or null maps, and map
 *   entries that are not struct fields;
 * - `compareObjects(old, new)`: the fields added, modified and removed by a write, where a
 *   container that appears or disappears counts too (the `.` an Update entry shows for a new
 *   label map or list item).
 */
import { deepEqual } from '../../util/object.js';
import { FieldSet, type Path, type PathElement, fieldPE, pathString } from './field-set.js';
import { isObj, own } from './json-util.js';
import { type Atom, type TypeRef, atomOf, itemPE } from './typed-shape.js';

/** An object that does not fit its schema's list rules (unkeyable or duplicate list items). */
export class TypedValueError extends Error {}

function keyOf(list: Extract<Atom, { kind: 'list' }>, item: unknown, path: Path, index: number): PathElement {
  try {
    return itemPE(list, item);
  } catch (e) {
    throw new TypedValueError(`${pathString(path)}: element ${index}: ${(e as Error).message}`);
  }
}

/** The fields set by `value` (an apply configuration). */
export function toFieldSet(value: unknown, t: TypeRef): FieldSet {
  const set = new FieldSet();
  const walk = (v: unknown, type: TypeRef, path: PathElement[]) => {
    const a = atomOf(type, v);
    if (a.kind === 'scalar') {
      set.insert(path);
    } else if (a.kind === 'list') {
      if (a.relation === 'atomic') return set.insert(path);
      if (!Array.isArray(v)) return;
      const pes = v.map((item, i) => keyOf(a, item, path, i));
      const counts = new Map<PathElement, number>();
      for (const pe of pes) counts.set(pe, (counts.get(pe) ?? 0) + 1);
      v.forEach((item, i) => {
        const itemPath = [...path, pes[i]];
        // Duplicated items are owned as a whole (there is no way to address one of them).
        if (counts.get(pes[i])! === 1) walk(item, a.item, itemPath);
        set.insert(itemPath);
      });
    } else {
      if (a.atomic) return set.insert(path);
      if (!isObj(v)) return;
      for (const [key, child] of Object.entries(v)) {
        const childPath = [...path, fieldPE(key)];
        walk(child, a.member(key), childPath);
        if (child === null || (isObj(child) && Object.keys(child).length === 0) || !a.declared(key)) set.insert(childPath);
      }
    }
  };
  walk(value, t, []);
  return set;
}

export interface Comparison {
  added: FieldSet;
  modified: FieldSet;
  removed: FieldSet;
}

/** What changed from `lhs` to `rhs` (either may be undefined: absent). */
export function compareObjects(lhs: unknown, rhs: unknown, t: TypeRef): Comparison {
  const c: Comparison = { added: new FieldSet(), modified: new FieldSet(), removed: new FieldSet() };
  compareAt(lhs, rhs, t, [], { l: false, r: false }, c);
  return c;
}

const isEmpty = (v: unknown) => v === undefined || v === null || (Array.isArray(v) ? v.length === 0 : isObj(v) && Object.keys(v).length === 0);

function sameKind(a: unknown, b: unknown): boolean {
  const k = (v: unknown) => (Array.isArray(v) ? 'list' : isObj(v) ? 'map' : 'scalar');
  return a === undefined || b === undefined || a === null || b === null || k(a) === k(b);
}

/** Whether a node exists on each side in the Go object even where the JSON lacks it. */
interface ZeroPresence {
  l: boolean;
  r: boolean;
}

const ABSENT: ZeroPresence = { l: false, r: false };

function compareAt(lhs: unknown, rhs: unknown, t: TypeRef, path: PathElement[], zero: ZeroPresence, c: Comparison): void {
  // Where the Go object has the field anyway, compare against its zero value: {} for a
  // struct, null for a required field.
  const zeroValue = () => (t.schema?.properties ? {} : null);
  if (lhs === undefined && zero.l) lhs = zeroValue();
  if (rhs === undefined && zero.r) rhs = zeroValue();
  const a = atomOf(t, rhs !== undefined && rhs !== null ? rhs : lhs);
  const leaf = () => {
    if (lhs === undefined) c.added.insert(path);
    else if (rhs === undefined) c.removed.insert(path);
    else if (!deepEqual(lhs, rhs)) c.modified.insert(path);
  };
  if (!sameKind(lhs, rhs) || a.kind === 'scalar') return leaf();
  if (a.kind === 'list') {
    if (a.relation === 'atomic' || (isEmpty(lhs) && isEmpty(rhs))) return leaf();
    compareItems(a, Array.isArray(lhs) ? lhs : [], Array.isArray(rhs) ? rhs : [], path, c);
  } else {
    if (a.atomic || (isEmpty(lhs) && isEmpty(rhs))) return leaf();
    const l = isObj(lhs) ? lhs : {};
    const r = isObj(rhs) ? rhs : {};
    for (const key of new Set([...Object.keys(l), ...Object.keys(r)])) {
      const z = a.zeroPresent(key);
      const childZero = { l: z && (lhs !== undefined || zero.l), r: z && (rhs !== undefined || zero.r) };
      compareAt(own(l, key), own(r, key), a.member(key), [...path, fieldPE(key)], childZero, c);
    }
  }
  if (lhs === undefined) c.added.insert(path);
  else if (rhs === undefined) c.removed.insert(path);
}

function compareItems(a: Extract<Atom, { kind: 'list' }>, lhs: unknown[], rhs: unknown[], path: PathElement[], c: Comparison): void {
  const group = (list: unknown[]) => {
    const m = new Map<PathElement, unknown[]>();
    list.forEach((item, i) => {
      const pe = keyOf(a, item, path, i);
      m.set(pe, [...(m.get(pe) ?? []), item]);
    });
    return m;
  };
  const l = group(lhs);
  const r = group(rhs);
  for (const pe of new Set([...l.keys(), ...r.keys()])) {
    const ls = l.get(pe) ?? [];
    const rs = r.get(pe) ?? [];
    const itemPath = [...path, pe];
    if (ls.length <= 1 && rs.length <= 1) {
      compareAt(ls[0], rs[0], a.item, itemPath, ABSENT, c);
    } else if (ls.length >= 2 && rs.length >= 2) {
      if (!deepEqual(ls, rs)) c.modified.insert(itemPath);
    } else if (ls.length >= 2) {
      if (rs.length) compareAt(undefined, rs[0], a.item, itemPath, ABSENT, c);
      c.removed.insert(itemPath);
    } else {
      if (ls.length) compareAt(ls[0], undefined, a.item, itemPath, ABSENT, c);
      c.added.insert(itemPath);
    }
  }
}
