// The packet `cairn trace` follows: an IPv4 TCP or UDP packet with the kernel metadata the
// ruleset can look at (mark, conntrack state/status/mark and the connection's original tuple),
// and, while it travels inside a VXLAN tunnel, the inner packet it carries.

export type L4Protocol = 'tcp' | 'udp';

/** Conntrack states a packet can be in (nft `ct state`). */
export type CtState = 'new' | 'established' | 'related' | 'invalid' | 'untracked';

export interface Tuple {
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
}

export interface TracePacket extends Tuple {
  protocol: L4Protocol;
  /** skb mark (nft `meta mark`). */
  mark: number;
  ct: {
    state: CtState;
    /** IPS_* status bits (nft `ct status`): dnat/snat are set once a NAT binding exists. */
    status: number;
    mark: number;
    /** The connection's tuple as its first packet had it, before any NAT. */
    original: Tuple;
  };
  /** Set on the outer packet of a VXLAN tunnel: what it carries. */
  inner?: { packet: TracePacket; dstMac: string; vni: number };
}

/** The linux IPS_* bits nft names in `ct status`. */
export const CT_STATUS_BITS: Readonly<Record<string, number>> = {
  expected: 1,
  'seen-reply': 2,
  assured: 4,
  confirmed: 8,
  snat: 16,
  dnat: 32,
  dying: 512,
};

/** The first packet of a new connection. */
export function newPacket(protocol: L4Protocol, t: Tuple): TracePacket {
  return { protocol, ...t, mark: 0, ct: { state: 'new', status: 0, mark: 0, original: { ...t } } };
}

export function clonePacket(p: TracePacket): TracePacket {
  return { ...p, ct: { ...p.ct, original: { ...p.ct.original } }, inner: p.inner && { ...p.inner, packet: clonePacket(p.inner.packet) } };
}

/** `10.0.0.1:40000 -> 10.0.0.2:80 tcp` */
export function describePacket(p: Tuple & { protocol: string }): string {
  return `${p.saddr}:${p.sport} -> ${p.daddr}:${p.dport} ${p.protocol}`;
}
