// A pod sandbox's network: its own namespace with loopback up and `eth0`, the peer of a veth
// whose host end (`cairn` + 10 hex digits) sits on the node bridge `cairn0` in the NODE's
// namespace (the root namespace on a real host, a node namespace in `cairn up`); an address
// from the node's IPAM and a default route via the bridge gateway; the node's pod MTU.
// Every name is derived from the sandbox id, so teardown after an agent restart removes exactly
// what setup made, with no other state than the IPAM file.
//
// A pod taking over another node's pod address (pod IP handoff, ./pod-ip-handoff.ts) is ROUTED
// instead, as Calico's pods: its host veth is no bridge port, eth0 holds <ip>/32 with a default
// route via the link-local ROUTED_POD_GATEWAY, which a permanent neighbour entry resolves to the
// host veth. It shares no L2 with anything, so it answers nobody's ARP for the address while the
// source pod still owns it; its host veth stays down and the node routes the address to it only
// once the handoff is active.
import { createHash } from 'node:crypto';
import { Ip, NotFoundError, netns as netnsOps, checkIpv4, checkNetnsName, intToIpv4, ipv4ToInt } from './ip.js';
import type { Ipam } from './ipam.js';
import { BRIDGE, derivedMac } from './overlay.js';
import { ROUTED_POD_GATEWAY } from './pod-ip-handoff.js';

export const POD_IFNAME = 'eth0';
const HOST_VETH = /^cairn[0-9a-f]{10}$/;

export interface PodNetworkOptions {
  /** The node's namespace (where the bridge lives). */
  node: Ip;
  ipam: Ipam;
  /** Pod MTU (the overlay's). */
  mtu: number;
  /** Prefix of namespaces this code creates: `cairn-<cluster or node>-pod-`. Must start with `cairn`. */
  netnsPrefix: string;
  /** Default cairn0. */
  bridge?: string;
  /**
   * True for an address a routed pod has taken over (pod IP handoff): the bridged pod
   * that had it keeps its host veth down, so it no longer answers for it on the bridge.
   */
  supersededIp?: (ip: string) => boolean;
}

export interface PodNetworkSetupOptions {
  /** Take over this address (a routed pod) instead of allocating one from the node's IPAM. */
  handoffIP?: string;
}

export interface PodSandboxRef {
  /** Sandbox id: the pod UID (or a sandbox id when a pod has several over its life). */
  id: string;
  /**
   * An existing namespace (name) made by someone else (the runtime); setup adds eth0 to it and
   * teardown leaves it in place. When omitted, setup creates `netnsPrefix + id8` and teardown
   * deletes it.
   */
  netns?: string;
}

export interface PodNetworkStatus {
  id: string;
  netns: string;
  hostVeth: string;
  podIP: string;
  prefixLength: number;
  gateway: string;
  mac: string;
  mtu: number;
}

