/**
 * What a request is about, parsed from its URL as upstream's RequestInfoFactory does:
 * `/apis/apps/v1/namespaces/web/deployments/frontend/scale` -> verb, group, version, namespace,
 * resource, name, subresource.
 */
import { ApiError } from './errors.js';

export interface ResourceRequest {
  kind: 'resource';
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';
  group: string;
  version: string;
  namespace?: string;
  resource: string;
  name?: string;
  subresource?: string;
}

export interface NonResourceRequest {
  kind: 'nonresource';
  path: string;
}

export type RequestInfo = ResourceRequest | NonResourceRequest;

const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

export function parseRequestInfo(method: string, path: string, query: URLSearchParams): RequestInfo {
  const parts = path.split('/').filter((p) => p !== '');
  let rest: string[];
  let group = '';
  let version: string;
  if (parts[0] === 'api' && parts.length >= 3) {
    version = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    group = parts[1];
    version = parts[2];
    rest = parts.slice(3);
  } else {
    return { kind: 'nonresource', path };
  }
  let rest2 = rest.map(decodeSegment);
  let watchPath = false;
  if (rest2[0] === 'watch') {
    watchPath = true;
    rest2 = rest2.slice(1);
  }
  let namespace: string | undefined;
  if (rest2[0] === 'namespaces' && rest2.length > 1) {
    namespace = rest2[1];
    if (rest2.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest2[2])) {
      rest2 = rest2.slice(2);
      // `namespaces/foo/namespaces` is not a path upstream serves (namespaces are not namespaced).
      if (rest2[0] === 'namespaces') return { kind: 'nonresource', path };
    }
  }
  const [resource, name, subresource, ...extra] = rest2;
  if (!resource || extra.length) return { kind: 'nonresource', path };
  const isWatch = watchPath || ['true', '1'].includes(query.get('watch') ?? '');
  let verb: ResourceRequest['verb'];
  switch (method) {
    case 'GET':
    case 'HEAD':
      verb = isWatch ? 'watch' : name ? 'get' : 'list';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = name ? 'delete' : 'deletecollection';
      break;
    default:
      verb = 'get';
  }
  // `/api/v1/namespaces/foo` names the namespace itself.
  if (resource === 'namespaces' && name === undefined && namespace !== undefined && rest2[0] === 'namespaces') {
    return { kind: 'resource', verb: verb === 'list' ? 'get' : verb === 'deletecollection' ? 'delete' : verb, group, version, resource, name: namespace, namespace: undefined };
  }
  if (resource === 'namespaces' && rest2[0] === 'namespaces' && namespace !== undefined && name && NAMESPACE_SUBRESOURCES.has(name)) {
    return { kind: 'resource', verb: verb === 'list' ? 'get' : verb, group, version, resource, name: namespace, subresource: name };
  }
  return { kind: 'resource', verb, group, version, namespace, resource, name, subresource };
}

/** A path segment with %-escapes decoded; a malformed escape is the client's error (400), as in Go's URL parsing. */
function decodeSegment(seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch {
    throw ApiError.badRequest(`invalid URL escape in path segment ${JSON.stringify(seg)}`);
  }
}
