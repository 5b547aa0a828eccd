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
  const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = obj;
  const storageApiVersion = kind.group ? `${kind.group}/${kind.storageVersion ?? kind.version}` : kind.storageVersion ?? kind.version;
  // apiVersion, kind, metadata first: rawServedJson relies on that order.
  return encoder.encode(JSON.stringify({ apiVersion: storageApiVersion, kind: kind.kind, metadata: meta, ...rest }));
}

const HEAD = /^\{"apiVersion":"[^"\\]*","kind":"[^"\\]*","metadata":\{/;

/**
 * A stored object as JSON text ready to serve, without parsing it: the stored text with its
 * apiVersion (the served version) and resourceVersion spliced in. Undefined when the stored text
 * is not in the expected shape (then decode it).
 */
export function rawServedJson(kind: KindDefinition, kv: KeyValue): string | undefined {
  if (kind.strategy?.defaultsOnRead) return undefined; // must be parsed to be defaulted
  const text = decoder.decode(kv.value);
  const m = HEAD.exec(text);
  if (!m) return undefined;
  const rest = text.slice(m[0].length);
  const rv = `"resourceVersion":${JSON.stringify(String(kv.modRevision))}`;
  return `{"apiVersion":${JSON.stringify(apiVersionOf(kind))},"kind":${JSON.stringify(kind.kind)},"metadata":{${rv}${rest.startsWith('}') ? '' : ','}${rest}`;
}

/** Decodes a stored object as served at `kind`'s version (CRD conversion strategy None: only apiVersion changes). */
export function decodeObject(kind: KindDefinition, kv: KeyValue): KubeObject {
  const obj = JSON.parse(decoder.decode(kv.value)) as KubeObject;
  obj.apiVersion = apiVersionOf(kind);
  obj.kind = kind.kind;
  obj.metadata.resourceVersion = String(kv.modRevision);
  kind.strategy?.defaultsOnRead?.(obj);
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
