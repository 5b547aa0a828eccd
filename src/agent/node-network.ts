/**
 * The node's pod network, flannel's vxlan backend driven from the API: the node publishes its
 * VTEP (annotations `cairn.io/vtep-mac` and `cairn.io/public-ip`, as flannel's
 * `flannel.alpha.coreos.com/backend-data` / `public-ip`), and a node informer keeps the
 * neighbour, FDB and route entries to every other node's pod /24 in step with the Node objects.
 *
 * In the `evpn` mode (`cairn up --fabric`) FRR on the node does the neighbour and FDB part from
 * EVPN routes; the node publishes only its VTEP address (`cairn.io/public-ip`) and keeps one
 * route per other node's podCIDR.
 *
 * With pod IP handoff (./pod-ip-handoff.ts) the same reconcile also routes each handed-off
 * address toward the node holding it, answers ARP on cairn0 for it where needed, and lets the
 * handoff part sync this node's own routed pods.
 */
import type { Informer, Logger } from '../client/index.js';
import type { KubeObject } from '../util/object.js';
import { EvpnOverlay, Overlay, type OverlayMode, type RemoteNode, type RemotePodNetwork } from '../net/overlay.js';
import type { Ip } from '../net/ip.js';
import { handoffRoutes, proxyArpAddresses } from '../net/pod-ip-handoff.js';
import { handoffTable, type PodIpHandoffs } from './pod-ip-handoff.js';

export const VTEP_MAC_ANNOTATION = 'cairn.io/vtep-mac';
export const PUBLIC_IP_ANNOTATION = 'cairn.io/public-ip';

export interface NodeNetworkOptions {
  node: Ip;
  nodeName: string;
  podCidr: string;
  clusterCidr: string;
  /** The VXLAN source address: the InternalIP, or the node's VTEP on a fabric. */
  underlayIP: string;
  underlayDev: string;
  /** Default `vxlan`. */
  mode?: OverlayMode;
  /** Pod MTU, when not the underlay device's minus the VXLAN overhead. */
  mtu?: number;
  nodes: Informer<KubeObject>;
  /** Pod IP handoff on this node; without it no handoff route is programmed. */
  handoffs?: PodIpHandoffs;
  logger: Logger;
}

export class NodeNetwork {
  readonly overlay: Overlay;
  private timer?: NodeJS.Timeout;
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly o: NodeNetworkOptions) {
    const cfg = { node: o.node, podCidr: o.podCidr, clusterCidr: o.clusterCidr, underlayIP: o.underlayIP, underlayDev: o.underlayDev, mtu: o.mtu };
    this.overlay = o.mode === 'evpn' ? new EvpnOverlay(cfg) : new Overlay(cfg);
  }

  /** Sets up the bridge, VXLAN device and masquerade; returns the annotations to publish and the pod MTU. */
  async setup(): Promise<{ annotations: Record<string, string>; mtu: number }> {
    const r = await this.overlay.setup();
    // With EVPN no peer needs the VTEP MAC: zebra learns every MAC behind the VTEP from BGP.
    const annotations: Record<string, string> = { [PUBLIC_IP_ANNOTATION]: this.o.underlayIP };
    if (!(this.overlay instanceof EvpnOverlay)) annotations[VTEP_MAC_ANNOTATION] = r.vtepMAC;
    return { annotations, mtu: r.mtu };
  }

  /** Follows the Node objects; a full reconcile on every change and every 30 s. */
  start(): void {
    const kick = () => this.schedule();
    this.o.nodes.addEventHandler({ onAdd: kick, onUpdate: kick, onDelete: kick });
    this.timer = setInterval(kick, 30_000);
    this.timer.unref();
    kick();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A reconcile soon (a pod's network went away). */
  kick(): void {
    this.schedule();
  }

  private scheduled = false;
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.pending = this.pending.then(async () => {
      this.scheduled = false;
      try {
        const t = this.o.handoffs ? handoffTable(this.o.nodes.store.list()) : undefined;
        const routes = t ? handoffRoutes(this.o.nodeName, t.holders) : [];
        const evpn = this.overlay instanceof EvpnOverlay;
        if (this.overlay instanceof EvpnOverlay) await this.overlay.reconcile(this.remotePodNetworks(), routes);
        else await this.overlay.reconcile(this.remotes(), routes);
        if (t) {
          // Proxy ARP first: sync makes local pods ask again, and the answer must be there.
          const held = [...t.holders.values()].filter((h) => h.node === this.o.nodeName).map((h) => h.ip);
          await this.overlay.reconcileHandoffs({ proxyArp: proxyArpAddresses(this.o.nodeName, this.o.podCidr, t.holders, evpn), localHeld: held });
          await this.o.handoffs!.sync(t);
        }
      } catch (e) {
        this.o.logger({ level: 'error', msg: 'overlay reconcile failed', error: (e as Error).message });
      }
    });
  }

  private remotePodNetworks(): RemotePodNetwork[] {
    return this.o.nodes.store
      .list()
      .filter((n) => n.metadata.name !== this.o.nodeName)
      .flatMap((n) => {
        const podCidr = (n.spec as { podCIDR?: string } | undefined)?.podCIDR;
        return podCidr ? [{ name: n.metadata.name, podCidr }] : [];
      });
  }

  private remotes(): RemoteNode[] {
    const out: RemoteNode[] = [];
    for (const n of this.o.nodes.store.list()) {
      if (n.metadata.name === this.o.nodeName) continue;
      const a = n.metadata.annotations ?? {};
      const podCidr = (n.spec as { podCIDR?: string } | undefined)?.podCIDR;
      const vtepMAC = a[VTEP_MAC_ANNOTATION];
      const underlayIP = a[PUBLIC_IP_ANNOTATION];
      if (podCidr && vtepMAC && underlayIP) out.push({ name: n.metadata.name, podCidr, vtepMAC, underlayIP });
    }
    return out;
  }
}
