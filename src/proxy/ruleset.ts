/**
 * The proxy's nftables ruleset, in the layout of kube-proxy's nftables mode
 * (pkg/proxy/nftables/proxier.go), rendered from Service ports and endpoints:
 *
 *   proxy-nat-prerouting / proxy-nat-output → proxy-services:
 *       cluster IPs from outside the pod network → proxy-mark-for-masquerade
 *       ip daddr . meta l4proto . th dport vmap @service-ips      (cluster, LB and external IPs)
 *       ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports
 *   service-…  (Cluster policy) / service-…-local-… (Local policy):
 *       ip saddr @affinity-… goto endpoint-…                      (ClientIP affinity first)
 *       numgen random mod N vmap { 0 : goto endpoint-…, … }
 *   external-… (NodePort / LB / external IP): masquerade (Cluster) or the Local policy's
 *       short-circuits for pods and the node itself, then the policy chain — or a drop when
 *       the Local policy has no endpoint on this node
 *   endpoint-…: hairpin → mark for masquerade; affinity update; dnat to IP:port
 *   proxy-nat-postrouting → proxy-masquerading: marked packets are masqueraded (fully random)
 *   proxy-filter-{input,forward,output}: new connections to Services without endpoints are
 *       rejected (@no-endpoint-services / @no-endpoint-nodeports), to unknown ports of cluster
 *       IPs too (proxy-cluster-ips-check), and to addresses of the Service network that no
 *       Service holds are dropped.
 *   proxy-filter-prerouting / proxy-filter-output-pre-dnat → proxy-firewall-check (before DNAT):
 *       ip daddr . meta l4proto . th dport vmap @firewall-ips
 *   firewall-…: load balancer traffic from outside loadBalancerSourceRanges is dropped.
 *
 * Everything a Service needs is one ServiceRules value, so a change to a Service or its
 * endpoints is a diff of two such values (transaction.ts). Every rule carries a comment naming
 * the Service port and, where it leads to one, the endpoint (`cairn trace` prints them).
 */
import { cidrContains, parseCidr } from '../net/ip.js';
import { type ChainSpec, type MapSpec, type NftRule, type NftScript, type NftValue, nv, rule, type SetSpec, withComment } from '../net/nft.js';
import { categorize, type Endpoint, portKey } from './endpoints.js';
import { affinitySetName, CHAIN, endpointChainName, externalChainName, firewallChainName, localChainName, MAP, SET, serviceChainName } from './names.js';
import { externallyAccessible, type ServicePortInfo } from './service-ports.js';

/** The packet mark that asks proxy-masquerading to masquerade (upstream's default bit 14). */
export const MASQUERADE_MARK = 0x4000;

export interface ElementSpec {
  /** The map or set. */
  container: string;
  key: NftValue[];
  /** The map's value; none for a set element. */
  value?: NftValue;
  comment?: string;
}

/** Everything the kernel holds for one Service. */
export interface ServiceRules {
  /** Per Service port and endpoint chains, with their rules. */
  chains: Map<string, NftRule[]>;
  /** Affinity sets and their timeouts in seconds. */
  affinitySets: Map<string, number>;
  /** Map and set elements by elementId. */
  elements: Map<string, ElementSpec>;
}

export interface RulesetConfig {
  /** The cluster's pod network: traffic from elsewhere to cluster IPs is masqueraded. */
  clusterCidr: string;
  /** The Service network: traffic to an address in it that no Service holds is dropped. */
  serviceCidr?: string;
  /** The addresses that accept NodePort traffic (the node's InternalIP). */
  nodeIPs: string[];
}

/** An element's identity within the table: its container and key. */
export const elementId = (e: ElementSpec) => `${e.container} ${e.key.map((k) => k.text).join(' . ')}`;
/** What else must match for an element to be unchanged. */
export const elementPayload = (e: ElementSpec) => `${e.value?.text ?? ''}|${e.comment ?? ''}`;

