// The walk: a packet from its first namespace to where the kernel delivers or drops it, one hop
// at a time, every decision read from the live kernel of the namespace it is in. The path
// through one namespace is netfilter's:
//
//   sent here:     route -> output -> (re-route after DNAT) -> postrouting -> device
//   received here: prerouting -> route -> input -> local socket (or VXLAN decapsulation)
//                                      \-> forward -> postrouting -> device
//
// and between namespaces: a veth to its peer, a bridge by its FDB (a frame to the bridge's own
// MAC goes up to the bridge's namespace; any other is bridged, through the ip hooks when
// bridge-nf-call-iptables is on), a VXLAN device by its neighbour and FDB entries to the remote
// VTEP, the outer packet then sent by the node like any other. On a `cairn up --fabric` cluster
// (EVPN) the VXLAN device is a port of cairn0: the bridge's FDB hands it the frame for a remote
// gateway's MAC, and at the far end it decapsulates into that node's cairn0.
//
// Netfilter details that decide what the ruleset sees:
//   - a frame entering a bridge port with br_netfilter on meets prerouting with iifname = the
//     port (the pod's host-side veth); forward then sees iifname = oifname = the bridge;
//   - the packet's nominal source port stands for any ephemeral port (rules rarely look at it);
//   - the trace is of the first packet of a new connection (ct state new): NAT chains run.
import type { Neigh } from '../net/ip.js';
import { type HookEnv, type HookName, type HookResult, evaluateHook } from './nft-eval.js';
import { type Branch, type End, type Hop, type Leg, type TraceResult, type EndpointRef, packetView, placeRef } from './hops.js';
import { TraceError } from './errors.js';
import { NoRouteError, type RouteDecision } from './netns-view.js';
import { type TracePacket, type Tuple, clonePacket, describePacket } from './packet.js';
import type { Member, Place, Segment, Topology } from './topology.js';

/** A conntrack entry of a flow like the traced one, as the conntrack wrapper lists it. */
export interface ConntrackFlow {
  orig: Tuple;
  reply: Tuple;
  state?: string;
}
/** Lists a namespace's conntrack entries for (protocol, orig saddr, orig daddr, orig dport). */
export type ConntrackLookup = (netns: string | undefined, flow: { protocol: string; saddr: string; daddr: string; dport: number }) => Promise<ConntrackFlow[]>;

/** A trace longer than this is a loop (routes pointing at each other). */
const MAX_HOPS = 80;
const BRIDGE_NF = 'net.bridge.bridge-nf-call-iptables';

interface Walk {
  leg: Leg;
  /** Hops on this path so far, branches included (the loop guard). */
  depth: number;
}

export class Tracer {
  private readonly notes = new Set<string>();

  constructor(
    private readonly topo: Topology,
    private readonly conntrack?: ConntrackLookup,
  ) {}

  async trace(from: Place, packet: TracePacket, ends: { from: EndpointRef; to: EndpointRef }): Promise<TraceResult> {
    const result: TraceResult = { ...ends, protocol: packet.protocol, packet: packetView(packet), notes: [], hops: [] };
    await this.send({ leg: result, depth: 0 }, from, packet);
    result.notes = [...this.notes];
    return result;
  }

  // ---- within a namespace -------------------------------------------------------------------

  /** A packet sent by a process of this namespace. */
  private async send(w: Walk, at: Place, pkt: TracePacket): Promise<void> {
    const route = await this.route(w, at, pkt, {}, 'send');
    if (!route) return;
    await this.hook(w, at, 'output', pkt, { oifname: route.dev }, async (w2, p) => {
      let r: RouteDecision | undefined = route;
      if (p.daddr !== pkt.daddr) r = await this.route(w2, at, p, {}, 'reroute');
      if (!r) return;
      if (r.type === 'local') {
        // Loopback: postrouting on lo, then straight to input.
        await this.hook(w2, at, 'postrouting', p, { oifname: 'lo' }, (w3, p3) => this.hook(w3, at, 'input', p3, { iifname: 'lo' }, (w4, p4) => this.deliver(w4, at, p4)));
        return;
      }
      await this.postrouting(w2, at, p, r);
    });
  }

