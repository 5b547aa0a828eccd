/**
 * The records of the cluster domain, per the Kubernetes DNS specification (kubernetes/dns
 * docs/specification.md, schema 1.1.0) and CoreDNS's kubernetes plugin (`pods insecure`, TTL 30
 * as kubeadm configures it):
 *
 *   <svc>.<ns>.svc.<zone>                 A/AAAA: the cluster IPs; headless: each ready endpoint
 *   <ep>.<svc>.<ns>.svc.<zone>            A/AAAA of the endpoint whose hostname (or dashed IP) is <ep>
 *   _<port>._<proto>.<svc>.<ns>.svc.<zone> SRV (priority 0, weight 100/n) to <svc>... or, headless,
 *                                         to each endpoint's name, with its address as additional
 *   <svc>.<ns>.svc.<zone>                 CNAME for an ExternalName Service
 *   <a>-<b>-<c>-<d>.<ns>.pod.<zone>       A a.b.c.d (any valid address, as `pods insecure`)
 *   dns-version.<zone>                    TXT "1.1.0"
 *   <d>.<c>.<b>.<a>.in-addr.arpa          PTR to the Service with that cluster IP, else to every
 *                                         endpoint with that address (<ep>.<svc>.<ns>.svc.<zone>)
 *
 * A name under the zone that does not exist is NXDOMAIN, an existing one asked for another type
 * NODATA; both carry the zone's SOA (negative TTL 5 s). Names outside the zone, and reverse
 * names of addresses that are not the cluster's, go to the upstream resolvers.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Answer, RecordType } from 'dns-packet';
import type { ClusterZone, ZonePort, ZoneService } from './cluster-zone.js';
import type { Reply } from './wire.js';

/** CoreDNS's kubernetes plugin `ttl`, as kubeadm's Corefile sets it. */
export const RECORD_TTL = 30;
/** How long NXDOMAIN and NODATA may be cached (the SOA's TTL and minimum, RFC 2308). */
export const NEGATIVE_TTL = 5;
/** The spec's TTL for dns-version. */
const VERSION_TTL = 28800;
export const SCHEMA_VERSION = '1.1.0';
/** CNAMEs followed inside the zone before giving up (CoreDNS's limit). */
const MAX_CHAIN = 8;

export interface ZoneConfig {
  /** The cluster domain, lowercase, no trailing dot (cluster.local). */
  domain: string;
}

/** An ExternalName's target outside the zone: the upstream's records for it go after the CNAME. */
export interface Chase {
  name: string;
  type: RecordType;
}

/** Where a query goes: answered from the cluster, or to the upstream resolvers. */
export type Resolution = { kind: 'forward' } | { kind: 'answer'; reply: Reply; chase?: Chase };

/** Where a name points: an address, with a port for SRV (-1: none) and the name SRV targets. */
interface Target {
  ip: string;
  port: number;
  name: string;
}

/** An existing name and what it holds. */
type NameNode =
  | { kind: 'empty' }
  | { kind: 'apex' }
  | { kind: 'version' }
  | { kind: 'targets'; targets: Target[] }
  | { kind: 'alias'; target: string };

const lower = (s: string) => s.toLowerCase();
const isUnder = (name: string, zone: string) => name === zone || name.endsWith(`.${zone}`);
const strip = (label: string) => (label.startsWith('_') ? label.slice(1) : label);
/** CoreDNS's endpointHostname: the endpoint's hostname, else its address with '-' for '.' or ':'. */
const endpointLabel = (ep: { ip: string; hostname?: string }) => ep.hostname ?? ep.ip.replace(/[.:]/g, '-');

function matchesPort(p: ZonePort, port?: string, protocol?: string): boolean {
  return (port === undefined || lower(p.name) === port) && (protocol === undefined || lower(p.protocol) === protocol);
}

export class ClusterRecords {
  constructor(
    private readonly zone: ClusterZone,
    private readonly cfg: ZoneConfig,
  ) {}

  resolve(qname: string, qtype: string): Resolution {
    const name = lower(qname);
    if (isUnder(name, this.cfg.domain)) {
      const { chase, ...reply } = this.authoritative(qname, qtype, 0);
      return { kind: 'answer', reply, chase };
    }
    if (qtype === 'PTR' && name.endsWith('.in-addr.arpa')) {
      const reply = this.reverse(qname, name);
      if (reply) return { kind: 'answer', reply };
    }
    return { kind: 'forward' };
  }

