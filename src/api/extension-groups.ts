/**
 * API groups served by code rather than by stored kinds, as upstream serves aggregated APIs
 * (KubeVirt's virt-api behind subresources.kubevirt.io): every resource request for the group
 * goes to its handler, after authentication and authorization. Discovery lists the group and its
 * resource list; its resources are subresources only (`virtualmachines/start`), so the group adds
 * no resource names that clients could confuse with stored kinds.
 */
import type { ApiServer } from './api-server.js';
import { ApiError } from './errors.js';
import type { ResourceRequest } from './request-info.js';
import type { ApiRequest, ApiResponse } from './types.js';

export interface ExtensionResource {
  name: string;
  namespaced: boolean;
  verbs: string[];
}

export interface ExtensionGroup {
  group: string;
  version: string;
  resources: ExtensionResource[];
  serve(api: ApiServer, req: ApiRequest, info: ResourceRequest): Promise<ApiResponse>;
}

export class ExtensionGroups {
  constructor(private readonly groups: ExtensionGroup[] = []) {}

  find(info: ResourceRequest): ExtensionGroup | undefined {
    return this.groups.find((g) => g.group === info.group && g.version === info.version);
  }

  /** Serves a request for one of these groups; unknown versions of the group are 404. */
  serve(api: ApiServer, req: ApiRequest, info: ResourceRequest): Promise<ApiResponse> {
    const g = this.find(info);
    if (!g) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    return g.serve(api, req, info);
  }

  has(group: string): boolean {
    return this.groups.some((g) => g.group === group);
  }

  /** Entries for the legacy /apis APIGroupList. */
  apiGroups(): { name: string; versions: { groupVersion: string; version: string }[]; preferredVersion: { groupVersion: string; version: string } }[] {
    return this.groups.map((g) => {
      const v = { groupVersion: `${g.group}/${g.version}`, version: g.version };
      return { name: g.group, versions: [v], preferredVersion: v };
    });
  }

  apiGroup(group: string) {
    const g = this.apiGroups().find((x) => x.name === group);
    return g ? { kind: 'APIGroup', apiVersion: 'v1', ...g } : undefined;
  }

  /** Items for aggregated discovery: the group and version, with no top-level resources. */
  aggregatedItems() {
    return this.groups.map((g) => ({ metadata: { name: g.group, creationTimestamp: null }, versions: [{ version: g.version, resources: [], freshness: 'Current' }] }));
  }

  resourceList(group: string, version: string) {
    const g = this.groups.find((x) => x.group === group && x.version === version);
    if (!g) return undefined;
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${group}/${version}`, resources: g.resources.map((r) => ({ name: r.name, singularName: '', namespaced: r.namespaced, kind: '', verbs: r.verbs })) };
  }
}
