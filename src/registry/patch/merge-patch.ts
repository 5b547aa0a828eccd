/**
 * RFC 7386 JSON merge patch (application/merge-patch+json), as kube-apiserver applies it with
 * evanphx/json-patch's MergePatch: objects merge recursively, `null` deletes a member, anything
 * else (arrays included) replaces. Like that library, nulls are also pruned from objects nested
 * in a replacing value (including objects inside arrays), so a merge patch never stores a null.
 */
import { ApiError } from '../../api/errors.js';
import { type Obj, cloneJson, isObj, own, setOwn } from './json-util.js';

/** Applies a decoded merge patch to `doc`, returning a new object; inputs are not modified. */
export function applyMergePatch<T extends object>(doc: T, patch: unknown): T {
  if (Array.isArray(patch)) {
    // Upstream yields the array as the new document, which then fails to decode as an object.
    throw ApiError.invalid('', '', '', [
      {
        type: 'FieldValueInvalid',
        field: 'patch',
        value: JSON.stringify(patch),
        detail: 'json: cannot unmarshal array into Go value of type map[string]interface {}',
      },
    ]);
  }
  if (!isObj(patch)) throw ApiError.badRequest('Invalid JSON Patch');
  const out = cloneJson(doc) as unknown as Obj;
  mergeInto(out, patch);
  return out as unknown as T;
}

function mergeInto(target: Obj, patch: Obj): void {
  for (const key of Object.keys(patch)) {
    const pv = patch[key];
    if (pv === null) {
      delete target[key];
      continue;
    }
    const cur = own(target, key);
    if (isObj(cur) && isObj(pv)) {
      mergeInto(cur, pv);
    } else {
      setOwn(target, key, pruneNulls(cloneJson(pv)));
    }
  }
}

/** Drops null members of objects, recursively through objects and arrays (array nulls stay). */
function pruneNulls(v: unknown): unknown {
  if (Array.isArray(v)) {
    v.forEach(pruneNulls);
  } else if (isObj(v)) {
    for (const k of Object.keys(v)) {
      if (v[k] === null) delete v[k];
      else pruneNulls(v[k]);
    }
  }
  return v;
}

