/**
 * The host's way to the Ceph public network of a cluster on a fabric.
 *
 * Some of Ceph's clients run in the host's root namespace: `cairn ceph` itself, the storage
 * drivers' provisioner in the API server process, the agents' rbd-fuse and ceph-fuse mounts, a
 * user's `ceph` CLI. The host has no leg on the fabric: it reaches the nodes only on the
 * cluster's bridge, by their management links. So, as for LoadBalancer addresses, it gets one
 * route, `<public network> dev <bridge>`, and asks by ARP on the bridge for a daemon's address:
 * the one node that holds it answers from its management link (Linux answers ARP for any of its
 * own addresses). One device route rather than a gateway route per node, as `cairn up` owns the
 * gateway routes on the bridge (the pod networks) and removes any other it finds.
 *
 * Between themselves the daemons stay on the fabric: the monitors, OSD replication on the
 * cluster network, and the pods' clients (QEMU's librbd) all reach the public network over
 * their node's fabric links. Without a fabric the public network is the underlay, on the
 * bridge already: nothing to do.
 */
import { normalizeCidr } from '../fabric/ipv4.js';
import { Ip } from '../net/ip.js';
import { CephClusterError } from './errors.js';
import type { CephLayout } from './layout.js';

/** The route's destination, or undefined when the cluster needs none. */
function publicNetworkOffBridge(l: CephLayout): string | undefined {
  return l.networks.fabric === undefined ? undefined : normalizeCidr(l.networks.publicNetwork);
}

/** Adds the route unless it is there; refuses when the host routes that network elsewhere (another cluster on the same addresses). */
export async function ensurePublicNetworkRoute(l: CephLayout): Promise<string | undefined> {
  const dst = publicNetworkOffBridge(l);
  if (!dst) return undefined;
  const { bridge } = l.cluster.lab;
  const taken = (await Ip.root.routes()).find((r) => r.dst === dst);
  if (taken?.dev === bridge) return undefined;
  if (taken)
    throw new CephClusterError(
      `the host already routes ${dst}, the Ceph public network of ${l.networks.fabric}, to ${taken.dev ?? taken.gateway} (another cluster on a fabric with the same addresses?): its Ceph clients could not reach this one's`,
    );
  await Ip.root.addRoute({ dst, dev: bridge });
  return `ceph: route ${dst} dev ${bridge}: the host reaches the public network by the nodes' management links`;
}

/** Removes the route (gone already when the bridge is). */
export async function removePublicNetworkRoute(l: CephLayout): Promise<string | undefined> {
  const dst = publicNetworkOffBridge(l);
  const { bridge } = l.cluster.lab;
  if (!dst || !(await Ip.root.link(bridge))) return undefined;
  return (await Ip.root.removeRoute({ dst, dev: bridge })) ? `removed route ${dst} dev ${bridge}` : undefined;
}
