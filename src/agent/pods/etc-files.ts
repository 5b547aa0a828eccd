/**
 * The files every container of a pod sees at /etc/hosts and /etc/resolv.conf, byte for byte
 * what a kubelet (and containerd, which renders resolv.conf from the kubelet's DNS config)
 * writes:
 * - hosts: the `# Kubernetes-managed hosts file.` header, the localhost lines, the pod's IPs with
 *   its hostname (and `hostname.subdomain.ns.svc.<domain>` first when the pod has a subdomain),
 *   then `# Entries added by HostAliases.`; a hostNetwork pod gets the node's own file under a
 *   `(host network)` header instead;
 * - resolv.conf per dnsPolicy: ClusterFirst (ClusterFirstWithHostNet for hostNetwork pods) uses
 *   the cluster DNS with `<ns>.svc.<domain> svc.<domain> <domain>` before the host's searches and
 *   `options ndots:5`; Default is the host's configuration; None starts empty; dnsConfig is
 *   merged on top, then cut to 3 nameservers and 32 searches / 2048 characters with a
 *   DNSConfigForming warning.
 */
import type { HostAlias, Pod } from './api-types.js';

const MANAGED_HOSTS_HEADER = '# Kubernetes-managed hosts file.\n';
const MANAGED_HOSTS_HEADER_HOST_NETWORK = '# Kubernetes-managed hosts file (host network).\n';
const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

const MAX_NAMESERVERS = 3;
const MAX_SEARCH_PATHS = 32;
const MAX_SEARCH_LIST_CHARS = 2048;
/** Longer search domains make some resolvers (glibc 2.28) abort; upstream drops them. */
const MAX_SEARCH_DOMAIN_CHARS = 253;
const HOSTNAME_MAX = 63;

/** upstream GeneratePodHostNameAndDomain: spec.hostname or the pod name (cut to 63), and the subdomain's domain. */
export function podHostnameAndDomain(pod: Pod, clusterDomain = DEFAULT_CLUSTER_DOMAIN): { hostname: string; domain: string } {
  let hostname = pod.spec.hostname || pod.metadata.name || '';
  if (hostname.length > HOSTNAME_MAX) hostname = hostname.slice(0, HOSTNAME_MAX).replace(/[-.]+$/, '');
  const domain = pod.spec.subdomain ? `${pod.spec.subdomain}.${pod.metadata.namespace}.svc.${clusterDomain}` : '';
  return { hostname, domain };
}

function hostAliasLines(aliases: HostAlias[]): string {
  if (!aliases.length) return '';
  return `\n# Entries added by HostAliases.\n${aliases.map((a) => `${a.ip}\t${(a.hostnames ?? []).join('\t')}\n`).join('')}`;
}

/**
 * The pod's /etc/hosts. `nodeHostsFile` is the node's /etc/hosts content, used (only) for
 * hostNetwork pods.
 */
export function etcHostsContent(
  pod: Pod,
  podIPs: string | string[],
  hostAliases: HostAlias[] = pod.spec.hostAliases ?? [],
  opts: { clusterDomain?: string; nodeHostsFile?: string } = {},
): string {
  if (pod.spec.hostNetwork) return MANAGED_HOSTS_HEADER_HOST_NETWORK + (opts.nodeHostsFile ?? '') + hostAliasLines(hostAliases);
  const { hostname, domain } = podHostnameAndDomain(pod, opts.clusterDomain);
  let out =
    MANAGED_HOSTS_HEADER +
    '127.0.0.1\tlocalhost\n' +
    '::1\tlocalhost ip6-localhost ip6-loopback\n' +
    'fe00::0\tip6-localnet\n' +
    'fe00::0\tip6-mcastprefix\n' +
    'fe00::1\tip6-allnodes\n' +
    'fe00::2\tip6-allrouters\n';
  for (const ip of typeof podIPs === 'string' ? [podIPs] : podIPs) out += domain ? `${ip}\t${hostname}.${domain}\t${hostname}\n` : `${ip}\t${hostname}\n`;
  return out + hostAliasLines(hostAliases);
}

export interface DNSConfig {
  servers: string[];
  searches: string[];
  /** `name` or `name:value`. */
  options: string[];
}