/** The host-side veth name for a sandbox id (≤ 15 characters, `cairn` prefix). */
export function hostVethName(id: string): string {
  return 'cairn' + createHash('sha256').update(id).digest('hex').slice(0, 10);
}
/** The pod MAC for an address, as Kubernetes' bridge plugin did: 0a:58 + the IPv4 bytes. */
export function podMac(ip: string): string {
  const n = ipv4ToInt(ip);
  return ['0a', '58', ...[n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

export class PodNetwork {
  readonly node: Ip;
  readonly bridge: string;

  constructor(readonly opts: PodNetworkOptions) {
    if (!opts.netnsPrefix.startsWith('cairn')) throw new Error(`netnsPrefix must start with "cairn": ${opts.netnsPrefix}`);
    checkNetnsName(opts.netnsPrefix + 'x');
    this.node = opts.node;
    this.bridge = opts.bridge ?? BRIDGE;
  }

  /** The namespace name setup creates for a sandbox id (first 8 alphanumerics of the id). */
  netnsName(id: string): string {
    const short = id.replace(/[^A-Za-z0-9]/g, '').slice(0, 8).toLowerCase();
    if (!short) throw new Error(`sandbox id ${JSON.stringify(id)} has no alphanumerics`);
    return this.opts.netnsPrefix + short;
  }

  private resolve(ref: PodSandboxRef): { ns: string; owned: boolean; hostVeth: string } {
    const owned = ref.netns === undefined;
    const ns = ref.netns ?? this.netnsName(ref.id);
    checkNetnsName(ns);
    return { ns, owned, hostVeth: hostVethName(ref.id) };
  }

  /**
   * Makes the sandbox's network as described above. Idempotent: a second call returns the same
   * status. On failure, what this call made is removed again and the error rethrown.
   */
  async setup(ref: PodSandboxRef, meta?: Record<string, string>, opts: PodNetworkSetupOptions = {}): Promise<PodNetworkStatus> {
    const { ns, owned, hostVeth } = this.resolve(ref);
    const { ipam, mtu } = this.opts;
    const existing = ipam.get(ref.id);
    for (const a of ipam.list()) {
      if (a.id !== ref.id && a.meta?.['netns'] === ns) throw new Error(`network namespace ${ns} belongs to sandbox ${a.id}, not ${ref.id}`);
    }
    const routed = opts.handoffIP !== undefined;
    if (routed && existing) throw new Error(`sandbox ${ref.id} already has ${existing.ip} from this node's IPAM; it cannot take over ${opts.handoffIP}`);
    const ip = routed ? checkIpv4(opts.handoffIP!) : await ipam.allocate(ref.id, { ...meta, netns: ns });
    // A routed pod's MAC is its own: podMac(ip) is the source pod's, still live elsewhere.
    const mac = routed ? derivedMac(`cairn-routed-pod/${ref.id}`) : podMac(ip);
    let createdNs = false;
    let createdVeth = false;
    try {
      if (owned) createdNs = await netnsOps.ensure(ns);
      else if (!(await netnsOps.exists(ns))) throw new NotFoundError(`network namespace ${ns} does not exist`, [], '', null);
      const pod = Ip.ns(ns);
      await pod.setLink('lo', { up: true });

      const hostEnd = await this.node.link(hostVeth);
      const podEnd = await pod.link(POD_IFNAME);
      // A pair is whole when both ends exist and the pod's eth0 is a veth (its peer index is
      // the host end's). Anything else is rebuilt.
      const whole = hostEnd && podEnd && podEnd.linkinfo?.info_kind === 'veth' && podEnd.link_index === hostEnd.ifindex;
      if (!whole) {
        if (hostEnd) await this.node.removeLink(hostVeth);
        if (podEnd) await pod.removeLink(POD_IFNAME);
        await this.node.addVeth(hostVeth, { name: POD_IFNAME, netns: ns, mtu, address: mac }, { mtu });
        createdVeth = true;
      }
      if (routed) return await this.setupRouted(ref.id, ns, hostVeth, ip, mac);
      await this.node.setLink(hostVeth, { master: this.bridge, up: !this.opts.supersededIp?.(ip) });
      // Hairpin (the CNI bridge plugin's hairpinMode): a pod reaching itself through a Service is
      // DNATed to its own address, and br_netfilter bridges such a frame straight back out of
      // the port it came in on — which a bridge port refuses unless hairpin is on.
      await this.node.bridge(['link', 'set', 'dev', hostVeth, 'hairpin', 'on']);
      await pod.setLink(POD_IFNAME, { mtu, up: true });
      const want = `${ip}/${ipam.prefixLength}`;
      for (const a of await pod.ipv4Addrs(POD_IFNAME)) if (a !== want) await pod.delAddr(POD_IFNAME, a);
      await pod.ensureAddr(POD_IFNAME, want);
      await pod.replaceRoute({ dst: 'default', via: ipam.gateway, dev: POD_IFNAME });
      return { id: ref.id, netns: ns, hostVeth, podIP: ip, prefixLength: ipam.prefixLength, gateway: ipam.gateway, mac, mtu };
    } catch (e) {
      // Undo only what this call made.
      if (createdVeth) await this.node.removeLink(hostVeth).catch(() => undefined);
      if (createdNs) await netnsOps.remove(ns).catch(() => undefined);
      if (!existing) await ipam.release(ref.id).catch(() => undefined);
      throw e;
    }
  }

  /**
   * The routed half of setup: the veth pair exists. Its host end is left as it is — down when
   * new: the pod is cut off, and the node has no route to `ip` through it, until the handoff is
   * activated (which brings it up and adds the route).
   */
  private async setupRouted(id: string, ns: string, hostVeth: string, ip: string, mac: string): Promise<PodNetworkStatus> {
    const { mtu } = this.opts;
    const pod = Ip.ns(ns);
    const host = await this.node.link(hostVeth);
    if (!host?.address) throw new Error(`host veth ${hostVeth} has no MAC address`);
    if (host.master) await this.node.setLink(hostVeth, { master: null });
    await pod.setLink(POD_IFNAME, { mtu, up: true });
    const want = `${ip}/32`;
    for (const a of await pod.ipv4Addrs(POD_IFNAME)) if (a !== want) await pod.delAddr(POD_IFNAME, a);
    await pod.ensureAddr(POD_IFNAME, want);
    await pod.replaceNeigh({ ip: ROUTED_POD_GATEWAY, lladdr: host.address, dev: POD_IFNAME, permanent: true });
    await pod.replaceRoute({ dst: 'default', via: ROUTED_POD_GATEWAY, dev: POD_IFNAME, onlink: true });
    return { id, netns: ns, hostVeth, podIP: ip, prefixLength: 32, gateway: ROUTED_POD_GATEWAY, mac, mtu };
  }

  /** Brings a sandbox's host veth down (its address is now another node's) or up again. Idempotent; false when it has none. */
  async setIsolated(id: string, isolated: boolean): Promise<boolean> {
    const veth = hostVethName(id);
    const l = await this.node.link(veth);
    if (!l) return false;
    if (l.flags.includes('UP') === isolated) await this.node.setLink(veth, { up: !isolated });
    return true;
  }

  /** Removes the sandbox's network (veth, the namespace if setup made it, the address). Idempotent. */
  async teardown(ref: PodSandboxRef): Promise<void> {
    const { ns, owned, hostVeth } = this.resolve(ref);
    // Deleting the host end deletes the pair at once, even while something still holds the netns.
    await this.node.removeLink(hostVeth);
    if (owned) await netnsOps.remove(ns);
    else if (await netnsOps.exists(ns)) await Ip.ns(ns).removeLink(POD_IFNAME);
    await this.opts.ipam.release(ref.id);
  }

  /** The sandbox's network as the kernel has it; undefined when it has none. */
  async status(ref: PodSandboxRef): Promise<PodNetworkStatus | undefined> {
    const { ns, hostVeth } = this.resolve(ref);
    if (!(await netnsOps.exists(ns))) return undefined;
    const pod = Ip.ns(ns);
    const l = await pod.link(POD_IFNAME);
    if (!l) return undefined;
    const addrs = await pod.ipv4Addrs(POD_IFNAME);
    if (!addrs.length) return undefined;
    const [ip, prefix] = addrs[0]!.split('/');
    const routes = await pod.routes({ dev: POD_IFNAME });
    const def = routes.find((r) => r.dst === 'default');
    return {
      id: ref.id,
      netns: ns,
      hostVeth,
      podIP: ip!,
      prefixLength: Number(prefix),
      gateway: def?.gateway ?? intToIpv4(ipv4ToInt(ip!) - (ipv4ToInt(ip!) % 2 ** (32 - Number(prefix))) + 1),
      mac: l.address ?? '',
      mtu: l.mtu,
    };
  }

  /**
   * Garbage collection after a restart: given the live sandbox ids, releases leaked addresses,
   * deletes namespaces under netnsPrefix and host veths (`cairn` + 10 hex) that no live sandbox
   * owns. Returns what was removed.
   */
  async gc(liveIds: Iterable<string>): Promise<{ addresses: string[]; netns: string[]; veths: string[] }> {
    const live = [...liveIds];
    const liveNs = new Set(live.map((id) => this.netnsName(id)));
    for (const a of this.opts.ipam.list()) if (live.includes(a.id) && a.meta?.['netns']) liveNs.add(a.meta['netns']);
    const liveVeths = new Set(live.map(hostVethName));
    const released = await this.opts.ipam.reclaim(live);
    const removedNs: string[] = [];
    for (const n of await netnsOps.list()) {
      if (n.name.startsWith(this.opts.netnsPrefix) && !liveNs.has(n.name)) {
        if (await netnsOps.remove(n.name)) removedNs.push(n.name);
      }
    }
    const removedVeths: string[] = [];
    for (const l of await this.node.links()) {
      if (HOST_VETH.test(l.ifname) && l.linkinfo?.info_kind === 'veth' && !liveVeths.has(l.ifname)) {
        if (await this.node.removeLink(l.ifname)) removedVeths.push(l.ifname);
      }
    }
    return { addresses: released.map((a) => a.ip), netns: removedNs, veths: removedVeths };
  }
}
