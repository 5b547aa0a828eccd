/**
 * Stale UDP conntrack entries (upstream's conntrack.CleanStaleEntries). UDP has no connection
 * to break: a client that keeps sending from the same port keeps hitting the conntrack entry of
 * its first packet, so when that entry's endpoint goes away the client is stuck until the entry
 * expires, and a client that sent while the Service had no endpoint has an entry that was never
 * DNATed. So after every change to a UDP Service, the entries toward its IPs and node ports whose
 * reply source is not one of its serving endpoints are deleted; the next packet is NATed afresh.
 */
import type { Conntrack, ConntrackEntry, ConntrackFilter } from '../net/conntrack.js';
import { type Endpoint, portKey } from './endpoints.js';
import type { ServicePortInfo } from './service-ports.js';

export interface UdpServicePort {
  /** Cluster IP, LoadBalancer and external IPs. */
  serviceIPs: string[];
  nodePort: number;
  /** Every serving endpoint's address, whatever the traffic policies (existing flows stay as they are). */
  servingIPs: string[];
}

/** The UDP ports of a Service with the endpoints that may answer for them. */
export function udpServicePorts(ports: readonly ServicePortInfo[], endpoints: ReadonlyMap<string, Endpoint[]>): UdpServicePort[] {
  return ports
    .filter((p) => p.protocol === 'udp')
    .map((p) => ({
      serviceIPs: [p.clusterIP, ...p.loadBalancerIPs, ...p.externalIPs],
      nodePort: p.nodePort,
      servingIPs: (endpoints.get(portKey(p.portName, p.protocol)) ?? []).filter((e) => e.serving).map((e) => e.ip),
    }));
}

/** The deletions that remove every stale entry among `entries`. */
export function staleUdpFilters(entries: readonly ConntrackEntry[], ports: readonly UdpServicePort[], nodeIPs: readonly string[]): ConntrackFilter[] {
  const byIP = new Map<string, Set<string>>();
  const byNodePort = new Map<number, Set<string>>();
  for (const p of ports) {
    const serving = new Set(p.servingIPs);
    for (const ip of p.serviceIPs) byIP.set(ip, serving);
    if (p.nodePort) byNodePort.set(p.nodePort, serving);
  }
  const out = new Map<string, ConntrackFilter>();
  const add = (f: ConntrackFilter) => out.set(JSON.stringify(f), f);
  for (const e of entries) {
    if (e.protocol !== 'udp') continue;
    const { dst, dport } = e.original;
    const replySrc = e.reply.src;
    const forIP = byIP.get(dst);
    if (forIP && !forIP.has(replySrc)) add({ protocol: 'udp', origDst: dst, replySrc });
    const forPort = dport !== undefined && nodeIPs.includes(dst) ? byNodePort.get(dport) : undefined;
    if (forPort && !forPort.has(replySrc)) add({ protocol: 'udp', origDst: dst, origDstPort: dport, replySrc });
  }
  return [...out.values()];
}

/** Deletes the stale UDP entries of these Service ports; resolves with how many went. */
export async function clearStaleUdpEntries(ct: Conntrack, ports: readonly UdpServicePort[], nodeIPs: readonly string[]): Promise<number> {
  if (!ports.length) return 0;
  const entries = await ct.list({ protocol: 'udp' });
  let deleted = 0;
  for (const f of staleUdpFilters(entries, ports, nodeIPs)) deleted += await ct.delete(f);
  return deleted;
}
