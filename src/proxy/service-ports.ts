/**
 * What the proxy programs for a Service, per port (upstream's BaseServicePortInfo): the cluster
 * IP, node port, LoadBalancer VIPs and external IPs that lead to it, its traffic policies and
 * session affinity. Services that need nothing in the kernel — ExternalName, headless, not yet
 * given a cluster IP — have no ports here; one that cannot be programmed (a value the API let
 * through but that makes no sense to the proxy) throws InvalidServiceError, so the caller skips
 * that Service alone and says why.
 */
import { parseCidr } from '../net/ip.js';
import { isIPv4 as isIPv4Text, isIPv6 as isIPv6Text } from '../registry/validation.js';
import type { KubeObject } from '../util/object.js';
import type { PortIdentity } from './names.js';

export class InvalidServiceError extends Error {
  override name = 'InvalidServiceError';
}

export type Protocol = 'tcp' | 'udp' | 'sctp';

export interface ServicePortInfo extends PortIdentity {
  /** "namespace/name": the Service this port belongs to. */
  service: string;
  protocol: Protocol;
  /** The port's name ('' when unnamed): endpoints are matched to it by name and protocol. */
  portName: string;
  clusterIP: string;
  /** 0 when the port has no node port. */
  nodePort: number;
  /** status.loadBalancer.ingress IPs in VIP mode. */
  loadBalancerIPs: string[];
  externalIPs: string[];
  /** loadBalancerSourceRanges (IPv4, LoadBalancer Services only): who may reach the LB IPs. */
  sourceRanges: string[];
  /** internalTrafficPolicy Local. */
  internalLocal: boolean;
  /** externalTrafficPolicy Local (only for NodePort and LoadBalancer Services). */
  externalLocal: boolean;
  /** sessionAffinity ClientIP timeout in seconds; 0 without affinity. */
  affinitySeconds: number;
  /** "namespace/name:port", how rule comments name the port. */
  label: string;
}

interface ServiceSpecView {
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  ports?: { name?: string; port?: unknown; protocol?: string; nodePort?: unknown }[];
  externalIPs?: string[];
  loadBalancerSourceRanges?: string[];
  externalTrafficPolicy?: string;
  internalTrafficPolicy?: string;
  sessionAffinity?: string;
  sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: unknown } };
}
interface ServiceStatusView {
  loadBalancer?: { ingress?: { ip?: string; ipMode?: string }[] };
}

/** Upstream's limit on ClientIP affinity timeouts (one day). */
const MAX_AFFINITY_SECONDS = 86400;
const DEFAULT_AFFINITY_SECONDS = 10800;

const isIPv4 = (s: unknown): s is string => typeof s === 'string' && isIPv4Text(s);
const isIPv6 = (s: unknown): boolean => typeof s === 'string' && isIPv6Text(s);

function port(value: unknown, what: string, allowZero: boolean): number {
  const n = value === undefined || value === null ? 0 : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 65535) throw new InvalidServiceError(`${what} ${JSON.stringify(value)} is not a port number`);
  return n;
}

/**
 * The Service's load balancer VIPs as written in its status (unchecked): proxy-mode load
 * balancers deliver to the node ports themselves, so only VIP-mode ingress IPs are captured.
 */
export function loadBalancerVIPs(svc: KubeObject): string[] {
  const status = (svc.status ?? {}) as ServiceStatusView;
  return (status.loadBalancer?.ingress ?? []).filter((i) => i.ip && (i.ipMode === undefined || i.ipMode === 'VIP')).map((i) => i.ip!);
}

/** The key of a Service (and of everything the proxy programs for it). */
export const serviceKey = (svc: KubeObject) => `${svc.metadata.namespace ?? ''}/${svc.metadata.name ?? ''}`;

