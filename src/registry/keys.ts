/**
 * Store key layout, as kube-apiserver's etcd layout: `/registry/<group>/<resource>/<namespace>/<name>`
 * (core group spelled `core`). The version is not part of the key: a resource is stored once,
 * in its storage version, whichever version it is served at.
 */
export interface ResourceKeyParts {
  group: string;
  plural: string;
  namespaced: boolean;
}

export const REGISTRY_ROOT = '/registry/';

export function resourcePrefix(r: ResourceKeyParts): string {
  return `${REGISTRY_ROOT}${r.group || 'core'}/${r.plural}/`;
}

/** Prefix for listing: one namespace, or all of them when ns is empty. */
export function listPrefix(r: ResourceKeyParts, ns: string | undefined): string {
  return r.namespaced && ns ? `${resourcePrefix(r)}${ns}/` : resourcePrefix(r);
}

export function objectKey(r: ResourceKeyParts, ns: string | undefined, name: string): string {
  return r.namespaced ? `${resourcePrefix(r)}${ns}/${name}` : `${resourcePrefix(r)}${name}`;
}
