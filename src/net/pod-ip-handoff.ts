// Pod IP handoff, the pure part: a migration target pod takes over the source pod's address
// while the source still lives on another node. Once the target's node activates it, the node
// lists it in its Node annotation `cairn.io/pod-ip-handoffs` (JSON [{ip, podUid, since}]); every
// agent reads all nodes' lists and derives, level-triggered as for podCIDRs:
//   - who holds each address: the node with the latest `since` (a VM can move on before the
//     node it left has torn its pod down, so several nodes may list one address for a while);
//   - the /32 routes toward the holder every other node programs, which beat the /24 of the
//     node the address came from;
//   - the addresses no IPAM may hand out while any node lists them.
import { checkIpv4, cidrContains, ipv4ToInt, parseCidr } from './ip.js';

export const POD_IP_HANDOFFS_ANNOTATION = 'cairn.io/pod-ip-handoffs';
/**
 * The next hop a routed pod's eth0 points its default route at (Calico's): link-local, never on
 * any wire; the pod resolves it to its host veth with a permanent neighbour entry.
 */
export const ROUTED_POD_GATEWAY = '169.254.1.1';

export interface PodIpHandoff {
  ip: string;
  podUid: string;
  /** RFC 3339 time the node activated it. */
  since: string;
}

/** One node's view as its Node object has it. */
export interface NodeHandoffs {
  node: string;
  podCidr?: string;
  handoffs: PodIpHandoff[];
}

export interface HandoffHolder extends PodIpHandoff {
  node: string;
  /** The holder's podCIDR (the overlay routes the /32 like that /24). */
  podCidr?: string;
}

/** A /32 a node routes toward the holder's pod network. */
export interface HandoffRoute {
  ip: string;
  holderPodCidr: string;
}

/**
 * The annotation's entries; malformed entries are dropped (another node's bad annotation must
 * not stop this node's reconcile).
 */
export function parseHandoffs(text: string | undefined): PodIpHandoff[] {
  if (!text) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(raw)) return [];
  const out: PodIpHandoff[] = [];
  for (const e of raw as Partial<PodIpHandoff>[]) {
    if (!e || typeof e.ip !== 'string' || typeof e.podUid !== 'string' || typeof e.since !== 'string') continue;
    if (!isIpv4(e.ip) || Number.isNaN(Date.parse(e.since))) continue;
    out.push({ ip: e.ip, podUid: e.podUid, since: e.since });
  }
  return out;
}

/** The annotation value; undefined for none (the annotation is removed). */
export function formatHandoffs(entries: readonly PodIpHandoff[]): string | undefined {
  if (!entries.length) return undefined;
  const sorted = [...entries].sort((a, b) => ipv4ToInt(a.ip) - ipv4ToInt(b.ip) || a.podUid.localeCompare(b.podUid));
  return JSON.stringify(sorted.map(({ ip, podUid, since }) => ({ ip, podUid, since })));
}

/** The holder of every listed address: latest `since`; ties go to the first node by name, so all agents agree. */
export function handoffHolders(nodes: readonly NodeHandoffs[]): Map<string, HandoffHolder> {
  const out = new Map<string, HandoffHolder>();
  for (const n of [...nodes].sort((a, b) => a.node.localeCompare(b.node))) {
    for (const h of n.handoffs) {
      const cur = out.get(h.ip);
      if (cur && Date.parse(cur.since) >= Date.parse(h.since)) continue;
      out.set(h.ip, { ...h, node: n.node, podCidr: n.podCidr });
    }
  }
  return out;
}

/** The /32s node `self` routes toward other holders (none for what it holds itself, nor toward a node without a podCIDR). */
export function handoffRoutes(self: string, holders: ReadonlyMap<string, HandoffHolder>): HandoffRoute[] {
  const out: HandoffRoute[] = [];
  for (const h of holders.values()) if (h.node !== self && h.podCidr) out.push({ ip: h.ip, holderPodCidr: h.podCidr });
  return out.sort((a, b) => ipv4ToInt(a.ip) - ipv4ToInt(b.ip));
}

/**
 * The addresses on node `self`'s pod bridge that something else now answers for: each listed
 * address inside its own podCIDR (held elsewhere, or by a routed pod of its own), and in EVPN
 * mode, where cairn0 is one segment over all nodes, every address it holds. The node answers
 * ARP for them on cairn0 (proxy neighbour entries), so local pods reach them through its routes.
 */
export function proxyArpAddresses(self: string, podCidr: string, holders: ReadonlyMap<string, HandoffHolder>, stretchedBridge: boolean): string[] {
  const own = parseCidr(podCidr, true);
  const out: string[] = [];
  for (const h of holders.values()) if (cidrContains(own, h.ip) || (stretchedBridge && h.node === self)) out.push(h.ip);
  return out.sort((a, b) => ipv4ToInt(a) - ipv4ToInt(b));
}

/** Every address some node lists: no IPAM hands these out, even once its own pod released it. */
export function listedAddresses(nodes: readonly NodeHandoffs[]): Set<string> {
  return new Set(nodes.flatMap((n) => n.handoffs.map((h) => h.ip)));
}

function isIpv4(ip: string): boolean {
  try {
    checkIpv4(ip);
    return true;
  } catch {
    return false;
  }
}