/** upstream parseResolvConf: nameservers accumulate, the last `search` and `options` lines win (options per name). */
export function parseResolvConf(content: string): DNSConfig {
  const servers: string[] = [];
  let searches: string[] = [];
  const options = new Map<string, string>();
  for (const raw of content.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#')) continue;
    const f = line.split(/\s+/).filter(Boolean);
    if (f[0] === 'nameserver' && f.length >= 2) servers.push(f[1]);
    // The same domain with and without the trailing dot counts once; a lone '.' is no domain.
    if (f[0] === 'search') searches = f.slice(1).filter((s) => s !== '.').map((s) => s.replace(/\.$/, ''));
    if (f[0] === 'options') for (const o of f.slice(1)) options.set(o.split(':')[0], o);
  }
  return { servers, searches, options: [...options.values()] };
}

const unique = (xs: string[]) => [...new Set(xs)];

/** upstream mergeDNSOptions: the pod's dnsConfig options override by name. */
function mergeOptions(existing: string[], pod: { name: string; value?: string }[]): string[] {
  const m = new Map<string, string>();
  for (const o of existing) {
    const i = o.indexOf(':');
    if (i < 0) m.set(o, '');
    else m.set(o.slice(0, i), o.slice(i + 1));
  }
  for (const o of pod) m.set(o.name, o.value ?? '');
  return [...m].map(([k, v]) => (v ? `${k}:${v}` : k));
}

/** upstream formDNSSearchFitsLimits. */
function fitSearches(searches: string[], warnings: string[]): string[] {
  let exceeded = false;
  let s = searches;
  if (s.length > MAX_SEARCH_PATHS) {
    s = s.slice(0, MAX_SEARCH_PATHS);
    exceeded = true;
  }
  const kept = s.filter((d) => d.length <= MAX_SEARCH_DOMAIN_CHARS);
  if (kept.length !== s.length) exceeded = true;
  s = kept;
  let lineLen = Buffer.byteLength(s.join(' '));
  while (lineLen > MAX_SEARCH_LIST_CHARS) {
    lineLen -= Buffer.byteLength(s[s.length - 1]) + 1;
    s = s.slice(0, -1);
    exceeded = true;
  }
  if (exceeded) warnings.push(`Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${s.join(' ')}`);
  return s;
}

export interface PodDNSOptions {
  clusterDNS: string[];
  clusterDomain: string;
  /** The content of the node's resolv.conf (the kubelet's --resolv-conf). */
  hostResolvConf: string;
}

/**
 * upstream GetPodDNS: the pod's DNS configuration, with the DNSConfigForming /
 * MissingClusterDNS warnings the kubelet posts as events.
 */
export function podDNSConfig(pod: Pod, opts: PodDNSOptions): DNSConfig & { warnings: string[] } {
  const warnings: string[] = [];
  let cfg = parseResolvConf(opts.hostResolvConf);
  const policy = pod.spec.dnsPolicy ?? 'ClusterFirst';
  const cluster = policy === 'ClusterFirstWithHostNet' || (policy === 'ClusterFirst' && !pod.spec.hostNetwork);
  if (policy === 'None') {
    cfg = { servers: [], searches: [], options: [] };
  } else if (cluster && opts.clusterDNS.length) {
    // The cluster DNS is the only nameserver: it forwards what it cannot answer.
    const d = opts.clusterDomain;
    const searches = d ? unique([`${pod.metadata.namespace}.svc.${d}`, `svc.${d}`, d, ...cfg.searches]) : cfg.searches;
    cfg = { servers: [...opts.clusterDNS], searches, options: ['ndots:5'] };
  } else if (cluster) {
    warnings.push(`kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.`);
  }
  const extra = pod.spec.dnsConfig;
  if (extra) {
    cfg = {
      servers: unique([...cfg.servers, ...(extra.nameservers ?? [])]),
      searches: unique([...cfg.searches, ...(extra.searches ?? [])]),
      options: mergeOptions(cfg.options, extra.options ?? []),
    };
  }
  if (cfg.servers.length > MAX_NAMESERVERS) {
    cfg.servers = cfg.servers.slice(0, MAX_NAMESERVERS);
    warnings.push(`Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${cfg.servers.join(' ')}`);
  }
  cfg.searches = fitSearches(cfg.searches, warnings);
  return { ...cfg, warnings };
}

/** The pod's /etc/resolv.conf as containerd renders the kubelet's DNS config. */
export function resolvConfContent(pod: Pod, opts: PodDNSOptions): string {
  const { servers, searches, options } = podDNSConfig(pod, opts);
  let out = '';
  if (searches.length) out += `search ${searches.join(' ')}\n`;
  if (servers.length) out += `nameserver ${servers.join('\nnameserver ')}\n`;
  if (options.length) out += `options ${options.join(' ')}\n`;
  return out;
}