/** Comments are at most 128 printable characters; names of 63 + 63 can exceed that. */
const note = (r: NftRule, text: string) => withComment(r, text.slice(0, 128));

const FILTER_PRIORITY = -10;
/** Before DNAT rewrites the load balancer IP (upstream's dstnat - 10). */
const PRE_DNAT_FILTER_PRIORITY = -110;
const BASE_CHAINS: ChainSpec[] = [
  { name: CHAIN.natPrerouting, base: { type: 'nat', hook: 'prerouting', priority: 'dstnat' } },
  // nft accepts the name `dstnat` only at prerouting; at output it is spelled as its value.
  { name: CHAIN.natOutput, base: { type: 'nat', hook: 'output', priority: -100 } },
  { name: CHAIN.natPostrouting, base: { type: 'nat', hook: 'postrouting', priority: 'srcnat' } },
  { name: CHAIN.filterInput, base: { type: 'filter', hook: 'input', priority: FILTER_PRIORITY } },
  { name: CHAIN.filterForward, base: { type: 'filter', hook: 'forward', priority: FILTER_PRIORITY } },
  { name: CHAIN.filterOutput, base: { type: 'filter', hook: 'output', priority: FILTER_PRIORITY } },
  { name: CHAIN.filterPrerouting, base: { type: 'filter', hook: 'prerouting', priority: PRE_DNAT_FILTER_PRIORITY } },
  { name: CHAIN.filterOutputPreDnat, base: { type: 'filter', hook: 'output', priority: PRE_DNAT_FILTER_PRIORITY } },
];
const FIXED_CHAINS = [CHAIN.services, CHAIN.masquerading, CHAIN.markForMasquerade, CHAIN.serviceEndpointsCheck, CHAIN.nodePortEndpointsCheck, CHAIN.clusterIPsCheck, CHAIN.reject, CHAIN.firewallCheck];
const VIP_KEY = 'ipv4_addr . inet_proto . inet_service';
const PORT_KEY = 'inet_proto . inet_service';
const MAPS: MapSpec[] = [
  { name: MAP.serviceIPs, type: VIP_KEY, valueType: 'verdict' },
  { name: MAP.serviceNodePorts, type: PORT_KEY, valueType: 'verdict' },
  { name: MAP.noEndpointServices, type: VIP_KEY, valueType: 'verdict' },
  { name: MAP.noEndpointNodePorts, type: PORT_KEY, valueType: 'verdict' },
  { name: MAP.firewallIPs, type: VIP_KEY, valueType: 'verdict' },
];
const SETS: SetSpec[] = [
  { name: SET.clusterIPs, type: 'ipv4_addr' },
  { name: SET.nodePortIPs, type: 'ipv4_addr' },
];

