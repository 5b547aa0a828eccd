// A design problem found in a topology, and the collector the per-concern checks report into.
import type { Topology, TopologyIssue } from '../topology.js';

/** The classes of problems `cairn fabric validate` reports (one test each). */
export type ProblemCode =
  | 'duplicate-name'
  | 'unknown-reference'
  | 'subnet'
  | 'duplicate-address'
  | 'address-out-of-subnet'
  | 'link-ends'
  | 'single-homed'
  | 'partition'
  | 'static-needs-full-mesh'
  | 'asn-scheme'
  | 'asn-range'
  | 'bgp-timers'
  | 'vni-duplicate'
  | 'vni-range'
  | 'vtep'
  | 'mtu'
  | 'interface-name'
  | 'name'
  | 'corosync-network'
  | 'ceph-monitor'
  | 'ceph-network';

export interface Problem extends TopologyIssue {
  code: ProblemCode;
}

export class Problems {
  readonly list: Problem[] = [];
  add(code: ProblemCode, path: string, message: string): void {
    this.list.push({ code, path, message });
  }
}

/** "nodes[2]" for the node named `name` (the path of its entry in the file). */
export function nodePath(t: Topology, name: string): string {
  return `nodes[${t.nodes.findIndex((n) => n.name === name)}]`;
}

/** Entries of `items` whose `key` appears more than once, after the first. */
export function duplicates<T>(items: readonly T[], key: (item: T) => string | number): { index: number; first: number; value: string | number }[] {
  const seen = new Map<string | number, number>();
  const out: { index: number; first: number; value: string | number }[] = [];
  items.forEach((item, index) => {
    const k = key(item);
    const first = seen.get(k);
    if (first === undefined) seen.set(k, index);
    else out.push({ index, first, value: k });
  });
  return out;
}
