// frr.conf for one node (FRR 8.4 syntax, checked by `vtysh --dryrun` in the tests).
//
// Both schemes: static /32 routes to each direct neighbour's addresses over the NIC that
// reaches it, and one BGP peer group "evpn" between the VTEPs carrying l2vpn evpn only
// (advertise-all-vni picks the VXLAN devices up from the kernel).
//
// iBGP scheme: the underlay is static only, so every static route also gets a fallback through
// each other neighbour (a higher administrative distance, next hop on-link over that NIC): zebra
// drops an interface route when its NIC loses carrier, and the fallback takes over.
//
// eBGP scheme: per underlay network a peer group of the direct neighbours' addresses on it
// (single hop to a /32 that is no connected subnet: disable-connected-check; sourced from the
// node's own address on that network), exchanging the
// loopbacks and underlay /32s in ipv4 unicast with the network's local-preference set on the
// way in; BGP-installed routes get the loopback as source address; EVPN runs between loopbacks
// (ebgp-multihop, update-source, next hop left unchanged so type-2/3 routes keep their
// originator's VTEP when relayed).
import { adjacencies, findNode, nodeAsn, nodeAddress, vtepAddress, type FabricNode, type Topology } from '../topology.js';
import { normalizeCidr } from '../ipv4.js';
import { header, networkAddresses } from './header.js';

/** Administrative distance of the iBGP scheme's fallback routes (primary routes use 1). */
const FALLBACK_DISTANCE = 200;
const ACL = 'fabric-prefixes';
const SET_SRC = 'set-src-loopback';
const EVPN_GROUP = 'evpn';
const underlayGroup = (network: string): string => `underlay-${network}`;
const localPrefMap = (network: string): string => `lp-${network}`;

/** A neighbour's addresses that static routes point at. */
function routedAddresses(t: Topology, peer: FabricNode): string[] {
  const nets = networkAddresses(t, peer).map((a) => a.address);
  // The eBGP scheme learns loopbacks over BGP; the static iBGP underlay must route them too.
  return t.bgp.scheme === 'ibgp' ? [peer.loopback, ...nets] : nets;
}

function staticRoutes(t: Topology, node: FabricNode): string[] {
  const adj = adjacencies(t, node.name);
  const lines: string[] = [];
  for (const dest of t.nodes) {
    if (dest.name === node.name) continue;
    const direct = adj.filter((a) => a.peer === dest.name);
    for (const addr of routedAddresses(t, dest)) {
      for (const a of direct) lines.push(`ip route ${addr}/32 ${a.nic}`);
    }
    if (t.bgp.scheme !== 'ibgp') continue;
    for (const via of adj) {
      if (via.peer === dest.name || !adjacencies(t, via.peer).some((x) => x.peer === dest.name)) continue;
      const viaNode = findNode(t, via.peer)!;
      for (const net of ['loopback', ...t.networks.map((n) => n.name)]) {
        const addr = nodeAddress(t, dest.name, net);
        if (!addr) continue;
        // Next hop: the relaying neighbour's address on the same network, or its first one.
        const hop = (net !== 'loopback' && viaNode.addresses[net]) || networkAddresses(t, viaNode)[0]?.address;
        if (hop) lines.push(`ip route ${addr}/32 ${hop} ${via.nic} onlink ${FALLBACK_DISTANCE}`);
      }
    }
  }
  return lines;
}

/** Access list, local-preference route maps and the source-address route map (eBGP only). */
function policies(t: Topology, node: FabricNode): string[] {
  const lines: string[] = [];
  [t.loopbackSubnet, ...t.networks.map((n) => n.subnet)].forEach((cidr, i) => lines.push(`access-list ${ACL} seq ${(i + 1) * 5} permit ${normalizeCidr(cidr)}`));
  lines.push('!');
  for (const net of t.networks) {
    lines.push(`route-map ${localPrefMap(net.name)} permit 10`, ` match ip address ${ACL}`, ` set local-preference ${net.localPreference}`, 'exit', '!');
  }
  lines.push(`route-map ${SET_SRC} permit 10`, ` set src ${node.loopback}`, 'exit', '!', `ip protocol bgp route-map ${SET_SRC}`);
  return lines;
}

