/**
 * Discovery documents: the legacy /api, /apis, /apis/GROUP, /apis/GROUP/VERSION lists and the
 * aggregated apidiscovery.k8s.io v2 (and v2beta1) documents that current kubectl asks for first.
 */
import { createHash } from 'node:crypto';
import { ALL_VERBS, type KindDefinition } from '../kinds/types.js';
import type { KindCatalog } from '../registry/kind-catalog.js';
import type { ActionSubresources } from './action-subresources.js';
import { acceptedAs } from './accept.js';

function storageVersionHash(k: KindDefinition): string {
  return createHash('sha256')
    .update(`${k.group}/${k.storageVersion ?? k.version}/${k.kind}`)
    .digest('base64')
    .slice(0, 11);
}

function subresourcesOf(k: KindDefinition, actions?: ActionSubresources): { name: string; kind: string; verbs: string[]; group?: string; version?: string }[] {
  const subs: { name: string; kind: string; verbs: string[]; group?: string; version?: string }[] = [];
  for (const a of actions?.of(k) ?? []) subs.push({ name: a.name, kind: a.kind, verbs: ['create'], ...(a.group !== undefined ? { group: a.group, version: a.version } : {}) });
  if (k.statusSubresource) subs.push({ name: 'status', kind: k.kind, verbs: ['get', 'patch', 'update'] });
  if (k.group === '' && k.plural === 'namespaces' && !k.custom) subs.push({ name: 'finalize', kind: 'Namespace', verbs: ['update'] });
  if (k.scale) subs.push({ name: 'scale', kind: 'Scale', verbs: ['get', 'patch', 'update'], group: 'autoscaling', version: 'v1' });
  return subs;
}

export function apiResourceList(catalog: KindCatalog, group: string, version: string, actions?: ActionSubresources) {
  const resources: Record<string, unknown>[] = [];
  for (const k of catalog.kindsIn(group, version).sort((a, b) => a.plural.localeCompare(b.plural))) {
    resources.push({
      name: k.plural,
      singularName: k.singular,
      namespaced: k.namespaced,
      kind: k.kind,
      verbs: [...(k.verbs ?? ALL_VERBS)],
      ...(k.shortNames?.length ? { shortNames: k.shortNames } : {}),
      ...(k.categories?.length ? { categories: k.categories } : {}),
      storageVersionHash: storageVersionHash(k),
    });
    for (const s of subresourcesOf(k, actions).sort((a, b) => a.name.localeCompare(b.name)))
      resources.push({
        name: `${k.plural}/${s.name}`,
        singularName: '',
        namespaced: k.namespaced,
        ...(s.group !== undefined ? { group: s.group, version: s.version } : {}),
        kind: s.kind,
        verbs: s.verbs,
      });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}

export function legacyApiVersions() {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '' }] };
}

interface GroupInfo {
  name: string;
  versions: { groupVersion: string; version: string }[];
  preferredVersion: { groupVersion: string; version: string };
}

function groups(catalog: KindCatalog): GroupInfo[] {
  const byGroup = new Map<string, string[]>();
  for (const gv of catalog.groupVersions()) {
    if (!gv.group) continue;
    const list = byGroup.get(gv.group) ?? [];
    if (!list.includes(gv.version)) list.push(gv.version);
    byGroup.set(gv.group, list);
  }
  return [...byGroup.entries()].map(([name, versions]) => {
    const sorted = sortVersions(versions);
    const vs = sorted.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
    return { name, versions: vs, preferredVersion: vs[0] };
  });
}

/** Kubernetes version priority: GA > beta > alpha, higher numbers first (v2 > v1 > v1beta2 > v1beta1 > v1alpha1), others last. */
export function sortVersions(versions: string[]): string[] {
  const rank = (v: string): [number, number, number, string] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [3, 0, 0, v];
    const stage = m[2] === undefined ? 0 : m[2] === 'beta' ? 1 : 2;
    return [stage, -Number(m[1]), -Number(m[3] ?? 0), v];
  };
  return [...versions].sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    for (let i = 0; i < 3; i++) if (ra[i] !== rb[i]) return (ra[i] as number) - (rb[i] as number);
    return ra[3].localeCompare(rb[3]);
  });
}

export function apiGroupList(catalog: KindCatalog) {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups(catalog).map((g) => ({ ...g })) };
}

export function apiGroup(catalog: KindCatalog, group: string) {
  const g = groups(catalog).find((x) => x.name === group);
  return g ? { kind: 'APIGroup', apiVersion: 'v1', ...g } : undefined;
}

/** Aggregated discovery (apidiscovery.k8s.io): every group with its versions and resources in one document. */
export function aggregatedDiscovery(catalog: KindCatalog, legacy: boolean, apiVersion: 'v2' | 'v2beta1', actions?: ActionSubresources) {
  const versionDoc = (group: string, version: string) => ({
    version,
    resources: catalog
      .kindsIn(group, version)
      .sort((a, b) => a.plural.localeCompare(b.plural))
      .map((k) => ({
        resource: k.plural,
        responseKind: { group, version, kind: k.kind },
        scope: k.namespaced ? 'Namespaced' : 'Cluster',
        singularResource: k.singular,
        verbs: [...(k.verbs ?? ALL_VERBS)],
        ...(k.shortNames?.length ? { shortNames: k.shortNames } : {}),
        ...(k.categories?.length ? { categories: k.categories } : {}),
        ...(subresourcesOf(k, actions).length
          ? {
              subresources: subresourcesOf(k, actions).map((s) => ({
                subresource: s.name,
                responseKind: { group: s.group ?? group, version: s.version ?? version, kind: s.kind },
                verbs: s.verbs,
              })),
            }
          : {}),
      })),
    freshness: 'Current',
  });
  const items = legacy
    ? [{ metadata: { creationTimestamp: null }, versions: [versionDoc('', 'v1')] }]
    : groups(catalog).map((g) => ({ metadata: { name: g.name, creationTimestamp: null }, versions: g.versions.map((v) => versionDoc(g.name, v.version)) }));
  return { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${apiVersion}`, metadata: {}, items };
}

/** Which aggregated discovery version an Accept header asks for, if any. */
export function wantsAggregated(accept: string | undefined): 'v2' | 'v2beta1' | undefined {
  const v = acceptedAs(accept, 'APIGroupDiscoveryList', 'apidiscovery.k8s.io');
  return v === 'v2' || v === 'v2beta1' ? v : undefined;
}
