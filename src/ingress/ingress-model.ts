/**
 * The Ingresses of our class → nginx servers, locations and upstreams, following ingress-nginx's
 * controller (createServers / getBackendServers / updateServerLocations) where the Ingress spec
 * leaves room, and the spec where ingress-nginx strays from it:
 *  - Ingresses are taken oldest first (creationTimestamp, then namespace/name); a host+path an
 *    older Ingress already serves is skipped with a warning for the newer one.
 *  - One server per host; rules without a host go to the catch-all server `_`. A server's `/`
 *    falls back to the defaultBackend of the Ingress that first named the host (404 without one);
 *    the catch-all's to the first Ingress with a defaultBackend and no rules.
 *  - Wildcard hosts match exactly one label (`*.foo.com`: `a.foo.com`, not `a.b.foo.com`).
 *  - Prefix paths match element-wise: `/p` → `location /p/` plus `location = /p` (unless an Exact
 *    `/p` exists), so `/p`, `/p/`, `/p/x` match and `/pq` does not, a trailing `/` in the path is
 *    ignored, nginx's longest-prefix rule makes the longest path win and `=` makes Exact beat
 *    Prefix. ImplementationSpecific is treated as Prefix.
 *  - An Ingress with use-regex or rewrite-target makes its paths case-insensitive regular
 *    expressions (`~* "^PATH"`), and its server a regex server: there the other Prefix paths
 *    become element-wise regexes, all regex locations ordered longest path first (nginx takes the
 *    first matching regex). Exact stays `=` everywhere.
 *  - TLS: the host's first Ingress with a TLS section names the Secret (the entry listing the
 *    host, else one whose certificate covers it); a missing or unusable Secret is reported and
 *    the host gets the default certificate. TLS hosts redirect plain HTTP with 308.
 */
import { parseAnnotations, type IngressAnnotations } from './annotations.js';
import { type HTTPIngressPath, type Ingress, type IngressBackend, keyOf } from './ingress-api.js';
import { type BackendAction, type ServiceSource, type Upstream, UpstreamSet } from './upstreams.js';

export type CertificateLookup =
  | { ok: true; file: string; covers(host: string): boolean }
  | { ok: false; reason: 'SecretNotFound' | 'InvalidCertificate'; message: string };

export interface ModelSource extends ServiceSource {
  /** The PEM file made from a TLS Secret, or why there is none. */
  certificate(namespace: string, secretName: string): CertificateLookup;
}

/** One nginx `location`: `location MODIFIER "PATH"`. */
export interface Location {
  modifier: '=' | '' | '~' | '~*';
  path: string;
  action: BackendAction;
  /** nginx `rewrite "REGEX" TARGET break;` before proxying. */
  rewrite?: { regex: string; target: string };
  /** 308 to https for plain-HTTP requests. */
  sslRedirect: boolean;
  proxyReadTimeout?: number;
  proxySendTimeout?: number;
  /** The Ingress ("ns/name") this location comes from; none for the built-in 404. */
  ingress?: string;
}

export interface Server {
  /** `_` for the catch-all server, else the host (`*.foo.com` for a wildcard). */
  name: string;
  /** Set for TLS hosts: the certificate file, or undefined for the default certificate. */
  tls?: { certFile?: string };
  locations: Location[];
}

export interface IngressWarning {
  ingress: Ingress;
  reason: string;
  message: string;
}

export interface IngressModel {
  /** The catch-all server first, then by name. */
  servers: Server[];
  upstreams: Upstream[];
  warnings: IngressWarning[];
  /** "ns/name" of every Service and Secret the Ingresses name (found or not). */
  services: Set<string>;
  secrets: Set<string>;
}

export const CATCH_ALL = '_';

const HOST = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Paths become quoted nginx strings; what must not be in one: blanks and control characters. */
const UNUSABLE_PATH = /[\s\x00-\x1f\x7f]/;

type RuleKind = 'exact' | 'prefix' | 'regex';

/** A path as the Ingress gives it, before it becomes nginx locations. */
interface RuleLocation {
  kind: RuleKind;
  /** exact/prefix: the path (prefix without trailing slashes, `/` for the root); regex: as written. */
  path: string;
  action: BackendAction;
  ingress: Ingress;
  ann: IngressAnnotations;
}

interface ServerBuild {
  name: string;
  /** The Ingress whose defaultBackend (and annotations) the fallback takes, if any. */
  owner?: Ingress;
  ownerAnn: IngressAnnotations;
  /** Where `/` goes when no rule claims it. */
  fallback: BackendAction;
  rules: Map<string, RuleLocation>;
  tls?: { certFile?: string };
}

