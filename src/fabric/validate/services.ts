// The cluster services' networks: corosync links on underlay networks every node has an
// address in, and Ceph networks that exist with every monitor holding a public-network address.
import { FABRIC_LIMITS as L } from '../defaults.js';
import type { Topology } from '../topology.js';
import { duplicates, nodePath, type Problems } from './problems.js';

export function checkCorosync(t: Topology, p: Problems): void {
  t.corosync.links.forEach((link, i) => {
    const path = `corosync.links[${i}]`;
    if (link.priority < L.knetPriority.min || link.priority > L.knetPriority.max) {
      p.add('corosync-network', `${path}.priority`, `knet link priority ${link.priority} is out of range (${L.knetPriority.min}-${L.knetPriority.max})`);
    }
    if (!t.networks.some((n) => n.name === link.network)) {
      p.add('corosync-network', `${path}.network`, `there is no network "${link.network}" in networks (${t.networks.map((n) => n.name).join(', ')})`);
      return;
    }
    t.nodes.forEach((n) => {
      if (!n.addresses[link.network]) p.add('corosync-network', `${nodePath(t, n.name)}.addresses`, `node ${n.name} has no address on network ${link.network}, which carries corosync link ${i}`);
    });
  });
  for (const d of duplicates(t.corosync.links, (l) => l.network)) {
    p.add('corosync-network', `corosync.links[${d.index}].network`, `corosync links ${d.first} and ${d.index} both use network ${d.value}; two links only help on two networks`);
  }
}

export function checkCeph(t: Topology, p: Problems): void {
  const { publicNetwork, clusterNetwork, monitors } = t.ceph;
  for (const [field, name] of [['publicNetwork', publicNetwork], ['clusterNetwork', clusterNetwork]] as const) {
    if (!t.networks.some((n) => n.name === name)) p.add('ceph-network', `ceph.${field}`, `there is no network "${name}" in networks`);
  }
  monitors.forEach((mon, i) => {
    const node = t.nodes.find((n) => n.name === mon);
    if (!node) p.add('ceph-monitor', `ceph.monitors[${i}]`, `there is no node "${mon}"`);
    else if (!node.addresses[publicNetwork]) {
      p.add('ceph-monitor', `ceph.monitors[${i}]`, `monitor ${mon} has no address on the storage (public) network ${publicNetwork}`);
    }
  });
  for (const d of duplicates(monitors, (m) => m)) p.add('ceph-monitor', `ceph.monitors[${d.index}]`, `monitor ${d.value} is listed twice`);
}
