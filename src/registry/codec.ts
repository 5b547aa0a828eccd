/**
 * How objects are stored: JSON in the kind's storage version, without resourceVersion (the
 * store's modRevision is the resourceVersion, set on every read).
 */
import type { KeyValue } from '../store/types.js';
import { type KindDefinition, apiVersionOf } from '../kinds/types.js';
import type { KubeObject } from '../util/object.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeObject(kind: KindDefinition, obj: KubeObject): Uint8Array {
  const { resourceVersion: _rv, selfLink: _sl, ...meta } = obj.metadata;
  const storageApiVersion = kind.group ? `${kind.group}/${kind.storageVersion ?? kind.version}` : kind.storageVersion ?? kind.version;
  return encoder.encode(JSON.stringify({ ...obj, apiVersion: storageApiVersion, kind: kind.kind, metadata: meta }));
}

/** Decodes a stored object as served at `kind`'s version (CRD conversion strategy None: only apiVersion changes). */
export function decodeObject(kind: KindDefinition, kv: KeyValue): KubeObject {
  const obj = JSON.parse(decoder.decode(kv.value)) as KubeObject;
  obj.apiVersion = apiVersionOf(kind);
  obj.kind = kind.kind;
  obj.metadata.resourceVersion = String(kv.modRevision);
  return obj;
}

/**
 * The object just written, as a read would return it, without parsing the stored bytes again:
 * `obj` is what encodeObject was given and `kv` what the store answered.
 */
export function writtenObject(kind: KindDefinition, obj: KubeObject, kv: KeyValue): KubeObject {
  const { selfLink: _sl, ...meta } = obj.metadata;
  return { ...obj, apiVersion: apiVersionOf(kind), kind: kind.kind, metadata: { ...meta, resourceVersion: String(kv.modRevision) } };
}