/** Every fixed object of the proxy, every rule of the fixed chains, and the node port addresses. */
function fixedRules(cfg: RulesetConfig): [string, NftRule][] {
  const cidr = parseCidr(cfg.clusterCidr, true);
  const podNet = nv.cidr(`${cidr.network}/${cidr.prefix}`);
  const serviceNet = cfg.serviceCidr ? parseCidr(cfg.serviceCidr, false) : undefined;
  const mark = nv.int(MASQUERADE_MARK);
  const jump = (chain: string) => nv.verdict({ jump: chain });
  const newConn = (chain: string, what: string): NftRule => note(rule`ct state new ${jump(chain)}`, what);
  return [
    [CHAIN.natPrerouting, note(rule`${jump(CHAIN.services)}`, 'service dispatch')],
    [CHAIN.natOutput, note(rule`${jump(CHAIN.services)}`, 'service dispatch')],
    [CHAIN.natPostrouting, note(rule`${jump(CHAIN.masquerading)}`, 'masquerade marked service traffic')],
    [CHAIN.markForMasquerade, note(rule`meta mark set meta mark | ${mark}`, 'mark for masquerade')],
    [CHAIN.masquerading, note(rule`meta mark & ${mark} == 0 return`, 'not marked for masquerade')],
    [CHAIN.masquerading, note(rule`meta mark set meta mark ^ ${mark}`, 'clear the masquerade mark')],
    [CHAIN.masquerading, note(rule`masquerade fully-random`, 'masquerade service traffic')],
    [CHAIN.services, note(rule`ip daddr ${nv.set(SET.clusterIPs)} ip saddr != ${podNet} ${jump(CHAIN.markForMasquerade)}`, 'cluster IP traffic from outside the pod network')],
    [CHAIN.services, note(rule`ip daddr . meta l4proto . th dport vmap ${nv.set(MAP.serviceIPs)}`, 'cluster, load balancer and external IPs')],
    [CHAIN.services, note(rule`ip daddr ${nv.set(SET.nodePortIPs)} meta l4proto . th dport vmap ${nv.set(MAP.serviceNodePorts)}`, 'node ports')],
    [CHAIN.filterInput, newConn(CHAIN.nodePortEndpointsCheck, 'node ports without endpoints')],
    [CHAIN.filterInput, newConn(CHAIN.serviceEndpointsCheck, 'services without endpoints')],
    [CHAIN.filterForward, newConn(CHAIN.serviceEndpointsCheck, 'services without endpoints')],
    [CHAIN.filterForward, newConn(CHAIN.clusterIPsCheck, 'unknown ports of cluster IPs')],
    [CHAIN.filterOutput, newConn(CHAIN.serviceEndpointsCheck, 'services without endpoints')],
    [CHAIN.filterOutput, newConn(CHAIN.clusterIPsCheck, 'unknown ports of cluster IPs')],
    [CHAIN.serviceEndpointsCheck, note(rule`ip daddr . meta l4proto . th dport vmap ${nv.set(MAP.noEndpointServices)}`, 'services without endpoints')],
    [CHAIN.nodePortEndpointsCheck, note(rule`ip daddr ${nv.set(SET.nodePortIPs)} meta l4proto . th dport vmap ${nv.set(MAP.noEndpointNodePorts)}`, 'node ports without endpoints')],
    [CHAIN.clusterIPsCheck, note(rule`ip daddr ${nv.set(SET.clusterIPs)} goto ${nv.chain(CHAIN.reject)}`, 'unknown port of a cluster IP')],
    // Else it would follow the default route off the node, as upstream says.
    ...(serviceNet ? [[CHAIN.clusterIPsCheck, note(rule`ip daddr ${nv.cidr(`${serviceNet.network}/${serviceNet.prefix}`)} drop`, 'unallocated cluster IP')] as [string, NftRule]] : []),
    [CHAIN.filterPrerouting, newConn(CHAIN.firewallCheck, 'load balancer source ranges')],
    [CHAIN.filterOutputPreDnat, newConn(CHAIN.firewallCheck, 'load balancer source ranges')],
    [CHAIN.firewallCheck, note(rule`ip daddr . meta l4proto . th dport vmap ${nv.set(MAP.firewallIPs)}`, 'load balancer source ranges')],
    [CHAIN.reject, note(rule`meta l4proto tcp reject with tcp reset`, 'no endpoints: tcp reset')],
    [CHAIN.reject, note(rule`reject`, 'no endpoints: icmp port unreachable')],
  ];
}

/**
 * Adds to the script: the table, every fixed chain, map and set of the proxy created and
 * emptied, and the fixed rules and node port addresses refilled.
 */
export function writeFixedRuleset(s: NftScript, cfg: RulesetConfig): void {
  s.addTable();
  for (const c of BASE_CHAINS) s.addChain(c).flushChain(c.name);
  for (const c of FIXED_CHAINS) s.addChain({ name: c }).flushChain(c);
  for (const m of MAPS) s.addMap(m).flushSet(m.name, 'map');
  for (const set of SETS) s.addSet(set).flushSet(set.name);
  for (const [chain, r] of fixedRules(cfg)) s.addRule(chain, r);
  s.addElements(SET.nodePortIPs, cfg.nodeIPs.map((ip) => nv.ip(ip)));
}