/** The ports to program for a Service (none for ExternalName and headless Services). */
export function servicePorts(svc: KubeObject): ServicePortInfo[] {
  const spec = (svc.spec ?? {}) as ServiceSpecView;
  const namespace = svc.metadata.namespace ?? '';
  const name = svc.metadata.name ?? '';
  if (spec.type === 'ExternalName') return [];
  // A Service's IPv4 address: clusterIPs of a dual-stack Service may list IPv6 first.
  const ips = spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  if (!ips.length || ips[0] === 'None') return [];
  const clusterIP = ips.find(isIPv4);
  if (!clusterIP) throw new InvalidServiceError(`no IPv4 cluster IP in ${JSON.stringify(ips)}`);

  const externalIPs = spec.externalIPs ?? [];
  for (const ip of externalIPs) if (!isIPv4(ip) && !isIPv6(ip)) throw new InvalidServiceError(`external IP ${JSON.stringify(ip)} is not an IP address`);
  const loadBalancerIPs: string[] = [];
  for (const ip of loadBalancerVIPs(svc)) {
    if (isIPv4(ip)) loadBalancerIPs.push(ip);
    else if (!isIPv6(ip)) throw new InvalidServiceError(`load balancer ingress IP ${JSON.stringify(ip)} is not an IP address`);
  }

  // Upstream ignores the ranges on other types, tolerates spaces around each and host bits.
  const sourceRanges: string[] = [];
  if (spec.type === 'LoadBalancer') {
    for (const r of spec.loadBalancerSourceRanges ?? []) {
      const range = String(r).trim();
      if (isIPv6(range.split('/')[0])) continue;
      try {
        const c = parseCidr(range, false);
        sourceRanges.push(`${c.network}/${c.prefix}`);
      } catch {
        throw new InvalidServiceError(`loadBalancerSourceRanges entry ${JSON.stringify(r)} is not an IP range`);
      }
    }
  }

  let affinitySeconds = 0;
  if (spec.sessionAffinity === 'ClientIP') {
    const t = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_SECONDS;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_AFFINITY_SECONDS) throw new InvalidServiceError(`sessionAffinityConfig.clientIP.timeoutSeconds ${JSON.stringify(t)} is not within 1..${MAX_AFFINITY_SECONDS}`);
    affinitySeconds = t;
  }
  const externallyVisible = spec.type === 'NodePort' || spec.type === 'LoadBalancer';

  const out: ServicePortInfo[] = [];
  for (const [i, p] of (spec.ports ?? []).entries()) {
    const protocol = (p.protocol ?? 'TCP').toLowerCase();
    if (protocol !== 'tcp' && protocol !== 'udp' && protocol !== 'sctp') throw new InvalidServiceError(`ports[${i}].protocol ${JSON.stringify(p.protocol)} is not TCP, UDP or SCTP`);
    const number = port(p.port, `ports[${i}].port`, false);
    out.push({
      service: `${namespace}/${name}`,
      namespace,
      name,
      protocol,
      port: number,
      portName: p.name ?? '',
      clusterIP,
      nodePort: port(p.nodePort, `ports[${i}].nodePort`, true),
      loadBalancerIPs: [...loadBalancerIPs],
      externalIPs: externalIPs.filter(isIPv4),
      sourceRanges: [...sourceRanges],
      internalLocal: spec.internalTrafficPolicy === 'Local',
      externalLocal: externallyVisible && spec.externalTrafficPolicy === 'Local',
      affinitySeconds,
      label: `${namespace}/${name}:${number}`,
    });
  }
  return out;
}

/** Reachable by something other than its cluster IP (upstream's ExternallyAccessible). */
export const externallyAccessible = (p: ServicePortInfo) => p.nodePort !== 0 || p.loadBalancerIPs.length > 0 || p.externalIPs.length > 0;
/** Sends traffic by the Cluster policy: internal Cluster, or any external traffic (its short-circuit). */
export const usesClusterEndpoints = (p: ServicePortInfo) => !p.internalLocal || externallyAccessible(p);
/** Sends traffic by the Local policy. */
export const usesLocalEndpoints = (p: ServicePortInfo) => p.internalLocal || (p.externalLocal && externallyAccessible(p));
