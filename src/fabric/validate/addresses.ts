// Subnets and /32 host addresses: well-formed subnets that do not overlap, every address inside
// its network's subnet, no address used twice, and addresses only for networks that exist.
import type { Topology } from '../topology.js';
import { contains, hasHostBits, normalizeCidr, overlaps } from '../ipv4.js';
import type { Problems } from './problems.js';

export function checkAddresses(t: Topology, p: Problems): void {
  const subnets = [
    { path: 'loopbackSubnet', cidr: t.loopbackSubnet },
    ...t.networks.map((n, i) => ({ path: `networks[${i}].subnet`, cidr: n.subnet })),
  ];
  subnets.forEach((s, i) => {
    if (hasHostBits(s.cidr)) p.add('subnet', s.path, `${s.cidr} has host bits set; did you mean ${normalizeCidr(s.cidr)}?`);
    for (const other of subnets.slice(0, i)) {
      if (overlaps(s.cidr, other.cidr)) p.add('subnet', s.path, `${s.cidr} overlaps ${other.path} (${other.cidr})`);
    }
  });

  const used = new Map<string, string>();
  const claim = (addr: string, path: string): void => {
    const first = used.get(addr);
    if (first) p.add('duplicate-address', path, `${addr} is already used by ${first}`);
    else used.set(addr, path);
  };
  t.nodes.forEach((n, i) => {
    const lo = `nodes[${i}].loopback`;
    if (!contains(t.loopbackSubnet, n.loopback)) p.add('address-out-of-subnet', lo, `${n.loopback} is outside loopbackSubnet ${t.loopbackSubnet}`);
    claim(n.loopback, lo);
    for (const [netName, addr] of Object.entries(n.addresses)) {
      const path = `nodes[${i}].addresses.${netName}`;
      const net = t.networks.find((x) => x.name === netName);
      if (!net) {
        p.add('unknown-reference', path, `there is no network "${netName}" in networks`);
        continue;
      }
      if (!contains(net.subnet, addr)) p.add('address-out-of-subnet', path, `${addr} is outside network ${netName} (${net.subnet})`);
      claim(addr, path);
    }
  });
}