/** The fixed sets and maps the per-Service elements go to, with their kind. */
export const CONTAINER_KIND: Record<string, 'set' | 'map'> = Object.fromEntries([...MAPS.map((m) => [m.name, 'map']), ...SETS.map((x) => [x.name, 'set'])]);

/** Renders everything one Service needs (no ports: nothing). */
export function renderService(ports: readonly ServicePortInfo[], endpoints: ReadonlyMap<string, Endpoint[]>, cfg: RulesetConfig): ServiceRules {
  const out: ServiceRules = { chains: new Map(), affinitySets: new Map(), elements: new Map() };
  const cidr = parseCidr(cfg.clusterCidr, true);
  for (const p of ports) {
    renderPort(out, p, endpoints.get(portKey(p.portName, p.protocol)) ?? [], `${cidr.network}/${cidr.prefix}`);
    renderFirewall(out, p, cfg);
  }
  return out;
}

/**
 * loadBalancerSourceRanges, as upstream: only the load balancer IPs are filtered (node ports and
 * the cluster IP are not), and when the node's own address is in a range the node may also reach
 * the VIPs, whose source is then the VIP itself.
 */
function renderFirewall(out: ServiceRules, p: ServicePortInfo, cfg: RulesetConfig): void {
  if (!p.sourceRanges.length || !p.loadBalancerIPs.length) return;
  const ranges = p.sourceRanges.map((r) => parseCidr(r, true));
  const allowFromNode = cfg.nodeIPs.some((ip) => ranges.some((r) => cidrContains(r, ip)));
  const sources = [...p.sourceRanges.map((r) => nv.cidr(r)), ...(allowFromNode ? p.loadBalancerIPs.map((ip) => nv.ip(ip)) : [])];
  const chain = firewallChainName(p);
  out.chains.set(chain, [note(rule`ip saddr != ${nv.anon(sources)} drop`, `${p.label} load balancer source ranges`)]);
  for (const ip of p.loadBalancerIPs) {
    const key = [nv.ip(ip), nv.proto(p.protocol), nv.port(p.port)];
    out.elements.set(elementId({ container: MAP.firewallIPs, key }), { container: MAP.firewallIPs, key, value: nv.verdict({ goto: chain }), comment: `${p.label} load balancer IP` });
  }
}