  /** A packet arriving on `dev`; `port` when it came in through a port of the bridge `dev`. */
  private async receive(w: Walk, at: Place, dev: string, pkt: TracePacket, port?: string): Promise<void> {
    const brnf = port !== undefined && (await this.topo.view(at).sysctl(BRIDGE_NF)) === '1';
    const redirectAddress = await this.topo.view(at).primaryAddress(dev);
    await this.hook(w, at, 'prerouting', pkt, { iifname: brnf ? port : dev, redirectAddress }, (w2, p) => this.routeIn(w2, at, dev, p));
  }

  /** After prerouting: the routing decision, then input or forward. */
  private async routeIn(w: Walk, at: Place, dev: string, pkt: TracePacket): Promise<void> {
    const route = await this.route(w, at, pkt, { iif: dev }, 'forward');
    if (!route) return;
    if (route.type === 'local') {
      await this.hook(w, at, 'input', pkt, { iifname: dev }, (w2, p) => this.deliver(w2, at, p));
      return;
    }
    if (route.type !== 'unicast') return this.end(w, 'dropped', at, `route of type ${route.type} to ${pkt.daddr}`);
    await this.hook(w, at, 'forward', pkt, { iifname: dev, oifname: route.dev }, (w2, p) => this.postrouting(w2, at, p, route));
  }

  private async postrouting(w: Walk, at: Place, pkt: TracePacket, route: RouteDecision): Promise<void> {
    // Masquerade takes the output device's address (inet_select_addr), the route's source for local packets.
    const masqueradeAddress = route.prefsrc ?? (await this.topo.view(at).primaryAddress(route.dev));
    await this.hook(w, at, 'postrouting', pkt, { oifname: route.dev, masqueradeAddress }, (w2, p) => this.transmit(w2, at, p, route));
  }

  /** Out of a device: a VXLAN tunnel, one of the cluster's bridges, or out of the cluster. */
  private async transmit(w: Walk, at: Place, pkt: TracePacket, route: RouteDecision): Promise<void> {
    const view = this.topo.view(at);
    const link = await view.link(route.dev);
    const nextHop = route.gateway ?? pkt.daddr;
    if (link?.linkinfo?.info_kind === 'vxlan') return this.encapsulate(w, at, route.dev, pkt, nextHop);
    const seg = await this.topo.segmentOf(at, route.dev);
    if (!seg) return this.end(w, 'left-cluster', at, `sent out of ${route.dev}${route.gateway ? ` via ${route.gateway}` : ''}: outside the cluster's networks`);
    await this.sendOnSegment(w, at, route.dev, pkt, nextHop, seg);
  }

  /** Delivery to this namespace: a socket, or the VXLAN device that decapsulates. */
  private async deliver(w: Walk, at: Place, pkt: TracePacket): Promise<void> {
    if (pkt.inner) return this.decapsulate(w, at, pkt);
    this.end(w, 'delivered', at, `${pkt.daddr}:${pkt.dport}/${pkt.protocol} is a local address of ${at.netns ? `namespace ${at.netns}` : 'the root namespace'}`);
  }

  // ---- L2: bridges and veths ------------------------------------------------------------------

