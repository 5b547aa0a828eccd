// A cluster's machines on one host, for `cairn up` and tests: each node is a network namespace
// `cairn-<cluster>-node-<n>` whose `eth0` is one end of a veth; the other end
// (`cairn-<tag>-<n>`) is enslaved to the host bridge `cairn-<tag>-br`. The underlay is a private
// /24 (default 172.20.0.0/24): node n gets .(10+n); the host bridge gets .1 only when asked
// (hostAddress), for host-side services the nodes must reach. `teardownCluster` removes every
// namespace, root-namespace link and nft table carrying the cluster's prefix.
//
// VM networks (bridge-bound secondary networks, docs/cairn-up.md): a second host bridge
// `cairn-<tag>-vm` is the physical L2 switch of the VM networks (Proxmox's vmbr uplinks, the
// switch behind KubeVirt's nmstate-made br1): no address, nothing routed, never connected to the
// host's uplinks. Each node gets a second veth, its VM trunk `cairn-trunk` (host end
// `cairn-<tag>-v<n in hex>`, 169.254.1.<10+n>), and the bridge `br1` trunked over it: VLANs are
// VXLAN segments on the trunk with the VLAN id as VNI (./vlan-domains.ts: this kernel has no
// 802.1Q), br1's untagged network VNI 1. NetworkAttachmentDefinitions of type bridge put pod
// interfaces on br1 or its VLANs.
//
// <tag> is the cluster name when it has ≤ 5 characters, else a 5-character hash of it, so
// interface names stay within Linux's 15.
import { createHash } from 'node:crypto';
import { Ip, netns as netnsOps, intToIpv4, parseCidr, type Cidr } from './ip.js';
import { Nft, nv, rule, withComment } from './nft.js';
import { ensureTrunkedBridge } from './vlan-domains.js';

const CLUSTER = /^[a-z0-9]{1,20}$/;

/** The node's bridge for VM networks (the name KubeVirt's and Multus' examples use). */
export const VM_NETWORK_BRIDGE = 'br1';
/**
 * The node end of its VM trunk. The `cairn` prefix is Cairn's in node namespaces: the fabric's
 * NICs, VXLAN devices and bridges are named by the topology, never so.
 */
export const VM_TRUNK_DEV = 'cairn-trunk';
/** The VM trunks' link-local subnet: node n is .(10+n); it exists only on the VM bridge's L2. */
const VM_TRUNK_NET = '169.254.1';
/** The node's nft table keeping routed traffic off its VM trunk. */
const VM_TRUNK_GUARD_TABLE = 'cairn-vmtrunk';
/** The trunk carries VXLAN: its MTU leaves the VM networks the underlay's. */
const VXLAN_OVERHEAD = 50;

export interface LabOptions {
  /** Cluster name: 1–20 lowercase letters/digits (no dashes, so prefixes never overlap). */
  cluster: string;
  /** Underlay /24 (default 172.20.0.0/24). */
  underlayCidr?: string;
  /** Give the host bridge .1 of the underlay (default false). */
  hostAddress?: boolean;
  /** Underlay MTU (default 1500). */
  mtu?: number;
}

export interface LabNode {
  index: number;
  /** The node's namespace name. */
  netns: string;
  ip: Ip;
  underlayIP: string;
  underlayDev: string;
  underlayMtu: number;
  /** The host end of the node's underlay veth. */
  hostVeth: string;
  /** The host end of the node's VM trunk (on the VM bridge), when it has one. */
  vmTrunkVeth?: string;
}

export function linkTag(cluster: string): string {
  if (!CLUSTER.test(cluster)) throw new Error(`invalid cluster name ${JSON.stringify(cluster)} (1–20 of a-z 0-9)`);
  if (cluster.length <= 5) return cluster;
  return 'h' + createHash('sha256').update(cluster).digest('hex').slice(0, 4);
}

export class Lab {
  readonly cluster: string;
  readonly tag: string;
  readonly bridge: string;
  /** The host bridge of the VM networks' trunks. */
  readonly vmBridge: string;
  readonly underlay: Cidr;
  readonly mtu: number;
  readonly hostAddress: boolean;