  private authoritative(qname: string, qtype: string, depth: number): Reply & { chase?: Chase } {
    if (!this.zone.synced) return this.reply('SERVFAIL', [], false);
    const node = this.lookup(lower(qname));
    if (!node) return this.reply('NXDOMAIN', [], true);
    const rr = (type: string, data: string, ttl = RECORD_TTL) => ({ name: qname, type, ttl, class: 'IN', data }) as Answer;
    switch (node.kind) {
      case 'apex':
        if (qtype === 'SOA') return this.reply('NOERROR', [this.soa()], true);
        if (qtype === 'NS') {
          const ns = this.nameserver();
          return { ...this.reply('NOERROR', [rr('NS', `ns.dns.${this.cfg.domain}`)], true), additionals: ns.targets.map((t) => this.address(t.name, t.ip)) };
        }
        return this.reply('NOERROR', [], true);
      case 'version':
        return this.reply('NOERROR', qtype === 'TXT' ? [rr('TXT', SCHEMA_VERSION, VERSION_TTL)] : [], true);
      case 'empty':
        return this.reply('NOERROR', [], true);
      case 'alias': {
        const cname = rr('CNAME', node.target);
        if (qtype === 'CNAME') return this.reply('NOERROR', [cname], true);
        if (!isUnder(lower(node.target), this.cfg.domain)) return { ...this.reply('NOERROR', [cname], true), chase: { name: node.target, type: qtype as RecordType } };
        if (depth >= MAX_CHAIN) return this.reply('NOERROR', [cname], true);
        const next = this.authoritative(node.target, qtype, depth + 1);
        return { ...this.reply('NOERROR', [cname, ...next.answers], true), chase: next.chase };
      }
      case 'targets':
        return this.fromTargets(qname, qtype, node.targets);
    }
  }

  private fromTargets(qname: string, qtype: string, targets: Target[]): Reply {
    const ips = (want: (ip: string) => boolean) => [...new Set(targets.map((t) => t.ip).filter(want))];
    switch (qtype) {
      case 'A':
        return this.reply('NOERROR', ips(isIPv4).map((ip) => this.address(qname, ip)), true);
      case 'AAAA':
        return this.reply('NOERROR', ips(isIPv6).map((ip) => this.address(qname, ip)), true);
      case 'ANY':
        return this.reply('NOERROR', ips(() => true).map((ip) => this.address(qname, ip)), true);
      case 'SRV': {
        // CoreDNS: every record shares priority 0, the weight is 100 split evenly (at least 1).
        const weight = Math.max(1, Math.floor(100 / targets.length));
        const answers: Answer[] = [];
        const additionals: Answer[] = [];
        const seen = new Set<string>();
        for (const t of targets) {
          if (t.port < 0) continue;
          if (!seen.has(`${t.name} ${t.port}`)) {
            seen.add(`${t.name} ${t.port}`);
            answers.push({ name: qname, type: 'SRV', ttl: RECORD_TTL, class: 'IN', data: { priority: 0, weight, port: t.port, target: t.name } });
          }
          if (!seen.has(`${t.name} ${t.ip}`)) {
            seen.add(`${t.name} ${t.ip}`);
            additionals.push(this.address(t.name, t.ip));
          }
        }
        return { ...this.reply('NOERROR', answers, true), additionals };
      }
      default:
        return this.reply('NOERROR', [], true);
    }
  }

  /** The node of a lowercase name under the zone, or undefined (NXDOMAIN). */
  private lookup(name: string): NameNode | undefined {
    const { domain } = this.cfg;
    const labels = name === domain ? [] : name.slice(0, -(domain.length + 1)).split('.');
    const n = labels.length;
    if (n === 0) return { kind: 'apex' };
    const [last, ns] = [labels[n - 1], labels[n - 2]];
    if (n === 1) return last === 'dns-version' ? { kind: 'version' } : last === 'svc' || last === 'pod' || last === 'dns' ? { kind: 'empty' } : undefined;
    if (last === 'dns') return n === 2 && ns === 'ns' ? this.nameserver() : undefined;
    if (last === 'pod') {
      if (!this.zone.hasNamespace(ns!)) return undefined;
      if (n === 2) return { kind: 'empty' };
      return n === 3 ? this.pod(name, labels[0]!) : undefined;
    }
    if (last !== 'svc') return undefined;
    if (n === 2) return this.zone.hasNamespace(ns!) ? { kind: 'empty' } : undefined;
    const svc = this.zone.service(ns!, labels[n - 3]!);
    if (!svc) return undefined;
    if (n === 3) return this.service(svc, {});
    if (n === 4) return this.service(svc, { endpoint: labels[0] });
    if (n === 5) return this.service(svc, { port: strip(labels[0]!), protocol: strip(labels[1]!) });
    return undefined;
  }

