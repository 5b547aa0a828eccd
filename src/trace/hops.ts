// The shape of a trace, as `cairn trace --output json` prints it (documented in docs/trace.md;
// fields are only ever added). A trace is a leg: the hops in order, then either how the packet
// ends or — where the kernel draws a random number (a Service choosing an endpoint) — one
// branch per possible draw, each a leg of its own.
import type { ChainRun, HookName, NumgenChoice, RuleHit, Verdict } from './nft-eval.js';
import type { TracePacket } from './packet.js';
import type { Place } from './topology.js';

export interface PlaceRef {
  kind: Place['kind'];
  name: string;
  /** null for the host's root namespace. */
  netns: string | null;
}

export interface PacketView {
  protocol: string;
  saddr: string;
  sport: number;
  daddr: string;
  dport: number;
  /** The skb mark, when set. */
  mark?: number;
}

interface HopBase {
  at: PlaceRef;
  /** The hop in one line of text. */
  summary: string;
  /** The packet as it leaves this hop. */
  packet: PacketView;
}

export type Hop = HopBase &
  (
    | { kind: 'route'; why: 'send' | 'forward' | 'deliver' | 'reroute'; route: { type: string; dst: string; gateway?: string; dev: string; src?: string } }
    | { kind: 'nft'; hook: HookName; verdict: Verdict; chains: ChainRun[]; rules: RuleHit[]; nat: { kind: string; addr: string; port?: number }[]; choices: NumgenChoice[]; notes: string[] }
    | { kind: 'neighbour'; dev: string; ip: string; mac: string; state: string; owner: PlaceRef & { dev: string } }
    | { kind: 'veth'; dev: string; peer: PlaceRef & { dev: string } }
    | { kind: 'bridge'; bridge: string; mac: string; decision: 'local' | 'forward' | 'flood'; port?: string }
    | { kind: 'vxlan-encap'; dev: string; vni: number; localVtep: string; remoteVtep: string; remoteNode?: string; dstport: number; innerMac: string; fdb: string; inner: PacketView }
    | { kind: 'vxlan-decap'; dev: string; vni: number }
    | { kind: 'conntrack'; flows: { orig: string; reply: string; state?: string }[]; possible: string[]; chosen: string[] }
  );

export interface End {
  outcome: 'delivered' | 'dropped' | 'rejected' | 'left-cluster';
  at: PlaceRef;
  reason: string;
}

export interface Leg {
  hops: Hop[];
  end?: End;
  branches?: Branch[];
}

export interface Branch extends Leg {
  /** Of this branch among all draws. */
  probability: number;
  /** The draws that lead here. */
  choices: NumgenChoice[];
  /** The address:port the packet was rewritten to on this branch, if any. */
  target?: string;
}

export interface EndpointRef {
  /** What the user named: `pod default/web-0`, `service default/web:80`, `node node-1`, `host`, `ip 10.0.0.1`. */
  label: string;
  ip: string;
  port?: number;
}

export interface TraceResult extends Leg {
  from: EndpointRef;
  to: EndpointRef;
  protocol: string;
  /** The packet as it starts. */
  packet: PacketView;
  /** Remarks about the whole trace (tables not evaluated, nominal source port...). */
  notes: string[];
}

export function placeRef(p: Place): PlaceRef {
  return { kind: p.kind, name: p.name, netns: p.netns ?? null };
}

export function packetView(p: TracePacket): PacketView {
  return { protocol: p.protocol, saddr: p.saddr, sport: p.sport, daddr: p.daddr, dport: p.dport, ...(p.mark ? { mark: p.mark } : {}) };
}
