/**
 * Phase 2 of the node benchmark: cross-node pod-to-pod TCP throughput and latency, against the
 * same measurements between two bare namespaces on the same host bridge (bare-netns.ts), and,
 * to tell the overlay's share, between two pods on one node. Pod A runs on node-1, pod B on
 * node-2, pod C on node-1; the host's iperf3, ping and a Node TCP echo run inside the pods'
 * network namespaces with `ip netns exec` (the namespace of a pod IP is in its node's IPAM file).
 * Throughput runs take turns (bare, cross-node, same node, repeat), so a change in the machine's
 * load hits every path alike.
 */
import { Ip } from '../../src/net/ip.js';
import { BareNamespaces } from './bare-netns.js';
import { ipamAllocation } from './ipam-state.js';
import { IperfServer, iperfClient, type IperfResult } from './iperf3.js';
import { createPods, deletePods, sleepPod, waitForPods, type NodeBenchContext } from './node-bench-context.js';
import { ping, type PingResult } from './ping.js';
import { median, round, type Summary } from './stats.js';
import { tcpRoundTrips } from './tcp-rtt.js';

export interface TrafficConfig {
  iperfSeconds: number;
  rounds: number;
  pingCount: number;
  tcpRoundTrips: number;
}

interface Endpoint {
  netns: string;
  ip: string;
  mtu: number;
  node?: string;
}

export interface PathResult {
  server: Endpoint;
  client: Endpoint;
  iperf: IperfResult[];
  medianGbitPerSec: number;
  ping: PingResult;
  tcpRoundTripUs: Summary;
}

export interface TrafficResult {
  config: TrafficConfig;
  podToPod: PathResult;
  bare: PathResult;
  /** For where the difference goes: two pods on one node (bridge only, no VXLAN). */
  sameNodePodToPod: PathResult;
  /** Pod-to-pod median throughput as a share of the bare median. */
  throughputRatioPct: number;
}

const IPERF_PORT = 5201;
const RTT_PORT = 5202;

async function eth0Mtu(netns: string): Promise<number> {
  return (await Ip.ns(netns).link('eth0'))?.mtu ?? NaN;
}

async function measurePath(server: Endpoint, client: Endpoint, cfg: TrafficConfig, iperf: IperfResult[]): Promise<PathResult> {
  const p = await ping(client.netns, server.ip, cfg.pingCount);
  const rtt = await tcpRoundTrips(server.netns, server.ip, client.netns, RTT_PORT, cfg.tcpRoundTrips);
  return { server, client, iperf, medianGbitPerSec: round(median(iperf.map((r) => r.receivedBitsPerSecond)) / 1e9, 3), ping: p, tcpRoundTripUs: rtt };
}

async function iperfOnce(server: Endpoint, client: Endpoint, seconds: number): Promise<IperfResult> {
  const s = await IperfServer.start(server.netns, server.ip, IPERF_PORT);
  try {
    return await iperfClient(client.netns, server.ip, IPERF_PORT, seconds);
  } finally {
    await s.stop();
  }
}

export async function trafficPhase(ctx: NodeBenchContext, cfg: TrafficConfig): Promise<TrafficResult> {
  const { cluster, timeline } = ctx;
  if (cluster.spec.nodes < 2) throw new Error('the network phase needs at least 2 nodes');
  // net-a and net-c on node-1, net-b on node-2: b → a crosses nodes (VXLAN), c → a stays on node-1's bridge.
  const placement: [string, number][] = [['net-a', 1], ['net-b', 2], ['net-c', 1]];
  const names = placement.map(([n]) => n);
  const create = await createPods(ctx, placement.map(([n, node]) => sleepPod(ctx, n, 'net', `node-${node}`)), placement.length);
  if (create.failures) throw new Error(`network: pod creates failed: ${create.errors.join(' | ')}`);
  let bare: BareNamespaces | undefined;
  try {
    await waitForPods(ctx, 'the network pods Ready', names, (c) => c.ready === names.length);
    const podEndpoint = async (name: string, node: number): Promise<Endpoint> => {
      const ip = timeline.pods.get(name)!.last!.status!.podIP!;
      const { netns } = ipamAllocation(cluster.nodeDir(node), ip);
      return { netns, ip, mtu: await eth0Mtu(netns), node: `node-${node}` };
    };
    const [podA, podB, podC] = await Promise.all(placement.map(([n, node]) => podEndpoint(n, node)));
    // .201/.202: far above the node addresses (.11, .12, …) and the bridge's .1.
    bare = await BareNamespaces.create({ cluster: cluster.spec.name, tag: cluster.linkTag, bridge: cluster.bridge, underlayPrefix: cluster.spec.underlayPrefix, hosts: [201, 202] });
    const [a, b] = bare.members;
    const bareA: Endpoint = { netns: a!.netns, ip: a!.ip, mtu: await eth0Mtu(a!.netns) };
    const bareB: Endpoint = { netns: b!.netns, ip: b!.ip, mtu: await eth0Mtu(b!.netns) };
    ctx.log(`network: pods ${podB!.ip} (node-2) → ${podA!.ip} (node-1), MTU ${podA!.mtu}; same node ${podC!.ip} → ${podA!.ip}; bare ${bareB.ip} → ${bareA.ip}, MTU ${bareA.mtu}`);
    const paths = [
      { label: 'bare', server: bareA, client: bareB, runs: [] as IperfResult[] },
      { label: 'pod-to-pod, cross-node', server: podA!, client: podB!, runs: [] as IperfResult[] },
      { label: 'pod-to-pod, same node', server: podA!, client: podC!, runs: [] as IperfResult[] },
    ];
    for (let r = 0; r < cfg.rounds; r++) {
      for (const path of paths) {
        const x = await iperfOnce(path.server, path.client, cfg.iperfSeconds);
        path.runs.push(x);
        ctx.log(`network: round ${r + 1} ${path.label} ${round(x.receivedBitsPerSecond / 1e9, 2)} Gbit/s (${x.retransmits} retransmits)`);
      }
    }
    const measured: PathResult[] = [];
    for (const path of paths) measured.push(await measurePath(path.server, path.client, cfg, path.runs));
    const [barePath, podPath, sameNodePath] = measured as [PathResult, PathResult, PathResult];
    const throughputRatioPct = round((podPath.medianGbitPerSec / barePath.medianGbitPerSec) * 100, 1);
    ctx.log(`network: pod-to-pod ${podPath.medianGbitPerSec} Gbit/s = ${throughputRatioPct} % of bare ${barePath.medianGbitPerSec} Gbit/s (same node ${sameNodePath.medianGbitPerSec}); TCP RTT p50 ${podPath.tcpRoundTripUs.p50} µs vs ${barePath.tcpRoundTripUs.p50} µs`);
    return { config: cfg, podToPod: podPath, bare: barePath, sameNodePodToPod: sameNodePath, throughputRatioPct };
  } finally {
    // `cairn down` removes what is left (the names carry the cluster's prefixes); say so, go on.
    await bare?.remove().catch((e: Error) => ctx.log(`network: ${e.message}`));
    await deletePods(ctx, 'net', names);
  }
}
