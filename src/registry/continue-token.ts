/**
 * Continue tokens for paginated lists, in upstream's shape: base64 of
 * `{"v":"meta.k8s.io/v1","rv":REVISION,"start":"NEXT_KEY_SUFFIX"}`, where start is relative to the
 * list prefix so a token cannot be used to read outside the resource it was issued for.
 */
import { ApiError } from '../api/errors.js';

export interface ContinueToken {
  revision: number;
  /** Key suffix (after the list prefix) to start at, inclusive. */
  start: string;
}

export function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: t.revision, start: t.start })).toString('base64url');
}

export function decodeContinue(token: string): ContinueToken {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw ApiError.badRequest(`continue key is not valid: illegal base64 data`);
  }
  const p = parsed as { v?: unknown; rv?: unknown; start?: unknown };
  if (p?.v !== 'meta.k8s.io/v1') throw ApiError.badRequest('continue key is not valid: server does not recognize this encoded key');
  if (typeof p.rv !== 'number' || !Number.isInteger(p.rv) || p.rv <= 0) throw ApiError.badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  if (typeof p.start !== 'string' || p.start.includes('..') || p.start.startsWith('/')) throw ApiError.badRequest('continue key is not valid: encoded start key is invalid');
  return { revision: p.rv, start: p.start };
}
