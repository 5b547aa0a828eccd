/**
 * Pod IP handoff on one node (the pure rules are in ../net/pod-ip-handoff.ts): a live-migration
 * target launcher pod carries the source pod's address in ANN_POD_IP_HANDOFF; its sandbox is
 * set up ROUTED with that address (PodNetwork), its host veth down and nothing routed to it yet.
 * `activate(podUid)` — the VirtHandler calls it once the guest runs here — brings the veth up,
 * adds `<ip>/32 dev <host veth>` and lists the handoff in this node's annotation, which every
 * agent's overlay follows.
 *
 * The state is the Node annotation and the sandbox itself (its host veth): `sync`, run on every
 * overlay reconcile, re-adds the local route of every listed pod whose sandbox is still here (an
 * agent restart, a rebuilt veth), drops the entries of pods that ended (sandbox gone), and
 * brings down the host veth of a local bridged pod whose address a routed pod now holds (the
 * source pod, which would otherwise still answer ARP for it on cairn0). When the holder of an
 * address of this node's subnet changes, the node's bridged pods forget its neighbour entry:
 * they still have the source pod's MAC, which would black-hole their traffic until the entry
 * expired (up to a minute); their next packet asks again, and the node's proxy ARP answers.
 */
import { StatusError, type Client, type Logger } from '../client/index.js';
import { checkIpv4, cidrContains, Ip } from '../net/ip.js';
import type { Ipam } from '../net/ipam.js';
import { hostVethName, POD_IFNAME, type PodNetwork } from '../net/pod-network.js';
import { formatHandoffs, handoffHolders, listedAddresses, parseHandoffs, POD_IP_HANDOFFS_ANNOTATION, type HandoffHolder, type NodeHandoffs, type PodIpHandoff } from '../net/pod-ip-handoff.js';
import type { KubeObject } from '../util/object.js';
import { ANN_POD_IP_HANDOFF } from '../virt/migration/migration-state.js';
import { APP_VIRT_LAUNCHER, LABEL_APP, LABEL_MIGRATION_JOB_UID } from '../virt/launcher/layout.js';
import type { Pod } from './pods/api-types.js';

const NODES = { group: '', version: 'v1', plural: 'nodes', namespaced: false, kind: 'Node' } as const;

export class PodIpHandoffError extends Error {
  override name = 'PodIpHandoffError';
}

/**
 * The address a pod's sandbox must take over, or undefined for an ordinary pod. Only a
 * migration target launcher pod may carry one; anything else cannot start (the sandbox error
 * becomes the pod's FailedCreatePodSandBox event).
 */
export function handoffIPOf(pod: Pod): string | undefined {
  const ip = pod.metadata.annotations?.[ANN_POD_IP_HANDOFF];
  if (ip === undefined) return undefined;
  const labels = pod.metadata.labels ?? {};
  if (labels[LABEL_APP] !== APP_VIRT_LAUNCHER || !labels[LABEL_MIGRATION_JOB_UID]) {
    throw new PodIpHandoffError(`annotation ${ANN_POD_IP_HANDOFF} is honoured only on a migration target pod (labels ${LABEL_APP}=${APP_VIRT_LAUNCHER} and ${LABEL_MIGRATION_JOB_UID})`);
  }
  try {
    return checkIpv4(ip);
  } catch {
    throw new PodIpHandoffError(`annotation ${ANN_POD_IP_HANDOFF} is not an IPv4 address: ${JSON.stringify(ip)}`);
  }
}

/** The handoff view of every Node: what each lists, and who holds each address. */
export interface HandoffTable {
  nodes: NodeHandoffs[];
  holders: Map<string, HandoffHolder>;
}

export function handoffTable(nodes: readonly KubeObject[]): HandoffTable {
  const list = nodes.map((n) => ({
    node: n.metadata.name!,
    podCidr: (n.spec as { podCIDR?: string } | undefined)?.podCIDR,
    handoffs: parseHandoffs(n.metadata.annotations?.[POD_IP_HANDOFFS_ANNOTATION]),
  }));
  return { nodes: list, holders: handoffHolders(list) };
}

export interface PodIpHandoffsOptions {
  client: Client;
  nodeName: string;
  /** The node's namespace (where the host veths are). */
  node: Ip;
  /** Every Node object (the agent's informer cache). */
  nodes: () => readonly KubeObject[];
  /** A pod bound to this node, by uid. */
  pod: (uid: string) => Pod | undefined;
  logger: Logger;
}

export class PodIpHandoffs {
  private network?: { pods: PodNetwork; ipam: Ipam };
  /** Bridged sandboxes whose host veth sync brought down. */
  private readonly isolated = new Set<string>();
  /** Holder (node/pod) of each handed-off address of this node's subnet, as last synced. */
  private subnetHolders = new Map<string, string>();

  constructor(private readonly o: PodIpHandoffsOptions) {}

  /** The node's pod network, once it exists (sync isolates superseded bridged pods through it). */
  attach(pods: PodNetwork, ipam: Ipam): void {
    this.network = { pods, ipam };
  }

  /** Every address some node lists (the node's IPAM hands none of them out). */
  listed(): ReadonlySet<string> {
    return listedAddresses(handoffTable(this.o.nodes()).nodes);
  }

  /** True when a routed pod (on any node) holds `ip`: a bridged pod with it must stay off the bridge. */
  handedOff(ip: string): boolean {
    return handoffTable(this.o.nodes()).holders.has(ip);
  }

