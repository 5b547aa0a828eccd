/**
 * The names of the Service proxy's nftables objects, in the `ip cairn` table of a node.
 *
 * Fixed objects start with `proxy-` (chains) or are the dispatch maps and sets of kube-proxy's
 * nftables mode. Per Service port and per endpoint, names follow upstream's
 * `<prefix><HASH>-<ns>/<name>/<proto>/<port>[__<ip>/<port>]`, rewritten to Cairn's name rule
 * (lowercase words joined by '-', at most 64 characters): the 8-character hash of the full,
 * untruncated identity comes first, so two names stay distinct even when the readable rest is
 * cut, and endpoints of one Service that differ in one digit still look different at a glance.
 */
import { createHash } from 'node:crypto';
import { checkNftName } from '../net/nft.js';

export const CHAIN = {
  natPrerouting: 'proxy-nat-prerouting',
  natOutput: 'proxy-nat-output',
  natPostrouting: 'proxy-nat-postrouting',
  filterInput: 'proxy-filter-input',
  filterForward: 'proxy-filter-forward',
  filterOutput: 'proxy-filter-output',
  services: 'proxy-services',
  masquerading: 'proxy-masquerading',
  markForMasquerade: 'proxy-mark-for-masquerade',
  serviceEndpointsCheck: 'proxy-service-endpoints-check',
  nodePortEndpointsCheck: 'proxy-nodeport-endpoints-check',
  clusterIPsCheck: 'proxy-cluster-ips-check',
  reject: 'proxy-reject-chain',
  filterPrerouting: 'proxy-filter-prerouting',
  filterOutputPreDnat: 'proxy-filter-output-pre-dnat',
  firewallCheck: 'proxy-firewall-check',
} as const;

export const MAP = {
  serviceIPs: 'service-ips',
  serviceNodePorts: 'service-nodeports',
  noEndpointServices: 'no-endpoint-services',
  noEndpointNodePorts: 'no-endpoint-nodeports',
  firewallIPs: 'firewall-ips',
} as const;

export const SET = {
  clusterIPs: 'cluster-ips',
  nodePortIPs: 'nodeport-ips',
} as const;

/** Chains made per Service port or endpoint (every other chain of the proxy is fixed). */
export const PER_SERVICE_CHAIN = /^(service|external|firewall|endpoint)-/;
/** The policy chains of a Service port (the ones with a numgen vmap). */
export const SERVICE_CHAIN = /^service-/;
/** Sets made per endpoint of a Service with ClientIP affinity. */
export const AFFINITY_SET = /^affinity-/;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** The first 8 characters of the base32 SHA-256 of the text (upstream's hashAndTruncate). */
export function hash8(text: string): string {
  const d = createHash('sha256').update(text).digest();
  // 8 base32 characters are the first 40 bits.
  let bits = 0n;
  for (let i = 0; i < 5; i++) bits = (bits << 8n) | BigInt(d[i]!);
  let out = '';
  for (let i = 7; i >= 0; i--) out += BASE32[Number((bits >> BigInt(i * 5)) & 31n)];
  return out;
}

/** Lowercase words joined by single dashes: what remains of a name part under nft's name rule. */
function words(part: string): string {
  return part
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

function build(prefix: string, identity: string, parts: (string | number)[]): string {
  let name = [prefix, hash8(identity), ...parts.map((p) => words(String(p))).filter(Boolean)].join('-');
  if (name.length > 64) name = name.slice(0, 64).replace(/-+$/, '');
  return checkNftName(name);
}

/** What identifies a Service port in names: namespace, name, protocol, port. */
export interface PortIdentity {
  namespace: string;
  name: string;
  protocol: string;
  port: number;
}

const portIdentity = (p: PortIdentity) => `${p.namespace}/${p.name}/${p.protocol}/${p.port}`;

/** The Service port's chain with the endpoints of the Cluster traffic policy. */
export function serviceChainName(p: PortIdentity): string {
  return build('service', portIdentity(p), [p.namespace, p.name, p.protocol, p.port]);
}

/** The Service port's chain with the endpoints of the Local traffic policy (this node's only). */
export function localChainName(p: PortIdentity): string {
  return build('service', `${portIdentity(p)}/local`, ['local', p.namespace, p.name, p.protocol, p.port]);
}

/** The Service port's chain for NodePort, LoadBalancer and external IP traffic. */
export function externalChainName(p: PortIdentity): string {
  return build('external', portIdentity(p), [p.namespace, p.name, p.protocol, p.port]);
}

/** The Service port's chain that drops load balancer traffic from outside loadBalancerSourceRanges. */
export function firewallChainName(p: PortIdentity): string {
  return build('firewall', portIdentity(p), [p.namespace, p.name, p.protocol, p.port]);
}

const endpointIdentity = (p: PortIdentity, ip: string, port: number) => `${portIdentity(p)}__${ip}/${port}`;

/** The chain that DNATs to one endpoint of the Service port. */
export function endpointChainName(p: PortIdentity, ip: string, port: number): string {
  return build('endpoint', endpointIdentity(p, ip, port), [p.namespace, p.name, p.protocol, p.port, ip, port]);
}

/** The set of client addresses stuck to one endpoint (sessionAffinity ClientIP). */
export function affinitySetName(p: PortIdentity, ip: string, port: number): string {
  return build('affinity', endpointIdentity(p, ip, port), [p.namespace, p.name, p.protocol, p.port, ip, port]);
}
