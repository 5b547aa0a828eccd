// KubeVirt's masquerade binding, set up inside the launcher's pod network namespace: the guest
// sits behind a bridge `k6t-<podIface>` (10.0.2.1/24) on a tap, gets 10.0.2.2 by DHCP, and the
// pod's address is NATed to it — inbound connections to the pod IP are DNATed to the guest (all
// TCP/UDP ports but the launcher's own, or only the ports the VMI lists), and the guest's
// outbound traffic leaves SNATed to the pod IP. So Services, NetworkPolicy and probes that target
// the pod reach the guest, and the guest's address stays the same across migrations.
import { Ip, parseCidr } from '../../net/ip.js';
import { Nft, nv, rule, type NftRule } from '../../net/nft.js';
import { DhcpServer, type DhcpServerSpec } from './dhcp-server.js';
import { ensureTap, removeTap } from './tap.js';

export interface MasqueradeSpec {
  /** The launcher pod's network namespace. */
  netns: string;
  /** The pod's interface (default eth0) and its IPv4 address. */
  podIface?: string;
  podIp: string;
  /** The guest NIC's MAC (stable across restarts and migrations). */
  guestMac: string;
  /** Default tap0. */
  tap?: string;
  /** Default 10.0.2.0/24 with the gateway at .1 and the guest at .2, as KubeVirt. */
  gatewayCidr?: string;
  guestIp?: string;
  /** Only these ports are forwarded to the guest (KubeVirt's interface `ports`); default all. */
  ports?: { protocol: 'tcp' | 'udp'; port: number }[];
  /** Ports the launcher itself serves on the pod IP, never forwarded. */
  excludePorts?: number[];
  /** Handed to the guest by DHCP. */
  dns?: string[];
  searchDomains?: string[];
  hostname?: string;
  /** Directory for the DHCP server's files (as the DHCP server sees it). */
  dir: string;
  /** The uid allowed to open the tap without CAP_NET_ADMIN (the launcher's QEMU). */
  tapOwner?: number;
}

export class MasqueradeError extends Error {
  override name = 'MasqueradeError';
}

/**
 * The guest's gateway (the bridge) has this MAC in every launcher: a migrated guest keeps its ARP
 * entry for 10.0.2.1, and a gateway MAC that changed with the target pod would black-hole its
 * traffic until that entry expired (a second or more of silence on every connection).
 */
export const MASQUERADE_GATEWAY_MAC = '02:00:00:00:00:01';

const CHAIN_PRE = 'virt-masq-prerouting';
const CHAIN_POST = 'virt-masq-postrouting';

function defaults(s: MasqueradeSpec) {
  const podIface = s.podIface ?? 'eth0';
  return {
    podIface,
    bridge: `k6t-${podIface}`,
    tap: s.tap ?? 'tap0',
    gatewayCidr: s.gatewayCidr ?? '10.0.2.1/24',
    guestIp: s.guestIp ?? '10.0.2.2',
  };
}

/** The NAT rules (exported for unit tests). */
export function masqueradeRules(s: MasqueradeSpec): { prerouting: NftRule[]; postrouting: NftRule[] } {
  const d = defaults(s);
  const guest = nv.ip(d.guestIp);
  const pod = nv.ip(s.podIp);
  const iface = nv.iface(d.podIface);
  const l4 = nv.anon([nv.proto('tcp'), nv.proto('udp')]);
  const prerouting: NftRule[] = s.ports?.length
    ? s.ports.map((p) => rule`iifname ${iface} ip daddr ${pod} ${nv.proto(p.protocol)} dport ${nv.port(p.port)} counter dnat to ${guest}`)
    : s.excludePorts?.length
      ? [rule`iifname ${iface} ip daddr ${pod} meta l4proto ${l4} th dport != ${nv.anon(s.excludePorts.map(nv.port))} counter dnat to ${guest}`]
      : [rule`iifname ${iface} ip daddr ${pod} meta l4proto ${l4} counter dnat to ${guest}`];
  const postrouting = [rule`ip saddr ${guest} oifname ${iface} counter snat to ${pod}`];
  return { prerouting, postrouting };
}

/**
 * The bridge, tap and NAT chains in the pod's namespace (replacing leftovers of an earlier run);
 * returns what the guest's DHCP server must hand out there. The launcher pod runs that server
 * itself (its config written by the VirtHandler); MasqueradeNetwork starts it from the host.
 */
export async function setupMasqueradeDatapath(s: MasqueradeSpec): Promise<DhcpServerSpec> {
  const d = defaults(s);
  const ip = Ip.ns(s.netns);
  const pod = await ip.link(d.podIface);
  if (!pod) throw new MasqueradeError(`masquerade: ${d.podIface} does not exist in ${s.netns}`);
  await ip.ensureBridge(d.bridge, { mtu: pod.mtu, address: MASQUERADE_GATEWAY_MAC });
  await ip.ensureAddr(d.bridge, d.gatewayCidr);
  await ensureTap(ip, { name: d.tap, bridge: d.bridge, mtu: pod.mtu, owner: s.tapOwner });
  await ip.sysctl('net.ipv4.ip_forward', 1);
  // A migration's source launcher keeps receiving a connection's packets until every node routes
  // the pod IP to the target, and they acknowledge data the guest sent from the target: strict
  // window tracking would call them invalid, leave them un-NATed and the pod's own stack would
  // reset the connection. Liberal tracking NATs them to the guest that has left (they are lost,
  // and TCP sends them again to the target).
  await ip.sysctl('net.netfilter.nf_conntrack_tcp_be_liberal', 1);
  const nft = new Nft({ netns: s.netns });
  const r = masqueradeRules(s);
  await nft.syncChain({ name: CHAIN_PRE, base: { type: 'nat', hook: 'prerouting', priority: 'dstnat' } }, r.prerouting);
  await nft.syncChain({ name: CHAIN_POST, base: { type: 'nat', hook: 'postrouting', priority: 'srcnat' } }, r.postrouting);
  const net = parseCidr(d.gatewayCidr, false);
  return {
    netns: s.netns,
    iface: d.bridge,
    guestMac: s.guestMac,
    guestIp: d.guestIp,
    subnet: `${net.network}/${net.prefix}`,
    router: d.gatewayCidr.split('/')[0]!,
    dns: s.dns,
    searchDomains: s.searchDomains,
    mtu: pod.mtu,
    hostname: s.hostname,
    dir: s.dir,
  };
}

export class MasqueradeNetwork {
  private constructor(
    readonly spec: MasqueradeSpec,
    readonly dhcp: DhcpServer,
  ) {}

  /** The tap QEMU's NIC must open (ifname). */
  get tap(): string {
    return defaults(this.spec).tap;
  }

  /** Builds the bridge, tap, NAT chains (replacing leftovers of an earlier run) and starts the DHCP server. */
  static async setup(s: MasqueradeSpec): Promise<MasqueradeNetwork> {
    const dhcp = await DhcpServer.start(await setupMasqueradeDatapath(s));
    return new MasqueradeNetwork(s, dhcp);
  }

  /** Stops DHCP and removes the tap, bridge and NAT chains (the namespace itself stays). */
  async teardown(): Promise<void> {
    const d = defaults(this.spec);
    await this.dhcp.stop();
    const ip = Ip.ns(this.spec.netns);
    await removeTap(ip, d.tap);
    await ip.removeLink(d.bridge);
    const nft = new Nft({ netns: this.spec.netns });
    await nft.removeChain(CHAIN_PRE);
    await nft.removeChain(CHAIN_POST);
  }
}
