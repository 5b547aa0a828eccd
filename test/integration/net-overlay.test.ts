// Three lab nodes (network namespaces on a private bridge), the VXLAN overlay reconciled between
// them, pods on each: pod-to-pod across nodes without NAT, pod-to-outside masqueraded, a node
// removed and its entries gone from the others, and nothing cairn* left behind afterwards.
// All traffic stays inside the namespaces this test makes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, type LabNode } from '../../src/net/lab.js';
import { Overlay, VXLAN_DEV, BRIDGE } from '../../src/net/overlay.js';
import { Ipam } from '../../src/net/ipam.js';
import { PodNetwork, type PodNetworkStatus } from '../../src/net/pod-network.js';
import { netns, Ip } from '../../src/net/ip.js';
import { requireNetTools, runClusterName, snapshotCairn, added, EchoAddrServer, tcpProbe, type HostSnapshot } from '../support/net-lab.js';

const CLUSTER_CIDR = '10.244.0.0/16';
const cluster = runClusterName();
const lab = new Lab({ cluster, underlayCidr: `172.20.${100 + Math.floor(Math.random() * 100)}.0/24` });
let before0: HostSnapshot;
let dir: string;
const nodes = new Map<number, { node: LabNode; overlay: Overlay; pods: PodNetwork; ipam: Ipam }>();
const servers: EchoAddrServer[] = [];

before(async () => {
  requireNetTools();
  before0 = await snapshotCairn();
  dir = await mkdtemp(join(tmpdir(), 'cairn-net-'));
});

after(async () => {
  for (const s of servers) await s.stop();
  await lab.teardown();
  await rm(dir, { recursive: true, force: true });
  const left = added(before0, await snapshotCairn(), cluster);
  assert.deepEqual(left, { netns: [], links: [], nftTables: [] }, 'teardown left cairn* objects behind');
});

async function makeNode(n: number): Promise<void> {
  const node = await lab.addNode(n);
  const overlay = new Overlay({ node: node.ip, podCidr: `10.244.${n}.0/24`, clusterCidr: CLUSTER_CIDR, underlayIP: node.underlayIP, underlayDev: node.underlayDev });
  const { mtu } = await overlay.setup();
  const ipam = await Ipam.open({ dir: join(dir, `node-${n}`), subnet: `10.244.${n}.0/24` });
  const pods = new PodNetwork({ node: node.ip, ipam, mtu, netnsPrefix: lab.podNetnsPrefix });
  nodes.set(n, { node, overlay, pods, ipam });
}

async function reconcileAll() {
  const remotes = [...nodes.entries()].map(([n, x]) => x.overlay.asRemote(`node-${n}`));
  return Promise.all([...nodes.values()].map((x) => x.overlay.reconcile(remotes)));
}

const pods = new Map<string, PodNetworkStatus>();

test('three nodes, overlay reconciled, one pod on each', async () => {
  for (const n of [1, 2, 3]) await makeNode(n);
  const results = await reconcileAll();
  for (const r of results) assert.equal(r.programmed.length, 2);
  for (const n of [1, 2, 3]) {
    const uid = `${n}a${n}b0000-1111-2222-3333-${cluster}000000`.slice(0, 36);
    const st = await nodes.get(n)!.pods.setup({ id: uid }, { pod: `default/p${n}` });
    assert.equal(st.netns, `${lab.podNetnsPrefix}${uid.replace(/-/g, '').slice(0, 8)}`);
    assert.equal(st.podIP, `10.244.${n}.2`);
    assert.equal(st.gateway, `10.244.${n}.1`);
    assert.equal(st.mtu, 1450);
    pods.set(`p${n}`, st);
    // Idempotent: a second setup changes nothing and reports the same.
    assert.deepEqual(await nodes.get(n)!.pods.setup({ id: uid }), st);
    const status = await nodes.get(n)!.pods.status({ id: uid });
    assert.equal(status?.podIP, st.podIP);
    const eth0 = await Ip.ns(st.netns).link('eth0');
    assert.equal(eth0?.mtu, 1450);
    assert.ok(eth0?.flags.includes('UP'));
    const host = await nodes.get(n)!.node.ip.link(st.hostVeth);
    assert.equal(host?.master, BRIDGE);
  }
});

test('node 1 has flannel-style entries for nodes 2 and 3', async () => {
  const { node, overlay } = nodes.get(1)!;
  const routes = await node.ip.routes({ dev: VXLAN_DEV });
  for (const n of [2, 3]) {
    const remote = nodes.get(n)!.overlay;
    const r = routes.find((x) => x.dst === `10.244.${n}.0/24`);
    assert.equal(r?.gateway, `10.244.${n}.0`);
    assert.ok(r?.flags.includes('onlink'));
    const ne = (await node.ip.neighs(VXLAN_DEV)).find((x) => x.dst === `10.244.${n}.0`);
    assert.equal(ne?.lladdr, remote.vtepMAC);
    assert.ok(ne?.state.includes('PERMANENT'));
    const f = (await node.ip.fdb(VXLAN_DEV)).filter((x) => x.mac === remote.vtepMAC);
    assert.deepEqual(f.map((x) => x.dst), [nodes.get(n)!.node.underlayIP]);
  }
  const vx = await node.ip.link(VXLAN_DEV);
  assert.equal(vx?.linkinfo?.info_data?.['id'], 1);
  assert.equal(vx?.linkinfo?.info_data?.['port'], 4789);
  assert.equal(vx?.linkinfo?.info_data?.['learning'], false);
  assert.equal(vx?.linkinfo?.info_data?.['local'], node.underlayIP);
  assert.equal(vx?.address, overlay.vtepMAC);
  assert.equal(await node.ip.readSysctl('net.ipv4.ip_forward'), '1');
  // A second reconcile with the same nodes changes nothing.
  const again = await reconcileAll();
  for (const r of again) assert.deepEqual(r, { programmed: [], removedRoutes: [], removedNeighs: [], removedFdb: [] });
});

