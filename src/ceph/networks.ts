/**
 * The networks a `cairn ceph up` cluster talks on, and where its monitors are.
 *
 * - On a plain `cairn up` cluster, the underlay: one monitor, `mon.node-1`, at node-1's
 *   underlay address; public and cluster network are the underlay /24; a new cluster gets a
 *   random fsid.
 * - On a `cairn up --fabric` cluster, what the topology's `ceph:` section says, through the
 *   fabric's own reading of it (the values its rendered ceph.conf carries): its fsid, its public
 *   and cluster networks, and a monitor on every node it names, `mon.<fabric node>` at that
 *   node's address on the public network.
 */
import { ClusterFabric } from '../cluster/fabric.js';
import type { ClusterLayout } from '../cluster/layout.js';
import { topologyCeph } from '../fabric/render/ceph.js';

export interface CephMonitor {
  /** The mon's id, as in its `[mon.NAME]` section. */
  name: string;
  /** 1-based node index. */
  node: number;
  address: string;
}

export interface CephNetworks {
  /** Fixed by a fabric topology; undefined: a new cluster draws one. */
  fsid?: string;
  /** CIDRs. */
  publicNetwork: string;
  clusterNetwork: string;
  monitors: CephMonitor[];
  /** The topology's name, when the cluster stands on a fabric. */
  fabric?: string;
}

export function underlayNetworks(cluster: ClusterLayout): CephNetworks {
  const { underlayCidr } = cluster.spec;
  return { publicNetwork: underlayCidr, clusterNetwork: underlayCidr, monitors: [{ name: cluster.nodeName(1), node: 1, address: cluster.lab.underlayIP(1) }] };
}

/** The networks of the cluster's Ceph: its fabric's (from the copy of the topology in the data dir), else the underlay. */
export async function cephNetworks(cluster: ClusterLayout): Promise<CephNetworks> {
  if (cluster.spec.fabric === undefined) return underlayNetworks(cluster);
  const fabric = await ClusterFabric.load(cluster.fabricFile);
  const c = topologyCeph(fabric.topology);
  return {
    fsid: c.fsid,
    publicNetwork: c.publicNetwork,
    clusterNetwork: c.clusterNetwork,
    monitors: c.monitors.map((m) => ({ ...m, node: fabric.index(m.name) })),
    fabric: fabric.topology.name,
  };
}
