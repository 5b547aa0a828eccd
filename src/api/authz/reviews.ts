/**
 * The access-review APIs (authorization.k8s.io/v1 SelfSubjectAccessReview, SubjectAccessReview,
 * LocalSubjectAccessReview, SelfSubjectRulesReview; authentication.k8s.io/v1 SelfSubjectReview):
 * create-only, never stored, answered by the authorizer. `kubectl auth can-i` and
 * `kubectl auth whoami` are built on them.
 */
import type { KindDefinition } from '../../kinds/types.js';
import { type FieldError, fieldErr } from '../../registry/field-errors.js';
import { isPlainObject } from '../../util/object.js';
import { decodeBody } from '../decode.js';
import { ApiError } from '../errors.js';
import type { ApiRequest, ApiResponse, UserInfo } from '../types.js';
import type { VirtualResource } from '../virtual-resources.js';
import type { Attributes } from './attributes.js';
import type { RbacAuthorizer } from './rbac.js';

const AUTHZ = 'authorization.k8s.io';
const AUTHN = 'authentication.k8s.io';

const kind = (group: string, k: string, plural: string, namespaced = false): KindDefinition => ({
  group,
  version: 'v1',
  kind: k,
  listKind: `${k}List`,
  plural,
  singular: plural.replace(/s$/, ''),
  namespaced,
  verbs: ['create'],
});

interface ResourceAttributes {
  namespace?: string;
  verb?: string;
  group?: string;
  version?: string;
  resource?: string;
  subresource?: string;
  name?: string;
}
interface NonResourceAttributes {
  path?: string;
  verb?: string;
}
interface ReviewSpec {
  resourceAttributes?: ResourceAttributes | null;
  nonResourceAttributes?: NonResourceAttributes | null;
  user?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
  uid?: string;
  namespace?: string;
}

function readReview(req: ApiRequest, k: KindDefinition): { obj: Record<string, unknown>; spec: ReviewSpec } {
  const { value } = decodeBody(req.body, req.headers['content-type'], { findDuplicates: false });
  if (!isPlainObject(value)) throw ApiError.badRequest(`the body must be a ${k.group}/v1 ${k.kind}`);
  const av = value.apiVersion;
  if (av !== undefined && av !== '' && av !== `${k.group}/v1`) throw ApiError.badRequest(`the API version in the data (${String(av)}) does not match the expected API version (${k.group}/v1)`);
  if (value.kind !== undefined && value.kind !== '' && value.kind !== k.kind) throw ApiError.badRequest(`the kind in the data (${String(value.kind)}) does not match the expected kind (${k.kind})`);
  const spec = (isPlainObject(value.spec) ? value.spec : {}) as ReviewSpec;
  return { obj: value, spec };
}

function validateAttributes(spec: ReviewSpec): FieldError[] {
  const errs: FieldError[] = [];
  if (spec.resourceAttributes && spec.nonResourceAttributes)
    errs.push(fieldErr.invalid('spec.nonResourceAttributes', spec.nonResourceAttributes, 'cannot be specified in combination with resourceAttributes'));
  if (!spec.resourceAttributes && !spec.nonResourceAttributes)
    errs.push(fieldErr.invalid('spec.resourceAttributes', null, 'exactly one of nonResourceAttributes or resourceAttributes must be specified'));
  return errs;
}

function attributesFrom(user: UserInfo, spec: ReviewSpec): Attributes {
  const r = spec.resourceAttributes;
  if (r)
    return {
      user,
      verb: r.verb ?? '',
      resourceRequest: true,
      apiGroup: r.group ?? '',
      apiVersion: r.version ?? '',
      resource: r.resource ?? '',
      subresource: r.subresource || undefined,
      namespace: r.namespace || undefined,
      name: r.name || undefined,
      path: '',
    };
  const n = spec.nonResourceAttributes ?? {};
  return { user, verb: n.verb ?? '', resourceRequest: false, apiGroup: '', apiVersion: '', resource: '', path: n.path ?? '' };
}

function answer(k: KindDefinition, obj: Record<string, unknown>, status: Record<string, unknown>, spec?: unknown): ApiResponse {
  const meta = isPlainObject(obj.metadata) ? obj.metadata : {};
  return {
    status: 201,
    body: { kind: k.kind, apiVersion: `${k.group}/v1`, metadata: { ...meta, creationTimestamp: null }, spec: spec ?? obj.spec ?? {}, status },
  };
}

async function accessStatus(authz: RbacAuthorizer, a: Attributes): Promise<Record<string, unknown>> {
  const d = await authz.authorize(a);
  return { allowed: d.allowed, ...(d.reason ? { reason: d.reason } : {}) };
}

