// A cluster's machines on one host, for `cairn up` and tests: each node is a network namespace
// `cairn-<cluster>-node-<n>` whose `eth0` is one end of a veth; the other end
// (`cairn-<tag>-<n>`) is enslaved to the host bridge `cairn-<tag>-br`. The underlay is a private
// /24 (default 172.20.0.0/24): node n gets .(10+n); the host bridge gets .1 only when asked
// (hostAddress), for host-side services the nodes must reach. `teardownCluster` removes every
// namespace, root-namespace link and nft table carrying the cluster's prefix.
//
// <tag> is the cluster name when it has ≤ 5 characters, else a 5-character hash of it, so
// interface names stay within Linux's 15.
import { createHash } from 'node:crypto';
import { Ip, netns as netnsOps, intToIpv4, parseCidr, type Cidr } from './ip.js';
import { Nft } from './nft.js';

const CLUSTER = /^[a-z0-9]{1,20}$/;

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
  readonly underlay: Cidr;
  readonly mtu: number;
  readonly hostAddress: boolean;

  constructor(opts: LabOptions) {
    this.cluster = opts.cluster;
    this.tag = linkTag(opts.cluster);
    this.bridge = `cairn-${this.tag}-br`;
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

  /** Makes node n (1..200): namespace, underlay veth on the host bridge, address, lo up. Idempotent. */
  async addNode(n: number): Promise<LabNode> {
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
    return { index: n, netns: ns, ip: node, underlayIP: this.underlayIP(n), underlayDev: 'eth0', underlayMtu: this.mtu, hostVeth };
  }

  /** Removes node n's namespace (everything inside it goes with it) and its host veth. */
  async removeNode(n: number): Promise<void> {
    await Ip.root.removeLink(this.hostVeth(n));
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