  private async sendOnSegment(w: Walk, at: Place, dev: string, pkt: TracePacket, nextHop: string, seg: Segment): Promise<void> {
    const self = seg.members.find((m) => m.place.netns === at.netns && m.dev === dev);
    const neigh = (await this.topo.view(at).neighs(dev)).find((n) => n.dst === nextHop);
    const failed = neigh?.state.some((s) => s === 'FAILED' || s === 'INCOMPLETE');
    const byMac = neigh?.lladdr ? seg.members.find((m) => m.mac === neigh.lladdr) : undefined;
    const byIp = seg.members.find((m) => m.addrs.includes(nextHop));
    const target = byMac ?? byIp;
    if (!self) return this.end(w, 'dropped', at, `${dev} is not attached to ${seg.name}`);
    if (!target && self.isBridge && neigh?.lladdr && !failed) {
      const port = await this.vxlanPortFor(seg, neigh.lladdr);
      if (port) return this.bridgeToTunnel(w, seg, port, pkt, nextHop, neigh);
    }
    if (!target) {
      const why = failed ? `the neighbour entry for ${nextHop} on ${dev} is ${neigh!.state.join(',')}` : `no one on ${seg.name} has ${nextHop}`;
      return this.end(w, 'dropped', at, `${why}: ARP gets no answer`);
    }
    const state = neigh ? neigh.state.join(',') || 'cached' : 'none';
    if (byMac && byIp && byMac !== byIp) this.notes.add(`${at.name}: the neighbour entry for ${nextHop} on ${dev} points at ${neigh!.lladdr} (${byMac.place.name}), but ${nextHop} is on ${byIp.place.name}: the cache is stale`);
    this.push(w, at, pkt, {
      kind: 'neighbour',
      dev,
      ip: nextHop,
      mac: target.mac,
      state,
      owner: { ...placeRef(target.place), dev: target.dev },
      summary: `${nextHop} on ${dev} is ${target.mac}, ${where(target)} (${neigh ? `neighbour ${state}` : 'not in the neighbour cache: ARP resolves it'})`,
    });
    if (self.isBridge) return this.bridgeOut(w, seg, target, pkt);
    if (!self.port) return this.end(w, 'dropped', at, `the peer of ${dev} is not a port of ${seg.bridge} in ${seg.bridgePlace.name}`);
    this.push(w, at, pkt, { kind: 'veth', dev, peer: { ...placeRef(seg.bridgePlace), dev: self.port }, summary: `${dev} -> ${seg.bridgePlace.name} ${self.port} (port of ${seg.bridge})` });
    await this.bridgeIn(w, seg, self.port, target, pkt);
  }

  /** A frame from a port into the bridge: up to the bridge's namespace, or bridged to another port. */
  private async bridgeIn(w: Walk, seg: Segment, inPort: string, target: Member, pkt: TracePacket): Promise<void> {
    const at = seg.bridgePlace;
    if (target.isBridge) {
      this.push(w, at, pkt, { kind: 'bridge', bridge: seg.bridge, mac: target.mac, decision: 'local', summary: `${seg.bridge}: to the bridge's own MAC ${target.mac}: ${at.name} routes it` });
      return this.receive(w, at, seg.bridge, pkt, inPort);
    }
    const brnf = (await this.topo.view(at).sysctl(BRIDGE_NF)) === '1';
    if (!brnf) return this.bridgeForward(w, seg, target, pkt, false);
    // br_netfilter: prerouting at the port; a DNAT there turns the frame into a routed packet.
    await this.hook(w, at, 'prerouting', pkt, { iifname: inPort }, (w2, p) => (p.daddr !== pkt.daddr ? this.routeIn(w2, at, seg.bridge, p) : this.bridgeForward(w2, seg, target, p, true)));
  }

  private async bridgeForward(w: Walk, seg: Segment, target: Member, pkt: TracePacket, brnf: boolean): Promise<void> {
    const at = seg.bridgePlace;
    const port = await this.fdbPort(w, seg, target, pkt);
    if (!port) return;
    if (!brnf) return this.toPeer(w, seg, port, target, pkt);
    const masqueradeAddress = await this.topo.view(at).primaryAddress(seg.bridge);
    await this.hook(w, at, 'forward', pkt, { iifname: seg.bridge, oifname: seg.bridge }, (w2, p) =>
      this.hook(w2, at, 'postrouting', p, { oifname: seg.bridge, masqueradeAddress }, (w3, p3) => this.toPeer(w3, seg, port, target, p3)),
    );
  }

  /** A frame the bridge's own namespace routed out of the bridge. */
  private async bridgeOut(w: Walk, seg: Segment, target: Member, pkt: TracePacket): Promise<void> {
    const port = await this.fdbPort(w, seg, target, pkt);
    if (port) await this.toPeer(w, seg, port, target, pkt);
  }

