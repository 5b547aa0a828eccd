// The overlay: VNIs in the 24-bit range and unique, a VTEP address on every node, and guest
// subnets written as subnets.
import { FABRIC_LIMITS as L } from '../defaults.js';
import { hasHostBits, normalizeCidr } from '../ipv4.js';
import type { Topology } from '../topology.js';
import { duplicates, type Problems } from './problems.js';

export function checkEvpn(t: Topology, p: Problems): void {
  t.evpn.vnis.forEach((v, i) => {
    if (v.vni < L.vni.min || v.vni > L.vni.max) p.add('vni-range', `evpn.vnis[${i}].vni`, `VNI ${v.vni} is out of range (${L.vni.min}-${L.vni.max}, 24 bits)`);
    if (v.subnet && hasHostBits(v.subnet)) p.add('subnet', `evpn.vnis[${i}].subnet`, `${v.subnet} has host bits set; did you mean ${normalizeCidr(v.subnet)}?`);
  });
  for (const d of duplicates(t.evpn.vnis, (v) => v.vni)) p.add('vni-duplicate', `evpn.vnis[${d.index}].vni`, `VNI ${d.value} is also evpn.vnis[${d.first}]'s`);

  const { vtep } = t.evpn;
  if (vtep !== 'loopback' && !t.networks.some((n) => n.name === vtep)) {
    p.add('unknown-reference', 'evpn.vtep', `"${vtep}" is neither "loopback" nor a network in networks`);
    return;
  }
  if (vtep !== 'loopback') {
    t.nodes.forEach((n, i) => {
      if (!n.addresses[vtep]) p.add('vtep', `nodes[${i}].addresses`, `node ${n.name} has no address on network ${vtep}, which carries the VXLAN tunnels (evpn.vtep)`);
    });
  }
}
