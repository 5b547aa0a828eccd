// /etc/network/interfaces for one node, in ifupdown2 syntax: the loopback /32, each mesh NIC
// with the node's /32 on every underlay network and the underlay MTU, and per VNI a VXLAN
// device (local tunnel IP = the VTEP, learning off: EVPN fills the FDB) enslaved to its bridge.
import { findNode, nicMtu, vtepAddress, type Topology } from '../topology.js';
import { header, networkAddresses } from './header.js';

function stanza(name: string, method: string, attrs: string[]): string {
  return [`auto ${name}`, `iface ${name} inet ${method}`, ...attrs.map((a) => `    ${a}`)].join('\n');
}

export function renderInterfaces(t: Topology, nodeName: string): string {
  const node = findNode(t, nodeName)!;
  const vtep = vtepAddress(t, nodeName)!;
  const stanzas = [stanza('lo', 'loopback', [`address ${node.loopback}/32`])];
  const addrs = networkAddresses(t, node).map((a) => `address ${a.address}/32`);
  for (const nic of node.nics) stanzas.push(stanza(nic.name, 'static', [...addrs, `mtu ${nicMtu(t, nic)}`]));
  for (const v of t.evpn.vnis) {
    stanzas.push(
      stanza(v.vxlan, 'manual', [`vxlan-id ${v.vni}`, `vxlan-local-tunnelip ${vtep}`, 'vxlan-learning off', 'bridge-learning off', `mtu ${t.mtu.overlay}`]),
      stanza(v.bridge, 'manual', [`bridge-ports ${v.vxlan}`, 'bridge-stp off', 'bridge-fd 0', `mtu ${t.mtu.overlay}`]),
    );
  }
  return `${header(t, nodeName, '#')}\n${stanzas.join('\n\n')}\n`;
}
