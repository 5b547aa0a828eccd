/**
 * Registry credentials from Kubernetes image pull secrets (`kubernetes.io/dockerconfigjson`:
 * `{"auths": {"host": {"auth": base64("user:pass")}}}`, or `username`/`password`; also the older
 * `.dockercfg` shape without the `auths` wrapper), and the WWW-Authenticate challenge parser.
 */
export interface Credentials {
  username: string;
  password: string;
}

/** One secret's payload: the parsed JSON, its raw string, or base64 of it (a Secret's data field). */
export type DockerConfig = { auths?: Record<string, DockerAuthEntry> } | Record<string, DockerAuthEntry>;
interface DockerAuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

export function parseDockerConfig(input: string | Buffer | object): Record<string, DockerAuthEntry> {
  let doc: unknown = input;
  if (Buffer.isBuffer(input)) doc = input.toString('utf8');
  if (typeof doc === 'string') {
    const s = doc.trim();
    doc = JSON.parse(s.startsWith('{') ? s : Buffer.from(s, 'base64').toString('utf8'));
  }
  const o = (doc ?? {}) as { auths?: Record<string, DockerAuthEntry> };
  return (o.auths && typeof o.auths === 'object' ? o.auths : (o as Record<string, DockerAuthEntry>)) ?? {};
}

function entryCredentials(e: DockerAuthEntry): Credentials | undefined {
  if (e.username !== undefined && e.password !== undefined) return { username: e.username, password: e.password };
  if (e.auth) {
    const dec = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = dec.indexOf(':');
    if (i > 0) return { username: dec.slice(0, i), password: dec.slice(i + 1) };
  }
  return undefined;
}

/** The key of an `auths` map reduced to host[:port] (keys may be URLs like https://index.docker.io/v1/). */
function keyHost(key: string): string {
  let k = key.trim().replace(/^[a-z]+:\/\//i, '');
  k = k.split('/')[0];
  if (k === 'index.docker.io' || k === 'registry-1.docker.io') k = 'docker.io';
  return k.toLowerCase();
}

/**
 * Finds credentials for a registry host among the given secrets, in order (first match wins, as
 * the kubelet tries pull secrets in order). Hosts match exactly; `*.example.com` globs one label.
 */
export function credentialsFor(registry: string, secrets: (string | Buffer | object)[] = []): Credentials | undefined {
  const host = keyHost(registry);
  for (const s of secrets) {
    let auths: Record<string, DockerAuthEntry>;
    try {
      auths = parseDockerConfig(s);
    } catch {
      continue;
    }
    for (const [k, e] of Object.entries(auths)) {
      const kh = keyHost(k);
      const match = kh === host || (kh.startsWith('*.') && host.endsWith(kh.slice(1)) && !host.slice(0, -kh.length + 1).includes('.'));
      if (match) {
        const c = entryCredentials(e ?? {});
        if (c) return c;
      }
    }
  }
  return undefined;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="https://auth",service="registry",scope="repository:x:pull"` (also several challenges). */
export function parseChallenges(header: string | null): Challenge[] {
  if (!header) return [];
  const out: Challenge[] = [];
  const tokenRe = /[A-Za-z0-9!#$%&'*+.^_`|~-]+/y;
  let i = 0;
  let cur: Challenge | undefined;
  const skip = (chars: RegExp) => {
    while (i < header.length && chars.test(header[i])) i++;
  };
  while (i < header.length) {
    skip(/[\s,]/);
    tokenRe.lastIndex = i;
    const m = tokenRe.exec(header);
    if (!m) break;
    i = tokenRe.lastIndex;
    skip(/\s/);
    if (header[i] === '=' && cur) {
      i++;
      skip(/\s/);
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < header.length && header[i] !== '"') {
          if (header[i] === '\\') i++;
          value += header[i++] ?? '';
        }
        i++;
      } else {
        const v = /[^,\s]*/y;
        v.lastIndex = i;
        value = v.exec(header)![0];
        i = v.lastIndex;
      }
      cur.params[m[0].toLowerCase()] = value;
    } else {
      cur = { scheme: m[0].toLowerCase(), params: {} };
      out.push(cur);
    }
  }
  return out;
}
