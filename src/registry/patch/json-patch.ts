/**
 * RFC 6902 JSON Patch (application/json-patch+json) with kube-apiserver's semantics and errors.
 *
 * Upstream applies JSON patches with gopkg.in/evanphx/json-patch.v4 and maps its errors in
 * endpoints/handlers/patch.go: a body that does not decode as a list of operations is 400
 * BadRequest; more than 10000 operations is 413; any failure while applying (a failed `test`, a
 * path that does not exist, a bad index) is 422 Invalid with the generic message "the server
 * rejected our request due to an error in our request" (NewGenericServerResponse drops the
 * detail for 422; we keep it as the error's `cause` for logs). Quirks of that library that a
 * client can observe are kept: `replace` of a missing object member adds it, negative array
 * indices count from the end, and a path segment list is split on "/" without requiring a
 * leading slash.
 *
 * We implement the operations ourselves rather than through fast-json-patch because the error
 * texts and the quirks above differ there, and because every read/write must be own-property
 * only (prototype pollution through `__proto__`/`constructor` paths).
 */
import { ApiError } from '../../api/errors.js';
import { deepEqual } from '../../util/object.js';
import { type Obj, cloneJson, hasOwn, isObj, own, setOwn } from './json-util.js';

/** Upstream's cap on operations in one JSON patch (maxJSONPatchOperations). */
export const MAX_JSON_PATCH_OPERATIONS = 10000;

type Container = Obj | unknown[];

/** A failure while applying an operation; becomes 422 Invalid. */
class ApplyFailure extends Error {}

/**
 * Applies a decoded RFC 6902 patch to `doc` and returns the patched copy; `doc` and `patch`
 * are never modified.
 */
export function applyJsonPatch<T>(doc: T, patch: unknown): T {
  const ops = validateOperations(patch);
  const root: { doc: unknown } = { doc: cloneJson(doc) };
  try {
    for (const op of ops) applyOperation(root, op);
  } catch (e) {
    if (!(e instanceof ApplyFailure)) throw e;
    const err = new ApiError(422, 'Invalid', 'the server rejected our request due to an error in our request');
    Object.assign(err, { cause: e });
    throw err;
  }
  return root.doc as T;
}

/** Checks the document is a list of operation objects, as Go's decoding into jsonpatch.Patch does. */
function validateOperations(patch: unknown): Obj[] {
  if (patch === null) return []; // Go decodes `null` into an empty patch
  if (!Array.isArray(patch)) {
    throw ApiError.badRequest(`json: cannot unmarshal ${goJsonType(patch)} into Go value of type jsonpatch.Patch`);
  }
  for (const op of patch) {
    if (op !== null && !isObj(op)) {
      throw ApiError.badRequest(`json: cannot unmarshal ${goJsonType(op)} into Go value of type jsonpatch.Operation`);
    }
  }
  if (patch.length > MAX_JSON_PATCH_OPERATIONS) {
    throw ApiError.tooLarge(
      `Request entity too large: The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${patch.length}`,
    );
  }
  return patch.map((op) => (op ?? {}) as Obj);
}

function goJsonType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object' && v !== null) return 'object';
  return typeof v; // string, number, boolean
}

function applyOperation(root: { doc: unknown }, op: Obj): void {
  const kind = typeof own(op, 'op') === 'string' ? (own(op, 'op') as string) : 'unknown';
  switch (kind) {
    case 'add':
      return opAdd(root, op);
    case 'remove':
      return opRemove(root, op);
    case 'replace':
      return opReplace(root, op);
    case 'move':
      return opMove(root, op);
    case 'copy':
      return opCopy(root, op);
    case 'test':
      return opTest(root, op);
    default:
      throw new ApplyFailure(`Unexpected kind: ${kind}`);
  }
}

function pathOf(op: Obj, field: 'path' | 'from', what: string): string {
  const p = own(op, field);
  if (typeof p !== 'string') {
    throw new ApplyFailure(field === 'path' ? `${what} operation failed to decode path: missing value` : `${what} operation failed to decode from: missing value`);
  }
  return p;
}

/** The operation's value (a missing value is JSON null, as upstream's nil node), copied. */
function valueOf(op: Obj): unknown {
  return hasOwn(op, 'value') ? cloneJson(op.value) : null;
}

