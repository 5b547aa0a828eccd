/**
 * Kubernetes strategic merge patch (application/strategic-merge-patch+json), applying the
 * semantics of k8s.io/apimachinery/pkg/util/strategicpatch (StrategicMergeMapPatch with
 * MergeParallelList and IgnoreUnmatchedNulls, as the apiserver calls it).
 *
 * Merge rules come from the schema: `x-kubernetes-patch-strategy` (merge, replace, retainKeys,
 * or "merge,retainKeys") and `x-kubernetes-patch-merge-key` on the field. Without a schema for a
 * field, maps merge and lists replace. Directives: `$patch: replace|delete` in a map or list
 * item, `$retainKeys`, `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`; a null
 * value deletes the field.
 *
 * Errors map as endpoints/handlers/patch.go interpretStrategicMergePatchError does: malformed
 * directives are 400, lists of lists 422, and anything else the library reports surfaces as a
 * plain 500 with its message. Custom resources do not support this patch type at all (415).
 */
import { ApiError } from '../../api/errors.js';
import type { JSONSchema, SchemaResolver } from '../../schema/types.js';
import { type Obj, cloneJson, goString, goTypeName, hasOwn, isObj, jsonKind, own, setOwn } from './json-util.js';
import { itemSchema, memberSchema, patchMergeKey, patchStrategies, resolveSchema } from './schema-nav.js';

export interface StrategicMergeOptions {
  /** Schema of the top-level object (undefined: generic merge everywhere). */
  schema: JSONSchema | undefined;
  resolver: SchemaResolver;
  /** Custom resources cannot be strategic-merge-patched upstream; the request is refused. */
  customResource?: boolean;
}

/** Media types a custom resource accepts for PATCH (used in the 415 message). */
export const CUSTOM_RESOURCE_PATCH_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/apply-patch+yaml',
];

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ELEMENT_ORDER = '$setElementOrder';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList';

/** A strategicpatch error, with the HTTP code the apiserver gives it. */
class SmpError extends Error {
  constructor(
    message: string,
    readonly code: 400 | 422 | 500 = 500,
  ) {
    super(message);
  }
}

const errBadPrimitiveList = () => new SmpError('invalid patch format of primitive list', 400);
const errBadRetainKeys = () => new SmpError('invalid patch format of retainKeys', 400);
const errBadSetElementOrder = () => new SmpError('invalid patch format of setElementOrder list', 400);
const errNoMergeKey = (m: unknown, key: string) => new SmpError(`map: ${goString(m)} does not contain declared merge key: ${key}`);
const errBadArgType = (expected: string, actual: unknown) => new SmpError(`expected a ${expected}, but received a ${goTypeName(actual)}`);
const errBadPatchType = (t: unknown, m: unknown) => new SmpError(`unknown patch type: ${String(t)} in map: ${goString(m)}`);
const MAP_TYPE = 'map[string]interface {}';
const SLICE_TYPE = '[]interface {}';

/**
 * Applies a decoded strategic merge patch to `original` and returns the result; neither input
 * is modified.
 */
