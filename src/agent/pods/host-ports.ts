/**
 * hostPort: traffic to a port of the node is DNATed to the pod, as the CNI portmap plugin does,
 * in the node's `cairn` nftables table: one chain `hostports-prerouting` hooked at prerouting (traffic
 * arriving at the node) and one at output (the node's own processes), rebuilt from the full set
 * of running pods on every change — the chain is small, and a whole-chain swap is atomic.
 * Traffic a pod sends to its own hostPort (hairpin) is masqueraded so the reply comes back
 * through the node.
 */
import { Nft, nv, rule, withComment, type NftRule } from '../../net/nft.js';
import type { Pod } from './api-types.js';

export const HOSTPORT_CHAIN = 'hostports-prerouting';
export const HOSTPORT_OUTPUT_CHAIN = 'hostports-output';
export const HOSTPORT_MASQ_CHAIN = 'hostports-masquerade';

export interface HostPortMapping {
  protocol: 'tcp' | 'udp' | 'sctp';
  hostIP?: string;
  hostPort: number;
  podIP: string;
  containerPort: number;
  pod: string;
}

/** The host ports a pod asks for (hostNetwork pods need none: they bind the node's ports). */
export function hostPortsOf(pod: Pod, podIP: string): HostPortMapping[] {
  if (pod.spec.hostNetwork) return [];
  const out: HostPortMapping[] = [];
  for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort) continue;
      const hostIP = p.hostIP && p.hostIP !== '0.0.0.0' ? p.hostIP : undefined;
      out.push({ protocol: (p.protocol ?? 'TCP').toLowerCase() as HostPortMapping['protocol'], hostIP, hostPort: p.hostPort, podIP, containerPort: p.containerPort, pod: `${pod.metadata.namespace}/${pod.metadata.name}` });
    }
  }
  return out;
}

/** Two mappings conflict when they share protocol and port and their host IPs overlap. */
export function conflicts(a: HostPortMapping, b: Pick<HostPortMapping, 'protocol' | 'hostPort' | 'hostIP'>): boolean {
  return a.protocol === b.protocol && a.hostPort === b.hostPort && (!a.hostIP || !b.hostIP || a.hostIP === b.hostIP);
}

export class HostPorts {
  private lastApplied = '';

  constructor(private readonly nft: Nft) {}

  /** Programs exactly these mappings. */
  async sync(mappings: HostPortMapping[]): Promise<void> {
    const sorted = [...mappings].sort((a, b) => a.hostPort - b.hostPort || a.protocol.localeCompare(b.protocol) || a.podIP.localeCompare(b.podIP));
    const key = JSON.stringify(sorted);
    if (key === this.lastApplied) return;
    const dnat: NftRule[] = sorted.map((m) => {
      const r = m.hostIP
        ? rule`ip daddr ${nv.ip(m.hostIP)} ${nv.proto(m.protocol)} dport ${nv.port(m.hostPort)} dnat to ${nv.ip(m.podIP)}:${nv.port(m.containerPort)}`
        : rule`fib daddr type local ${nv.proto(m.protocol)} dport ${nv.port(m.hostPort)} dnat to ${nv.ip(m.podIP)}:${nv.port(m.containerPort)}`;
      return withComment(r, `hostPort of ${m.pod}`.slice(0, 128));
    });
    const masq = sorted.map((m) => rule`ip saddr ${nv.ip(m.podIP)} ip daddr ${nv.ip(m.podIP)} ${nv.proto(m.protocol)} dport ${nv.port(m.containerPort)} masquerade`);
    await this.nft.syncChain({ name: HOSTPORT_CHAIN, base: { type: 'nat', hook: 'prerouting', priority: 'dstnat' } }, dnat);
    // nft accepts the name `dstnat` only at prerouting; at output it is spelled as its value.
    await this.nft.syncChain({ name: HOSTPORT_OUTPUT_CHAIN, base: { type: 'nat', hook: 'output', priority: -100 } }, dnat);
    await this.nft.syncChain({ name: HOSTPORT_MASQ_CHAIN, base: { type: 'nat', hook: 'postrouting', priority: 'srcnat' } }, masq);
    this.lastApplied = key;
  }
}
