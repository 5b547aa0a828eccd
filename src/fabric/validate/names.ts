// Names the target tools would reject or misread: interface names (Linux/ifupdown2, plus
// Proxmox's VXLAN rule), host names (corosync node names, Ceph monitor ids), and the names that
// become FRR identifiers. Also duplicate names, which make references ambiguous.
import type { Topology } from '../topology.js';
import { duplicates, type Problems } from './problems.js';

// Linux allows 15 bytes (IFNAMSIZ - 1). ifupdown2 reads "." as a VLAN sub-interface and ":" as
// an alias, so only letters, digits, "_" and "-" are safe, and a leading "-" reads as an option.
const IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,14}$/;
// "lo" is the loopback; "all" and "default" name /proc/sys/net/ipv4/conf entries, not devices.
const RESERVED_IFNAMES = new Set(['lo', 'all', 'default']);
// Proxmox VE only manages VXLAN devices in /etc/network/interfaces named en...<number>.
const PROXMOX_VXLAN = /^en.*[0-9]$/;
// A host name label (RFC 1123): corosync node names and Ceph monitor ids are host names.
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
// Network names end up in FRR peer-group, access-list and route-map names.
const IDENT = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

function interfaceName(p: Problems, path: string, name: string): void {
  if (!IFNAME.test(name)) p.add('interface-name', path, `"${name}" is not a valid interface name for ifupdown2 (1-15 letters, digits, "_" or "-"; "." and ":" mean VLAN and alias)`);
  else if (RESERVED_IFNAMES.has(name)) p.add('interface-name', path, `"${name}" is reserved and cannot name a device here`);
}

export function checkNames(t: Topology, p: Problems): void {
  t.nodes.forEach((n, i) => {
    if (!HOSTNAME.test(n.name)) p.add('name', `nodes[${i}].name`, `"${n.name}" is not a valid host name (corosync node name, Ceph monitor id): letters, digits and "-", at most 63`);
    n.nics.forEach((nic, j) => interfaceName(p, `nodes[${i}].nics[${j}].name`, nic.name));
    for (const d of duplicates(n.nics, (x) => x.name)) p.add('duplicate-name', `nodes[${i}].nics[${d.index}].name`, `NIC "${d.value}" is declared twice on ${n.name}`);
    // A NIC, a VXLAN device and a bridge share the node's one interface namespace.
    const vniNames = new Set(t.evpn.vnis.flatMap((v) => [v.vxlan, v.bridge]));
    n.nics.forEach((nic, j) => {
      if (vniNames.has(nic.name)) p.add('duplicate-name', `nodes[${i}].nics[${j}].name`, `"${nic.name}" is also the name of a VXLAN device or bridge in evpn.vnis`);
    });
  });
  for (const d of duplicates(t.nodes, (n) => n.name)) p.add('duplicate-name', `nodes[${d.index}].name`, `node "${d.value}" is declared twice (also nodes[${d.first}])`);

  t.networks.forEach((net, i) => {
    if (net.name === 'loopback') p.add('name', `networks[${i}].name`, '"loopback" is reserved for the nodes\' loopback addresses');
    else if (!IDENT.test(net.name)) p.add('name', `networks[${i}].name`, `"${net.name}" cannot name FRR peer groups and route maps: start with a letter; letters, digits, "_" or "-"; at most 32`);
  });
  for (const d of duplicates(t.networks, (n) => n.name)) p.add('duplicate-name', `networks[${d.index}].name`, `network "${d.value}" is declared twice (also networks[${d.first}])`);

  t.evpn.vnis.forEach((v, i) => {
    interfaceName(p, `evpn.vnis[${i}].vxlan`, v.vxlan);
    interfaceName(p, `evpn.vnis[${i}].bridge`, v.bridge);
    if (t.target === 'proxmox' && !PROXMOX_VXLAN.test(v.vxlan)) {
      p.add('interface-name', `evpn.vnis[${i}].vxlan`, `"${v.vxlan}": with target proxmox, VXLAN interface names must start with "en" and end with a number`);
    }
    if (v.vxlan === v.bridge) p.add('duplicate-name', `evpn.vnis[${i}].bridge`, `the bridge and its VXLAN device are both named "${v.vxlan}"`);
  });
  const devices = t.evpn.vnis.flatMap((v, i) => [
    { name: v.vxlan, vni: i, path: `evpn.vnis[${i}].vxlan` },
    { name: v.bridge, vni: i, path: `evpn.vnis[${i}].bridge` },
  ]);
  for (const d of duplicates(devices, (x) => x.name)) {
    // A VNI whose bridge and VXLAN device share a name was reported above.
    if (devices[d.index].vni !== devices[d.first].vni) p.add('duplicate-name', devices[d.index].path, `"${d.value}" is already used by ${devices[d.first].path}`);
  }
  for (const d of duplicates(t.links, (l) => l.name)) p.add('duplicate-name', `links[${d.index}].name`, `link "${d.value}" is declared twice (also links[${d.first}])`);
  if (!/^[A-Za-z0-9_-]+$/.test(t.corosync.clusterName)) p.add('name', 'corosync.clusterName', `"${t.corosync.clusterName}" is not a valid corosync cluster name: letters, digits, "_" or "-"`);
}
