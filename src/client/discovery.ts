/**
 * apiVersion+kind → ResourceRef lookup, for code that holds an object (a manifest, an owner
 * reference) rather than a resource. Two sources: the server's KindDefinitions (static, in the
 * server process) or the discovery documents (`/api/v1`, `/apis/G/V`), fetched per group-version
 * on first use and refetched on a miss so newly added CRDs are found.
 */
import type { KindDefinition } from '../kinds/types.js';
import { isNotFound } from './errors.js';
import { type ResourceRef, refFromKind } from './resource.js';
import type { Transport } from './transport.js';
import { isPlainObject } from '../util/object.js';

export interface Discovery {
  lookup(apiVersion: string, kind: string): Promise<ResourceRef | undefined>;
}

const refKey = (apiVersion: string, kind: string) => `${apiVersion}|${kind}`;
const splitApiVersion = (apiVersion: string) => {
  const i = apiVersion.lastIndexOf('/');
  return i === -1 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
};

export class StaticDiscovery implements Discovery {
  private readonly table = new Map<string, ResourceRef>();

  constructor(defs: Iterable<Pick<KindDefinition, 'group' | 'version' | 'plural' | 'namespaced' | 'kind'>>) {
    for (const d of defs) this.add(refFromKind(d));
  }

  add(ref: ResourceRef): void {
    if (!ref.kind) return;
    this.table.set(refKey(ref.group ? `${ref.group}/${ref.version}` : ref.version, ref.kind), ref);
  }

  async lookup(apiVersion: string, kind: string): Promise<ResourceRef | undefined> {
    return this.table.get(refKey(apiVersion, kind));
  }
}

export class ApiDiscovery implements Discovery {
  private readonly byGroupVersion = new Map<string, Map<string, ResourceRef>>();

  constructor(private readonly transport: Transport) {}

  async lookup(apiVersion: string, kind: string): Promise<ResourceRef | undefined> {
    const cached = this.byGroupVersion.get(apiVersion)?.get(kind);
    if (cached) return cached;
    return (await this.refresh(apiVersion)).get(kind);
  }

  /** Refetches one group-version's resource list (an unknown group-version is an empty list). */
  async refresh(apiVersion: string): Promise<Map<string, ResourceRef>> {
    const { group, version } = splitApiVersion(apiVersion);
    const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
    const kinds = new Map<string, ResourceRef>();
    try {
      const { body } = await this.transport.request({ method: 'GET', path });
      const resources = isPlainObject(body) && Array.isArray(body.resources) ? body.resources : [];
      for (const r of resources) {
        // Subresources (`pods/status`) share the kind of their parent; only top-level resources map.
        if (!isPlainObject(r) || typeof r.name !== 'string' || r.name.includes('/') || typeof r.kind !== 'string') continue;
        kinds.set(r.kind, { group, version, plural: r.name, namespaced: r.namespaced === true, kind: r.kind });
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    this.byGroupVersion.set(apiVersion, kinds);
    return kinds;
  }
}

export interface DiscoveredResource extends ResourceRef {
  verbs: string[];
}

/**
 * Every top-level resource the server serves, in the preferred version of each group, from the
 * legacy discovery documents (what the namespace and garbage collectors walk).
 */
export async function discoverResources(transport: Transport): Promise<DiscoveredResource[]> {
  const out: DiscoveredResource[] = [];
  const groupVersions: string[] = ['v1'];
  const { body } = await transport.request({ method: 'GET', path: '/apis' });
  const groups = isPlainObject(body) && Array.isArray(body.groups) ? body.groups : [];
  for (const g of groups) {
    const gv = isPlainObject(g) && isPlainObject(g.preferredVersion) ? g.preferredVersion.groupVersion : undefined;
    if (typeof gv === 'string') groupVersions.push(gv);
  }
  for (const gv of groupVersions) {
    const { group, version } = splitApiVersion(gv);
    let resources: unknown[] = [];
    try {
      const res = await transport.request({ method: 'GET', path: group ? `/apis/${group}/${version}` : `/api/${version}` });
      resources = isPlainObject(res.body) && Array.isArray(res.body.resources) ? res.body.resources : [];
    } catch (err) {
      // A group-version removed between the two requests (a CRD deleted) is simply skipped.
      if (!isNotFound(err)) throw err;
    }
    for (const r of resources) {
      if (!isPlainObject(r) || typeof r.name !== 'string' || r.name.includes('/') || typeof r.kind !== 'string') continue;
      const verbs = Array.isArray(r.verbs) ? r.verbs.filter((v): v is string => typeof v === 'string') : [];
      out.push({ group, version, plural: r.name, namespaced: r.namespaced === true, kind: r.kind, verbs });
    }
  }
  return out;
}
