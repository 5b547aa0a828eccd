// The lab's kernel objects: a network namespace per node with a veth pair per link (each end
// named as the topology names the NIC, created directly inside the two node namespaces), and
// per node and VNI a guest namespace — a stand-in for a VM — on the node's VXLAN bridge.
import { Ip, netns as netnsOps, intToIpv4, parseCidr } from '../../net/ip.js';
import { nicMtu, type Topology } from '../topology.js';
import { LabError } from './errors.js';
import { checkNodeName, guestNetns, guestPort, labPrefix, nodeNetns, wireNames, wireNetns } from './names.js';
import type { LabGuest } from './state.js';

/** Guests' subnet on a VNI that names none (RFC 2544's benchmarking range, index-th /24). */
function defaultGuestSubnet(index: number): string {
  return `198.18.${index}.0/24`;
}

/** Namespaces on the host that belong to lab `id` (left over from a crash, or running). */
export async function labNamespaces(id: string): Promise<string[]> {
  const prefix = labPrefix(id);
  return (await netnsOps.list()).map((n) => n.name).filter((n) => n.startsWith(prefix));
}

/** Makes each node's namespace (see prepareRouterNetns) and cables the links (see cableLinks). */
export async function createNodes(id: string, t: Topology): Promise<void> {
  for (const node of t.nodes) {
    checkNodeName(node.name);
    const ns = nodeNetns(id, node.name);
    await netnsOps.add(ns);
    await prepareRouterNetns(Ip.ns(ns));
  }
  await cableLinks(t, (node) => nodeNetns(id, node), wireNetns(id));
}

/** Readies a node namespace to route for the mesh: loopback up, no reverse-path filtering. */
export async function prepareRouterNetns(ip: Ip): Promise<void> {
  await ip.setLink('lo', { up: true });
  // Reverse-path filtering would drop the asymmetric paths a mesh uses while rerouting
  // around a cut link; a new namespace copies the host's setting, so set it here.
  await ip.sysctl('net.ipv4.conf.all.rp_filter', 0);
  await ip.sysctl('net.ipv4.conf.default.rp_filter', 0);
}

/**
 * Cables the links between the node namespaces `nodeNs(node)` (which must exist). A cable is a
 * veth from each end's NIC into the wire namespace `wireNs` (made here), joined there by a
 * bridge of its own: taking the two wire ports down then cuts the cable the way a real one is
 * cut — both NICs lose carrier and stay administratively up, as their interfaces file says.
 * The NICs stay down until the interfaces file brings them up.
 */
export async function cableLinks(t: Topology, nodeNs: (node: string) => string, wireNs: string): Promise<void> {
  await netnsOps.add(wireNs);
  const wire = Ip.ns(wireNs);
  for (const [i, link] of t.links.entries()) {
    const w = wireNames(i);
    const mtus = link.ends.map((end) => nicMtu(t, t.nodes.find((n) => n.name === end.node)!.nics.find((n) => n.name === end.nic)!));
    // The wire carries the largest frame either end may send.
    const wireMtu = Math.max(...mtus);
    await wire.addBridge(w.bridge, { mtu: wireMtu });
    await wire.ip(['link', 'set', 'dev', w.bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0']);
    for (const [e, end] of link.ends.entries()) {
      const port = e === 0 ? w.a : w.b;
      await Ip.ns(nodeNs(end.node)).addVeth(end.nic, { name: port, netns: wireNs, mtu: wireMtu }, { mtu: mtus[e] });
      await wire.setLink(port, { master: w.bridge, up: true });
    }
    await wire.setLink(w.bridge, { mtu: wireMtu, up: true });
  }
}

/**
 * Cuts a link. By default both wire ports go down: the NICs at its ends lose carrier, as when
 * a cable is pulled. A silent cut instead detaches the ports from the link's bridge: carrier
 * stays up and frames vanish, as with a failed transceiver or a cable that still signals —
 * the failure only BGP's hold timer (or BFD) notices.
 */
export async function cutLink(wireNs: string, t: Topology, linkName: string, silent: boolean): Promise<void> {
  const i = t.links.findIndex((l) => l.name === linkName);
  if (i < 0) throw new LabError(`no link "${linkName}" in topology ${t.name} (links: ${t.links.map((l) => l.name).join(', ')})`);
  const w = wireNames(i);
  const wire = Ip.ns(wireNs);
  for (const port of [w.a, w.b]) await wire.setLink(port, silent ? { master: null } : { up: false });
}

/** The guests the lab puts on each node's bridge for each VNI, with their MAC and address. */
export function planGuests(id: string, t: Topology): LabGuest[] {
  const guests: LabGuest[] = [];
  t.evpn.vnis.forEach((v, vi) => {
    const subnet = parseCidr(v.subnet ?? defaultGuestSubnet(vi), false);
    if (subnet.size < t.nodes.length + 2) throw new LabError(`evpn.vnis[${vi}].subnet ${v.subnet} has no room for a guest on each of the ${t.nodes.length} nodes`);
    t.nodes.forEach((node, ni) => {
      // 02: locally administered; then the node's index and the VNI, so every guest MAC differs.
      const bytes = [0x02, 0xca, ni + 1, (v.vni >> 16) & 255, (v.vni >> 8) & 255, v.vni & 255];
      guests.push({
        node: node.name,
        vni: v.vni,
        netns: guestNetns(id, node.name, v.vni),
        port: guestPort(v.vni),
        bridge: v.bridge,
        mac: bytes.map((b) => b.toString(16).padStart(2, '0')).join(':'),
        address: `${intToIpv4(subnet.base + ni + 1)}/${subnet.prefix}`,
        mtu: t.mtu.overlay,
      });
    });
  });
  return guests;
}

/** Makes a guest: its namespace, a veth from the node's bridge, MTU, MAC and address. */
export async function createGuest(id: string, g: LabGuest): Promise<void> {
  await netnsOps.add(g.netns);
  const node = Ip.ns(nodeNetns(id, g.node));
  const guest = Ip.ns(g.netns);
  await node.addVeth(g.port, { name: 'eth0', netns: g.netns, mtu: g.mtu, address: g.mac }, { mtu: g.mtu });
  await node.setLink(g.port, { master: g.bridge, up: true });
  await guest.setLink('lo', { up: true });
  await guest.setLink('eth0', { up: true });
  await guest.addAddr('eth0', g.address);
}