  /** The bridge's FDB decision for the target's MAC (a flood when it has not learnt it). */
  private async fdbPort(w: Walk, seg: Segment, target: Member, pkt: TracePacket): Promise<string | undefined> {
    const at = seg.bridgePlace;
    const fdb = await this.topo.view(at).bridgeFdb(seg.bridge);
    const entry = fdb.find((f) => f.mac === target.mac && f.master === seg.bridge && !f.flags.includes('self'));
    if (entry && entry.ifname !== target.port) {
      this.end(w, 'dropped', at, `${seg.bridge}'s FDB sends ${target.mac} to ${entry.ifname ?? '?'}, but ${where(target)} is behind ${target.port ?? 'no port'}`);
      return undefined;
    }
    if (!target.port) {
      this.end(w, 'dropped', at, `${where(target)} has no port on ${seg.bridge}`);
      return undefined;
    }
    const decision = entry ? 'forward' : 'flood';
    const how = entry ? `FDB: ${target.mac} on ${target.port}` : `${target.mac} not learnt yet: flooded, ${target.port} takes it`;
    this.push(w, at, pkt, { kind: 'bridge', bridge: seg.bridge, mac: target.mac, decision, port: target.port, summary: `${seg.bridge}: ${how}` });
    return target.port;
  }

  private async toPeer(w: Walk, seg: Segment, port: string, target: Member, pkt: TracePacket): Promise<void> {
    this.push(w, seg.bridgePlace, pkt, { kind: 'veth', dev: port, peer: { ...placeRef(target.place), dev: target.dev }, summary: `${port} -> ${where(target)}` });
    await this.receive(w, target.place, target.dev, pkt);
  }

  // ---- VXLAN ----------------------------------------------------------------------------------

  /** The VXLAN port of the bridge its FDB sends this MAC to (EVPN: zebra's extern_learn entries). */
  private async vxlanPortFor(seg: Segment, mac: string): Promise<string | undefined> {
    const view = this.topo.view(seg.bridgePlace);
    const entry = (await view.bridgeFdb(seg.bridge)).find((f) => f.mac === mac && f.master === seg.bridge && !f.flags.includes('self'));
    if (!entry?.ifname) return undefined;
    return (await view.link(entry.ifname))?.linkinfo?.info_kind === 'vxlan' ? entry.ifname : undefined;
  }

  /**
   * EVPN (`cairn up --fabric`): the next hop is a remote node's gateway, stretched onto this
   * bridge by the VXLAN port: the bridge's FDB sends its MAC to that port, whose own FDB entry
   * names the remote VTEP.
   */
  private async bridgeToTunnel(w: Walk, seg: Segment, port: string, pkt: TracePacket, nextHop: string, neigh: Neigh): Promise<void> {
    const at = seg.bridgePlace;
    const mac = neigh.lladdr!;
    const owner = await this.topo.nodeWithBridgeMac(mac);
    const state = neigh.state.join(',') || 'cached';
    this.push(w, at, pkt, {
      kind: 'neighbour',
      dev: seg.bridge,
      ip: nextHop,
      mac,
      state,
      owner: owner ? { ...placeRef(owner.place), dev: owner.dev } : { ...placeRef(at), dev: port },
      summary: `${nextHop} on ${seg.bridge} is ${mac}, ${owner ? where(owner) : `behind ${port}`} (neighbour ${state})`,
    });
    const entry = (await this.topo.view(at).bridgeFdb(seg.bridge)).find((f) => f.mac === mac && f.master === seg.bridge);
    const learnt = entry?.flags.includes('extern_learn') ? ' (extern_learn: installed by FRR from EVPN)' : '';
    this.push(w, at, pkt, { kind: 'bridge', bridge: seg.bridge, mac, decision: 'forward', port, summary: `${seg.bridge}: FDB: ${mac} on ${port}${learnt}` });
    await this.encapsulateFrame(w, at, port, pkt, mac, `${port}: frame to ${mac}`);
  }

