/**
 * Service account tokens for projected volumes, as the kubelet's token manager keeps them: one
 * cached token per (service account, namespace, audiences, lifetime, bound pod), requested again
 * once 80% of its lifetime has passed (or 24 h, whichever comes first), so the file in the volume
 * is always a token with at least a fifth of its life left. A failed renewal keeps the old token
 * while it is still valid.
 *
 * Tokens live in memory only (as upstream): after an agent restart every pod gets fresh ones.
 */
import type { Logger } from '../../client/log.js';

export interface TokenRequestOptions {
  audiences?: string[];
  expirationSeconds: number;
  boundPod: { name: string; uid: string };
}

/** The API's TokenRequest (serviceaccounts/<name>/token), implemented by the agent. */
export interface ServiceAccountTokenSource {
  request(namespace: string, serviceAccount: string, opts: TokenRequestOptions): Promise<{ token: string; expirationTimestamp: string }>;
}

interface CachedToken {
  token: string;
  expiresAtMs: number;
  lifetimeMs: number;
  podUid: string;
}

/** Upstream maxTTL: a token is renewed after a day even when it lives longer. */
const MAX_TTL_MS = 24 * 3600 * 1000;

export class TokenManager {
  private readonly cache = new Map<string, CachedToken>();

  constructor(
    private readonly source: ServiceAccountTokenSource,
    private readonly now: () => number,
    private readonly logger: Logger,
  ) {}

  /** A valid token for the request, from the cache unless due for renewal. */
  async get(namespace: string, serviceAccount: string, opts: TokenRequestOptions): Promise<string> {
    const key = JSON.stringify([serviceAccount, namespace, opts.audiences ?? [], opts.expirationSeconds, opts.boundPod.name, opts.boundPod.uid]);
    const cached = this.cache.get(key);
    if (cached && !this.requiresRefresh(cached)) return cached.token;
    let fresh;
    try {
      fresh = await this.source.request(namespace, serviceAccount, opts);
    } catch (e) {
      const why = (e as Error).message;
      if (!cached) throw new Error(`failed to fetch token: ${why}`);
      if (this.expired(cached)) throw new Error(`token ${key} expired and refresh failed: ${why}`);
      this.logger({ level: 'warn', msg: "couldn't renew service account token, keeping the current one", namespace, serviceAccount, error: why });
      return cached.token;
    }
    const expiresAtMs = Date.parse(fresh.expirationTimestamp);
    if (Number.isNaN(expiresAtMs)) throw new Error(`failed to fetch token: bad expirationTimestamp "${fresh.expirationTimestamp}"`);
    this.cache.set(key, { token: fresh.token, expiresAtMs, lifetimeMs: opts.expirationSeconds * 1000, podUid: opts.boundPod.uid });
    this.dropExpired();
    return fresh.token;
  }

  /** Forgets the tokens bound to a pod (its volumes are gone). */
  forgetPod(podUid: string): void {
    for (const [k, t] of this.cache) if (t.podUid === podUid) this.cache.delete(k);
  }

  private requiresRefresh(t: CachedToken): boolean {
    const now = this.now();
    const issuedAt = t.expiresAtMs - t.lifetimeMs;
    return now > issuedAt + MAX_TTL_MS || now > t.expiresAtMs - t.lifetimeMs * 0.2;
  }

  private expired(t: CachedToken): boolean {
    return this.now() > t.expiresAtMs;
  }

  private dropExpired(): void {
    for (const [k, t] of this.cache) if (this.expired(t)) this.cache.delete(k);
  }
}