function peerGroup(name: string, t: Topology, extra: string[]): string[] {
  const { keepalive, hold } = t.bgp.timers;
  return [` neighbor ${name} peer-group`, ...extra.map((e) => ` neighbor ${name} ${e}`), ` neighbor ${name} timers ${keepalive} ${hold}`, ` neighbor ${name} timers connect ${keepalive}`];
}

function routerBgp(t: Topology, node: FabricNode): string[] {
  const ebgp = t.bgp.scheme === 'ebgp';
  const vtep = vtepAddress(t, node.name)!;
  const lines = [`router bgp ${nodeAsn(t, node)}`, ` bgp router-id ${node.loopback}`, ' no bgp default ipv4-unicast'];
  // disable-ebgp-connected-route-check: the EVPN peers are loopbacks, never connected, and FRR 8.4
  // otherwise sometimes marks their next hops invalid ("Must be Connected", FRRouting/frr#12025).
  if (ebgp) lines.push(' no bgp ebgp-requires-policy', ' bgp disable-ebgp-connected-route-check');
  const neighbours: string[] = [];
  const peered = new Set<string>(); // parallel links reach the same neighbour address twice
  const remoteAs = (peer: FabricNode): string => (ebgp ? String(peer.asn) : 'internal');
  if (ebgp) {
    const adj = adjacencies(t, node.name);
    for (const net of t.networks) {
      if (!node.addresses[net.name]) continue;
      // The NICs carry an address per network; without update-source the kernel would pick the
      // first one and the neighbour would refuse a session from an address it does not expect.
      lines.push(...peerGroup(underlayGroup(net.name), t, ['disable-connected-check', `update-source ${node.addresses[net.name]}`]));
      for (const a of adj) {
        const peer = findNode(t, a.peer)!;
        const addr = peer.addresses[net.name];
        if (!addr || peered.has(addr)) continue;
        peered.add(addr);
        neighbours.push(` neighbor ${addr} remote-as ${remoteAs(peer)}`, ` neighbor ${addr} peer-group ${underlayGroup(net.name)}`);
      }
    }
  }
  // Longest loop-free path through the mesh, so EVPN sessions survive rerouting around a failure.
  const multihop = Math.max(2, t.nodes.length - 1);
  lines.push(...peerGroup(EVPN_GROUP, t, ebgp ? [`ebgp-multihop ${multihop}`, `update-source ${vtep}`] : ['remote-as internal', `update-source ${vtep}`]));
  for (const peer of t.nodes) {
    if (peer.name === node.name) continue;
    const addr = vtepAddress(t, peer.name)!;
    if (ebgp) neighbours.push(` neighbor ${addr} remote-as ${remoteAs(peer)}`);
    neighbours.push(` neighbor ${addr} peer-group ${EVPN_GROUP}`);
  }
  lines.push(...neighbours, ' !');
  if (ebgp) {
    lines.push(' address-family ipv4 unicast');
    for (const addr of [node.loopback, ...networkAddresses(t, node).map((a) => a.address)]) lines.push(`  network ${addr}/32`);
    for (const net of t.networks) {
      if (!node.addresses[net.name]) continue;
      lines.push(`  neighbor ${underlayGroup(net.name)} activate`, `  neighbor ${underlayGroup(net.name)} route-map ${localPrefMap(net.name)} in`);
    }
    lines.push(' exit-address-family', ' !');
  }
  lines.push(' address-family l2vpn evpn', `  neighbor ${EVPN_GROUP} activate`);
  if (ebgp) lines.push(`  neighbor ${EVPN_GROUP} attribute-unchanged next-hop`);
  lines.push('  advertise-all-vni', '  advertise-default-gw', ' exit-address-family', 'exit');
  return lines;
}

export function renderFrr(t: Topology, nodeName: string): string {
  const node = findNode(t, nodeName)!;
  const sections = [
    [`hostname ${node.name}`, 'log syslog informational', 'service integrated-vtysh-config'],
    // The nodes route for each other (a switchless mesh has no other router).
    ['ip forwarding'],
    staticRoutes(t, node),
    ...(t.bgp.scheme === 'ebgp' ? [policies(t, node)] : []),
    routerBgp(t, node),
  ];
  return `${header(t, nodeName, '!')}${sections.map((s) => s.join('\n')).join('\n!\n')}\n!\nend\n`;
}