export function applyStrategicMergePatch<T extends object>(original: T, patch: unknown, opts: StrategicMergeOptions): T {
  if (opts.customResource) {
    throw new ApiError(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: ${CUSTOM_RESOURCE_PATCH_TYPES.join(', ')}`,
    );
  }
  if (patch === null) return cloneJson(original); // Go decodes `null` into an empty map
  if (!isObj(patch)) {
    throw ApiError.badRequest(`json: cannot unmarshal ${Array.isArray(patch) ? 'array' : typeof patch} into Go value of type map[string]interface {}`);
  }
  const merger = new Merger(opts.resolver);
  try {
    return merger.mergeMap(cloneJson(original) as Obj, cloneJson(patch), resolveSchema(opts.schema, opts.resolver)) as T;
  } catch (e) {
    if (!(e instanceof SmpError)) throw e;
    if (e.code === 400) throw ApiError.badRequest(e.message);
    if (e.code === 422) {
      const err = new ApiError(422, 'Invalid', 'the server rejected our request due to an error in our request');
      throw Object.assign(err, { cause: e });
    }
    // A plain Go error reaches the client as a 500 with reason Unknown (""): its text verbatim.
    throw new ApiError(500, '', e.message);
  }
}

/** The non-retainKeys strategy of a field (extractRetainKeysPatchStrategy). */
function fieldStrategy(s: JSONSchema | undefined): string {
  const strategies = patchStrategies(s);
  if (strategies.length === 0) return '';
  if (strategies.length === 1) return strategies[0] === 'retainKeys' ? '' : strategies[0];
  if (strategies.length === 2 && strategies.includes('retainKeys')) return strategies[0] === 'retainKeys' ? strategies[1] : strategies[0];
  throw new SmpError(`unexpected patch strategy: [${strategies.join(' ')}]`);
}

/** Splits `$prefix/field` into `field`. */
function extractKey(key: string, prefix: string): string {
  const slash = key.indexOf('/');
  if (slash < 0 || key.slice(0, slash) !== prefix) {
    throw prefix === DELETE_FROM_PRIMITIVE_LIST ? errBadPrimitiveList() : errBadSetElementOrder();
  }
  return key.slice(slash + 1);
}

function isDirectiveKey(k: string): boolean {
  return k === DIRECTIVE || k === RETAIN_KEYS || k.startsWith(`${SET_ELEMENT_ORDER}/`) || k.startsWith(`${DELETE_FROM_PRIMITIVE_LIST}/`);
}

/**
 * Strips directives from a value that is taken as-is (a new field or list item). Upstream keeps
 * them and lets decoding into the Go type drop them; we have no Go type, so drop them here, and
 * a map carrying `$patch` disappears entirely (removeDirectives).
 */
function removeDirectives(v: unknown): { value: unknown; keep: boolean } {
  if (Array.isArray(v)) {
    return { value: v.map(removeDirectives).filter((r) => r.keep).map((r) => r.value), keep: true };
  }
  if (!isObj(v)) return { value: v, keep: true };
  if (hasOwn(v, DIRECTIVE)) return { value: undefined, keep: false };
  for (const k of Object.keys(v)) {
    const r = isDirectiveKey(k) ? { value: undefined, keep: false } : removeDirectives(v[k]);
    if (r.keep) v[k] = r.value;
    else delete v[k];
  }
  return { value: v, keep: true };
}

/** Null members are dropped from a value that is taken as-is (discardNullValuesFromPatch). */
function discardNulls(v: unknown): void {
  if (Array.isArray(v)) v.forEach(discardNulls);
  else if (isObj(v)) {
    for (const k of Object.keys(v)) {
      if (v[k] === null) delete v[k];
      else discardNulls(v[k]);
    }
  }
}

/** A patch value for a field the original lacks (or holds with another type). */
function takeNew(target: Obj, key: string, v: unknown): void {
  discardNulls(v);
  const r = removeDirectives(v);
  if (r.keep) setOwn(target, key, r.value);
  else delete target[key];
}

/** Go's reflect type identity for list elements (int64 and float64 differ, as upstream decodes). */
function sliceElementType(...slices: unknown[][]): string {
  let prev: string | undefined;
  for (const s of slices) {
    for (const v of s) {
      const t = goTypeName(v);
      if (prev === undefined) {
        prev = t;
        if (t === SLICE_TYPE) throw new SmpError('lists of lists are not supported', 422);
      } else if (prev !== t) {
        throw new SmpError(`list element types are not identical: ${goString(slices)}`);
      }
    }
  }
  if (prev === undefined) throw new SmpError('no elements in any of the given slices');
  return prev;
}

/** Go's clever in-place de-duplication (it reorders; the order is re-imposed afterwards). */
function deduplicateScalars(s: unknown[]): unknown[] {
  let length = s.length - 1;
  for (let i = 0; i < length; i++) {
    for (let j = i + 1; j <= length; j++) {
      if (s[i] === s[j]) {
        s[j] = s[length];
        s.length = length;
        length--;
        j--;
      }
    }
  }
  return s;
}

/** The merge key's value of a map item, or the item itself for primitives (index()). */
function identity(item: unknown, mergeKey: string, isMap: boolean): unknown {
  return isMap ? (isObj(item) ? own(item, mergeKey) : undefined) : item;
}

function indexIn(list: unknown[], item: unknown, mergeKey: string, isMap: boolean): number {
  const id = identity(item, mergeKey, isMap);
  return list.findIndex((x) => identity(x, mergeKey, isMap) === id);
}

function findByKey(list: unknown[], key: string, value: unknown): number {
  for (let i = 0; i < list.length; i++) {
    const v = list[i];
    if (!isObj(v)) throw new SmpError(`value for key ${i} is not a map`);
    if (hasOwn(v, key) && v[key] === value) return i;
  }
  return -1;
}

function isDeleteItem(v: unknown): boolean {
  return isObj(v) && own(v, DIRECTIVE) === 'delete';
}

/**
 * A Go slice over a shared backing array. Upstream edits merging lists in place: deleting an
 * item shifts the rest of the caller's array left, and appending reuses the freed tail. The
 * `$setElementOrder` step then reads the live order from that aliased array, which decides
 * where server-only items land; emulating the aliasing keeps those orders identical.
 */
class GoSlice {
  constructor(
    public arr: unknown[],
    public len = arr.length,
  ) {}

  toArray(): unknown[] {
    return this.arr.slice(0, this.len);
  }

  /** append(s[:i], s[i+1:]...) */
  removeAt(i: number): void {
    for (let k = i; k < this.len - 1; k++) this.arr[k] = this.arr[k + 1];
    this.len--;
  }

  /** append(s, v): in place while capacity (the backing array's length) allows. */
  push(v: unknown): void {
    if (this.len < this.arr.length) this.arr[this.len] = v;
    else this.arr = [...this.arr.slice(0, this.len), v];
    this.len++;
  }
}

class Merger {
  constructor(private readonly resolver: SchemaResolver) {}

  /** mergeMap: merges `patch` into `original` (both owned copies, mutated). */
  mergeMap(original: Obj | undefined, patch: Obj, schema: JSONSchema | undefined): Obj {
    if (hasOwn(patch, DIRECTIVE)) return this.mapDirective(patch[DIRECTIVE], patch);
    const target = original ?? {};
    this.applyRetainKeys(target, patch);
    this.mergeSetElementOrder(target, patch, schema);

    for (const rawKey of Object.keys(patch)) {
      const patchV = patch[rawKey];
      const isDeleteList = rawKey.startsWith(DELETE_FROM_PRIMITIVE_LIST);
      const key = isDeleteList ? extractKey(rawKey, DELETE_FROM_PRIMITIVE_LIST) : rawKey;
      if (patchV === null) {
        delete target[key];
        continue;
      }
      if (!hasOwn(target, key) || jsonKind(target[key]) !== jsonKind(patchV)) {
        if (!isDeleteList) takeNew(target, key, patchV);
        continue;
      }
      const fieldSchema = memberSchema(schema, key, this.resolver);
      const strategy = fieldStrategy(fieldSchema);
      const orig = target[key];
      if (isObj(orig)) {
        setOwn(target, key, strategy === 'replace' ? patchV : this.mergeMap(orig, patchV as Obj, fieldSchema));
      } else if (Array.isArray(orig)) {
        setOwn(target, key, this.mergeSliceField(orig, patchV as unknown[], fieldSchema, strategy, isDeleteList));
      } else {
        setOwn(target, key, patchV);
      }
    }
    return target;
  }

  private mapDirective(directive: unknown, patch: Obj): Obj {
    if (directive === 'replace') {
      delete patch[DIRECTIVE];
      return patch;
    }
    if (directive === 'delete') return {};
    throw errBadPatchType(directive, patch);
  }

  /** `$retainKeys`: clears members of the original not listed; the patch may only set listed ones. */
  private applyRetainKeys(original: Obj, patch: Obj): void {
    if (!hasOwn(patch, RETAIN_KEYS)) return;
    const list = patch[RETAIN_KEYS];
    delete patch[RETAIN_KEYS];
    if (!Array.isArray(list)) throw errBadRetainKeys();
    const retained = new Set(list);
    for (const [k, v] of Object.entries(patch)) {
      if (v === null || k.startsWith(DELETE_FROM_PRIMITIVE_LIST) || k.startsWith(SET_ELEMENT_ORDER)) continue;
      if (!retained.has(k)) throw errBadRetainKeys();
    }
    for (const k of Object.keys(original)) if (!retained.has(k)) delete original[k];
  }

  /** A list field: merged when its strategy is merge (or for a deletion list), else replaced. */
  private mergeSliceField(original: unknown[], patch: unknown[], fieldSchema: JSONSchema | undefined, strategy: string, isDeleteList: boolean): unknown[] {
    if (strategy !== 'merge' && !isDeleteList) return patch;
    return this.mergeSlice(original, patch, itemSchema(fieldSchema, this.resolver), patchMergeKey(fieldSchema), isDeleteList);
  }

  private mergeSlice(original: unknown[], patch: unknown[], items: JSONSchema | undefined, mergeKey: string, isDeleteList: boolean): unknown[] {
    if (original.length === 0 && patch.length === 0) return original;
    const isMap = sliceElementType(original, patch) === MAP_TYPE;
    if (!isMap) {
      if (isDeleteList) {
        const drop = new Set(patch);
        return original.filter((v) => !drop.has(v));
      }
      const merged = deduplicateScalars([...original, ...patch]);
      const [inPatch, serverOnly] = mergeKey ? partitionMaps(merged, patch, mergeKey) : partitionPrimitives(merged, patch);
      return normalizeElementOrder(inPatch, serverOnly, patch, original, mergeKey, false);
    }
    if (!mergeKey) throw new SmpError(`cannot merge lists without merge key for ${items?.title ?? 'list'}`);
    const { base, plain } = this.applyListDirectives(new GoSlice(original), patch, mergeKey);
    const baseItems = base.toArray();
    const merged = this.mergeItems(new GoSlice(base.arr, base.len), plain, mergeKey, items);
    const [inPatch, serverOnly] = partitionMaps(merged, plain, mergeKey);
    return normalizeElementOrder(inPatch, serverOnly, plain, baseItems, mergeKey, true);
  }

  /** `$patch: delete|replace` items of a merging list (mergeSliceWithSpecialElements). */
  private applyListDirectives(original: GoSlice, patch: unknown[], mergeKey: string): { base: GoSlice; plain: unknown[] } {
    const plain: unknown[] = [];
    let replace = false;
    for (const v of patch as Obj[]) {
      if (!hasOwn(v, DIRECTIVE)) {
        plain.push(v);
        continue;
      }
      switch (v[DIRECTIVE]) {
        case 'delete': {
          if (!hasOwn(v, mergeKey)) throw errNoMergeKey(v, mergeKey);
          for (let i = findByKey(original.toArray(), mergeKey, v[mergeKey]); i >= 0; i = findByKey(original.toArray(), mergeKey, v[mergeKey])) {
            original.removeAt(i);
          }
          break;
        }
        case 'replace':
          replace = true;
          break;
        case 'merge':
          throw new SmpError('merging lists cannot yet be specified in the patch');
        default:
          throw errBadPatchType(v[DIRECTIVE], v);
      }
    }
    return replace ? { base: new GoSlice(plain), plain: [] } : { base: original, plain };
  }

  /** Merges each patch item into the original item with the same merge key, or appends it. */
  private mergeItems(original: GoSlice, patch: unknown[], mergeKey: string, items: JSONSchema | undefined): unknown[] {
    for (const v of patch as Obj[]) {
      if (!hasOwn(v, mergeKey)) throw errNoMergeKey(v, mergeKey);
      const i = findByKey(original.toArray(), mergeKey, v[mergeKey]);
      if (i >= 0) {
        original.arr[i] = this.mergeMap(original.arr[i] as Obj, v, items);
      } else {
        discardNulls(v);
        const r = removeDirectives(v);
        if (r.keep) original.push(r.value);
      }
    }
    return original.toArray();
  }

  /**
   * `$setElementOrder/<list>`: merges that list now and orders it: the directive's order, then
   * the patch's, then the live object's (mergePatchIntoOriginal).
   */
  private mergeSetElementOrder(original: Obj, patch: Obj, schema: JSONSchema | undefined): void {
    for (const key of Object.keys(patch)) {
      if (!key.startsWith(SET_ELEMENT_ORDER)) continue;
      const order = patch[key];
      delete patch[key];
      if (!Array.isArray(order)) throw errBadArgType(SLICE_TYPE, order);
      const field = extractKey(key, SET_ELEMENT_ORDER);
      const foundOriginal = hasOwn(original, field);
      const foundPatch = hasOwn(patch, field);
      if (foundOriginal && !Array.isArray(original[field])) throw errBadArgType(SLICE_TYPE, original[field]);
      if (foundPatch && !Array.isArray(patch[field])) throw errBadArgType(SLICE_TYPE, patch[field]);
      const originalList = (foundOriginal ? original[field] : []) as unknown[];
      const patchList = (foundPatch ? patch[field] : []) as unknown[];
      const fieldSchema = memberSchema(schema, field, this.resolver);
      const strategy = fieldStrategy(fieldSchema);
      const mergeKey = patchMergeKey(fieldSchema);
      validatePatchWithSetOrderList(patchList, order, mergeKey);

      let merged: unknown[];
      if (foundOriginal && !foundPatch) merged = originalList;
      else if (!foundOriginal && foundPatch) merged = removeDirectives(patchList).value as unknown[];
      else if (foundOriginal && foundPatch) merged = this.mergeSliceField(originalList, patchList, fieldSchema, strategy, false);
      else continue;

      const [inOrder, serverOnly] = mergeKey ? partitionMaps(merged, order, mergeKey) : partitionPrimitives(merged, order);
      const isMap = sliceElementType(originalList, patchList) === MAP_TYPE;
      setOwn(original, field, normalizeElementOrder(inOrder, serverOnly, order, originalList, mergeKey, isMap));
      delete patch[field];
    }
  }
}

/** The relative order of patch items must agree with `$setElementOrder` (deletions ignored). */
function validatePatchWithSetOrderList(patchList: unknown[], order: unknown[], mergeKey: string): void {
  if (order.length === 0 || patchList.length === 0) return;
  const nonDelete = mergeKey ? extractToDeleteItems(patchList)[0] : patchList;
  let p = 0;
  let s = 0;
  while (p < nonDelete.length && s < order.length) {
    if (isObj(nonDelete[p]) && hasOwn(nonDelete[p] as Obj, DIRECTIVE)) {
      p++;
      continue;
    }
    if (mergeKeyValueEqual(nonDelete[p], order[s], mergeKey)) p++;
    s++;
  }
  if (p < nonDelete.length && s >= order.length) {
    throw new SmpError(`The order in patch list:\n${goString(patchList)}\n doesn't match ${SET_ELEMENT_ORDER} list:\n${goString(order)}\n`);
  }
}

function mergeKeyValueEqual(left: unknown, right: unknown, mergeKey: string): boolean {
  if (!mergeKey) return left === right;
  if (!isObj(left)) throw errBadArgType(MAP_TYPE, left);
  if (!isObj(right)) throw errBadArgType(MAP_TYPE, right);
  if (!hasOwn(left, mergeKey)) throw errNoMergeKey(left, mergeKey);
  if (!hasOwn(right, mergeKey)) throw errNoMergeKey(right, mergeKey);
  return left[mergeKey] === right[mergeKey];
}

function extractToDeleteItems(list: unknown[]): [unknown[], unknown[]] {
  const keep: unknown[] = [];
  const del: unknown[] = [];
  for (const v of list) {
    if (!isObj(v)) throw errBadArgType(MAP_TYPE, v);
    (isDeleteItem(v) ? del : keep).push(v);
  }
  return [keep, del];
}

function partitionPrimitives(list: unknown[], by: unknown[]): [unknown[], unknown[]] {
  const present = new Set(by);
  return [list.filter((v) => present.has(v)), list.filter((v) => !present.has(v))];
}

function partitionMaps(list: unknown[], by: unknown[], mergeKey: string): [unknown[], unknown[]] {
  const inBy: unknown[] = [];
  const others: unknown[] = [];
  for (const v of list) {
    if (!isObj(v)) throw errBadArgType(MAP_TYPE, v);
    if (!hasOwn(v, mergeKey)) throw errNoMergeKey(v, mergeKey);
    (findByKey(by, mergeKey, v[mergeKey]) >= 0 ? inBy : others).push(v);
  }
  return [inBy, others];
}

/** Sorts patch items by the patch order and server-only items by the live order, then interleaves. */
function normalizeElementOrder(patch: unknown[], serverOnly: unknown[], patchOrder: unknown[], serverOrder: unknown[], mergeKey: string, isMap: boolean): unknown[] {
  const sortedPatch = normalizeSliceOrder(patch, patchOrder, mergeKey, isMap);
  const sortedServer = normalizeSliceOrder(serverOnly, serverOrder, mergeKey, isMap);
  return mergeSortedSlice(sortedServer, sortedPatch, serverOrder, mergeKey, isMap);
}

function normalizeSliceOrder(toSort: unknown[], order: unknown[], mergeKey: string, isMap: boolean): unknown[] {
  let items = toSort;
  let deletes: unknown[] = [];
  if (isMap) {
    for (const l of [toSort, order]) {
      for (const v of l) {
        if (!isObj(v)) throw errBadArgType(MAP_TYPE, v);
        if (!hasOwn(v, mergeKey)) throw errNoMergeKey(v, mergeKey);
      }
    }
    [items, deletes] = extractToDeleteItems(toSort);
  }
  const rank = (v: unknown) => {
    const i = indexIn(order, v, mergeKey, isMap);
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  // Array.prototype.sort is stable, as Go's sort.SliceStable.
  return [...items].sort((a, b) => rank(a) - rank(b)).concat(deletes);
}

/**
 * Inserts each server-only item (left) among the patch items (right), keeping both relative
 * orders; where both are in the live list, the live order decides (mergeSortedSlice).
 */
function mergeSortedSlice(left: unknown[], right: unknown[], serverOrder: unknown[], mergeKey: string, isMap: boolean): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]);
    else if (j >= right.length) out.push(left[i++]);
    else {
      const li = indexIn(serverOrder, left[i], mergeKey, isMap);
      const ri = indexIn(serverOrder, right[j], mergeKey, isMap);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}