/** RFC 6901 token unescaping. */
function unescapeToken(t: string): string {
  return t.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Finds the container holding the last segment of `path` and that segment, or undefined. */
function findContainer(doc: unknown, path: string): { con: Container; key: string } | undefined {
  const split = path.split('/');
  if (split.length < 2) return undefined;
  let cur: unknown = doc;
  for (const raw of split.slice(1, -1)) {
    const next = getChild(cur, unescapeToken(raw));
    if (next === undefined || next === null || typeof next !== 'object') return undefined;
    cur = next;
  }
  if (cur === null || typeof cur !== 'object') return undefined;
  return { con: cur as Container, key: unescapeToken(split[split.length - 1]) };
}

/** A child for path traversal: object members by own key, array elements by plain index. */
function getChild(cur: unknown, key: string): unknown {
  if (Array.isArray(cur)) {
    const i = parseIndex(key);
    if (i === undefined) return undefined;
    const idx = i < 0 ? i + cur.length : i;
    return idx >= 0 && idx < cur.length ? cur[idx] : undefined;
  }
  if (isObj(cur)) return own(cur, key);
  return undefined;
}

/** Go's strconv.Atoi: optional sign and decimal digits. */
function parseIndex(key: string): number | undefined {
  return /^[+-]?\d+$/.test(key) ? Number(key) : undefined;
}

function atoiError(key: string): string {
  return `strconv.Atoi: parsing ${JSON.stringify(key)}: invalid syntax`;
}

function invalidIndex(i: number): string {
  return `Unable to access invalid index: ${i}: invalid index referenced`;
}

/** Reads `key` of a container; throws a detail string for a bad array index. */
function conGet(con: Container, key: string): unknown {
  if (!Array.isArray(con)) return own(con, key);
  const i = parseIndex(key);
  if (i === undefined) throw atoiError(key);
  if (i < -con.length || i >= con.length) throw invalidIndex(i);
  return con[i < 0 ? i + con.length : i];
}

function conAdd(con: Container, key: string, value: unknown): void {
  if (!Array.isArray(con)) {
    setOwn(con, key, value);
    return;
  }
  if (key === '-') {
    con.push(value);
    return;
  }
  const i = parseIndex(key);
  if (i === undefined) throw `value was not a proper array index: '${key}': ${atoiError(key)}`;
  const size = con.length + 1;
  if (i >= size || i < -size) throw invalidIndex(i);
  con.splice(i < 0 ? i + size : i, 0, value);
}

function conSet(con: Container, key: string, value: unknown): void {
  if (!Array.isArray(con)) {
    setOwn(con, key, value);
    return;
  }
  const i = parseIndex(key);
  if (i === undefined) throw atoiError(key);
  if (i < -con.length || i >= con.length) throw invalidIndex(i);
  con[i < 0 ? i + con.length : i] = value;
}

function conRemove(con: Container, key: string): void {
  if (!Array.isArray(con)) {
    if (!hasOwn(con, key)) throw `Unable to remove nonexistent key: ${key}: missing value`;
    delete con[key];
    return;
  }
  const i = parseIndex(key);
  if (i === undefined) throw atoiError(key);
  if (i >= con.length || i < -con.length) throw invalidIndex(i);
  con.splice(i < 0 ? i + con.length : i, 1);
}

/** Runs a container operation, wrapping its detail string the way the op reports it. */
function wrap(prefix: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (typeof e === 'string') throw new ApplyFailure(`${prefix}: ${e}`);
    throw e;
  }
}

function opAdd(root: { doc: unknown }, op: Obj): void {
  const path = pathOf(op, 'path', 'add');
  const found = findContainer(root.doc, path);
  if (!found) throw new ApplyFailure(`add operation does not apply: doc is missing path: "${path}": missing value`);
  wrap(`error in add for path: '${path}'`, () => conAdd(found.con, found.key, valueOf(op)));
}

function opRemove(root: { doc: unknown }, op: Obj): void {
  const path = pathOf(op, 'path', 'remove');
  const found = findContainer(root.doc, path);
  if (!found) throw new ApplyFailure(`remove operation does not apply: doc is missing path: "${path}": missing value`);
  wrap(`error in remove for path: '${path}'`, () => conRemove(found.con, found.key));
}

function opReplace(root: { doc: unknown }, op: Obj): void {
  const path = pathOf(op, 'path', 'replace');
  if (path === '') {
    const v = valueOf(op);
    if (v === null || typeof v !== 'object') throw new ApplyFailure('replace operation value must be object or array');
    root.doc = v;
    return;
  }
  const found = findContainer(root.doc, path);
  if (!found) throw new ApplyFailure(`replace operation does not apply: doc is missing path: ${path}: missing value`);
  try {
    conGet(found.con, found.key);
  } catch {
    throw new ApplyFailure(`replace operation does not apply: doc is missing key: ${path}: missing value`);
  }
  wrap(`error in remove for path: '${path}'`, () => conSet(found.con, found.key, valueOf(op)));
}

function opMove(root: { doc: unknown }, op: Obj): void {
  const from = pathOf(op, 'from', 'move');
  const src = findContainer(root.doc, from);
  if (!src) throw new ApplyFailure(`move operation does not apply: doc is missing from path: ${from}: missing value`);
  let value: unknown;
  wrap(`error in move for path: '${src.key}'`, () => {
    value = conGet(src.con, src.key);
    conRemove(src.con, src.key);
  });
  const path = pathOf(op, 'path', 'move');
  const dst = findContainer(root.doc, path);
  if (!dst) throw new ApplyFailure(`move operation does not apply: doc is missing destination path: ${path}: missing value`);
  wrap(`error in move for path: '${path}'`, () => conAdd(dst.con, dst.key, value ?? null));
}

function opCopy(root: { doc: unknown }, op: Obj): void {
  const from = pathOf(op, 'from', 'copy');
  const src = findContainer(root.doc, from);
  if (!src) throw new ApplyFailure(`copy operation does not apply: doc is missing from path: ${from}: missing value`);
  let value: unknown;
  wrap(`error in copy for from: '${from}'`, () => {
    value = conGet(src.con, src.key);
  });
  const path = pathOf(op, 'path', 'copy');
  const dst = findContainer(root.doc, path);
  if (!dst) throw new ApplyFailure(`copy operation does not apply: doc is missing destination path: ${path}: missing value`);
  wrap('error while adding value during copy', () => conAdd(dst.con, dst.key, cloneJson(value ?? null)));
}

function opTest(root: { doc: unknown }, op: Obj): void {
  const path = pathOf(op, 'path', 'test');
  const expected = valueOf(op);
  if (path === '') {
    if (!deepEqual(root.doc, expected)) throw new ApplyFailure(`testing value ${path} failed: test failed`);
    return;
  }
  const found = findContainer(root.doc, path);
  if (!found) throw new ApplyFailure(`test operation does not apply: is missing path: ${path}: missing value`);
  let actual: unknown;
  wrap(`error in test for path: '${path}'`, () => {
    actual = conGet(found.con, found.key);
  });
  // A missing member compares equal to null, as upstream's nil node does.
  if (!deepEqual(actual ?? null, expected)) throw new ApplyFailure(`testing value ${path} failed: test failed`);
}
