// ceph.conf (the same on every node): the cluster fsid, public (storage) and cluster networks,
// mon_host, and per monitor a [mon.NAME] section binding it to its public-network address.
// `renderCephConf` is the writer itself, shared with `cairn ceph up` (src/ceph), which adds the
// settings of the daemons it runs (data dirs, logs, memory) as further entries and sections.
import { findNetwork, findNode, type Topology } from '../topology.js';
import { normalizeCidr } from '../ipv4.js';
import { header } from './header.js';

/** One `[name]` section: its `key = value` entries in order. */
export interface CephConfSection {
  name: string;
  entries: [string, string][];
}

export interface CephConfInput {
  fsid: string;
  /** CIDRs. */
  publicNetwork: string;
  clusterNetwork: string;
  monitors: { name: string; address: string }[];
  /** More [global] entries, after the fabric's own. */
  global?: [string, string][];
  /** More sections, after the monitors'. */
  sections?: CephConfSection[];
}

function section({ name, entries }: CephConfSection): string {
  return [`[${name}]`, ...entries.map(([k, v]) => `\t${k} = ${v}`)].join('\n');
}

/** The body of a ceph.conf (no header line). */
export function renderCephConf(c: CephConfInput): string {
  const global = section({
    name: 'global',
    entries: [
      ['auth_client_required', 'cephx'],
      ['auth_cluster_required', 'cephx'],
      ['auth_service_required', 'cephx'],
      ['cluster_network', normalizeCidr(c.clusterNetwork)],
      ['fsid', c.fsid.toLowerCase()],
      ['mon_host', c.monitors.map((m) => m.address).join(' ')],
      ['ms_bind_ipv4', 'true'],
      ['ms_bind_ipv6', 'false'],
      ['public_network', normalizeCidr(c.publicNetwork)],
      ...(c.global ?? []),
    ],
  });
  const mons = c.monitors.map((m) =>
    section({
      name: `mon.${m.name}`,
      entries: [
        ['mon_addr', m.address],
        ['public_addr', m.address],
        ['public_bind_addr', m.address],
      ],
    }),
  );
  return `${[global, ...mons, ...(c.sections ?? []).map(section)].join('\n\n')}\n`;
}

/** What a (validated) topology says of its Ceph cluster, as ceph.conf states it: also what `cairn ceph up` runs on a fabric. */
export type TopologyCeph = Pick<CephConfInput, 'fsid' | 'publicNetwork' | 'clusterNetwork' | 'monitors'>;

export function topologyCeph(t: Topology): TopologyCeph {
  const c = t.ceph;
  return {
    fsid: c.fsid,
    publicNetwork: findNetwork(t, c.publicNetwork)!.subnet,
    clusterNetwork: findNetwork(t, c.clusterNetwork)!.subnet,
    monitors: c.monitors.map((mon) => ({ name: mon, address: findNode(t, mon)!.addresses[c.publicNetwork] })),
  };
}

export function renderCeph(t: Topology, nodeName: string): string {
  return `${header(t, nodeName, '#')}\n${renderCephConf(topologyCeph(t))}`;
}