  private async encapsulate(w: Walk, at: Place, dev: string, pkt: TracePacket, nextHop: string): Promise<void> {
    const neigh = (await this.topo.view(at).neighs(dev)).find((n) => n.dst === nextHop);
    if (!neigh?.lladdr || neigh.state.includes('FAILED')) {
      return this.end(w, 'dropped', at, `no neighbour entry for ${nextHop} on ${dev}: the overlay has no VTEP MAC for that node (it programs them from the Node objects)`);
    }
    await this.encapsulateFrame(w, at, dev, pkt, neigh.lladdr, `${dev}: ${nextHop} is VTEP MAC ${neigh.lladdr} (neighbour ${neigh.state.join(',')})`, nextHop);
  }

  /** A frame to `innerMac` into the VXLAN device `dev`: its FDB entry for that MAC names the remote VTEP. */
  private async encapsulateFrame(w: Walk, at: Place, dev: string, pkt: TracePacket, innerMac: string, how: string, nextHop?: string): Promise<void> {
    const view = this.topo.view(at);
    const link = (await view.link(dev))!;
    const info = link.linkinfo?.info_data ?? {};
    const fdb = (await view.deviceFdb(dev)).find((f) => f.mac === innerMac && f.dst);
    if (!fdb?.dst) return this.end(w, 'dropped', at, `no FDB entry on ${dev} for ${innerMac}${nextHop ? ` (the VTEP of ${nextHop})` : ''}: no remote address to send to`);
    const vni = Number(info['id']);
    const dstport = Number(info['port'] ?? 4789);
    const local = typeof info['local'] === 'string' ? info['local'] : undefined;
    // The kernel picks the outer source port from a hash of the inner flow.
    const outer: TracePacket = {
      protocol: 'udp',
      saddr: local ?? '',
      daddr: fdb.dst,
      sport: pkt.sport,
      dport: dstport,
      mark: 0,
      ct: { state: 'new', status: 0, mark: 0, original: { saddr: local ?? '', daddr: fdb.dst, sport: pkt.sport, dport: dstport } },
      inner: { packet: clonePacket(pkt), dstMac: innerMac, vni },
    };
    if (!local) {
      const r = await this.route(w, at, outer, {}, 'send');
      if (!r?.prefsrc) return;
      outer.saddr = outer.ct.original.saddr = r.prefsrc;
    }
    // The remote node is whichever node namespace holds the VTEP address.
    const remote = await this.topo.placeOfAddress(fdb.dst);
    const remoteNode = remote?.kind === 'node' ? remote.name : undefined;
    this.push(w, at, outer, {
      kind: 'vxlan-encap',
      dev,
      vni,
      localVtep: outer.saddr,
      remoteVtep: fdb.dst,
      ...(remoteNode ? { remoteNode } : {}),
      dstport,
      innerMac,
      fdb: `${innerMac} dst ${fdb.dst}`,
      inner: packetView(pkt),
      summary: `${how}, FDB ${innerMac} -> ${fdb.dst}${nextHop || !remoteNode ? '' : ` (node ${remoteNode})`}: encapsulated in VXLAN VNI ${vni}, ${outer.saddr} -> ${fdb.dst} udp/${dstport}`,
    });
    await this.send(w, at, outer);
  }

  private async decapsulate(w: Walk, at: Place, outer: TracePacket): Promise<void> {
    const inner = outer.inner!;
    const links = await this.topo.view(at).links();
    const vx = links.find((l) => l.linkinfo?.info_kind === 'vxlan' && Number(l.linkinfo.info_data?.['id']) === inner.vni && Number(l.linkinfo.info_data?.['port'] ?? 4789) === outer.dport);
    if (!vx) return this.end(w, 'dropped', at, `no VXLAN device for VNI ${inner.vni} on udp/${outer.dport} here`);
    if (vx.master) return this.decapsulateIntoBridge(w, at, vx.ifname, vx.master, outer);
    if (vx.address !== inner.dstMac) return this.end(w, 'dropped', at, `the inner frame is for MAC ${inner.dstMac}, but ${vx.ifname} is ${vx.address ?? '?'}: a stale VTEP MAC on the sender`);
    this.push(w, at, inner.packet, { kind: 'vxlan-decap', dev: vx.ifname, vni: inner.vni, summary: `${vx.ifname}: decapsulated (VNI ${inner.vni}, inner frame to ${vx.address})` });
    await this.receive(w, at, vx.ifname, inner.packet);
  }