function renderPort(out: ServiceRules, p: ServicePortInfo, eps: Endpoint[], podNet: string): void {
  const { cluster, local, reachable, hasAny } = categorize(eps, p);
  const proto = nv.proto(p.protocol);
  const port = nv.port(p.port);
  const goto = (chain: string) => nv.verdict({ goto: chain });
  const element = (e: ElementSpec) => out.elements.set(elementId(e), e);
  const clusterChain = serviceChainName(p);
  const localChain = localChainName(p);
  const externalChain = externalChainName(p);

  const usesClusterChain = cluster.length > 0;
  const usesLocalChain = local.length > 0;
  const internalChain = p.internalLocal ? localChain : clusterChain;
  const hasInternal = hasAny && (!p.internalLocal || usesLocalChain);
  const externalPolicyChain = p.externalLocal ? localChain : clusterChain;
  const hasExternal = hasAny && (!p.externalLocal || usesLocalChain);
  const usesExternalChain = hasAny && externallyAccessible(p);
  // No endpoints anywhere: rejected in the filter chains. Endpoints, but none this policy may
  // use here (internalTrafficPolicy Local without a local one): dropped, as upstream.
  const noEndpoints = hasAny ? nv.verdict('drop') : goto(CHAIN.reject);
  const noEndpointsNote = hasAny ? `${p.label} has no local endpoints` : `${p.label} has no endpoints`;

  element({ container: SET.clusterIPs, key: [nv.ip(p.clusterIP)] });
  const vip = [nv.ip(p.clusterIP), proto, port];
  if (hasInternal) element({ container: MAP.serviceIPs, key: vip, value: goto(internalChain), comment: `${p.label} cluster IP` });
  else element({ container: MAP.noEndpointServices, key: vip, value: noEndpoints, comment: noEndpointsNote });
  const external: [string, string][] = [...p.loadBalancerIPs.map((ip): [string, string] => [ip, 'load balancer IP']), ...p.externalIPs.map((ip): [string, string] => [ip, 'external IP'])];
  for (const [ip, what] of external) {
    const key = [nv.ip(ip), proto, port];
    if (usesExternalChain) element({ container: MAP.serviceIPs, key, value: goto(externalChain), comment: `${p.label} ${what}` });
    else element({ container: MAP.noEndpointServices, key, value: goto(CHAIN.reject), comment: `${p.label} has no endpoints` });
  }
  if (p.nodePort) {
    const key = [proto, nv.port(p.nodePort)];
    if (usesExternalChain) element({ container: MAP.serviceNodePorts, key, value: goto(externalChain), comment: `${p.label} node port` });
    else element({ container: MAP.noEndpointNodePorts, key, value: goto(CHAIN.reject), comment: `${p.label} has no endpoints` });
  }

  if (usesExternalChain) {
    const rules: NftRule[] = [];
    const mark = nv.verdict({ jump: CHAIN.markForMasquerade });
    if (!p.externalLocal) {
      // Endpoints may be on another node: the reply must come back through this one.
      rules.push(note(rule`${mark}`, `${p.label} external: masquerade`));
    } else {
      // Pods reaching an external address of the Service get it as if from outside and back in,
      // by the Cluster policy; the node itself too, masqueraded (its source is the VIP's node).
      rules.push(note(rule`ip saddr ${nv.cidr(podNet)} ${goto(clusterChain)}`, `${p.label} short-circuit pod traffic`));
      rules.push(note(rule`fib saddr type local ${mark}`, `${p.label} masquerade local traffic`));
      rules.push(note(rule`fib saddr type local ${goto(clusterChain)}`, `${p.label} short-circuit local traffic`));
    }
    if (hasExternal) rules.push(note(rule`${goto(externalPolicyChain)}`, `${p.label} external`));
    else rules.push(note(rule`drop`, `${p.label} has no local endpoints`));
    out.chains.set(externalChain, rules);
  }

  if (usesClusterChain) out.chains.set(clusterChain, dispatchRules(p, cluster, p.label));
  if (usesLocalChain) out.chains.set(localChain, dispatchRules(p, local, `${p.label} local endpoints`));

  for (const e of reachable) {
    const target = `${p.label} -> ${e.ip}:${e.port}`;
    const rules: NftRule[] = [note(rule`ip saddr ${nv.ip(e.ip)} ${nv.verdict({ jump: CHAIN.markForMasquerade })}`, `${target} hairpin`)];
    if (p.affinitySeconds) {
      const set = affinitySetName(p, e.ip, e.port);
      out.affinitySets.set(set, p.affinitySeconds);
      rules.push(note(rule`update ${nv.set(set)} { ip saddr }`, `${target} affinity`));
    }
    rules.push(note(rule`meta l4proto ${proto} dnat to ${nv.ip(e.ip)}:${nv.port(e.port)}`, target));
    out.chains.set(endpointChainName(p, e.ip, e.port), rules);
  }
}

/** A policy chain: clients stuck to an endpoint first, then a random endpoint. */
function dispatchRules(p: ServicePortInfo, eps: Endpoint[], label: string): NftRule[] {
  const rules: NftRule[] = [];
  const goto = (e: Endpoint) => nv.verdict({ goto: endpointChainName(p, e.ip, e.port) });
  if (p.affinitySeconds) {
    for (const e of eps) rules.push(note(rule`ip saddr ${nv.set(affinitySetName(p, e.ip, e.port))} ${goto(e)}`, `${label} affinity -> ${e.ip}:${e.port}`));
  }
  const choices = nv.anonMap(eps.map((e, i): [NftValue, NftValue] => [nv.int(i), goto(e)]));
  rules.push(note(rule`numgen random mod ${nv.int(eps.length)} vmap ${choices}`, label));
  return rules;
}