  /** CoreDNS's findServices for one Service: what `<svc>`, `<ep>.<svc>` or `_<port>._<proto>.<svc>` hold. */
  private service(svc: ZoneService, q: { endpoint?: string; port?: string; protocol?: string }): NameNode | undefined {
    if (svc.externalName !== undefined) {
      // An ExternalName has no endpoints or ports to name, and an IP is not a name to alias.
      if (q.endpoint !== undefined || q.port !== undefined || isIPv4(svc.externalName) || isIPv6(svc.externalName)) return undefined;
      return { kind: 'alias', target: svc.externalName };
    }
    const base = `${svc.name}.${svc.namespace}.svc.${this.cfg.domain}`;
    const targets: Target[] = [];
    if (svc.headless || q.endpoint !== undefined) {
      for (const slice of this.zone.slicesOf(svc)) {
        // A slice without ports still names its endpoints (CoreDNS's port -1 sentinel).
        const ports = slice.ports.length ? slice.ports : [{ name: '', protocol: '', port: -1 }];
        for (const ep of slice.endpoints) {
          const label = endpointLabel(ep);
          if (q.endpoint !== undefined && lower(label) !== q.endpoint) continue;
          for (const p of ports) if (matchesPort(p, q.port, q.protocol)) targets.push({ ip: ep.ip, port: p.port, name: `${label}.${base}` });
        }
      }
    } else {
      for (const p of svc.ports) if (matchesPort(p, q.port, q.protocol)) for (const ip of svc.clusterIPs) targets.push({ ip, port: p.port, name: base });
    }
    return targets.length ? { kind: 'targets', targets } : undefined;
  }

  /** `a-b-c-d.ns.pod.<zone>` (or an IPv6 address with '-' for ':'), answered for any valid address. */
  private pod(name: string, label: string): NameNode | undefined {
    const dashes = label.split('-').length - 1;
    const ip = dashes === 3 && !label.includes('--') ? label.replaceAll('-', '.') : label.replaceAll('-', ':');
    if (!isIPv4(ip) && !isIPv6(ip)) return undefined;
    return { kind: 'targets', targets: [{ ip, port: -1, name }] };
  }

  /** `ns.dns.<zone>`: the addresses of the kube-system/kube-dns Service. */
  private nameserver(): NameNode & { kind: 'targets' } {
    const name = `ns.dns.${this.cfg.domain}`;
    const svc = this.zone.service('kube-system', 'kube-dns');
    return { kind: 'targets', targets: (svc?.clusterIPs ?? []).map((ip) => ({ ip, port: -1, name })) };
  }

  /** PTR for an address of the cluster's: a Service's cluster IP first, else its endpoints' names. */
  private reverse(qname: string, name: string): Reply | undefined {
    const octets = name.slice(0, -'.in-addr.arpa'.length).split('.');
    const ip = octets.reverse().join('.');
    if (octets.length !== 4 || !isIPv4(ip)) return undefined;
    const names: string[] = [];
    const svc = this.zone.servicesWithIP(ip)[0];
    if (svc) names.push(`${svc.name}.${svc.namespace}.svc.${this.cfg.domain}`);
    else
      for (const slice of this.zone.slicesWithIP(ip)) {
        const [ns, svcName] = slice.service.split('/');
        for (const ep of slice.endpoints) if (ep.ip === ip) names.push(`${endpointLabel(ep)}.${svcName}.${ns}.svc.${this.cfg.domain}`);
      }
    if (!names.length) return undefined;
    return this.reply('NOERROR', [...new Set(names)].map((data) => ({ name: qname, type: 'PTR', ttl: RECORD_TTL, class: 'IN', data })), true);
  }

  private address(name: string, ip: string): Answer {
    return { name, type: isIPv4(ip) ? 'A' : 'AAAA', ttl: RECORD_TTL, class: 'IN', data: ip };
  }

  /** The zone's SOA, as CoreDNS writes it (ns.dns and hostmaster under the zone, refresh 7200, retry 1800, expire 86400). */
  private soa(): Answer {
    const { domain } = this.cfg;
    return {
      name: domain,
      type: 'SOA',
      ttl: NEGATIVE_TTL,
      class: 'IN',
      data: { mname: `ns.dns.${domain}`, rname: `hostmaster.${domain}`, serial: this.zone.serial >>> 0, refresh: 7200, retry: 1800, expire: 86400, minimum: NEGATIVE_TTL },
    };
  }

  /** An answer; a negative one (no answers) carries the SOA in the authority section. */
  private reply(rcode: Reply['rcode'], answers: Answer[], authoritative: boolean): Reply {
    const negative = rcode === 'NXDOMAIN' || (rcode === 'NOERROR' && !answers.length);
    return { rcode, authoritative, answers, authorities: negative ? [this.soa()] : [], additionals: [] };
  }
}