  constructor(opts: LabOptions) {
    this.cluster = opts.cluster;
    this.tag = linkTag(opts.cluster);
    this.bridge = `cairn-${this.tag}-br`;
    this.vmBridge = `cairn-${this.tag}-vm`;
    this.underlay = parseCidr(opts.underlayCidr ?? '172.20.0.0/24', true);
    if (this.underlay.prefix !== 24) throw new Error('the lab underlay must be a /24');
    this.mtu = opts.mtu ?? 1500;
    this.hostAddress = opts.hostAddress ?? false;
  }

  /** Namespace name prefix of everything in this cluster. */
  get prefix(): string {
    return `cairn-${this.cluster}-`;
  }
  nodeNetns(n: number): string {
    return `${this.prefix}node-${n}`;
  }
  /** Prefix for pod namespaces made on this cluster's nodes. */
  get podNetnsPrefix(): string {
    return `${this.prefix}pod-`;
  }
  hostVeth(n: number): string {
    return `cairn-${this.tag}-${n}`;
  }
  /** The host end of node n's VM trunk: the index in hex keeps node 200 within 15 characters. */
  vmTrunkVeth(n: number): string {
    return `cairn-${this.tag}-v${n.toString(16)}`;
  }
  underlayIP(n: number): string {
    return intToIpv4(this.underlay.base + 10 + n);
  }
  get hostIP(): string {
    return intToIpv4(this.underlay.base + 1);
  }
  /**
   * Service LoadBalancer addresses: the top of the underlay /24 (.224–.254), above every node
   * (.11–.210), so the host reaches them on the bridge by ARP, answered by the announcing node.
   */
  get lbPool(): string {
    return `${intToIpv4(this.underlay.base + 224)}-${intToIpv4(this.underlay.base + 254)}`;
  }

  /** Makes the host bridge (and its address when asked). Idempotent. */
  async up(): Promise<void> {
    await Ip.root.ensureBridge(this.bridge, { mtu: this.mtu });
    if (this.hostAddress) await Ip.root.ensureAddr(this.bridge, `${this.hostIP}/24`);
  }

  /**
   * Makes node n (1..200): namespace, underlay veth on the host bridge, address, lo up, and
   * unless `vmTrunk` is false its VM trunk and br1. Idempotent. (A fabric cluster has none: FRR's
   * zebra would take the trunk's VXLAN segments for EVPN VNIs; its VM networks are the
   * topology's EVPN bridges.)
   */
  async addNode(n: number, opts: { vmTrunk?: boolean } = {}): Promise<LabNode> {
    if (!Number.isInteger(n) || n < 1 || n > 200) throw new Error(`node index ${n} out of range 1..200`);
    await this.up();
    const ns = this.nodeNetns(n);
    await netnsOps.ensure(ns);
    const node = Ip.ns(ns);
    const hostVeth = this.hostVeth(n);
    const have = await Ip.root.link(hostVeth);
    const eth0 = await node.link('eth0');
    if (!have || !eth0) {
      if (have) await Ip.root.removeLink(hostVeth);
      if (eth0) await node.removeLink('eth0');
      await Ip.root.addVeth(hostVeth, { name: 'eth0', netns: ns }, { mtu: this.mtu });
    }
    await Ip.root.setLink(hostVeth, { master: this.bridge, up: true });
    await node.setLink('lo', { up: true });
    await node.setLink('eth0', { mtu: this.mtu, up: true });
    await node.ensureAddr('eth0', `${this.underlayIP(n)}/24`);
    if (this.hostAddress) await node.replaceRoute({ dst: 'default', via: this.hostIP, dev: 'eth0' });
    const vmTrunkVeth = opts.vmTrunk === false ? undefined : await this.addVmTrunk(n);
    return { index: n, netns: ns, ip: node, underlayIP: this.underlayIP(n), underlayDev: 'eth0', underlayMtu: this.mtu, hostVeth, ...(vmTrunkVeth ? { vmTrunkVeth } : {}) };
  }

