/**
 * Service-account tokens: JWTs (ES256) issued by the TokenRequest API
 * (POST serviceaccounts/NAME/token) and accepted as bearer tokens while the service account
 * (and the pod a token is bound to) still exists with the same UID — upstream's bound tokens.
 */
import { createPrivateKey, createPublicKey, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import type { KindCatalog } from '../registry/kind-catalog.js';
import type { GenericRegistry } from '../registry/generic-registry.js';
import { isPlainObject, type KubeObject } from '../util/object.js';
import { fieldErr } from '../registry/field-errors.js';
import type { ActionHandler } from './action-subresources.js';
import { bearerAuthenticator, type Authenticator } from './authn.js';
import { decodeBody } from './decode.js';
import { ApiError } from './errors.js';
import type { UserInfo } from './types.js';

export const ISSUER = 'https://kubernetes.default.svc.cluster.local';
/** The API server's own audience: tokens for it carry this (the default audience). */
export const API_AUDIENCE = ISSUER;
const DEFAULT_EXPIRATION_S = 3600;
const MIN_EXPIRATION_S = 600;
const MAX_EXPIRATION_S = 48 * 3600;

export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string[];
  exp: number;
  iat: number;
  nbf: number;
  jti: string;
  'kubernetes.io': {
    namespace: string;
    serviceaccount: { name: string; uid: string };
    pod?: { name: string; uid: string };
  };
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export class TokenIssuer {
  private readonly priv: KeyObject;
  private readonly pub: KeyObject;

  constructor(privateKeyPem: string) {
    this.priv = createPrivateKey(privateKeyPem);
    this.pub = createPublicKey(this.priv);
  }

  issue(claims: TokenClaims): string {
    const head = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: 'cairn-sa' }));
    const body = b64url(JSON.stringify(claims));
    const sig = sign('sha256', Buffer.from(`${head}.${body}`), { key: this.priv, dsaEncoding: 'ieee-p1363' });
    return `${head}.${body}.${b64url(sig)}`;
  }

  /** The claims of a token this issuer signed and that is valid now for `audience`; null otherwise. */
  verify(token: string, audience: string, now = Date.now() / 1000): TokenClaims | null {
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    let header: { alg?: string };
    let claims: TokenClaims;
    try {
      header = JSON.parse(Buffer.from(parts[0], 'base64url').toString()) as { alg?: string };
      if (header.alg !== 'ES256') return null;
      const ok = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key: this.pub, dsaEncoding: 'ieee-p1363' }, Buffer.from(parts[2], 'base64url'));
      if (!ok) return null;
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString()) as TokenClaims;
    } catch {
      return null;
    }
    if (claims.iss !== ISSUER || !Array.isArray(claims.aud) || !claims.aud.includes(audience)) return null;
    if (typeof claims.exp !== 'number' || claims.exp < now || (typeof claims.nbf === 'number' && claims.nbf > now + 60)) return null;
    return claims;
  }
}

