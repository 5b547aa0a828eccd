// What every `lab verify` check works from, and what it returns.
import type { Topology } from '../topology.js';
import type { LabState } from './state.js';

export interface CheckContext {
  id: string;
  state: LabState;
  t: Topology;
}

/** The outcome of one check: a line saying what was seen, and the problems found (none: passed). */
export interface CheckResult {
  name: string;
  ok: boolean;
  summary: string;
  problems: string[];
}

export function checkResult(name: string, problems: string[], summary: string): CheckResult {
  return { name, ok: problems.length === 0, summary, problems };
}

/** True when the two nodes are cabled to each other and every cable between them is cut. */
export function cutApart(state: LabState, a: string, b: string): boolean {
  const between = state.topology.links.filter((l) => l.ends.some((e) => e.node === a) && l.ends.some((e) => e.node === b));
  return between.length > 0 && between.every((l) => state.cuts.some((c) => c.link === l.name));
}

/** The node an address belongs to (loopback or underlay address), if any. */
export function nodeOfAddress(t: Topology, addr: string): string | undefined {
  return t.nodes.find((n) => n.loopback === addr || Object.values(n.addresses).includes(addr))?.name;
}