  /** Node n's VM trunk: a veth from the host VM bridge to the node, addressed, and br1 trunked over it. Idempotent. */
  private async addVmTrunk(n: number): Promise<string> {
    const node = Ip.ns(this.nodeNetns(n));
    const hostEnd = this.vmTrunkVeth(n);
    const mtu = this.mtu + VXLAN_OVERHEAD;
    await Ip.root.ensureBridge(this.vmBridge, { mtu });
    const have = await Ip.root.link(hostEnd);
    const nodeEnd = await node.link(VM_TRUNK_DEV);
    if (!have || !nodeEnd) {
      if (have) await Ip.root.removeLink(hostEnd);
      if (nodeEnd) await node.removeLink(VM_TRUNK_DEV);
      await Ip.root.addVeth(hostEnd, { name: VM_TRUNK_DEV, netns: this.nodeNetns(n) }, { mtu });
    }
    await Ip.root.setLink(hostEnd, { master: this.vmBridge, up: true });
    await node.setLink(VM_TRUNK_DEV, { mtu, up: true });
    const local = `${VM_TRUNK_NET}.${10 + n}`;
    await node.ensureAddr(VM_TRUNK_DEV, `${local}/24`);
    await ensureTrunkedBridge(node, VM_NETWORK_BRIDGE, { dev: VM_TRUNK_DEV, local }, this.mtu);
    // Only the node's own VXLAN uses the trunk: a pod routed onto it could inject frames into any VLAN.
    const trunk = nv.iface(VM_TRUNK_DEV);
    await new Nft({ netns: this.nodeNetns(n), family: 'ip', table: VM_TRUNK_GUARD_TABLE }).syncChain({ name: 'vm-trunk-forward', base: { type: 'filter', hook: 'forward', priority: 'filter' } }, [
      withComment(rule`iifname ${trunk} drop`, 'the VM trunk is not routed'),
      withComment(rule`oifname ${trunk} drop`, 'the VM trunk is not routed'),
    ]);
    return hostEnd;
  }

  /** Removes node n's namespace (everything inside it goes with it) and its host veths. */
  async removeNode(n: number): Promise<void> {
    await Ip.root.removeLink(this.hostVeth(n));
    await Ip.root.removeLink(this.vmTrunkVeth(n));
    await netnsOps.remove(this.nodeNetns(n));
  }

  async teardown(): Promise<TeardownReport> {
    return teardownCluster(this.cluster);
  }
}

export interface TeardownReport {
  netns: string[];
  links: string[];
  nftTables: string[];
}

/**
 * Removes every network namespace named `cairn-<cluster>-*`, every root-namespace link named
 * `cairn-<tag>-*` and every root-namespace nft table named `cairn-<cluster>` or `cairn-<cluster>-*`.
 */
export async function teardownCluster(cluster: string): Promise<TeardownReport> {
  const tag = linkTag(cluster);
  const report: TeardownReport = { netns: [], links: [], nftTables: [] };
  const errors: unknown[] = [];
  const nsPrefix = `cairn-${cluster}-`;
  // Pods first, then nodes, so no pod veth peer outlives its node.
  const all = (await netnsOps.list()).map((n) => n.name).filter((n) => n.startsWith(nsPrefix));
  all.sort((a, b) => Number(b.includes('-pod-')) - Number(a.includes('-pod-')));
  for (const name of all) {
    try {
      if (await netnsOps.remove(name)) report.netns.push(name);
    } catch (e) {
      errors.push(e);
    }
  }
  const linkPrefix = `cairn-${tag}-`;
  const links = (await Ip.root.links()).filter((l) => l.ifname.startsWith(linkPrefix));
  // Veths before the bridge.
  links.sort((a, b) => Number(a.linkinfo?.info_kind === 'bridge') - Number(b.linkinfo?.info_kind === 'bridge'));
  for (const l of links) {
    try {
      if (await Ip.root.removeLink(l.ifname)) report.links.push(l.ifname);
    } catch (e) {
      errors.push(e);
    }
  }
  try {
    const tables = await new Nft().listTables();
    for (const t of tables) {
      if (t.name === `cairn-${cluster}` || t.name.startsWith(nsPrefix)) {
        await new Nft({ family: t.family, table: t.name }).removeTable();
        report.nftTables.push(`${t.family} ${t.name}`);
      }
    }
  } catch (e) {
    errors.push(e);
  }
  if (errors.length) throw new AggregateError(errors, `teardown of cluster ${cluster} left things behind: ${errors.map(String).join('; ')}`);
  return report;
}
