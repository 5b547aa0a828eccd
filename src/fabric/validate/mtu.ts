// MTUs: in range, and every mesh NIC leaves room for the VXLAN overhead on top of the overlay
// MTU the guests are promised (otherwise full-size guest frames are dropped or fragmented).
import { FABRIC_LIMITS as L } from '../defaults.js';
import { VXLAN_OVERHEAD } from '../../net/overlay.js';
import type { Topology } from '../topology.js';
import type { Problems } from './problems.js';

function inRange(p: Problems, path: string, mtu: number): boolean {
  if (mtu >= L.mtu.min && mtu <= L.mtu.max) return true;
  p.add('mtu', path, `MTU ${mtu} is out of range (${L.mtu.min}-${L.mtu.max})`);
  return false;
}

export function checkMtu(t: Topology, p: Problems): void {
  const need = t.mtu.overlay + VXLAN_OVERHEAD;
  inRange(p, 'mtu.overlay', t.mtu.overlay);
  const underlayOk = inRange(p, 'mtu.underlay', t.mtu.underlay);
  if (underlayOk && t.mtu.underlay < need) {
    p.add('mtu', 'mtu.underlay', `underlay MTU ${t.mtu.underlay} leaves no room for VXLAN: the overlay MTU ${t.mtu.overlay} plus ${VXLAN_OVERHEAD} bytes needs at least ${need}`);
  }
  t.nodes.forEach((n, i) =>
    n.nics.forEach((nic, j) => {
      if (nic.mtu === undefined) return;
      const path = `nodes[${i}].nics[${j}].mtu`;
      if (inRange(p, path, nic.mtu) && nic.mtu < need) {
        p.add('mtu', path, `MTU ${nic.mtu} on ${n.name}/${nic.name} leaves no room for VXLAN: the overlay MTU ${t.mtu.overlay} plus ${VXLAN_OVERHEAD} bytes needs at least ${need}`);
      }
    }),
  );
}