const rfc3339 = (s: number) => new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** POST /api/v1/namespaces/NS/serviceaccounts/NAME/token */
export function tokenRequestHandler(issuer: TokenIssuer, catalog: () => KindCatalog): ActionHandler {
  return async (registry, kind, ns, name, req) => {
    const { value } = decodeBody(req.body, req.headers['content-type'], { findDuplicates: false });
    if (!isPlainObject(value)) throw ApiError.badRequest('the body must be an authentication.k8s.io/v1 TokenRequest');
    const spec = (isPlainObject(value.spec) ? value.spec : {}) as { audiences?: unknown; expirationSeconds?: unknown; boundObjectRef?: unknown };
    const errs = [];
    const exp = spec.expirationSeconds ?? DEFAULT_EXPIRATION_S;
    if (typeof exp !== 'number' || !Number.isInteger(exp) || exp < MIN_EXPIRATION_S)
      errs.push(fieldErr.invalid('spec.expirationSeconds', exp, 'may not specify a duration less than 10 minutes'));
    else if (exp > 2 ** 32) errs.push(fieldErr.invalid('spec.expirationSeconds', exp, 'may not specify a duration larger than 2^32 seconds'));
    const audiences = spec.audiences === undefined || (Array.isArray(spec.audiences) && spec.audiences.length === 0) ? [API_AUDIENCE] : spec.audiences;
    if (!Array.isArray(audiences) || audiences.some((a) => typeof a !== 'string' || !a)) errs.push(fieldErr.invalid('spec.audiences', audiences, 'must be a list of non-empty strings'));
    if (errs.length) throw ApiError.invalid('authentication.k8s.io', 'TokenRequest', name, errs);
    const sa = await registry.get(kind, ns, name);
    const now = Math.floor(Date.now() / 1000);
    const lifetime = Math.min(exp as number, MAX_EXPIRATION_S);
    const claims: TokenClaims = {
      iss: ISSUER,
      sub: `system:serviceaccount:${ns}:${name}`,
      aud: audiences as string[],
      iat: now,
      nbf: now,
      exp: now + lifetime,
      jti: randomUUID(),
      'kubernetes.io': { namespace: ns, serviceaccount: { name, uid: sa.metadata.uid! } },
    };
    const bound = spec.boundObjectRef;
    if (isPlainObject(bound)) {
      if (bound.kind !== 'Pod') throw ApiError.badRequest(`cannot bind token to object of kind ${String(bound.kind)}: only Pod is supported`);
      const podKind = catalog().byPlural('', 'v1', 'pods')!;
      const pod = await registry.get(podKind, ns, String(bound.name));
      if (bound.uid && bound.uid !== pod.metadata.uid)
        throw ApiError.conflict({ group: '', resource: 'pods' }, String(bound.name), `the UID in the bound object reference (${String(bound.uid)}) does not match the UID in record. The object might have been deleted and then recreated`);
      claims['kubernetes.io'].pod = { name: pod.metadata.name!, uid: pod.metadata.uid! };
    }
    return {
      status: 201,
      body: {
        kind: 'TokenRequest',
        apiVersion: 'authentication.k8s.io/v1',
        metadata: { name, namespace: ns, creationTimestamp: null },
        spec: { audiences, expirationSeconds: lifetime, boundObjectRef: bound ?? null },
        status: { token: issuer.issue(claims), expirationTimestamp: rfc3339(claims.exp) },
      },
    };
  };
}

/** Accepts service-account tokens for the API audience while their service account (and bound pod) still exist. */
export function serviceAccountAuthenticator(issuer: TokenIssuer, registry: GenericRegistry, catalog: KindCatalog): Authenticator {
  const get = async (plural: string, ns: string, name: string): Promise<KubeObject | null> => {
    try {
      return await registry.get(catalog.byPlural('', 'v1', plural)!, ns, name);
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return null;
      throw e;
    }
  };
  return bearerAuthenticator(async (token): Promise<UserInfo | null> => {
    const c = issuer.verify(token, API_AUDIENCE);
    if (!c) return null;
    const k = c['kubernetes.io'];
    const sa = await get('serviceaccounts', k.namespace, k.serviceaccount.name);
    if (!sa || sa.metadata.uid !== k.serviceaccount.uid) return null;
    const extra: Record<string, string[]> = {};
    if (k.pod) {
      const pod = await get('pods', k.namespace, k.pod.name);
      if (!pod || pod.metadata.uid !== k.pod.uid) return null;
      extra['authentication.kubernetes.io/pod-name'] = [k.pod.name];
      extra['authentication.kubernetes.io/pod-uid'] = [k.pod.uid];
    }
    extra['authentication.kubernetes.io/credential-id'] = [`JTI=${c.jti}`];
    return {
      name: c.sub,
      uid: k.serviceaccount.uid,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${k.namespace}`, 'system:authenticated'],
      extra,
    };
  });
}
