// ceph.conf (the same on every node): the cluster fsid, public (storage) and cluster networks,
// mon_host, and per monitor a [mon.NAME] section binding it to its public-network address.
import { findNetwork, findNode, type Topology } from '../topology.js';
import { normalizeCidr } from '../ipv4.js';
import { header } from './header.js';

function section(name: string, entries: [string, string][]): string {
  return [`[${name}]`, ...entries.map(([k, v]) => `\t${k} = ${v}`)].join('\n');
}

export function renderCeph(t: Topology, nodeName: string): string {
  const c = t.ceph;
  const monAddr = (mon: string): string => findNode(t, mon)!.addresses[c.publicNetwork];
  const global = section('global', [
    ['auth_client_required', 'cephx'],
    ['auth_cluster_required', 'cephx'],
    ['auth_service_required', 'cephx'],
    ['cluster_network', normalizeCidr(findNetwork(t, c.clusterNetwork)!.subnet)],
    ['fsid', c.fsid.toLowerCase()],
    ['mon_host', c.monitors.map(monAddr).join(' ')],
    ['ms_bind_ipv4', 'true'],
    ['ms_bind_ipv6', 'false'],
    ['public_network', normalizeCidr(findNetwork(t, c.publicNetwork)!.subnet)],
  ]);
  const mons = c.monitors.map((mon) =>
    section(`mon.${mon}`, [
      ['mon_addr', monAddr(mon)],
      ['public_addr', monAddr(mon)],
      ['public_bind_addr', monAddr(mon)],
    ]),
  );
  return `${header(t, nodeName, '#')}\n${[global, ...mons].join('\n\n')}\n`;
}