  /** EVPN: the VXLAN device is a port of the pod bridge; the inner frame enters the bridge there. */
  private async decapsulateIntoBridge(w: Walk, at: Place, dev: string, bridge: string, outer: TracePacket): Promise<void> {
    const inner = outer.inner!;
    const seg = await this.topo.segmentOf(at, bridge);
    if (!seg) return this.end(w, 'dropped', at, `${dev} is a port of ${bridge}, which is not one of the cluster's bridges`);
    this.push(w, at, inner.packet, { kind: 'vxlan-decap', dev, vni: inner.vni, summary: `${dev}: decapsulated (VNI ${inner.vni}, inner frame to ${inner.dstMac}), into ${bridge} as its port` });
    const target = seg.members.find((m) => m.mac === inner.dstMac);
    if (!target) return this.end(w, 'dropped', at, `the inner frame is for MAC ${inner.dstMac}, which nobody on ${seg.name} has: a stale MAC on the sender`);
    await this.bridgeIn(w, seg, dev, target, inner.packet);
  }

  // ---- decisions ------------------------------------------------------------------------------

  private async route(w: Walk, at: Place, pkt: TracePacket, opts: { iif?: string }, why: 'send' | 'forward' | 'reroute'): Promise<RouteDecision | undefined> {
    const view = this.topo.view(at);
    let r: RouteDecision;
    try {
      r = await view.route(pkt.daddr, { from: pkt.saddr || undefined, iif: opts.iif, mark: pkt.mark });
    } catch (e) {
      if (!(e instanceof NoRouteError)) throw e;
      this.end(w, 'dropped', at, `no route to ${pkt.daddr}${opts.iif ? ` arriving on ${opts.iif}` : ''}: ${e.message} (${e.kernel})`);
      return undefined;
    }
    const kind = r.type === 'local' ? 'deliver' : why;
    const text = r.type === 'local' ? `${pkt.daddr} is local (dev ${r.dev})` : `${pkt.daddr}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}${r.prefsrc ? ` src ${r.prefsrc}` : ''}${r.flags.length ? ` ${r.flags.join(' ')}` : ''}`;
    this.push(w, at, pkt, { kind: 'route', why: kind, route: { type: r.type, dst: r.dst, gateway: r.gateway, dev: r.dev, src: r.prefsrc }, summary: `${why === 'reroute' ? 'rerouted after DNAT: ' : ''}${text}` });
    return r;
  }

  /**
   * Runs the namespace's ruleset at a hook and continues with `next` on every packet that passes:
   * one leg, or one branch per random draw (only the branch conntrack shows, when it shows one).
   */
  private async hook(w: Walk, at: Place, hook: HookName, pkt: TracePacket, dirs: Partial<HookEnv>, next: (w: Walk, p: TracePacket) => Promise<void>): Promise<void> {
    const view = this.topo.view(at);
    const [table, locals, others] = await Promise.all([view.table(), view.localAddresses(), view.otherTables()]);
    if (others.length) this.notes.add(`${at.name}: tables ${others.join(', ')} are not evaluated (only ip cairn)`);
    const env: HookEnv = { hook, addressType: (ip) => (locals.has(ip) ? 'local' : 'unicast'), ...dirs };
    let results = evaluateHook(table, env, pkt);
    for (const r of results) for (const n of r.notes) this.notes.add(`${at.name} ${hook}: ${n}`);
    if (results.length > 1 && this.conntrack) {
      const flows = await this.conntrack(at.netns, { protocol: pkt.protocol, saddr: pkt.saddr, daddr: pkt.daddr, dport: pkt.dport }).catch((e: Error) => {
        // Conntrack only narrows the draw: without it the trace shows every possible path.
        this.notes.add(`${at.name}: conntrack not read (${e.message}); every possible endpoint is shown`);
        return [];
      });
      const shown = results.filter((r) => flows.some((f) => f.reply.saddr === r.packet.daddr && f.reply.sport === r.packet.dport));
      if (flows.length) {
        const possible = results.map((r) => `${r.packet.daddr}:${r.packet.dport}`);
        const chosen = shown.map((r) => `${r.packet.daddr}:${r.packet.dport}`);
        this.push(w, at, pkt, {
          kind: 'conntrack',
          flows: flows.map((f) => ({ orig: describeTuple(f.orig), reply: describeTuple(f.reply), ...(f.state ? { state: f.state } : {}) })),
          possible,
          chosen,
          summary: `${flows.length} connection${flows.length > 1 ? 's' : ''} of this flow in conntrack, replies from ${[...new Set(flows.map((f) => `${f.reply.saddr}:${f.reply.sport}`))].join(', ')}: following ${chosen.length ? chosen.join(', ') : 'every draw (none of them is a possible draw)'} of ${possible.join(', ')}`,
        });
      }
      if (shown.length) results = shown;
    }
    if (results.length === 1) {
      const r = results[0]!;
      // A namespace without chains at this hook (a pod's) has nothing to show.
      if (!r.chains.length) return next(w, r.packet);
      this.push(w, at, r.packet, nftHop(r));
      if (this.stopped(w, at, r)) return;
      return next(w, r.packet);
    }
    w.leg.branches = [];
    for (const r of results) {
      const target = r.nat.length ? `${r.packet.daddr}:${r.packet.dport}` : undefined;
      const b: Branch = { probability: r.probability, choices: r.choices, ...(target ? { target } : {}), hops: [] };
      w.leg.branches.push(b);
      const bw = { leg: b, depth: w.depth };
      this.push(bw, at, r.packet, nftHop(r));
      if (!this.stopped(bw, at, r)) await next(bw, r.packet);
    }
  }

