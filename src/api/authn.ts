/**
 * Authentication: client certificates signed by the cluster CA (CN = user, O = groups) and bearer
 * tokens from a static token file (kube-apiserver's --token-auth-file CSV: token,user,uid,"g1,g2").
 * Further authenticators (service-account tokens) plug in as more entries of the chain.
 */
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import type { UserInfo } from './types.js';

export interface AuthnRequest {
  headers: Record<string, string | undefined>;
  socket?: TLSSocket;
}

/** Returns the user, null when this authenticator does not apply, or throws when credentials are bad. */
export type Authenticator = (req: AuthnRequest) => Promise<UserInfo | null> | UserInfo | null;

export class AuthenticationError extends Error {}

/**
 * The identity a connection's client certificate proves, per TLS socket: getPeerCertificate()
 * builds a fresh object from the X.509 certificate on every call (tens of microseconds), while
 * the certificate cannot change for the life of the connection — the HTTPS front disables TLS
 * renegotiation, as Go's TLS server (kube-apiserver's) does. A rejected certificate is cached
 * as its error, so every request on that connection still fails.
 */
const certIdentities = new WeakMap<TLSSocket, UserInfo | null | AuthenticationError>();

export const clientCertAuthenticator: Authenticator = (req) => {
  const sock = req.socket;
  if (!sock || typeof sock.getPeerCertificate !== 'function') return null;
  let id = certIdentities.get(sock);
  if (id === undefined) {
    try {
      id = identityFromCertificate(sock);
    } catch (e) {
      if (!(e instanceof AuthenticationError)) throw e;
      id = e;
    }
    certIdentities.set(sock, id);
  }
  if (id instanceof AuthenticationError) throw id;
  return id && { name: id.name, groups: [...id.groups] };
};

function identityFromCertificate(sock: TLSSocket): UserInfo | null {
  const cert = sock.getPeerCertificate();
  if (!cert || !cert.subject || Object.keys(cert).length === 0) return null;
  if (!sock.authorized) throw new AuthenticationError('client certificate not signed by the cluster CA');
  const cn = cert.subject.CN;
  const o = cert.subject.O;
  const name = Array.isArray(cn) ? cn[0] : cn;
  if (!name) throw new AuthenticationError('client certificate has no common name');
  const groups = o === undefined ? [] : Array.isArray(o) ? o : [o];
  return { name, groups: [...groups, 'system:authenticated'] };
}

interface TokenEntry {
  user: UserInfo;
}

/** Parses a token file; malformed lines are reported with their line number. */
export function parseTokenFile(text: string): Map<string, TokenEntry> {
  const out = new Map<string, TokenEntry>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim() || line.trim().startsWith('#')) return;
    const cols = splitCsv(line);
    if (cols.length < 3 || !cols[0] || !cols[1]) throw new Error(`token file line ${i + 1}: want token,user,uid[,"groups"]`);
    const groups = cols[3] ? cols[3].split(',').map((g) => g.trim()).filter(Boolean) : [];
    out.set(cols[0], { user: { name: cols[1], uid: cols[2], groups: [...groups, 'system:authenticated'] } });
  });
  return out;
}

function splitCsv(line: string): string[] {
  const cols: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      cols.push(cur);
      cur = '';
    } else cur += c;
  }
  cols.push(cur);
  return cols.map((c) => c.trim());
}

export function tokenFileAuthenticator(path: string): Authenticator {
  const tokens = parseTokenFile(readFileSync(path, 'utf8'));
  return bearerAuthenticator((token) => tokens.get(token)?.user ?? null);
}

/** Authenticates `Authorization: Bearer TOKEN` with a lookup; a bearer token nobody knows is an error (401). */
export function bearerAuthenticator(lookup: (token: string) => UserInfo | null | Promise<UserInfo | null>): Authenticator {
  return async (req) => {
    const h = req.headers.authorization;
    if (!h) return null;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (!m) return null;
    return (await lookup(m[1])) ?? null;
  };
}

/** Runs authenticators in order; the first that recognizes the request wins. */
export async function authenticate(chain: Authenticator[], req: AuthnRequest): Promise<UserInfo | null> {
  for (const a of chain) {
    const u = await a(req);
    if (u) return u;
  }
  return null;
}
