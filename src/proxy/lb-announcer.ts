/**
 * LoadBalancer IPs made reachable on the underlay, as MetalLB's layer-2 mode: for each
 * LoadBalancer IP inside the node's underlay subnet, one node — the first by name among the Ready
 * nodes, and for externalTrafficPolicy Local among those with a ready endpoint of the Service —
 * holds it as `IP/32` on its underlay device, so the host (and anything else on the underlay)
 * reaches it by ARP; the proxy's rules on that node take it from there. Every other node removes
 * it. Each agent decides for its own node from the same caches, so they agree without talking.
 */
import type { Logger } from '../client/index.js';
import { cidrContains, type Ip, parseCidr } from '../net/ip.js';
import { isIPv4 } from '../registry/validation.js';
import type { KubeObject } from '../util/object.js';
import { isNodeReady } from '../controllers/util/nodes.js';
import { serviceEndpoints } from './endpoints.js';
import { announceAddress } from './gratuitous-arp.js';
import { loadBalancerVIPs, serviceKey } from './service-ports.js';

/** Upstream's label for nodes that must not carry load balancer traffic. */
export const EXCLUDE_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';

interface ServiceView {
  spec?: { externalTrafficPolicy?: string };
}

/** The nodes that may announce, by name. */
export function eligibleNodes(nodes: readonly KubeObject[]): string[] {
  return nodes
    .filter((n) => isNodeReady(n) && n.metadata.labels?.[EXCLUDE_LABEL] === undefined)
    .map((n) => n.metadata.name ?? '')
    .sort();
}

/** Which node announces a Service's IPs (undefined: none — Local with no ready endpoint anywhere). */
export function announcingNode(svc: KubeObject, eligible: readonly string[], endpointNodes: ReadonlySet<string>): string | undefined {
  const local = (svc as unknown as ServiceView).spec?.externalTrafficPolicy === 'Local';
  return eligible.find((n) => !local || endpointNodes.has(n));
}

export interface AnnouncerOptions {
  node: Ip;
  nodeName: string;
  underlayDev: string;
  internalIP: string;
  services(): readonly KubeObject[];
  slices(key: string): readonly KubeObject[];
  nodes(): readonly KubeObject[];
  logger: Logger;
}

/** How long between safety reconciles (an address someone removed by hand comes back). */
const RESYNC_MS = 30_000;
/** Bursts of Service and endpoint events coalesce into one reconcile. */
const MIN_INTERVAL_MS = 100;

export class LoadBalancerAnnouncer {
  private chain: Promise<void> = Promise.resolve();
  private scheduled = false;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private subnet?: string;

  constructor(private readonly o: AnnouncerOptions) {}

  start(): Promise<void> {
    this.timer = setInterval(() => this.kick(), RESYNC_MS);
    this.timer.unref();
    this.kick();
    return this.chain;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.chain;
  }

  /** Something that decides the announcements changed: reconcile soon. */
  kick(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    this.chain = this.chain
      .then(() => new Promise((r) => setTimeout(r, MIN_INTERVAL_MS)))
      .then(async () => {
        this.scheduled = false;
        if (!this.stopped) await this.reconcile();
      })
      .catch((e: Error) => this.o.logger({ level: 'error', msg: 'load balancer announcement failed', error: e.message }));
  }

  /** The IPs this node should hold, given the caches. */
  wanted(subnet: string): Set<string> {
    const net = parseCidr(subnet, false);
    const eligible = eligibleNodes(this.o.nodes());
    const out = new Set<string>();
    for (const svc of this.o.services()) {
      const ips = loadBalancerVIPs(svc).filter((ip) => isIPv4(ip) && cidrContains(net, ip) && ip !== this.o.internalIP);
      if (!ips.length) continue;
      const endpointNodes = new Set<string>();
      for (const eps of serviceEndpoints(this.o.slices(serviceKey(svc)), this.o.nodeName).values()) for (const e of eps) if (e.ready && e.nodeName) endpointNodes.add(e.nodeName);
      if (announcingNode(svc, eligible, endpointNodes) !== this.o.nodeName) continue;
      for (const ip of ips) out.add(ip);
    }
    return out;
  }

  private async reconcile(): Promise<void> {
    const { node, underlayDev: dev } = this.o;
    const addrs = await node.ipv4Addrs(dev);
    this.subnet ??= addrs.find((a) => a.startsWith(`${this.o.internalIP}/`));
    if (!this.subnet) throw new Error(`${dev} in ${node} does not have the node address ${this.o.internalIP}`);
    const net = parseCidr(this.subnet, false);
    const want = this.wanted(this.subnet);
    // Ours: host addresses in the underlay subnet other than the node's own.
    const held = addrs.filter((a) => a.endsWith('/32') && a !== `${this.o.internalIP}/32` && cidrContains(net, a.slice(0, -3))).map((a) => a.slice(0, -3));
    for (const ip of held) {
      if (want.has(ip)) continue;
      await node.delAddr(dev, `${ip}/32`);
      this.o.logger({ level: 'info', msg: 'load balancer IP released', ip, node: this.o.nodeName });
    }
    for (const ip of want) {
      if (held.includes(ip)) continue;
      await node.ensureAddr(dev, `${ip}/32`);
      this.o.logger({ level: 'info', msg: 'load balancer IP announced', ip, node: this.o.nodeName });
      await announceAddress(node, dev, ip).catch((e: Error) => this.o.logger({ level: 'warn', msg: 'gratuitous ARP failed', ip, error: e.message }));
    }
  }
}