  /** Ends the leg when the hook dropped or rejected the packet. */
  private stopped(w: Walk, at: Place, r: HookResult): boolean {
    if (r.verdict === 'accept') return false;
    const d = r.decidedBy!;
    const by = d.policy ? `the policy of base chain ${d.chain}` : `${d.hit!.chain}: ${d.hit!.rule}${d.hit!.comment ? ` "${d.hit!.comment}"` : ''}${d.hit!.chain !== d.chain ? ` (base chain ${d.chain})` : ''}`;
    this.end(w, r.verdict === 'drop' ? 'dropped' : 'rejected', at, `${r.verdict === 'drop' ? 'dropped' : `rejected (${r.rejectWith})`} at ${r.hook} by ${by}`);
    return true;
  }

  private push(w: Walk, at: Place, pkt: TracePacket, hop: DistributiveOmit<Hop, 'at' | 'packet'>): void {
    if (++w.depth > MAX_HOPS) throw new TraceError(`the trace passed ${MAX_HOPS} hops: the routes form a loop`);
    w.leg.hops.push({ at: placeRef(at), packet: packetView(pkt), ...hop } as Hop);
  }

  private end(w: Walk, outcome: End['outcome'], at: Place, reason: string): void {
    w.leg.end = { outcome, at: placeRef(at), reason };
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

function nftHop(r: HookResult): DistributiveOmit<Hop, 'at' | 'packet'> {
  const ran = r.chains.filter((c) => c.by !== 'skipped');
  const summary = `${r.hook}: ${r.verdict}${r.hits.length ? '' : ` (${ran.length ? ran.map((c) => c.name).join(', ') : 'nat chains skipped'}: no rule matched)`}${r.nat.map((n) => `, ${n.kind} to ${n.addr}${n.port !== undefined ? `:${n.port}` : ''}`).join('')}`;
  return {
    kind: 'nft',
    hook: r.hook,
    verdict: r.verdict,
    chains: r.chains,
    rules: r.hits,
    nat: r.nat.map((n) => ({ kind: n.kind, addr: n.addr, ...(n.port !== undefined ? { port: n.port } : {}) })),
    choices: r.choices,
    notes: r.notes,
    summary,
  };
}

function where(m: Member): string {
  return `${m.place.kind === 'host' ? 'the host' : `${m.place.kind} ${m.place.name}`} ${m.dev}`;
}

function describeTuple(t: Tuple): string {
  return describePacket({ ...t, protocol: '' }).trimEnd();
}
