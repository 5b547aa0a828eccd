/**
 * User impersonation (upstream's WithImpersonation filter): Impersonate-User, Impersonate-Group,
 * Impersonate-Uid and Impersonate-Extra-* headers switch the request's user, each one authorized
 * first with the `impersonate` verb on users, groups, serviceaccounts (core group), uids or
 * userextras (authentication.k8s.io).
 */
import { ApiError } from '../errors.js';
import type { UserInfo } from '../types.js';
import { ANONYMOUS, type Attributes, forbiddenError } from './attributes.js';
import type { Decision } from './rbac.js';

const EXTRA_PREFIX = 'impersonate-extra-';
const SA_PREFIX = 'system:serviceaccount:';

interface ImpersonationRequest {
  kind: 'User' | 'ServiceAccount' | 'Group' | 'UserExtra' | 'UID';
  name: string;
  namespace?: string;
  extraKey?: string;
}

/** Header values a client sent several times arrive joined with ", " (node:http's rule for unknown headers). */
const values = (v: string | undefined): string[] => (v === undefined ? [] : v.split(', ').filter((x) => x !== ''));

function splitServiceAccount(name: string): { namespace: string; name: string } | null {
  if (!name.startsWith(SA_PREFIX)) return null;
  const parts = name.slice(SA_PREFIX.length).split(':');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return null;
  return { namespace: parts[0], name: parts[1] };
}

function describe(reqs: ImpersonationRequest[]): string {
  return `[${reqs.map((r) => `{${r.kind} ${r.namespace ?? ''} ${r.name}${r.extraKey ? ` ${r.extraKey}` : ''}}`).join(' ')}]`;
}

/** The impersonation the headers ask for (empty: none); an error when they ask for groups/extra/uid without a user. */
export function impersonationRequests(headers: Record<string, string | undefined>): ImpersonationRequest[] {
  const out: ImpersonationRequest[] = [];
  const user = headers['impersonate-user'];
  if (user) {
    const sa = splitServiceAccount(user);
    out.push(sa ? { kind: 'ServiceAccount', ...sa } : { kind: 'User', name: user });
  }
  for (const g of values(headers['impersonate-group'])) out.push({ kind: 'Group', name: g });
  for (const [h, v] of Object.entries(headers)) {
    if (!h.startsWith(EXTRA_PREFIX) || v === undefined) continue;
    let key = h.slice(EXTRA_PREFIX.length);
    try {
      key = decodeURIComponent(key);
    } catch {
      /* keep it as sent */
    }
    key = key.toLowerCase();
    for (const x of values(v)) out.push({ kind: 'UserExtra', name: x, extraKey: key });
  }
  const uid = headers['impersonate-uid'];
  if (uid) out.push({ kind: 'UID', name: uid });
  if (out.length && !user) throw ApiError.internal(`requested ${describe(out)} without impersonating a user`);
  return out;
}

/** The user the request acts as: the authenticated one, or the impersonated one when every part is allowed. */
export async function impersonate(
  requestor: UserInfo,
  headers: Record<string, string | undefined>,
  authorize: (a: Attributes) => Promise<Decision>,
): Promise<{ user: UserInfo; impersonated: boolean }> {
  const reqs = impersonationRequests(headers);
  if (!reqs.length) return { user: requestor, impersonated: false };
  const groupsSpecified = reqs.some((r) => r.kind === 'Group');
  let name = '';
  let uid: string | undefined;
  let groups: string[] = [];
  const extra: Record<string, string[]> = {};
  for (const r of reqs) {
    const a: Attributes = { user: requestor, verb: 'impersonate', resourceRequest: true, apiGroup: '', apiVersion: 'v1', resource: '', name: r.name, namespace: r.namespace, path: '' };
    switch (r.kind) {
      case 'ServiceAccount':
        a.resource = 'serviceaccounts';
        name = `${SA_PREFIX}${r.namespace}:${r.name}`;
        if (!groupsSpecified) groups = ['system:serviceaccounts', `system:serviceaccounts:${r.namespace}`];
        break;
      case 'User':
        a.resource = 'users';
        name = r.name;
        break;
      case 'Group':
        a.resource = 'groups';
        groups.push(r.name);
        break;
      case 'UserExtra':
        a.apiGroup = 'authentication.k8s.io';
        a.resource = 'userextras';
        a.subresource = r.extraKey;
        (extra[r.extraKey!] ??= []).push(r.name);
        break;
      case 'UID':
        a.apiGroup = 'authentication.k8s.io';
        a.resource = 'uids';
        uid = r.name;
        break;
    }
    const d = await authorize(a);
    if (!d.allowed) throw forbiddenError(a, d.reason);
  }
  if (name !== ANONYMOUS.name) {
    if (!groups.includes('system:authenticated') && !groups.includes('system:unauthenticated')) groups.push('system:authenticated');
  } else if (!groups.includes('system:unauthenticated')) groups.push('system:unauthenticated');
  return { user: { name, groups, ...(uid ? { uid } : {}), ...(Object.keys(extra).length ? { extra } : {}) }, impersonated: true };
}
