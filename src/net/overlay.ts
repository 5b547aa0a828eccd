// The pod overlay of one node, programmed like flannel's vxlan backend:
//   - bridge `cairn0` holding the gateway .1 of the node's pod /24 (pods' veths attach here);
//   - VXLAN device `cairn.1` (VNI 1, UDP 4789, nolearning, local = the node's underlay address)
//     holding the node's network address .0/32;
//   - for each remote node: a permanent neighbour entry (remote .0 → remote VTEP MAC), an FDB
//     entry (VTEP MAC → remote underlay address) and a route to the remote /24 via remote .0
//     onlink dev cairn.1 — no learning, no miss handling;
//   - masquerade (nft, chain `masquerade` in table `ip cairn`) for pod traffic leaving the
//     cluster CIDR, flannel's four rules;
//   - net.ipv4.ip_forward=1 in the node's namespace.
// The node is an `Ip` handle: the root namespace on a real host, a node namespace in `cairn up`.
//
// EvpnOverlay (mode `evpn`, `cairn up --fabric`) stretches one L2 segment over the nodes
// instead: cairn.1 is a port of cairn0 (no address, bridge learning off), and FRR's zebra on the
// node, with `advertise-all-vni`, advertises the node's VTEP (type-3) and the MACs on cairn0 —
// pods and the gateway (type-2, `advertise-default-gw`) — and installs the other nodes' MACs in
// the FDB and their gateways in cairn0's neighbour table. The agent writes only one route per
// remote node: `<remote /24> via <remote .1> dev cairn0 onlink`.
//
// Pod IP handoff (./pod-ip-handoff.ts) adds, in both modes, a /32 toward the node holding a
// handed-off address, routed like that node's /24 (so it beats the /24 of the node the address
// came from), proxy neighbour entries on cairn0 for the addresses something other than a bridge
// port now answers for, and no masquerade for outside traffic to the addresses held here.
import { createHash } from 'node:crypto';
import { Ip, cidrContains, intToIpv4, parseCidr, checkIpv4, checkMac, checkIfName, type Cidr } from './ip.js';
import { Nft, nv, rule, withComment, type NftRule } from './nft.js';
import type { HandoffRoute } from './pod-ip-handoff.js';

export const BRIDGE = 'cairn0';
export const VXLAN_DEV = 'cairn.1';
export const VXLAN_VNI = 1;
export const VXLAN_PORT = 4789;
/** How remote pods are reached: the agent programs each remote VTEP (`vxlan`), or EVPN does (`evpn`). */
export type OverlayMode = 'vxlan' | 'evpn';
export const OVERLAY_MODES: readonly OverlayMode[] = ['vxlan', 'evpn'];
/** IPv4 VXLAN encapsulation overhead: outer IP 20 + UDP 8 + VXLAN 8 + inner Ethernet 14. */
export const VXLAN_OVERHEAD = 50;
export const MASQ_CHAIN = 'pod-masquerade';

export interface OverlayConfig {
  /** The node's namespace. */
  node: Ip;
  /** The node's pod subnet, e.g. 10.244.1.0/24. */
  podCidr: string;
  /** The whole cluster's pod network, e.g. 10.244.0.0/16. */
  clusterCidr: string;
  /** The node's underlay address (VXLAN local) and device. */
  underlayIP: string;
  underlayDev: string;
  /** Underlay MTU; read from underlayDev when omitted. */
  underlayMtu?: number;
  /** The pod MTU, when not the underlay's minus the VXLAN overhead (a fabric's overlay MTU). */
  mtu?: number;
  /** VTEP MAC; by default derived from the underlay address (stable across restarts). */
  vtepMAC?: string;
  /** Masquerade pod traffic leaving the cluster CIDR (default true). */
  masquerade?: boolean;
}

/** A remote node's pod network: all EvpnOverlay needs (FRR finds its VTEP and MACs). */
export interface RemotePodNetwork {
  /** For messages only. */
  name?: string;
  podCidr: string;
}

export interface RemoteNode extends RemotePodNetwork {
  underlayIP: string;
  vtepMAC: string;
}

export interface ReconcileResult {
  /** Remote pod CIDRs programmed (added or updated). */
  programmed: string[];
  /** Stale entries removed. */
  removedRoutes: string[];
  removedNeighs: string[];
  removedFdb: string[];
}

