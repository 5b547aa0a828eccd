// The fabric topology document: one declarative description of a switchless hyperconverged
// cluster (nodes, NICs, direct links, underlay networks, BGP design, EVPN VNIs, corosync links,
// Ceph networks). Everything Cairn renders or builds for the fabric is derived from it.
//
// Loading checks the document's *shape* against the published JSON Schema (types, required
// fields, unknown fields, each reported with its path); whether the design makes sense
// (addresses, links, ASNs, MTU, names...) is validate.ts's job.
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { FABRIC_DEFAULTS } from './defaults.js';
import { checkShape } from './shape.js';
import { fabricSchema } from './schema.js';

/** Which tool's naming rules interface names must satisfy (Proxmox adds its own on top of ifupdown2's). */
export type Target = 'ifupdown2' | 'proxmox';
/** One AS for every node with iBGP (underlay by static routes), or an AS per node with eBGP. */
export type BgpScheme = 'ibgp' | 'ebgp';

export interface Topology {
  name: string;
  target: Target;
  mtu: { underlay: number; overlay: number };
  /** The subnet every node's loopback (router) address comes from. */
  loopbackSubnet: string;
  networks: UnderlayNetwork[];
  nodes: FabricNode[];
  links: Link[];
  bgp: BgpDesign;
  evpn: Evpn;
  corosync: Corosync;
  ceph: Ceph;
}

/** An underlay network: a subnet of /32 host addresses carried on every mesh NIC. */
export interface UnderlayNetwork {
  name: string;
  subnet: string;
  /** BGP local-preference of routes learned over this network's sessions (eBGP underlay). */
  localPreference: number;
}

export interface FabricNode {
  name: string;
  /** Loopback /32: router-id, and VTEP / EVPN peering address when evpn.vtep is "loopback". */
  loopback: string;
  /** The node's own AS (eBGP scheme only). */
  asn?: number;
  /** The node's /32 in each underlay network, keyed by network name. */
  addresses: Record<string, string>;
  nics: Nic[];
}

export interface Nic {
  name: string;
  /** Overrides mtu.underlay for this NIC. */
  mtu?: number;
}

export interface LinkEnd {
  node: string;
  nic: string;
}

/** A direct cable between two NICs of two nodes. */
export interface Link {
  /** Defaults to "<node a>-<node b>". */
  name: string;
  ends: [LinkEnd, LinkEnd];
}

export interface BgpDesign {
  scheme: BgpScheme;
  /** The cluster's AS (iBGP scheme only). */
  asn?: number;
  timers: { keepalive: number; hold: number };
}

export interface Evpn {
  /** "loopback", or the name of the underlay network whose address is the VTEP. */
  vtep: string;
  vnis: Vni[];
}

export interface Vni {
  vni: number;
  /** The VXLAN device carrying this VNI. */
  vxlan: string;
  /** The bridge the VXLAN device (and the guests) attach to. */
  bridge: string;
  /** The guests' subnet on this VNI (used by the lab to address its stand-in guests). */
  subnet?: string;
}

export interface Corosync {
  clusterName: string;
  /** knet links in link-number order (ring0_addr, ring1_addr, ...). */
  links: CorosyncLink[];
}

export interface CorosyncLink {
  network: string;
  /** knet_link_priority: with link_mode passive the highest-priority link carries traffic. */
  priority: number;
}

export interface Ceph {
  fsid: string;
  publicNetwork: string;
  clusterNetwork: string;
  monitors: string[];
}

/** One problem in a topology, with the path of the field it concerns (e.g. "nodes[1].nics[0].name"). */
export interface TopologyIssue {
  path: string;
  message: string;
}

/** The file is not YAML, or not shaped like a topology; `issues` holds every problem found. */
export class TopologyLoadError extends Error {
  constructor(
    readonly source: string,
    readonly issues: TopologyIssue[],
  ) {
    super(`${source}: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`);
    this.name = 'TopologyLoadError';
  }
}

/** Parses a topology from YAML text; `source` names it in errors. */
export function parseTopology(text: string, source = '<input>'): Topology {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const at = e.linePos ? `line ${e.linePos[0].line} column ${e.linePos[0].col}` : '';
    // The parser's message repeats the position and then quotes the source; keep the first clause.
    const what = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new TopologyLoadError(source, [{ path: '', message: `invalid YAML${at ? ` at ${at}` : ''}: ${what}` }]);
  }
  const value: unknown = doc.toJS();
  const issues = checkShape(value, fabricSchema);
  if (issues.length) throw new TopologyLoadError(source, issues);
  return withDefaults(value as RawTopology);
}

