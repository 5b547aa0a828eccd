/**
 * The topology a `cairn up --fabric FILE` cluster is built on: loaded and validated as
 * `cairn fabric validate` does (its messages, on one line), checked against the cluster (one
 * cluster node per fabric node, in file order: node-1 is the first; nothing the pod network or
 * the management link already uses), and kept as DIR/fabric.yaml so that a later `cairn up`
 * builds the same fabric again.
 */
import { readFile } from 'node:fs/promises';
import { overlaps } from '../fabric/ipv4.js';
import { renderNode, type RenderedNode } from '../fabric/render.js';
import { loadTopology, TopologyLoadError, vtepAddress, type FabricNode, type Topology } from '../fabric/topology.js';
import { assertValid, InvalidTopologyError } from '../fabric/validate.js';
import { BRIDGE, VXLAN_DEV, VXLAN_VNI } from '../net/overlay.js';
import { DEFAULT_SERVICE_CIDR } from '../registry/allocators/service-allocation.js';
import { ClusterError } from './errors.js';
import { fabricFile, type ClusterSpec } from './layout.js';

/** The node namespace's link to the host bridge (src/net/lab.ts). */
const MANAGEMENT_DEV = 'eth0';

export class ClusterFabric {
  private constructor(
    readonly topology: Topology,
    /** The file it was loaded from, for messages. */
    readonly source: string,
  ) {}

  /** Loads and validates a topology file; every problem becomes one ClusterError line. */
  static async load(file: string): Promise<ClusterFabric> {
    try {
      return new ClusterFabric(assertValid(await loadTopology(file), file), file);
    } catch (e) {
      if (e instanceof TopologyLoadError || e instanceof InvalidTopologyError) throw new ClusterError(e.message);
      throw e;
    }
  }

  /** The fabric node under cluster node n (1-based). */
  node(n: number): FabricNode {
    const node = this.topology.nodes[n - 1];
    if (!node) throw new ClusterError(`${this.source} has no node for node-${n}`);
    return node;
  }

  /** The cluster node index of a fabric node. */
  index(fabricNode: string): number {
    return this.topology.nodes.findIndex((n) => n.name === fabricNode) + 1;
  }

  /** Node n's VTEP: the VXLAN source of the pod network, and its EVPN peering address. */
  vtepIP(n: number): string {
    return vtepAddress(this.topology, this.node(n).name)!;
  }

  /** The pods' MTU: the overlay MTU the topology promises (it leaves room for VXLAN on every link). */
  get podMtu(): number {
    return this.topology.mtu.overlay;
  }

  rendered(n: number): RenderedNode {
    return renderNode(this.topology, this.node(n).name);
  }

  /** Throws one ClusterError line listing every way this topology cannot carry the cluster `spec`. */
  check(spec: ClusterSpec): void {
    const t = this.topology;
    const problems: string[] = [];
    if (spec.nodes > t.nodes.length) problems.push(`nodes: the topology has only ${t.nodes.length} nodes, --nodes asks for ${spec.nodes}`);
    else if (spec.nodes < t.nodes.length)
      problems.push(`nodes: the topology has ${t.nodes.length} nodes, --nodes asks for ${spec.nodes}: a cluster on a fabric runs a node on every fabric node (leave --nodes out)`);
    // Pod veths are cairn<10 hex digits>, the pod network cairn0 and cairn.1.
    const reserved = (name: string) => name === MANAGEMENT_DEV || name.startsWith('cairn');
    const why = (name: string) => (name === MANAGEMENT_DEV ? 'the management link to the host' : 'the pod network');
    t.nodes.forEach((node, i) =>
      node.nics.forEach((nic, j) => {
        if (reserved(nic.name)) problems.push(`nodes[${i}].nics[${j}].name: "${nic.name}" is the name of ${why(nic.name)} on every node; choose another`);
      }),
    );
    t.evpn.vnis.forEach((v, i) => {
      if (v.vni === VXLAN_VNI) problems.push(`evpn.vnis[${i}].vni: VNI ${VXLAN_VNI} carries the pod network (${VXLAN_DEV} on ${BRIDGE}); choose another`);
      for (const key of ['vxlan', 'bridge'] as const) if (reserved(v[key])) problems.push(`evpn.vnis[${i}].${key}: "${v[key]}" is the name of ${why(v[key])} on every node; choose another`);
    });
    const theirs = [
      { what: `--cluster-cidr ${spec.clusterCidr}`, cidr: spec.clusterCidr },
      { what: `--underlay-cidr ${spec.underlayCidr}`, cidr: spec.underlayCidr },
      { what: `the Service network ${DEFAULT_SERVICE_CIDR}`, cidr: DEFAULT_SERVICE_CIDR },
    ];
    const ours = [{ path: 'loopbackSubnet', cidr: t.loopbackSubnet }, ...t.networks.map((n, i) => ({ path: `networks[${i}].subnet`, cidr: n.subnet }))];
    for (const o of ours) for (const x of theirs) if (overlaps(o.cidr, x.cidr)) problems.push(`${o.path}: ${o.cidr} overlaps ${x.what}`);
    if (problems.length) throw new ClusterError(`${this.source}: ${problems.join('; ')}`);
  }
}

/**
 * The fabric `cairn up` builds on: for a cluster already made, its copy in the data dir (a
 * `--fabric FILE` given again must say the same); for a new cluster, FILE; none without.
 */
export async function resolveFabric(dataDir: string, prior: ClusterSpec | undefined, file: string | undefined): Promise<ClusterFabric | undefined> {
  const kept = fabricFile(dataDir);
  if (!prior) return file === undefined ? undefined : ClusterFabric.load(file);
  if (prior.fabric === undefined) {
    if (file === undefined) return undefined;
    throw new ClusterError(`the cluster in ${dataDir} was made without --fabric; run 'cairn down --data-dir ${dataDir} --purge' first to make one on a fabric`);
  }
  if (file !== undefined) {
    await ClusterFabric.load(file);
    const [given, copy] = await Promise.all([readFile(file, 'utf8'), readFile(kept, 'utf8').catch(() => '')]);
    if (given !== copy)
      throw new ClusterError(
        `${file} is not the topology the cluster in ${dataDir} was made with (${prior.fabric}, kept as ${kept}); leave out --fabric, or run 'cairn down --data-dir ${dataDir} --purge' first`,
      );
  }
  return ClusterFabric.load(kept);
}
