/**
 * The fabric under a `cairn up --fabric` cluster, built with the fabric lab's pieces
 * (src/fabric/lab): the node namespaces (made by src/net/lab.ts, with their management link
 * eth0 on the host bridge) are cabled to each other as the topology says through the wire
 * namespace, get their rendered interfaces file applied, and run FRR (zebra, staticd, bgpd)
 * from their rendered frr.conf. The agents then put the pod network's VXLAN device on the
 * node's VTEP, and FRR carries it over EVPN (EvpnOverlay in src/net/overlay.ts).
 *
 * Idempotent, for `cairn up` again after a crash or a reboot: a fabric found complete is kept
 * (a half-built one is cleared and built again), FRR found running on a node is kept.
 */
import { rm, rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { applyInterfaces } from '../fabric/lab/apply-interfaces.js';
import { FRR_DAEMONS, FRR_SCRATCH_DIR, FrrInstance } from '../fabric/lab/frr.js';
import { cableLinks, prepareRouterNetns } from '../fabric/lab/plumbing.js';
import { netnsPids, processName, readPidFile, stopProcess } from '../fabric/lab/processes.js';
import { Ip, netns as netnsOps } from '../net/ip.js';
import { Nft, nv, rule, withComment } from '../net/nft.js';
import { VXLAN_VNI } from '../net/overlay.js';
import { ClusterError } from './errors.js';
import type { ClusterFabric } from './fabric.js';
import { CLUSTERS_RUN_DIR, type ClusterLayout } from './layout.js';

/** The table in each node namespace keeping fabric traffic off the management link. */
const GUARD_TABLE = 'cairn-fabric';
const MANAGEMENT_DEV = 'eth0';

export function frrOf(layout: ClusterLayout, n: number): FrrInstance {
  return new FrrInstance(layout.lab.nodeNetns(n), layout.frrDir(n));
}

/** Builds what is missing of the fabric under the cluster's nodes and starts FRR where it does not run. */
export async function ensureFabric(layout: ClusterLayout, fabric: ClusterFabric, progress: (line: string) => void): Promise<void> {
  const { lab } = layout;
  const t = fabric.topology;
  for (const n of layout.indexes()) await prepareRouterNetns(Ip.ns(lab.nodeNetns(n)));
  if (!(await fabricComplete(layout, fabric))) {
    await clearFabric(layout, fabric);
    await cableLinks(t, (node) => lab.nodeNetns(fabric.index(node)), layout.wireNetns);
    for (const n of layout.indexes()) {
      await applyInterfaces(Ip.ns(lab.nodeNetns(n)), fabric.rendered(n).interfaces, `${fabric.source}: ${fabric.node(n).name}'s interfaces`);
    }
    progress(`fabric: ${t.name}, ${t.links.length} links (${t.links.map((l) => l.name).join(', ')}) cabled through ${layout.wireNetns}`);
  }
  for (const n of layout.indexes()) await guardManagementLink(lab.nodeNetns(n), fabric);
  for (const n of layout.indexes()) {
    const frr = frrOf(layout, n);
    const what = `${layout.nodeName(n)} (${fabric.node(n).name}, VTEP ${fabric.vtepIP(n)})`;
    const running = await frr.running();
    if (running.length === FRR_DAEMONS.length) {
      progress(`fabric: FRR running on ${what}`);
      continue;
    }
    // A daemon that died takes the others' state with it (they all hang off zebra): restart all.
    if (running.length) await frr.stop();
    await frr.start(fabric.rendered(n)['frr.conf']);
    progress(`fabric: FRR (${FRR_DAEMONS.join(', ')}) started on ${what}, runtime files in ${layout.frrDir(n)}`);
  }
}

/** The wire namespace is there and every node has every interface the topology gives it. */
async function fabricComplete(layout: ClusterLayout, fabric: ClusterFabric): Promise<boolean> {
  if (!(await netnsOps.exists(layout.wireNetns))) return false;
  for (const n of layout.indexes()) {
    const have = new Set((await Ip.ns(layout.lab.nodeNetns(n)).links()).map((l) => l.ifname));
    if (!fabricDevices(fabric, n).every((d) => have.has(d))) return false;
  }
  return true;
}

function fabricDevices(fabric: ClusterFabric, n: number): string[] {
  return [...fabric.node(n).nics.map((x) => x.name), ...fabric.topology.evpn.vnis.flatMap((v) => [v.vxlan, v.bridge])];
}

/** What a build cut short left: the cables (their NIC ends go with the wire namespace) and the VNI devices. */
async function clearFabric(layout: ClusterLayout, fabric: ClusterFabric): Promise<void> {
  await netnsOps.remove(layout.wireNetns);
  for (const n of layout.indexes()) {
    const ip = Ip.ns(layout.lab.nodeNetns(n));
    for (const d of fabricDevices(fabric, n)) await ip.removeLink(d);
  }
}

/**
 * Fabric addresses never leave by the management link: while a route is missing (a cut link
 * before BGP reconverges) they would follow the default route to the host, and on from there.
 */
async function guardManagementLink(netns: string, fabric: ClusterFabric): Promise<void> {
  const t = fabric.topology;
  const subnets = nv.anon([t.loopbackSubnet, ...t.networks.map((n) => n.subnet)].map((c) => nv.cidr(c)));
  const drop = withComment(rule`oifname ${nv.iface(MANAGEMENT_DEV)} ip daddr ${subnets} drop`, 'fabric addresses stay on the fabric');
  const nft = new Nft({ netns, family: 'ip', table: GUARD_TABLE });
  await nft.syncChain({ name: 'fabric-output', base: { type: 'filter', hook: 'output', priority: 'filter' } }, [drop]);
  await nft.syncChain({ name: 'fabric-forward', base: { type: 'filter', hook: 'forward', priority: 'filter' } }, [drop]);
}

interface EvpnVniJson {
  /** FRR 8.4 lists the remote VTEPs' addresses under this name. */
  numRemoteVteps?: string[] | number;
}

/**
 * Until every node's EVPN instance for the pod network (VNI 1) knows every other node's VTEP:
 * the agent has put cairn.1 on cairn0, zebra has taken it up, and BGP has the other nodes'
 * type-3 routes — from then on pods reach each other across nodes.
 */
export async function waitForEvpn(layout: ClusterLayout, fabric: ClusterFabric, timeoutMs: number, progress: (line: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const peers = layout.spec.nodes - 1;
  const done = new Set<number>();
  for (;;) {
    const waiting: string[] = [];
    for (const n of layout.indexes()) {
      if (done.has(n)) continue;
      let seen = 0;
      try {
        const vni = await frrOf(layout, n).json<EvpnVniJson>(`show evpn vni ${VXLAN_VNI}`);
        seen = Array.isArray(vni.numRemoteVteps) ? vni.numRemoteVteps.length : Number(vni.numRemoteVteps ?? 0);
      } catch {
        /* zebra has no VNI 1 yet: the agent has not set up the pod network */
      }
      if (seen >= peers) {
        done.add(n);
        progress(`fabric: ${layout.nodeName(n)} reaches ${peers} remote VTEPs on VNI ${VXLAN_VNI} (EVPN)`);
      } else waiting.push(`${layout.nodeName(n)} (${seen} of ${peers} remote VTEPs)`);
    }
    if (!waiting.length) return;
    if (Date.now() > deadline)
      throw new ClusterError(`EVPN did not converge in ${timeoutMs / 1000} s: ${waiting.join(', ')}; see FRR's logs in ${layout.runDir} and ${fabric.source}`);
    await sleep(500);
  }
}

/**
 * Stops the cluster's FRR daemons: by their pid files (SIGTERM, so they remove their own files),
 * then any FRR daemon still running in one of the cluster's namespaces (pid files lost in a
 * crash), and removes their runtime directories. Returns the pids stopped.
 */
export async function stopFabric(layout: ClusterLayout, nodes: number[]): Promise<number[]> {
  const stopped: number[] = [];
  for (const n of nodes) {
    const frr = frrOf(layout, n);
    const pids = await Promise.all((await frr.running()).map((d) => readPidFile(frr.pidFile(d))));
    await frr.stop();
    stopped.push(...pids.filter((p): p is number => p !== undefined));
  }
  const daemons = new Set<string>(FRR_DAEMONS);
  const namespaces = (await netnsOps.list()).map((x) => x.name).filter((x) => x.startsWith(layout.lab.prefix) && !x.startsWith(layout.lab.podNetnsPrefix));
  for (const ns of namespaces) {
    for (const pid of await netnsPids(ns)) {
      const comm = await processName(pid);
      if (comm && daemons.has(comm) && (await stopProcess(pid, comm))) stopped.push(pid);
    }
  }
  await rm(layout.runDir, { recursive: true, force: true });
  // Parents go with the last cluster (rmdir only removes them when empty), and so does FRR's
  // scratch directory, which each daemon empties as it stops.
  for (const dir of [CLUSTERS_RUN_DIR, dirname(CLUSTERS_RUN_DIR), FRR_SCRATCH_DIR]) await rmdir(dir).catch(() => undefined);
  return stopped;
}
