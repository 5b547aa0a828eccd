/**
 * Value operations of server-side apply (structured-merge-diff's typed.Merge, RemoveItems and
 * Set.EnsureNamedFieldsAreMembers):
 * - `mergeApplied(live, config)`: the configuration laid over the live object — granular maps
 *   merge per key, associative lists merge per item (keeping the order rules below), atomic
 *   values and scalars are replaced;
 * - `removeFields(obj, set)`: drops the given fields (a path naming a map entry or a list item
 *   drops it whole); containers left empty by the removal disappear;
 * - `withNamedFieldParents(set)`: adds the struct fields above each path, so that a struct
 *   nobody owns anything in any more can be pruned as a whole.
 */
import { FieldSet, type Path, type PathElement, fieldNameOf, fieldPE, pathString } from './field-set.js';
import { type Obj, isObj, own, setOwn } from './json-util.js';
import { type Atom, type TypeRef, atomOf, itemPE } from './typed-shape.js';
import { TypedValueError } from './typed-fieldset.js';

type ListAtom = Extract<Atom, { kind: 'list' }>;

/** Keys the items of a list; duplicates are refused in an apply configuration. */
function indexItems(a: ListAtom, list: unknown[], path: Path, allowDuplicates: boolean): { pes: PathElement[]; byPE: Map<PathElement, unknown> } {
  const pes: PathElement[] = [];
  const byPE = new Map<PathElement, unknown>();
  list.forEach((item, i) => {
    let pe: PathElement;
    try {
      pe = itemPE(a, item);
    } catch (e) {
      throw new TypedValueError(`${pathString(path)}: element ${i}: ${(e as Error).message}`);
    }
    if (byPE.has(pe)) {
      if (!allowDuplicates) throw new TypedValueError(`${pathString(path)}: duplicate entries for key ${pathString([pe])}`);
      byPE.set(pe, null); // a duplicated live item is not merged with anything
    } else {
      byPE.set(pe, item);
    }
    pes.push(pe);
  });
  return { pes, byPE };
}

/** The apply configuration `rhs` merged over the live value `lhs` (undefined: absent). */
export function mergeApplied(lhs: unknown, rhs: unknown, t: TypeRef, path: PathElement[] = []): unknown {
  if (rhs === undefined) return lhs;
  const a = atomOf(t, rhs !== null ? rhs : lhs);
  if (a.kind === 'list' && a.relation !== 'atomic' && Array.isArray(rhs)) {
    // Validate the configuration's items even where there is nothing to merge with.
    const live = Array.isArray(lhs) ? lhs : [];
    if (live.length === 0 && rhs.length === 0) return rhs;
    return mergeList(a, live, rhs, path);
  }
  if (a.kind === 'map' && !a.atomic && isObj(rhs)) {
    const live = isObj(lhs) ? lhs : {};
    if (Object.keys(live).length === 0 && Object.keys(rhs).length === 0) return rhs;
    const out: Obj = {};
    for (const key of new Set([...Object.keys(live), ...Object.keys(rhs)])) {
      const v = mergeApplied(own(live, key), own(rhs, key), a.member(key), [...path, fieldPE(key)]);
      // An explicit null in the configuration owns the field but leaves it unset, as decoding
      // into the Go type does upstream.
      if (v !== undefined && v !== null) setOwn(out, key, v);
    }
    return out;
  }
  return rhs;
}

/**
 * Merges associative lists. Items only in the live list keep their place; items of the
 * configuration keep the configuration's order, and shared items follow the configuration.
 */
function mergeList(a: ListAtom, lhs: unknown[], rhs: unknown[], path: PathElement[]): unknown[] {
  const r = indexItems(a, rhs, path, false);
  const l = indexItems(a, lhs, path, true);
  const shared = r.pes.filter((pe) => l.byPE.has(pe));
  let nextShared = shared.shift();
  const merged = new Set<PathElement>();
  const out: unknown[] = [];
  const mergeItem = (pe: PathElement, lv: unknown, rv: unknown) => out.push(mergeApplied(lv, rv, a.item, [...path, pe]));

  for (let li = 0, ri = 0; li < l.pes.length || ri < r.pes.length; ) {
    if (li < l.pes.length && ri < r.pes.length) {
      const pe = l.pes[li];
      if (pe === r.pes[ri]) {
        merged.add(pe);
        mergeItem(pe, l.byPE.get(pe), r.byPE.get(pe));
        li++;
        ri++;
        nextShared = shared.shift();
        continue;
      }
      // A live item the configuration places later: skip it here, it comes with the config.
      if (r.byPE.has(pe) && nextShared !== undefined && nextShared !== pe) {
        li++;
        continue;
      }
    }
    if (li < l.pes.length) {
      const pe = l.pes[li];
      if (!r.byPE.has(pe)) {
        mergeItem(pe, lhs[li], undefined);
        li++;
        continue;
      }
      if (merged.has(pe)) li++;
    }
    if (ri < r.pes.length) {
      const pe = r.pes[ri];
      merged.add(pe);
      mergeItem(pe, l.byPE.get(pe), r.byPE.get(pe));
      ri++;
      if (nextShared === pe) nextShared = shared.shift();
    }
  }
  return out;
}

/** `obj` without the fields in `set`; undefined when nothing is left of a container. */
export function removeFields(v: unknown, set: FieldSet, t: TypeRef): unknown {
  if (set.empty) return v;
  const a = atomOf(t, v);
  if (a.kind === 'list' && a.relation !== 'atomic' && Array.isArray(v) && v.length > 0) {
    const items: unknown[] = [];
    for (const item of v) {
      const pe = itemPE(a, item);
      if (set.has([pe])) continue;
      const sub = set.withPrefix(pe);
      const kept = sub.empty ? item : removeFields(item, sub, a.item);
      if (kept !== undefined) items.push(kept);
    }
    return items.length ? items : undefined;
  }
  if (a.kind === 'map' && !a.atomic && isObj(v) && Object.keys(v).length > 0) {
    const out: Obj = {};
    for (const [key, child] of Object.entries(v)) {
      const pe = fieldPE(key);
      if (set.has([pe])) continue;
      const sub = set.withPrefix(pe);
      const kept = sub.empty ? child : removeFields(child, sub, a.member(key));
      if (kept !== undefined) setOwn(out, key, kept);
    }
    return Object.keys(out).length ? out : undefined;
  }
  return v;
}

/** `set` plus every struct field that is a proper prefix of one of its paths. */
export function withNamedFieldParents(set: FieldSet, root: TypeRef): FieldSet {
  const out = FieldSet.of(set.all());
  for (const path of set.all()) {
    let t: TypeRef | undefined = root;
    for (let i = 0; i < path.length - 1 && t; i++) {
      const a = atomOf(t, undefined);
      const name = fieldNameOf(path[i]);
      if (a.kind === 'map' && name !== undefined) {
        if (a.declared(name)) out.insert(path.slice(0, i + 1));
        t = a.member(name);
      } else if (a.kind === 'list' && name === undefined) {
        t = a.item;
      } else {
        t = undefined; // below here the schema says nothing; no struct fields
      }
    }
  }
  return out;
}
