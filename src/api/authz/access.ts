/**
 * The access decision every request passes after authentication, in upstream's filter order:
 * impersonation (itself authorized), then authorization of the request as the user it acts as.
 * A denial is upstream's 403; the decision is noted for the audit log.
 */
import type { RequestInfo } from '../request-info.js';
import type { ApiRequest, UserInfo } from '../types.js';
import { noteAudit } from '../audit.js';
import { ANONYMOUS, attributesOf, forbiddenError } from './attributes.js';
import { impersonate } from './impersonation.js';
import type { RbacAuthorizer } from './rbac.js';

export interface RequestAccess {
  /** The user the request acts as; throws ApiError (403, or 500 for malformed impersonation) when not allowed. */
  admit(req: ApiRequest, info: RequestInfo): Promise<UserInfo>;
}

export class AccessControl implements RequestAccess {
  constructor(private readonly authz: RbacAuthorizer) {}

  async admit(req: ApiRequest, info: RequestInfo): Promise<UserInfo> {
    const requestor = req.user ?? ANONYMOUS;
    const { user, impersonated } = await impersonate(requestor, req.headers, (a) => this.authz.authorize(a));
    if (impersonated) noteAudit(req, { impersonatedUser: user });
    const attrs = attributesOf(user, req.method, req.path, req.query, info);
    const d = await this.authz.authorize(attrs);
    noteAudit(req, { decision: d.allowed ? 'allow' : 'forbid', reason: d.reason });
    if (!d.allowed) throw forbiddenError(attrs, d.reason);
    return user;
  }
}
