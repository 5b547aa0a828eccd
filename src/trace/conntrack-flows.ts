// The tracer's view of conntrack: the entries of a namespace for one flow (protocol, original
// source, destination and destination port — any source port), through the conntrack wrapper.
import { Conntrack } from '../net/conntrack.js';
import type { ConntrackLookup } from './tracer.js';

export const conntrackFlows: ConntrackLookup = async (netns, flow) => {
  const entries = await new Conntrack({ netns }).list({ protocol: flow.protocol as 'tcp' | 'udp', origSrc: flow.saddr, origDst: flow.daddr, origDstPort: flow.dport });
  const tuple = (t: { src: string; dst: string; sport?: number; dport?: number }) => ({ saddr: t.src, daddr: t.dst, sport: t.sport ?? 0, dport: t.dport ?? 0 });
  return entries.map((e) => ({ orig: tuple(e.original), reply: tuple(e.reply), ...(e.state ? { state: e.state } : {}) }));
};
