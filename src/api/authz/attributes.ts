/**
 * What an authorizer decides on (upstream's authorizer.Attributes): the user, and either a
 * resource request (verb, API group, resource, subresource, namespace, name) or a non-resource
 * request (verb, path). Built from a parsed request as upstream's RequestInfoFactory would.
 */
import { ApiError } from '../errors.js';
import type { RequestInfo } from '../request-info.js';
import type { UserInfo } from '../types.js';

export interface Attributes {
  user: UserInfo;
  verb: string;
  resourceRequest: boolean;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** Non-resource requests: the URL path. */
  path: string;
}

export const ANONYMOUS: UserInfo = { name: 'system:anonymous', groups: ['system:unauthenticated'] };
export const PRIVILEGED_GROUP = 'system:masters';

/** Authorization attributes of a request, with upstream's refinements of the parsed request info. */
export function attributesOf(user: UserInfo, method: string, path: string, query: URLSearchParams, info: RequestInfo): Attributes {
  if (info.kind !== 'resource') {
    const verb = method === 'HEAD' ? 'get' : method.toLowerCase();
    return { user, verb, resourceRequest: false, apiGroup: '', apiVersion: '', resource: '', path };
  }
  let name = info.name;
  let namespace = info.namespace;
  // `/api/v1/namespaces/foo` is about namespace foo in namespace foo, as upstream parses it.
  if (info.group === '' && info.resource === 'namespaces' && name !== undefined) namespace = name;
  // A list or watch narrowed to one object by metadata.name authorizes as that name (upstream 1.28+).
  if ((info.verb === 'list' || info.verb === 'watch') && !name) {
    const fs = query.get('fieldSelector');
    if (fs) {
      for (const t of fs.split(',')) {
        const m = /^\s*metadata\.name\s*==?\s*(.*?)\s*$/.exec(t);
        if (m) name = m[1];
      }
    }
  }
  return {
    user,
    verb: info.verb,
    resourceRequest: true,
    apiGroup: info.group,
    apiVersion: info.version,
    resource: info.resource,
    subresource: info.subresource,
    namespace,
    name,
    path,
  };
}

/** Upstream's forbiddenMessage. */
export function forbiddenMessage(a: Attributes): string {
  const who = `User ${JSON.stringify(a.user.name)}`;
  if (!a.resourceRequest) return `${who} cannot ${a.verb} path ${JSON.stringify(a.path)}`;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const scope = a.namespace ? `in the namespace ${JSON.stringify(a.namespace)}` : 'at the cluster scope';
  return `${who} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(a.apiGroup)} ${scope}`;
}

/** The 403 a denied request gets (apierrors.NewForbidden over forbiddenMessage, with the authorizer's reason). */
export function forbiddenError(a: Attributes, reason = ''): ApiError {
  const msg = reason ? `${forbiddenMessage(a)}: ${reason}` : forbiddenMessage(a);
  if (!a.resourceRequest || !a.resource) return new ApiError(403, 'Forbidden', `forbidden: ${msg}`, {});
  const err = ApiError.forbidden({ group: a.apiGroup, resource: a.resource }, a.name ?? '', msg);
  if (!a.name) delete err.details?.name;
  return err;
}