const created = (o: Ingress) => o.metadata.creationTimestamp ?? '';
/** Oldest first: the order in which Ingresses claim hosts and paths. */
export function byAge(a: Ingress, b: Ingress): number {
  const ka = [created(a), a.metadata.namespace ?? '', a.metadata.name ?? ''];
  const kb = [created(b), b.metadata.namespace ?? '', b.metadata.name ?? ''];
  for (let i = 0; i < 3; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1;
  return 0;
}

const ingressKey = (ing: Ingress) => keyOf(ing.metadata.namespace, ing.metadata.name);
const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Does wildcard `*.foo.com` (or an exact name) cover host? One label only, as the Ingress spec says. */
export function hostMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === host;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === pattern.slice(2);
}

export function buildIngressModel(ingresses: readonly Ingress[], source: ModelSource): IngressModel {
  const upstreams = new UpstreamSet(source);
  const warnings: IngressWarning[] = [];
  const seen = new Set<string>();
  const warn = (ingress: Ingress, reason: string, message: string) => {
    const k = `${ingressKey(ingress)}\0${reason}\0${message}`;
    if (seen.has(k)) return;
    seen.add(k);
    warnings.push({ ingress, reason, message });
  };
  const resolve = (ing: Ingress, backend: IngressBackend): BackendAction => {
    const r = upstreams.resolve(ing.metadata.namespace ?? '', backend);
    if (r.problem) warn(ing, r.problem.reason, r.problem.message);
    return r.action;
  };
  const secrets = new Set<string>();
  const sorted = [...ingresses].sort(byAge);
  const anns = new Map<Ingress, IngressAnnotations>();
  for (const ing of sorted) {
    const { annotations, problems } = parseAnnotations(ing);
    for (const p of problems) warn(ing, 'InvalidAnnotation', `${p.annotation} ${p.message}: ignored`);
    anns.set(ing, annotations);
  }

  // The catch-all server: `/` from the first Ingress that has a defaultBackend and no rules.
  const catchAllOwner = sorted.find((i) => i.spec?.defaultBackend && !(i.spec.rules ?? []).length);
  const servers = new Map<string, ServerBuild>();
  servers.set(CATCH_ALL, {
    name: CATCH_ALL,
    owner: catchAllOwner,
    ownerAnn: catchAllOwner ? anns.get(catchAllOwner)! : { useRegex: false, sslRedirect: true },
    fallback: catchAllOwner ? resolve(catchAllOwner, catchAllOwner.spec!.defaultBackend!) : { status: 404 },
    rules: new Map(),
  });

  for (const ing of sorted) {
    const ann = anns.get(ing)!;
    const regexIngress = ann.useRegex || ann.rewriteTarget !== undefined;
    for (const rule of ing.spec?.rules ?? []) {
      const host = rule.host || CATCH_ALL;
      if (host !== CATCH_ALL && (host.length > 253 || !HOST.test(host))) {
        warn(ing, 'InvalidHost', `host ${JSON.stringify(host)} is not a valid DNS name: its rule is ignored`);
        continue;
      }
      let server = servers.get(host);
      if (!server) {
        server = { name: host, owner: ing, ownerAnn: ann, fallback: ing.spec?.defaultBackend ? resolve(ing, ing.spec.defaultBackend) : { status: 404 }, rules: new Map() };
        servers.set(host, server);
      }
      for (const p of rule.http?.paths ?? []) {
        const loc = ruleLocation(ing, ann, regexIngress, p, (b) => resolve(ing, b), (m) => warn(ing, 'InvalidPath', m));
        if (!loc) continue;
        const key = `${loc.kind}:${loc.path}`;
        const holder = server.rules.get(key);
        if (holder) {
          warn(
            ing,
            'RuleConflict',
            `host ${host === CATCH_ALL ? '*' : host} path ${p.path || '/'} (${p.pathType ?? 'ImplementationSpecific'}) is already served by Ingress ${ingressKey(holder.ingress)}, which is older: this path is ignored`,
          );
          continue;
        }
        server.rules.set(key, loc);
      }
    }
  }

  for (const ing of sorted) {
    const tls = ing.spec?.tls ?? [];
    if (!tls.length) continue;
    const ns = ing.metadata.namespace ?? '';
    for (const t of tls) if (t.secretName) secrets.add(keyOf(ns, t.secretName));
    for (const rule of ing.spec?.rules ?? []) {
      const server = servers.get(rule.host || CATCH_ALL);
      if (!server || server.tls || server.name === CATCH_ALL) continue;
      server.tls = tlsFor(ing, server.name, source, (reason, message) => warn(ing, reason, message));
    }
  }

  const out: Server[] = [];
  for (const s of [...servers.values()].sort((a, b) => (a.name === CATCH_ALL ? -1 : b.name === CATCH_ALL ? 1 : a.name < b.name ? -1 : 1))) {
    out.push({ name: s.name, tls: s.tls, locations: nginxLocations(s) });
  }
  return { servers: out, upstreams: upstreams.list(), warnings, services: upstreams.services, secrets };
}

