/**
 * The node's pod network, flannel's vxlan backend driven from the API: the node publishes its
 * VTEP (annotations `cairn.io/vtep-mac` and `cairn.io/public-ip`, as flannel's
 * `flannel.alpha.coreos.com/backend-data` / `public-ip`), and a node informer keeps the
 * neighbour, FDB and route entries to every other node's pod /24 in step with the Node objects.
 */
import type { Informer, Logger } from '../client/index.js';
import type { KubeObject } from '../util/object.js';
import { Overlay, type RemoteNode } from '../net/overlay.js';
import type { Ip } from '../net/ip.js';

export const VTEP_MAC_ANNOTATION = 'cairn.io/vtep-mac';
export const PUBLIC_IP_ANNOTATION = 'cairn.io/public-ip';

export interface NodeNetworkOptions {
  node: Ip;
  nodeName: string;
  podCidr: string;
  clusterCidr: string;
  underlayIP: string;
  underlayDev: string;
  nodes: Informer<KubeObject>;
  logger: Logger;
}

export class NodeNetwork {
  readonly overlay: Overlay;
  private timer?: NodeJS.Timeout;
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly o: NodeNetworkOptions) {
    this.overlay = new Overlay({ node: o.node, podCidr: o.podCidr, clusterCidr: o.clusterCidr, underlayIP: o.underlayIP, underlayDev: o.underlayDev });
  }

  /** Sets up the bridge, VXLAN device and masquerade; returns the annotations to publish and the pod MTU. */
  async setup(): Promise<{ annotations: Record<string, string>; mtu: number }> {
    const r = await this.overlay.setup();
    return { annotations: { [VTEP_MAC_ANNOTATION]: r.vtepMAC, [PUBLIC_IP_ANNOTATION]: this.o.underlayIP }, mtu: r.mtu };
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

  private scheduled = false;
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.pending = this.pending.then(async () => {
      this.scheduled = false;
      try {
        await this.overlay.reconcile(this.remotes());
      } catch (e) {
        this.o.logger({ level: 'error', msg: 'overlay reconcile failed', error: (e as Error).message });
      }
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
