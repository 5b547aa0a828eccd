/**
 * The node agent's Service proxy (kube-proxy's nftables mode, see docs/service-proxy.md):
 * Services and EndpointSlices from the shared informers programmed into the node's `ip cairn`
 * table by the Proxier, and LoadBalancer IPs announced on the underlay by the announcer.
 * Services the proxy cannot program get a Warning Event (source kube-proxy, this node).
 */
import type { NodeAddon, NodeAddonContext } from '../agent/node-addon.js';
import type { EventHandlers, Informer } from '../client/index.js';
import { finalStateOf } from '../client/index.js';
import { ENDPOINT_SLICES, LABEL_SERVICE_NAME, SERVICES } from '../controllers/util/service-endpoints.js';
import { NODES } from '../controllers/util/nodes.js';
import { EventRecorder } from '../controllers/events.js';
import { Conntrack } from '../net/conntrack.js';
import type { KubeObject } from '../util/object.js';
import { LoadBalancerAnnouncer } from './lb-announcer.js';
import { Proxier } from './proxier.js';
import { serviceKey } from './service-ports.js';

/** Index of EndpointSlices by the key of the Service they belong to. */
const BY_SERVICE = 'proxy-service-key';
const sliceServiceKey = (s: KubeObject): string | undefined => {
  const name = s.metadata.labels?.[LABEL_SERVICE_NAME];
  return name ? `${s.metadata.namespace}/${name}` : undefined;
};

export class ServiceProxy implements NodeAddon {
  private readonly services: Informer<KubeObject>;
  private readonly slices: Informer<KubeObject>;
  private readonly nodes: Informer<KubeObject>;
  private readonly proxier: Proxier;
  private readonly announcer: LoadBalancerAnnouncer;
  private readonly recorder: EventRecorder;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(readonly ctx: NodeAddonContext) {
    this.services = ctx.informers.forResource(SERVICES);
    this.slices = ctx.informers.forResource(ENDPOINT_SLICES);
    if (!this.slices.hasIndexer(BY_SERVICE)) this.slices.addIndexers({ [BY_SERVICE]: (s) => [sliceServiceKey(s) ?? ''].filter(Boolean) });
    this.nodes = ctx.informers.forResource(NODES);
    const slicesOf = (key: string) => this.slices.store.byIndex(BY_SERVICE, key);
    // Events say they come from kube-proxy on this node, as upstream's do.
    this.recorder = new EventRecorder(ctx.client, 'kube-proxy', ctx.logger, ctx.nodeName);
    const recorder = this.recorder;
    this.proxier = new Proxier({
      nft: ctx.nft,
      conntrack: new Conntrack({ netns: ctx.nodeNetns }),
      source: { keys: () => this.services.store.listKeys(), service: (k) => this.services.store.get(k), slices: slicesOf },
      nodeName: ctx.nodeName,
      nodeIPs: [ctx.internalIP],
      clusterCidr: ctx.clusterCidr,
      serviceCidr: ctx.serviceCidr,
      logger: ctx.logger,
      onProblem: (svc, reason, message) => recorder.event(svc, 'Warning', reason, message),
    });
    this.announcer = new LoadBalancerAnnouncer({
      node: ctx.node,
      nodeName: ctx.nodeName,
      underlayDev: ctx.underlayDev,
      internalIP: ctx.internalIP,
      services: () => this.services.store.list(),
      slices: slicesOf,
      nodes: () => this.nodes.store.list(),
      logger: ctx.logger,
    });
  }

  async start(): Promise<void> {
    // Registering replays the caches as adds: they only mark Services dirty, and the first
    // sync is a full resync of everything anyway.
    this.unsubscribe.push(
      this.services.addEventHandler(this.handlers((s) => [serviceKey(s)])),
      this.slices.addEventHandler(this.handlers((s) => [sliceServiceKey(s) ?? ''].filter(Boolean))),
      this.nodes.addEventHandler({ onAdd: () => this.announcer.kick(), onUpdate: () => this.announcer.kick(), onDelete: () => this.announcer.kick() }),
    );
    // The first sync is a full resync, tens of seconds at tens of thousands of Services: the
    // agent goes on meanwhile (as kubelet and kube-proxy are independent), and the kernel still
    // holds what the previous agent programmed.
    void this.proxier.start();
    await this.announcer.start();
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    await this.proxier.stop();
    await this.announcer.stop();
    await this.recorder.flush();
  }

  /** Marks the Services an object belongs to (before and after an update) as changed. */
  private handlers(keys: (o: KubeObject) => string[]): EventHandlers<KubeObject> {
    const changed = (...objs: KubeObject[]) => {
      for (const o of objs) for (const k of keys(o)) this.proxier.changed(k);
      this.announcer.kick();
    };
    return {
      onAdd: (o) => changed(o),
      onUpdate: (a, b) => {
        if (a.metadata.resourceVersion !== b.metadata.resourceVersion) changed(a, b);
      },
      onDelete: (o) => changed(finalStateOf(o)),
    };
  }
}
