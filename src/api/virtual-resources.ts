/**
 * Create-only resources with no storage (upstream's SubjectAccessReview, SelfSubjectReview,
 * TokenReview...): a POST is answered by a handler and nothing is kept. Their kinds sit in the
 * catalog with the single verb `create`, so discovery lists them like any other resource and the
 * controllers that walk discovery (namespace deletion, garbage collection) pass them by.
 */
import type { KindDefinition } from '../kinds/types.js';
import { ApiError } from './errors.js';
import type { ResourceRequest } from './request-info.js';
import type { ApiRequest, ApiResponse } from './types.js';

export interface VirtualResource {
  /** The kind as discovery shows it; verbs are forced to ['create']. */
  kind: KindDefinition;
  /** Serves a POST to the collection (namespace: the URL's, for namespaced kinds). */
  create(req: ApiRequest, namespace: string | undefined): Promise<ApiResponse>;
}

export class VirtualResources {
  private readonly byKey = new Map<string, VirtualResource>();

  constructor(resources: VirtualResource[] = []) {
    for (const r of resources) {
      r.kind = { ...r.kind, verbs: ['create'] };
      this.byKey.set(`${r.kind.group}/${r.kind.version}/${r.kind.plural}`, r);
    }
  }

  kinds(): KindDefinition[] {
    return [...this.byKey.values()].map((r) => r.kind);
  }

  get(info: ResourceRequest): VirtualResource | undefined {
    return this.byKey.get(`${info.group}/${info.version}/${info.resource}`);
  }

  /** Serves a request already known (by get) to be for a virtual resource. */
  async serve(r: VirtualResource, req: ApiRequest, info: ResourceRequest): Promise<ApiResponse> {
    const notFound = () => new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (info.subresource) throw notFound();
    if (!r.kind.namespaced && info.namespace !== undefined) throw notFound();
    if (info.verb !== 'create' || info.name) throw ApiError.methodNotAllowed('the server does not allow this method on the requested resource');
    if (r.kind.namespaced && !info.namespace) throw ApiError.methodNotAllowed('the server does not allow this method on the requested resource');
    return r.create(req, info.namespace);
  }
}