test('pods reach pods on other nodes by IP, without NAT', async () => {
  const p1 = pods.get('p1')!;
  const p2 = pods.get('p2')!;
  const p3 = pods.get('p3')!;
  servers.push(await EchoAddrServer.start(p2.netns, p2.podIP, 8080));
  servers.push(await EchoAddrServer.start(p3.netns, p3.podIP, 8080));
  servers.push(await EchoAddrServer.start(p1.netns, p1.podIP, 8080));
  assert.equal(await tcpProbe(p1.netns, p2.podIP, 8080), p1.podIP);
  assert.equal(await tcpProbe(p1.netns, p3.podIP, 8080), p1.podIP);
  assert.equal(await tcpProbe(p3.netns, p1.podIP, 8080), p3.podIP);
  assert.equal(await tcpProbe(p2.netns, p3.podIP, 8080), p2.podIP);
});

test('pod traffic leaving the cluster CIDR is masqueraded to the node address', async () => {
  const n2 = nodes.get(2)!.node;
  servers.push(await EchoAddrServer.start(n2.netns, n2.underlayIP, 9090));
  // From a pod on node 1 to node 2's underlay address (outside 10.244.0.0/16): source is node 1.
  assert.equal(await tcpProbe(pods.get('p1')!.netns, n2.underlayIP, 9090), nodes.get(1)!.node.underlayIP);
  const st = await nodes.get(1)!.overlay.nft().list();
  assert.ok(st?.chains.some((c) => c.name === 'pod-masquerade' && c.hook === 'postrouting' && c.type === 'nat'));
  assert.equal(st?.rules.filter((r) => r.chain === 'pod-masquerade').length, 5);
});

test('a removed node disappears from the others after reconcile', async () => {
  const gone = nodes.get(3)!;
  await lab.removeNode(3);
  nodes.delete(3);
  const results = await reconcileAll();
  for (const r of results) {
    assert.deepEqual(r.removedRoutes, ['10.244.3.0/24']);
    assert.deepEqual(r.removedNeighs, ['10.244.3.0']);
    assert.deepEqual(r.removedFdb, [`${gone.overlay.vtepMAC}>${gone.node.underlayIP}`]);
  }
  for (const { node } of nodes.values()) {
    assert.ok(!(await node.ip.routes({ dev: VXLAN_DEV })).some((r) => r.dst === '10.244.3.0/24'));
    assert.ok(!(await node.ip.neighs(VXLAN_DEV)).some((r) => r.dst === '10.244.3.0'));
    assert.ok(!(await node.ip.fdb(VXLAN_DEV)).some((r) => r.mac === gone.overlay.vtepMAC));
  }
  // The remaining pair still talks.
  const p1 = pods.get('p1')!;
  assert.equal(await tcpProbe(p1.netns, pods.get('p2')!.podIP, 8080), p1.podIP);
  // A node coming back with a new underlay address is updated in place (FDB replaced).
  const n2 = nodes.get(2)!;
  const moved = { ...n2.overlay.asRemote(), underlayIP: '192.0.2.7' };
  const r = await nodes.get(1)!.overlay.reconcile([nodes.get(1)!.overlay.asRemote(), moved]);
  assert.deepEqual(r.programmed, ['10.244.2.0/24']);
  assert.deepEqual((await nodes.get(1)!.node.ip.fdb(VXLAN_DEV)).filter((x) => x.mac === moved.vtepMAC).map((x) => x.dst), ['192.0.2.7']);
  await reconcileAll();
  assert.equal(await tcpProbe(p1.netns, pods.get('p2')!.podIP, 8080), p1.podIP);
});

test('pod teardown removes exactly its namespace, veth and address', async () => {
  const { pods: pn, ipam, node } = nodes.get(1)!;
  const p1 = pods.get('p1')!;
  await pn.teardown({ id: p1.id });
  assert.equal(await netns.exists(p1.netns), false);
  assert.equal(await node.ip.link(p1.hostVeth), undefined);
  assert.equal(ipam.get(p1.id), undefined);
  assert.ok(await node.ip.link(BRIDGE), 'the bridge stays');
  await pn.teardown({ id: p1.id }); // idempotent
  // A pod in a namespace made by someone else keeps its namespace.
  const foreign = `${lab.prefix}pod-foreign`;
  await netns.add(foreign);
  const st = await pn.setup({ id: 'ffff0000-sandbox', netns: foreign });
  assert.equal(st.netns, foreign);
  await pn.teardown({ id: 'ffff0000-sandbox', netns: foreign });
  assert.equal(await netns.exists(foreign), true);
  assert.equal(await Ip.ns(foreign).link('eth0'), undefined);
  // Overlay teardown removes its devices and the masquerade chain/table.
  await nodes.get(2)!.overlay.teardown();
  assert.equal(await nodes.get(2)!.node.ip.link(VXLAN_DEV), undefined);
  assert.equal(await nodes.get(2)!.overlay.nft().list(), undefined);
});