export function reviewResources(authz: RbacAuthorizer): VirtualResource[] {
  const ssar = kind(AUTHZ, 'SelfSubjectAccessReview', 'selfsubjectaccessreviews');
  const sar = kind(AUTHZ, 'SubjectAccessReview', 'subjectaccessreviews');
  const lsar = kind(AUTHZ, 'LocalSubjectAccessReview', 'localsubjectaccessreviews', true);
  const ssrr = kind(AUTHZ, 'SelfSubjectRulesReview', 'selfsubjectrulesreviews');
  const ssr = kind(AUTHN, 'SelfSubjectReview', 'selfsubjectreviews');
  return [
    {
      kind: ssar,
      async create(req) {
        const { obj, spec } = readReview(req, ssar);
        const errs = validateAttributes(spec);
        if (errs.length) throw ApiError.invalid(AUTHZ, ssar.kind, '', errs);
        return answer(ssar, obj, await accessStatus(authz, attributesFrom(req.user!, spec)));
      },
    },
    {
      kind: sar,
      async create(req) {
        const { obj, spec } = readReview(req, sar);
        const errs = validateAttributes(spec);
        if (!spec.user && !spec.groups?.length) errs.push(fieldErr.invalid('spec.user', spec.user ?? '', 'at least one of user or group must be specified'));
        if (errs.length) throw ApiError.invalid(AUTHZ, sar.kind, '', errs);
        const user: UserInfo = { name: spec.user ?? '', groups: spec.groups ?? [], uid: spec.uid, extra: spec.extra };
        return answer(sar, obj, await accessStatus(authz, attributesFrom(user, spec)));
      },
    },
    {
      kind: lsar,
      async create(req, namespace) {
        const { obj, spec } = readReview(req, lsar);
        const errs = validateAttributes(spec);
        if (!spec.user && !spec.groups?.length) errs.push(fieldErr.invalid('spec.user', spec.user ?? '', 'at least one of user or group must be specified'));
        if (spec.nonResourceAttributes) errs.push(fieldErr.invalid('spec.nonResourceAttributes', spec.nonResourceAttributes, 'disallowed on this kind of request'));
        if (errs.length) throw ApiError.invalid(AUTHZ, lsar.kind, '', errs);
        if ((spec.resourceAttributes?.namespace ?? '') !== namespace) throw ApiError.badRequest(`spec.resourceAttributes.namespace must match namespace: ${namespace}`);
        const user: UserInfo = { name: spec.user ?? '', groups: spec.groups ?? [], uid: spec.uid, extra: spec.extra };
        return answer(lsar, { ...obj, metadata: { ...(isPlainObject(obj.metadata) ? obj.metadata : {}), namespace } }, await accessStatus(authz, attributesFrom(user, spec)));
      },
    },
    {
      kind: ssrr,
      async create(req) {
        const { obj, spec } = readReview(req, ssrr);
        if (!spec.namespace) throw ApiError.badRequest('no namespace on request');
        const { rules, errors } = await authz.rulesFor(req.user!, spec.namespace);
        const resourceRules = [];
        const nonResourceRules = [];
        for (const r of rules) {
          if (r.resources?.length)
            resourceRules.push({
              verbs: r.verbs ?? [],
              ...(r.apiGroups?.length ? { apiGroups: r.apiGroups } : {}),
              resources: r.resources,
              ...(r.resourceNames?.length ? { resourceNames: r.resourceNames } : {}),
            });
          if (r.nonResourceURLs?.length) nonResourceRules.push({ verbs: r.verbs ?? [], nonResourceURLs: r.nonResourceURLs });
        }
        const status = {
          resourceRules,
          nonResourceRules,
          incomplete: false,
          ...(errors.length ? { evaluationError: errors.length === 1 ? errors[0] : `[${errors.join(', ')}]` } : {}),
        };
        return answer(ssrr, obj, status);
      },
    },
    {
      kind: ssr,
      async create(req) {
        const { obj } = readReview(req, ssr);
        const u = req.user!;
        const userInfo = { username: u.name, ...(u.uid ? { uid: u.uid } : {}), groups: u.groups, ...(u.extra && Object.keys(u.extra).length ? { extra: u.extra } : {}) };
        const meta = isPlainObject(obj.metadata) ? obj.metadata : {};
        return { status: 201, body: { kind: ssr.kind, apiVersion: `${AUTHN}/v1`, metadata: { ...meta, creationTimestamp: null }, status: { userInfo } } };
      },
    },
  ];
}