/** Reads and parses a topology file. */
export async function loadTopology(file: string): Promise<Topology> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
    throw new TopologyLoadError(file, [{ path: '', message: `cannot read: ${why}` }]);
  }
  return parseTopology(text, file);
}

/** The document as written: the fields with defaults may be missing. */
type RawTopology = Omit<Topology, 'target' | 'mtu' | 'networks' | 'links' | 'bgp' | 'evpn' | 'corosync'> & {
  target?: Target;
  mtu?: { underlay?: number; overlay?: number };
  networks: (Omit<UnderlayNetwork, 'localPreference'> & { localPreference?: number })[];
  links: (Omit<Link, 'name'> & { name?: string })[];
  bgp: Omit<BgpDesign, 'timers'> & { timers?: { keepalive?: number; hold?: number } };
  evpn: Omit<Evpn, 'vtep'> & { vtep?: string };
  corosync: Omit<Corosync, 'links'> & { links: (Omit<CorosyncLink, 'priority'> & { priority?: number })[] };
};

function withDefaults(raw: RawTopology): Topology {
  const d = FABRIC_DEFAULTS;
  const n = raw.corosync.links.length;
  return {
    ...raw,
    target: raw.target ?? d.target,
    mtu: { underlay: raw.mtu?.underlay ?? d.underlayMtu, overlay: raw.mtu?.overlay ?? d.overlayMtu },
    networks: raw.networks.map((net) => ({ ...net, localPreference: net.localPreference ?? d.localPreference })),
    links: raw.links.map((l) => ({ ...l, name: l.name ?? `${l.ends[0].node}-${l.ends[1].node}` })),
    bgp: { ...raw.bgp, timers: { keepalive: raw.bgp.timers?.keepalive ?? d.keepalive, hold: raw.bgp.timers?.hold ?? d.hold } },
    evpn: { ...raw.evpn, vtep: raw.evpn.vtep ?? d.vtep },
    // The first link gets the highest priority unless told otherwise (link 0 carries traffic).
    corosync: { ...raw.corosync, links: raw.corosync.links.map((l, i) => ({ ...l, priority: l.priority ?? (n - i) * 10 })) },
  };
}

// ---- helpers over a loaded topology ----

export function findNode(t: Topology, name: string): FabricNode | undefined {
  return t.nodes.find((n) => n.name === name);
}

export function findNetwork(t: Topology, name: string): UnderlayNetwork | undefined {
  return t.networks.find((n) => n.name === name);
}

/** A node's address in an underlay network, or its loopback for "loopback"; undefined if it has none. */
export function nodeAddress(t: Topology, node: string, network: string): string | undefined {
  const n = findNode(t, node);
  if (!n) return undefined;
  return network === 'loopback' ? n.loopback : n.addresses[network];
}

/** The node's VTEP: the address VXLAN tunnels and EVPN sessions start from. */
export function vtepAddress(t: Topology, node: string): string | undefined {
  return nodeAddress(t, node, t.evpn.vtep);
}

/** The AS a node speaks BGP in under the topology's scheme. */
export function nodeAsn(t: Topology, node: FabricNode): number | undefined {
  return t.bgp.scheme === 'ibgp' ? t.bgp.asn : node.asn;
}

/** The MTU a NIC is configured with. */
export function nicMtu(t: Topology, nic: Nic): number {
  return nic.mtu ?? t.mtu.underlay;
}

/** A node's direct neighbours: for each link it is on, its own NIC and the far end. */
export interface Adjacency {
  link: Link;
  nic: string;
  peer: string;
  peerNic: string;
}

export function adjacencies(t: Topology, node: string): Adjacency[] {
  const out: Adjacency[] = [];
  for (const link of t.links) {
    const [a, b] = link.ends;
    if (a.node === node) out.push({ link, nic: a.nic, peer: b.node, peerNic: b.nic });
    else if (b.node === node) out.push({ link, nic: b.nic, peer: a.node, peerNic: a.nic });
  }
  return out;
}
