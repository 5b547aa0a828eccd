/**
 * Where a resource lives in the REST tree. Paths follow Kubernetes exactly: core under `/api/v1`,
 * groups under `/apis/GROUP/VERSION`, namespaced resources under `namespaces/NS/` (omitted for
 * all-namespace lists and watches), cluster-scoped ones never.
 */
import type { KindDefinition } from '../kinds/types.js';
import { ClientError } from './errors.js';

export interface ResourceRef {
  group: string; // '' for core
  version: string;
  plural: string;
  namespaced: boolean;
  /** Informational; used by the apiVersion+kind lookup table. */
  kind?: string;
}

export function apiVersionOfRef(ref: Pick<ResourceRef, 'group' | 'version'>): string {
  return ref.group ? `${ref.group}/${ref.version}` : ref.version;
}

export function groupVersionPath(ref: Pick<ResourceRef, 'group' | 'version'>): string {
  return ref.group ? `/apis/${ref.group}/${ref.version}` : `/api/${ref.version}`;
}

/**
 * The path of a collection (no name) or object, optionally a subresource of it. A namespaced
 * resource without a namespace addresses all namespaces, which only collections allow.
 */
export function resourcePath(ref: ResourceRef, namespace: string | undefined, name?: string, subresource?: string): string {
  let p = groupVersionPath(ref);
  if (ref.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  else if (ref.namespaced && name !== undefined) throw new ClientError(`${ref.plural}: a namespace is required to address "${name}"`);
  p += `/${ref.plural}`;
  if (name !== undefined) {
    if (!name) throw new ClientError(`${ref.plural}: an object name is required`);
    p += `/${encodeURIComponent(name)}`;
    if (subresource) p += `/${subresource}`;
  }
  return p;
}

export function refFromKind(def: Pick<KindDefinition, 'group' | 'version' | 'plural' | 'namespaced' | 'kind'>): ResourceRef {
  return { group: def.group, version: def.version, plural: def.plural, namespaced: def.namespaced, kind: def.kind };
}

/** The cache/workqueue key: `namespace/name`, or `name` for cluster-scoped objects (client-go's MetaNamespaceKeyFunc). */
export function objectKey(obj: { metadata: { name?: string; namespace?: string } }): string {
  const { name = '', namespace } = obj.metadata;
  return namespace ? `${namespace}/${name}` : name;
}

export function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf('/');
  return i === -1 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