/** A locally administered unicast MAC derived from a seed. */
export function derivedMac(seed: string): string {
  const h = createHash('sha256').update(seed).digest();
  const b = [0x0a, h[0]!, h[1]!, h[2]!, h[3]!, h[4]!];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export class Overlay {
  readonly node: Ip;
  readonly podCidr: Cidr;
  readonly clusterCidr: Cidr;
  /** Gateway (.1) on cairn0 and the network address (.0) on cairn.1. */
  readonly gateway: string;
  readonly vtepIP: string;
  readonly vtepMAC: string;
  readonly bridgeMAC: string;
  private underlayMtu?: number;
  /** The handed-off addresses held here that the masquerade chain was last synced with. */
  private masqueradeExempt: readonly string[] = [];
  /** The last sync found and left no proxy neighbour entry (the usual case: nothing to list). */
  private noProxyNeighs = false;

  constructor(readonly cfg: OverlayConfig) {
    this.node = cfg.node;
    this.podCidr = parseCidr(cfg.podCidr, true);
    this.clusterCidr = parseCidr(cfg.clusterCidr, true);
    if (!cidrContains(this.clusterCidr, this.podCidr.network) || this.podCidr.prefix < this.clusterCidr.prefix) {
      throw new Error(`pod CIDR ${cfg.podCidr} is not inside the cluster CIDR ${cfg.clusterCidr}`);
    }
    checkIpv4(cfg.underlayIP);
    checkIfName(cfg.underlayDev);
    this.gateway = intToIpv4(this.podCidr.base + 1);
    this.vtepIP = this.podCidr.network;
    this.vtepMAC = cfg.vtepMAC ? checkMac(cfg.vtepMAC) : derivedMac(`cairn-vtep/${cfg.underlayIP}/${VXLAN_VNI}`);
    this.bridgeMAC = derivedMac(`cairn-bridge/${this.podCidr.network}`);
    this.underlayMtu = cfg.underlayMtu;
  }

  /** The MTU for pods, cairn0 and cairn.1: the underlay's minus the VXLAN overhead. */
  async mtu(): Promise<number> {
    if (this.cfg.mtu !== undefined) return this.cfg.mtu;
    if (this.underlayMtu === undefined) {
      const l = await this.node.link(this.cfg.underlayDev);
      if (!l) throw new Error(`underlay device ${this.cfg.underlayDev} not found in ${this.node}`);
      this.underlayMtu = l.mtu;
    }
    return this.underlayMtu - VXLAN_OVERHEAD;
  }

  /** Makes the node's bridge, VXLAN device, forwarding and masquerade as configured. Idempotent. */
  async setup(): Promise<{ mtu: number; vtepMAC: string; gateway: string }> {
    const mtu = await this.mtu();
    const n = this.node;
    await n.setLink('lo', { up: true });
    await n.sysctl('net.ipv4.ip_forward', 1);
    await n.ensureBridge(BRIDGE, { mtu, address: this.bridgeMAC });
    await this.ensureOnlyAddr(BRIDGE, `${this.gateway}/${this.podCidr.prefix}`);
    await this.setupVxlan(mtu);
    const nft = this.nft();
    if (this.cfg.masquerade !== false) {
      await nft.syncChain({ name: MASQ_CHAIN, base: { type: 'nat', hook: 'postrouting', priority: 'srcnat' } }, this.masqueradeRules());
    } else {
      await nft.removeChain(MASQ_CHAIN);
    }
    return { mtu, vtepMAC: this.vtepMAC, gateway: this.gateway };
  }

  /** The VXLAN device: standalone, holding the pod network's .0/32, tied to the underlay device. */
  protected async setupVxlan(mtu: number): Promise<void> {
    await this.node.ensureVxlan(VXLAN_DEV, {
      vni: VXLAN_VNI,
      local: this.cfg.underlayIP,
      dev: this.cfg.underlayDev,
      dstport: VXLAN_PORT,
      learning: false,
      mtu,
      address: this.vtepMAC,
    });
    await this.ensureOnlyAddr(VXLAN_DEV, `${this.vtepIP}/32`);
  }

  /** This node as its peers see it. */
  asRemote(name?: string): RemoteNode {
    return { name, podCidr: `${this.podCidr.network}/${this.podCidr.prefix}`, underlayIP: this.cfg.underlayIP, vtepMAC: this.vtepMAC };
  }

  /**
   * flannel's rules, in nft. Addresses handed off to pods of this node are local pods too: an
   * open connection from outside, which reached the source node untranslated, must go on
   * untranslated when it arrives here.
   */
  masqueradeRules(localHandoffs: readonly string[] = this.masqueradeExempt): NftRule[] {
    const cluster = nv.cidr(`${this.clusterCidr.network}/${this.clusterCidr.prefix}`);
    const own = nv.cidr(`${this.podCidr.network}/${this.podCidr.prefix}`);
    return [
      // Only a connection's first packet passes a nat chain, and for TCP that is its SYN — unless
      // conntrack picked the connection up mid-stream, as when a migrated VM's open connection
      // goes on from this node: a new source address there would make the peer reset it.
      withComment(rule`tcp flags != syn / fin,syn,rst,ack return`, 'a connection picked up mid-stream: no NAT'),
      withComment(rule`ip saddr ${cluster} ip daddr ${cluster} return`, 'pod to pod: no NAT'),
      withComment(rule`ip saddr ${cluster} ip daddr != ${nv.cidr('224.0.0.0/4')} masquerade fully-random`, 'pod to outside'),
      withComment(rule`ip saddr != ${cluster} ip daddr ${own} return`, 'outside to local pods: no NAT'),
      ...localHandoffs.map((ip) => withComment(rule`ip saddr != ${cluster} ip daddr ${nv.ip(ip)} return`, 'outside to a pod IP handed off here: no NAT')),
      withComment(rule`ip saddr != ${cluster} ip daddr ${cluster} masquerade fully-random`, 'outside to remote pods'),
    ];
  }

  /**
   * The node-local half of pod IP handoff: proxy neighbour entries on cairn0 exactly `proxyArp`,
   * answered at once (no proxy_delay: the first packet of a moved connection must not wait), and
   * the masquerade exemptions for `localHeld`. Idempotent.
   */
  async reconcileHandoffs(o: { proxyArp: readonly string[]; localHeld: readonly string[] }): Promise<void> {
    const n = this.node;
    if (o.proxyArp.length || !this.noProxyNeighs) {
      const have = await listProxyNeighs(n, BRIDGE);
      if (o.proxyArp.length) await n.sysctl(`net.ipv4.neigh.${BRIDGE}.proxy_delay`, 0);
      for (const ip of o.proxyArp) if (!have.includes(ip)) await n.ip(['neigh', 'replace', 'proxy', checkIpv4(ip), 'dev', BRIDGE]);
      for (const ip of have) if (!o.proxyArp.includes(ip)) await n.ip(['neigh', 'del', 'proxy', checkIpv4(ip), 'dev', BRIDGE]);
      this.noProxyNeighs = !o.proxyArp.length;
    }
    const exempt = [...o.localHeld].sort();
    if (this.cfg.masquerade !== false && exempt.join() !== this.masqueradeExempt.join()) {
      await this.nft().syncChain({ name: MASQ_CHAIN, base: { type: 'nat', hook: 'postrouting', priority: 'srcnat' } }, this.masqueradeRules(exempt));
      this.masqueradeExempt = exempt;
    }
  }

  nft(): Nft {
    return new Nft({ netns: this.node.netns, family: 'ip', table: 'cairn' });
  }

  /**
   * Makes the node's neighbour, FDB and route entries on cairn.1 match `remotes` exactly: adds
   * and updates what is missing or different, removes what belongs to nodes no longer listed.
   * This node itself may appear in the list (it is skipped). Each handoff /32 goes like its
   * holder's /24 (none while the holder is not among `remotes`).
   */
  async reconcile(remotes: RemoteNode[], handoffs: readonly HandoffRoute[] = []): Promise<ReconcileResult> {
    const n = this.node;
    const want = new Map<string, { dst: string; gw: string; mac: string; underlay: string }>();
    const macs = new Map<string, string>();
    for (const r of remotes) {
      const c = parseCidr(r.podCidr, true);
      const dst = `${c.network}/${c.prefix}`;
      if (c.network === this.podCidr.network || r.underlayIP === this.cfg.underlayIP) continue;
      checkIpv4(r.underlayIP);
      const mac = checkMac(r.vtepMAC);
      const other = macs.get(mac);
      if (other !== undefined && other !== r.underlayIP) throw new Error(`VTEP MAC ${mac} is claimed by ${other} and ${r.underlayIP}`);
      macs.set(mac, r.underlayIP);
      want.set(dst, { dst, gw: c.network, mac, underlay: r.underlayIP });
    }
    for (const h of handoffs) {
      const holder = want.get(normalCidr(h.holderPodCidr));
      // `ip route` shows a /32 as the bare address.
      if (holder) want.set(h.ip, { ...holder, dst: checkIpv4(h.ip) });
    }
    const result: ReconcileResult = { programmed: [], removedRoutes: [], removedNeighs: [], removedFdb: [] };

    // Add or update: neighbour and FDB first, then the route that uses them.
    const [routes, neighs, fdb] = await Promise.all([n.routes({ dev: VXLAN_DEV }), n.neighs(VXLAN_DEV), n.fdb(VXLAN_DEV)]);
    const wantGws = new Map([...want.values()].map((w) => [w.gw, w]));
    const wantMacs = new Map([...want.values()].map((w) => [w.mac, w]));
    for (const w of want.values()) {
      const ne = neighs.find((x) => x.dst === w.gw);
      const fe = fdb.find((x) => x.mac === w.mac && x.dst !== undefined);
      const ro = routes.find((x) => x.dst === w.dst);
      const neighOk = ne && ne.lladdr === w.mac && ne.state.includes('PERMANENT');
      const fdbOk = fe && fe.dst === w.underlay && fdb.filter((x) => x.mac === w.mac && x.dst !== undefined).length === 1;
      const routeOk = ro && ro.gateway === w.gw && ro.flags.includes('onlink');
      if (neighOk && fdbOk && routeOk) continue;
      if (!neighOk) await n.replaceNeigh({ ip: w.gw, lladdr: w.mac, dev: VXLAN_DEV, permanent: true });
      if (!fdbOk) {
        // `replace` keeps one destination per MAC; clear extra appended ones first.
        for (const x of fdb.filter((x) => x.mac === w.mac && x.dst !== undefined && x.dst !== w.underlay)) {
          await n.removeFdb({ mac: x.mac, dev: VXLAN_DEV, dst: x.dst });
        }
        await n.fdbReplace({ mac: w.mac, dev: VXLAN_DEV, dst: w.underlay, self: true, permanent: true });
      }
      if (!routeOk) await n.replaceRoute({ dst: w.dst, via: w.gw, dev: VXLAN_DEV, onlink: true });
      result.programmed.push(w.dst);
    }

    // Remove stale: route first, then FDB and neighbour.
    for (const r of routes) {
      if (want.has(r.dst)) continue;
      if (await n.removeRoute({ dst: r.dst, dev: VXLAN_DEV, ...(r.gateway ? { via: r.gateway } : {}) })) result.removedRoutes.push(r.dst);
    }
    for (const f of fdb) {
      if (f.dst === undefined) continue;
      const w = wantMacs.get(f.mac);
      if (w && w.underlay === f.dst) continue;
      if (await n.removeFdb({ mac: f.mac, dev: VXLAN_DEV, dst: f.dst })) result.removedFdb.push(`${f.mac}>${f.dst}`);
    }
    for (const x of neighs) {
      if (!x.dst.includes('.') || wantGws.has(x.dst)) continue;
      if (await n.removeNeigh({ ip: x.dst, dev: VXLAN_DEV })) result.removedNeighs.push(x.dst);
    }
    return result;
  }

  /** Removes the VXLAN device, the bridge and the masquerade chain (and the cairn table if empty). */
  async teardown(): Promise<void> {
    await this.node.removeLink(VXLAN_DEV);
    await this.node.removeLink(BRIDGE);
    const nft = this.nft();
    await nft.removeChain(MASQ_CHAIN);
    const st = await nft.list();
    if (st && !st.chains.length && !st.sets.length && !st.maps.length) await nft.removeTable();
  }

  private async ensureOnlyAddr(dev: string, addr: string): Promise<void> {
    for (const a of await this.node.ipv4Addrs(dev)) if (a !== addr) await this.node.delAddr(dev, a);
    await this.node.ensureAddr(dev, addr);
  }
}

/**
 * The `evpn` overlay: cairn.1 bridged into cairn0, its FDB and the remote gateways' neighbour
 * entries left to FRR (zebra), routes to the remote pod networks from the agent.
 */
export class EvpnOverlay extends Overlay {
  /**
   * cairn.1 as a port of cairn0, with no underlay device: the VTEP is reached over whichever
   * fabric link the routing table picks, and that changes when a link fails.
   */
  protected override async setupVxlan(mtu: number): Promise<void> {
    const n = this.node;
    // A standalone cairn.1 (the node ran the `vxlan` overlay before) goes, with its address and
    // the routes, neighbours and FDB entries the agent wrote on it.
    if ((await n.link(VXLAN_DEV))?.master !== BRIDGE) await n.removeLink(VXLAN_DEV);
    await n.ensureVxlan(VXLAN_DEV, { vni: VXLAN_VNI, local: this.cfg.underlayIP, dstport: VXLAN_PORT, learning: false, mtu, address: this.vtepMAC });
    await n.setLink(VXLAN_DEV, { master: BRIDGE, up: true });
    // The bridge must not learn remote MACs from the wire: zebra installs them (extern_learn)
    // from the type-2 routes, and floods to the type-3 VTEPs what it does not know.
    await n.ip(['link', 'set', 'dev', VXLAN_DEV, 'type', 'bridge_slave', 'learning', 'off']);
    // Traffic to a remote /24 enters and leaves through cairn0: without this the node would
    // answer each first packet with an ICMP redirect to the remote gateway, which the pods
    // cannot use (it is off their subnet). A device's setting counts only with `all` off too.
    await n.sysctl('net.ipv4.conf.all.send_redirects', 0);
    await n.sysctl(`net.ipv4.conf.${BRIDGE}.send_redirects`, 0);
  }

  /**
   * Makes the routes on cairn0 to the remote pod networks match `remotes` exactly: each
   * `<remote /24> via <its gateway .1> onlink`, whose neighbour entry zebra installs from the
   * remote node's advertise-default-gw route (or ARP finds over the flood list).
   */
  override async reconcile(remotes: readonly RemotePodNetwork[], handoffs: readonly HandoffRoute[] = []): Promise<ReconcileResult> {
    const n = this.node;
    const want = new Map<string, string>();
    for (const r of remotes) {
      const c = parseCidr(r.podCidr, true);
      if (c.network === this.podCidr.network) continue;
      want.set(`${c.network}/${c.prefix}`, intToIpv4(c.base + 1));
    }
    for (const h of handoffs) {
      const gw = want.get(normalCidr(h.holderPodCidr));
      if (gw) want.set(checkIpv4(h.ip), gw);
    }
    const result: ReconcileResult = { programmed: [], removedRoutes: [], removedNeighs: [], removedFdb: [] };
    const routes = (await n.routes({ dev: BRIDGE })).filter((r) => r.gateway);
    for (const [dst, gw] of want) {
      if (routes.some((r) => r.dst === dst && r.gateway === gw && r.flags.includes('onlink'))) continue;
      await n.replaceRoute({ dst, via: gw, dev: BRIDGE, onlink: true });
      result.programmed.push(dst);
    }
    for (const r of routes) {
      if (want.has(r.dst)) continue;
      if (await n.removeRoute({ dst: r.dst, dev: BRIDGE, via: r.gateway })) result.removedRoutes.push(r.dst);
    }
    return result;
  }
}

function normalCidr(text: string): string {
  const c = parseCidr(text, true);
  return `${c.network}/${c.prefix}`;
}

/** The proxy neighbour entries (`ip neigh show proxy`) on dev. */
async function listProxyNeighs(n: Ip, dev: string): Promise<string[]> {
  const out = await n.ip(['-j', 'neigh', 'show', 'proxy', 'dev', checkIfName(dev)]);
  const rows = JSON.parse(out.trim() || '[]') as { dst?: string }[];
  return rows.flatMap((r) => (r.dst ? [r.dst] : []));
}