function ruleLocation(
  ing: Ingress,
  ann: IngressAnnotations,
  regexIngress: boolean,
  p: HTTPIngressPath,
  resolve: (b: IngressBackend) => BackendAction,
  invalid: (message: string) => void,
): RuleLocation | undefined {
  const raw = p.path || '/';
  const type = p.pathType ?? 'ImplementationSpecific';
  if (UNUSABLE_PATH.test(raw) || (!regexIngress && !raw.startsWith('/'))) {
    invalid(`path ${JSON.stringify(raw)} cannot be served: it is ignored`);
    return undefined;
  }
  if (!p.backend) {
    invalid(`path ${JSON.stringify(raw)} has no backend: it is ignored`);
    return undefined;
  }
  const action = resolve(p.backend);
  if (type === 'Exact') return { kind: 'exact', path: raw, action, ingress: ing, ann };
  if (regexIngress) return { kind: 'regex', path: raw, action, ingress: ing, ann };
  return { kind: 'prefix', path: raw.replace(/\/+$/, '') || '/', action, ingress: ing, ann };
}

function tlsFor(ing: Ingress, host: string, source: ModelSource, warn: (reason: string, message: string) => void): { certFile?: string } | undefined {
  const ns = ing.metadata.namespace ?? '';
  const tls = ing.spec?.tls ?? [];
  // ingress-nginx's extractTLSSecretName: the entry that lists the host, else one whose
  // certificate is valid for it.
  let entry = tls.find((t) => (t.hosts ?? []).some((h) => h.toLowerCase() === host));
  if (!entry) {
    entry = tls.find((t) => {
      if (!t.secretName) return false;
      const c = source.certificate(ns, t.secretName);
      return c.ok && c.covers(host);
    });
    if (!entry) return undefined;
  }
  if (!entry.secretName) return {};
  const cert = source.certificate(ns, entry.secretName);
  if (!cert.ok) {
    warn(cert.reason, `${cert.message}: host ${host} is served with the default certificate`);
    return {};
  }
  if (!cert.covers(host)) {
    warn('InvalidCertificate', `the certificate in Secret ${ns}/${entry.secretName} is not valid for host ${host}: the host is served with the default certificate`);
    return {};
  }
  return { certFile: cert.file };
}

/** A server's rule locations (and its `/` fallback) as nginx locations, in the order to write them. */
function nginxLocations(s: ServerBuild): Location[] {
  const rules = [...s.rules.values()];
  const regexServer = rules.some((r) => r.kind === 'regex');
  const exactPaths = new Set(rules.filter((r) => r.kind === 'exact').map((r) => r.path));
  const tls = !!s.tls;
  const loc = (r: Pick<RuleLocation, 'action' | 'ann'> & { ingress?: Ingress }, modifier: Location['modifier'], path: string): Location => ({
    modifier,
    path,
    action: r.action,
    sslRedirect: tls && r.ann.sslRedirect,
    ...(r.ann.proxyReadTimeout ? { proxyReadTimeout: r.ann.proxyReadTimeout } : {}),
    ...(r.ann.proxySendTimeout ? { proxySendTimeout: r.ann.proxySendTimeout } : {}),
    ...(r.ingress ? { ingress: ingressKey(r.ingress) } : {}),
  });
  const withRewrite = (l: Location, r: RuleLocation): Location => {
    const target = r.ann.rewriteTarget;
    // ingress-nginx's needsRewrite: a target equal to the path changes nothing.
    if (target === undefined || target === r.path || !('upstream' in r.action)) return l;
    return { ...l, rewrite: { regex: `(?i)${r.path}`, target } };
  };

  const exact: Location[] = [];
  const prefix: Location[] = [];
  const regex: { loc: Location; length: number }[] = [];
  for (const r of rules) {
    if (r.kind === 'exact') exact.push(withRewrite(loc(r, '=', r.path), r));
    else if (r.kind === 'regex') regex.push({ loc: withRewrite(loc(r, '~*', `^${r.path}`), r), length: r.path.length });
    else if (regexServer) regex.push({ loc: loc(r, '~', r.path === '/' ? '^/' : `^${escapeRegex(r.path)}(/|$)`), length: r.path.length });
    else if (r.path === '/') prefix.push(loc(r, '', '/'));
    else {
      prefix.push(loc(r, '', `${r.path}/`));
      if (!exactPaths.has(r.path)) exact.push(loc(r, '=', r.path));
    }
  }
  const fallback = s.rules.has('prefix:/') ? undefined : loc({ action: s.fallback, ann: s.ownerAnn, ingress: s.owner }, regexServer ? '~' : '', regexServer ? '^/' : '/');
  const byPath = (a: Location, b: Location) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  // Longest path first; equal lengths keep the older Ingress first (rules are in age order).
  const ordered = regex.map((r, i) => ({ ...r, i })).sort((a, b) => b.length - a.length || a.i - b.i);
  return [...exact.sort(byPath), ...prefix.sort(byPath), ...ordered.map((r) => r.loc), ...(fallback ? [fallback] : [])];
}