  /**
   * Routes the pod's handed-off address to its sandbox and publishes the handoff on this Node.
   * Idempotent (a second call keeps the first `since`).
   */
  async activate(podUid: string): Promise<PodIpHandoff> {
    const pod = this.o.pod(podUid);
    if (!pod) throw new PodIpHandoffError(`pod ${podUid} is not bound to node ${this.o.nodeName}`);
    const ip = handoffIPOf(pod);
    if (!ip) throw new PodIpHandoffError(`pod ${pod.metadata.namespace}/${pod.metadata.name} has no ${ANN_POD_IP_HANDOFF} annotation`);
    const veth = hostVethName(podUid);
    if (!(await this.o.node.link(veth))) throw new PodIpHandoffError(`pod ${pod.metadata.namespace}/${pod.metadata.name} has no network on node ${this.o.nodeName} yet`);
    // The route first: peers send here as soon as they see the annotation.
    await this.o.node.setLink(veth, { up: true });
    await this.o.node.replaceRoute({ dst: ip, dev: veth });
    let entry: PodIpHandoff = { ip, podUid, since: new Date().toISOString() };
    await this.mutate((cur) => {
      const have = cur.find((e) => e.ip === ip && e.podUid === podUid);
      if (have) {
        entry = have;
        return cur;
      }
      return [...cur, entry];
    });
    this.o.logger({ level: 'info', msg: 'pod IP handoff active', pod: `${pod.metadata.namespace}/${pod.metadata.name}`, ip });
    return entry;
  }

  /** Makes this node's routes, veths and annotation agree with `t` (see the header). */
  async sync(t: HandoffTable): Promise<void> {
    const self = this.o.nodeName;
    const mine = t.nodes.find((n) => n.node === self)?.handoffs ?? [];
    const gone: PodIpHandoff[] = [];
    for (const e of mine) {
      const veth = hostVethName(e.podUid);
      const link = await this.o.node.link(veth);
      if (!link) {
        // A veth being rebuilt is not an ended pod.
        if (ended(this.o.pod(e.podUid))) gone.push(e);
        continue;
      }
      const h = t.holders.get(e.ip);
      const holds = h?.node === self && h.podUid === e.podUid;
      // A pod whose address moved on to a newer holder is cut off again.
      if (link.flags.includes('UP') !== holds) await this.o.node.setLink(veth, { up: holds });
      if (holds) {
        const routes = await this.o.node.routes({ dev: veth });
        if (!routes.some((r) => r.dst === e.ip)) await this.o.node.replaceRoute({ dst: e.ip, dev: veth });
      }
    }
    if (gone.length) {
      await this.mutate((cur) => cur.filter((e) => !gone.some((g) => g.ip === e.ip && g.podUid === e.podUid)));
      this.o.logger({ level: 'info', msg: 'pod IP handoffs ended', ips: gone.map((g) => g.ip) });
    }
    await this.isolateSuperseded(t);
    await this.forgetMovedNeighbours(t);
  }

  private async forgetMovedNeighbours(t: HandoffTable): Promise<void> {
    if (!this.network) return;
    const { ipam } = this.network;
    const now = new Map<string, string>();
    for (const h of t.holders.values()) if (cidrContains(ipam.subnet, h.ip)) now.set(h.ip, `${h.node}/${h.podUid}`);
    const moved = [...new Set([...now.keys(), ...this.subnetHolders.keys()])].filter((ip) => now.get(ip) !== this.subnetHolders.get(ip));
    if (!moved.length) return;
    for (const a of ipam.list()) {
      const ns = a.meta?.['netns'];
      if (!ns || moved.includes(a.ip)) continue;
      // A pod ending meanwhile takes its namespace with it: nothing to forget there.
      for (const ip of moved) await Ip.ns(ns).removeNeigh({ ip, dev: POD_IFNAME }).catch(() => false);
    }
    this.subnetHolders = now;
  }

  /** Bridged pods whose address a routed pod holds go down; back up once nobody lists it. */
  private async isolateSuperseded(t: HandoffTable): Promise<void> {
    if (!this.network || (!t.holders.size && !this.isolated.size)) return;
    for (const a of this.network.ipam.list()) {
      const superseded = t.holders.has(a.ip);
      if (superseded === this.isolated.has(a.id)) continue;
      if (await this.network.pods.setIsolated(a.id, superseded)) {
        this.o.logger({ level: 'info', msg: superseded ? 'pod address handed off to another node: its host veth is down' : 'pod address back: host veth up', ip: a.ip, sandbox: a.id });
      }
      if (superseded) this.isolated.add(a.id);
      else this.isolated.delete(a.id);
    }
  }

  /** Read-modify-write of this Node's annotation, guarded by its resourceVersion. */
  private async mutate(fn: (cur: PodIpHandoff[]) => PodIpHandoff[]): Promise<void> {
    const nodes = this.o.client.resource(NODES);
    for (let attempt = 0; ; attempt++) {
      const node = await nodes.get(this.o.nodeName);
      const text = node.metadata.annotations?.[POD_IP_HANDOFFS_ANNOTATION];
      const next = formatHandoffs(fn(parseHandoffs(text)));
      if (next === text) return;
      try {
        await nodes.patch(this.o.nodeName, { metadata: { resourceVersion: node.metadata.resourceVersion, annotations: { [POD_IP_HANDOFFS_ANNOTATION]: next ?? null } } }, 'merge');
        return;
      } catch (e) {
        if (!(e instanceof StatusError && e.code === 409) || attempt >= 5) throw e;
      }
    }
  }
}

function ended(pod: Pod | undefined): boolean {
  return !pod || !!pod.metadata.deletionTimestamp || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}
