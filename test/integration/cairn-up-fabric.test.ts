// `cairn up --fabric` end to end on both seed designs (examples/fabric/switchless-3node-{ibgp,ebgp}.yaml,
// three nodes cabled to each other), one cluster after the other: the nodes stand on the fabric
// with FRR's EVPN sessions up; pods on every node reach each other; the VXLAN FDB's remote MACs
// all come from FRR (zebra, `extern_learn`) and none from the agent; a cut cable is routed
// around (the recovery time is measured and reported); and `cairn down` leaves nothing —
// namespaces, links, nft tables, FRR daemons, their runtime directory. On the iBGP cluster also:
// a Service by its DNS name and a NetworkPolicy across the fabric, and `cairn up` again bringing
// back a killed FRR from the kept topology. Then the bad inputs, each refused with one line
// before anything is made.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { ClusterLayout, type ClusterSpec } from '../../src/cluster/layout.js';
import { frrOf } from '../../src/cluster/fabric-underlay.js';
import { checkFrrInstalled, FRR_DAEMONS } from '../../src/fabric/lab/frr.js';
import { echo } from '../../src/fabric/lab/ping.js';
import { cutLink } from '../../src/fabric/lab/plumbing.js';
import { listProcesses } from '../../src/cluster/processes.js';
import { loadTopology, vtepAddress, type Topology } from '../../src/fabric/topology.js';
import { Ip, netns } from '../../src/net/ip.js';
import { BRIDGE, VXLAN_DEV } from '../../src/net/overlay.js';
import { type CairnCluster, run, upCluster } from '../support/cairn-cluster.js';
import { added, runClusterName, snapshotCairn, type HostSnapshot } from '../support/net-lab.js';
import { until } from '../support/until.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const CAIRN = join(ROOT, 'bin/cairn.js');
const EXAMPLES = join(ROOT, 'examples/fabric');
const EXAMPLE = join(EXAMPLES, 'switchless-3node-ibgp.yaml');
const NS = 'fabric';
const FLOOD_MAC = '00:00:00:00:00:00';
let tmp: string;
const cairn = (...args: string[]) => run(process.execPath, [CAIRN, ...args]);

before(async () => {
  await checkFrrInstalled();
  tmp = await mkdtemp(join(tmpdir(), 'cairn-fabric-test-'));
});
after(() => rm(tmp, { recursive: true, force: true }));

/** One `cairn up --fabric` cluster, its pods (web-n on node n) and how to look into its nodes. */
class FabricCluster {
  cluster!: CairnCluster;
  layout!: ClusterLayout;
  topology!: Topology;
  hostBefore!: HostSnapshot;
  downDone = false;
  /** The pod on node n: web-n, its IP and MAC. */
  readonly pods = new Map<number, { ip: string; mac: string }>();

  constructor(readonly example: string) {}

  async up(): Promise<void> {
    this.topology = await loadTopology(this.example);
    this.hostBefore = await snapshotCairn();
    this.cluster = await upCluster({ nodes: 3, label: 'fabric', upArgs: ['--fabric', this.example] });
    const spec = (JSON.parse(await readFile(join(this.cluster.dir, 'cluster.json'), 'utf8')) as { spec: ClusterSpec }).spec;
    this.layout = new ClusterLayout(this.cluster.dir, spec);
    await this.cluster.ok(['create', 'namespace', NS]);
    await this.cluster.ok(['apply', '-f', '-'], { input: [1, 2, 3].map((n) => this.podManifest(n)).join('\n') });
    await this.cluster.ok(['-n', NS, 'wait', '--for=condition=Ready', 'pod', '--all', '--timeout=120s'], { timeoutMs: 150_000 });
    for (const n of [1, 2, 3]) {
      const pod = await this.cluster.json<{ status: { podIP: string } }>(['-n', NS, 'get', 'pod', `web-${n}`]);
      const mac = (await this.cluster.ok(['-n', NS, 'exec', `web-${n}`, '--', 'cat', '/sys/class/net/eth0/address'])).trim();
      this.pods.set(n, { ip: pod.status.podIP, mac });
    }
  }

  async down(): Promise<void> {
    if (this.cluster && !this.downDone) await this.cluster.down();
    this.downDone = true;
  }

  podManifest(n: number): string {
    return JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `web-${n}`, namespace: NS, labels: { app: `web-${n}` } },
      spec: {
        nodeName: `node-${n}`,
        containers: [{ name: 'web', image: this.cluster.busybox, command: ['sh', '-c', `mkdir -p /www && echo hello from node-${n} > /www/index.html && exec httpd -f -p 8080 -h /www`] }],
      },
    });
  }

  vtep(n: number): string {
    return vtepAddress(this.topology, `pve${n}`)!;
  }
  node(n: number): Ip {
    return Ip.ns(this.layout.lab.nodeNetns(n));
  }

  /** A pod's wget of a URL, bounded by busybox `timeout` (this busybox's own `wget -T` segfaults). */
  async wget(from: number, url: string, seconds = 10): Promise<string> {
    const r = await this.cluster.kubectl(['-n', NS, 'exec', `web-${from}`, '--', 'timeout', String(seconds), 'wget', '-qO-', url], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`wget ${url} from web-${from} failed (${r.code}): ${r.stderr}${r.stdout}`);
    return r.stdout.trim();
  }

  /** The network namespace of the pod with this IP on node n (the agent names it from the pod's UID). */
  async podNetns(n: number, ip: string): Promise<string> {
    const prefix = `${this.layout.lab.podNetnsPrefix}${n}-`;
    for (const ns of (await netns.list()).map((x) => x.name).filter((x) => x.startsWith(prefix))) {
      if ((await Ip.ns(ns).ipv4Addrs('eth0')).some((a) => a.startsWith(`${ip}/`))) return ns;
    }
    throw new Error(`no pod namespace on node-${n} holds ${ip}`);
  }

  async bgpNeighbours(n: number): Promise<Record<string, { bgpState?: string }>> {
    return frrOf(this.layout, n).json<Record<string, { bgpState?: string }>>('show bgp neighbors');
  }

  /** Until every node's BGP sessions with the other nodes' VTEPs are Established. */
  async evpnSessionsUp(): Promise<void> {
    for (const n of [1, 2, 3]) {
      const peers = [1, 2, 3].filter((p) => p !== n).map((p) => this.vtep(p));
      await until(`node-${n}'s EVPN sessions`, async () => {
        const nb = await this.bgpNeighbours(n);
        return peers.every((p) => nb[p]?.bgpState === 'Established');
      }, 60_000, 500);
    }
  }

  /** The processes running from the cluster's FRR runtime directory. */
  async frrProcesses(): Promise<{ pid: number; args: string[] }[]> {
    return (await listProcesses()).filter((p) => p.args.some((x) => x.startsWith(`${this.layout.runDir}/`)));
  }
}

interface EvpnMacJson {
  macs?: Record<string, { type?: string; remoteVtep?: string }>;
}

async function nodesOnFabric(f: FabricCluster): Promise<void> {
  const nodes = await f.cluster.json<{ items: { metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> }; status: { addresses: { type: string; address: string }[] } }[] }>(['get', 'nodes']);
  assert.deepEqual(
    nodes.items.map((n) => [n.metadata.name, n.metadata.labels['cairn.io/fabric-node'], n.status.addresses.find((a) => a.type === 'InternalIP')?.address, n.metadata.annotations['cairn.io/public-ip']]).sort(),
    [1, 2, 3].map((n) => [`node-${n}`, `pve${n}`, `${f.cluster.underlayPrefix}.${10 + n}`, f.vtep(n)]),
    'InternalIP the management address, public-ip (the VXLAN source) the VTEP on the fabric',
  );
  await f.evpnSessionsUp();
  for (const n of [1, 2, 3]) {
    const vx = await f.node(n).link(VXLAN_DEV);
    assert.equal(vx?.master, BRIDGE, `node-${n}: ${VXLAN_DEV} is a port of ${BRIDGE}`);
    assert.equal(vx?.linkinfo?.info_data?.['local'], f.vtep(n), `node-${n}: the VXLAN source is the VTEP`);
    assert.equal(vx?.linkinfo?.info_data?.['learning'], false);
  }
}

async function podsReachEachOther(f: FabricCluster): Promise<void> {
  for (const a of [1, 2, 3]) {
    for (const b of [1, 2, 3]) {
      if (a === b) continue;
      assert.equal(await f.wget(a, `http://${f.pods.get(b)!.ip}:8080/`), `hello from node-${b}`, `web-${a} → web-${b}`);
    }
  }
}

async function fdbFromFrr(f: FabricCluster): Promise<void> {
  for (const n of [1, 2, 3]) {
    const remotes = [1, 2, 3].filter((p) => p !== n);
    const fdb = (await f.node(n).fdb(VXLAN_DEV)).filter((x) => x.dst !== undefined);
    const evpn = (await frrOf(f.layout, n).json<EvpnMacJson>('show evpn mac vni 1')).macs ?? {};
    for (const p of remotes) {
      const { mac } = f.pods.get(p)!;
      const entry = fdb.find((x) => x.mac === mac);
      assert.ok(entry, `node-${n}: no FDB entry for web-${p}'s MAC ${mac}:\n${JSON.stringify(fdb)}`);
      assert.equal(entry.dst, f.vtep(p), `node-${n}: web-${p}'s MAC behind node-${p}'s VTEP`);
      assert.ok(entry.flags.includes('extern_learn'), `node-${n}: ${mac} installed by zebra (extern_learn): ${JSON.stringify(entry)}`);
      assert.deepEqual([evpn[mac]?.type, evpn[mac]?.remoteVtep], ['remote', f.vtep(p)], `node-${n}: FRR lists ${mac} as remote`);
      // The flood list: one all-zero entry per remote VTEP, from its type-3 route.
      assert.ok(fdb.some((x) => x.mac === FLOOD_MAC && x.dst === f.vtep(p)), `node-${n}: no flood entry for ${f.vtep(p)}`);
    }
    // Everything pointing at a VTEP is FRR's: a flood entry, or a MAC zebra holds as remote there.
    for (const x of fdb) {
      if (x.mac === FLOOD_MAC) continue;
      assert.equal(evpn[x.mac]?.remoteVtep, x.dst, `node-${n}: FDB entry ${x.mac} → ${x.dst} that FRR does not know: ${JSON.stringify(x)}`);
    }
    // The remote gateways' neighbour entries (the routes' next hops) are zebra's too.
    const routes = (await f.node(n).routes({ dev: BRIDGE })).filter((r) => r.gateway);
    assert.equal(routes.length, 2, `node-${n}: one route per other node on ${BRIDGE}`);
    const neighs = await f.node(n).neighs(BRIDGE);
    for (const r of routes) {
      const ne = neighs.find((x) => x.dst === r.gateway);
      assert.ok(ne?.state.includes('NOARP') && !ne.state.includes('PERMANENT'), `node-${n}: ${r.gateway} resolved by EVPN: ${JSON.stringify(ne)}`);
    }
    assert.equal((await f.node(n).ipv4Addrs(VXLAN_DEV)).length, 0, `node-${n}: ${VXLAN_DEV} has no address of its own`);
  }
}

/** Cuts the pve1-pve2 cable and measures, in rounds of pings (100 ms each), until web-1 ↔ web-2 answer for a full second. */
async function survivesCut(f: FabricCluster, t: TestContext): Promise<void> {
  const [a, b] = [f.pods.get(1)!, f.pods.get(2)!];
  const pairs = [
    { ns: await f.podNetns(1, a.ip), to: b.ip },
    { ns: await f.podNetns(2, b.ip), to: a.ip },
  ];
  const round = async () => (await Promise.all(pairs.map((p) => echo(p.ns, p.to, { waitS: 0.1 })))).every(Boolean);
  assert.ok(await round(), 'web-1 and web-2 answer each other before the cut');
  const link = f.topology.links.find((l) => l.ends.some((e) => e.node === 'pve1') && l.ends.some((e) => e.node === 'pve2'))!;
  const cutAt = Date.now();
  await cutLink(f.layout.wireNetns, f.topology, link.name, false);
  let goodSince: number | undefined;
  let rounds = 0;
  let firstRoundGood = false;
  while (Date.now() - cutAt < 60_000) {
    const start = Date.now();
    const ok = await round();
    if (!ok) goodSince = undefined;
    else if (goodSince === undefined) {
      goodSince = start;
      firstRoundGood = rounds === 0;
    }
    if (goodSince !== undefined && Date.now() - goodSince >= 1000) break;
    rounds++;
  }
  assert.ok(goodSince !== undefined && Date.now() - goodSince >= 1000, `web-1 ↔ web-2 did not recover within 60 s of cutting ${link.name}`);
  const ms = goodSince - cutAt;
  t.diagnostic(`${f.topology.name}: cut ${link.name}, web-1 ↔ web-2 answered again ${firstRoundGood ? 'at most ' : ''}${ms} ms after the cut (${rounds} probe rounds)`);
  const hold = f.topology.bgp.timers.hold * 1000;
  assert.ok(ms < hold + 5000, `recovery took ${ms} ms, more than the BGP hold time (${hold} ms) allows`);
  assert.equal(await f.wget(1, `http://${b.ip}:8080/`), 'hello from node-2', 'web-1 → web-2 by wget after the cut');
  // The EVPN session between the two nodes is rerouted through pve3 (and, with eBGP, came back if it dropped).
  await f.evpnSessionsUp();
}

/** `cairn down`; with `losePidFiles`, after FRR's pid files are gone (as after a crash that took /run's files). */
async function downLeavesNothing(f: FabricCluster, losePidFiles = false): Promise<void> {
  const runDir = f.layout.runDir;
  assert.equal((await f.frrProcesses()).length, 9, 'zebra, staticd and bgpd on each of the 3 nodes before');
  if (losePidFiles) for (const n of [1, 2, 3]) for (const d of FRR_DAEMONS) await rm(frrOf(f.layout, n).pidFile(d));
  await f.down();
  assert.deepEqual(added(f.hostBefore, await snapshotCairn(), f.cluster.name), { netns: [], links: [], nftTables: [] });
  assert.deepEqual(await f.frrProcesses(), []);
  assert.equal(existsSync(runDir), false, `${runDir} is gone`);
  assert.equal(existsSync(f.cluster.dir), false);
}

describe('on the iBGP design (static underlay, EVPN over the VM network)', () => {
  const f = new FabricCluster(join(EXAMPLES, 'switchless-3node-ibgp.yaml'));
  before(() => f.up());
  after(() => f.down());

  test('the nodes stand on the fabric: one per fabric node, EVPN sessions up, the pod VXLAN on the VTEP', () => nodesOnFabric(f));
  test('pods on every node reach each other across the fabric', () => podsReachEachOther(f));
  test('the remote MACs in the VXLAN FDB come from FRR (EVPN), none from the agent', () => fdbFromFrr(f));

  test('a Service by its DNS name and a NetworkPolicy work across the fabric', async () => {
    await f.cluster.ok(['-n', NS, 'create', 'service', 'clusterip', 'web-2', '--tcp=80:8080']);
    const url = `http://web-2.${NS}.svc.cluster.local/`;
    assert.equal(await until('the Service to answer from node-1', () => f.wget(1, url).catch(() => undefined), 60_000, 500), 'hello from node-2');
    const deny = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny-web-2', namespace: NS }, spec: { podSelector: { matchLabels: { app: 'web-2' } }, policyTypes: ['Ingress'] } };
    const web2 = `http://${f.pods.get(2)!.ip}:8080/`;
    await f.cluster.ok(['apply', '-f', '-'], { input: JSON.stringify(deny) });
    await until('web-2 to be isolated', () => f.wget(3, web2, 2).then(() => false, () => true), 30_000, 500);
    await f.cluster.ok(['-n', NS, 'delete', 'networkpolicy', 'deny-web-2']);
    assert.equal(await until('web-2 to answer again', () => f.wget(3, web2, 2).catch(() => undefined), 30_000, 500), 'hello from node-2');
  });

  test('cairn up again brings back a node\'s FRR from the kept topology, and refuses another one', async () => {
    const bgpd = (await f.frrProcesses()).find((p) => p.args.includes(f.layout.frrDir(3) + '/bgpd.pid'));
    assert.ok(bgpd, 'node-3 runs bgpd');
    process.kill(bgpd.pid, 'SIGKILL');
    const again = await f.cluster.cairn('up', '--data-dir', f.cluster.dir);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /fabric: FRR \(zebra, staticd, bgpd\) started on node-3/);
    assert.match(again.stdout, /fabric: FRR running on node-1/);
    assert.equal((await f.frrProcesses()).length, 9);
    await f.evpnSessionsUp();
    await podsReachEachOther(f);
    const other = await f.cluster.cairn('up', '--data-dir', f.cluster.dir, '--fabric', join(EXAMPLES, 'switchless-3node-ebgp.yaml'));
    assert.equal(other.code, 1, other.stdout + other.stderr);
    assert.match(other.stderr, /^error: \S+switchless-3node-ebgp\.yaml is not the topology the cluster in .* was made with/);
  });

  test('a cut cable: pod traffic between its two nodes recovers (static fallback routes)', (t) => survivesCut(f, t));
  test('cairn down removes everything: namespaces, links, nft tables, FRR daemons and their files', () => downLeavesNothing(f));
});

describe('on the eBGP design (BGP underlay, EVPN between loopbacks)', () => {
  const f = new FabricCluster(join(EXAMPLES, 'switchless-3node-ebgp.yaml'));
  before(() => f.up());
  after(() => f.down());

  test('the nodes stand on the fabric: one per fabric node, EVPN sessions up, the pod VXLAN on the VTEP', () => nodesOnFabric(f));
  test('pods on every node reach each other across the fabric', () => podsReachEachOther(f));
  test('the remote MACs in the VXLAN FDB come from FRR (EVPN), none from the agent', () => fdbFromFrr(f));
  test('a cut cable: pod traffic between its two nodes recovers once BGP reconverges', (t) => survivesCut(f, t));
  test('cairn down removes everything, FRR daemons included when their pid files are lost', () => downLeavesNothing(f, true));
});

// ---- bad input: refused with one line, before anything is made ----

async function refused(topologyText: string, extra: string[] = []): Promise<string> {
  const name = runClusterName();
  const dir = join(tmp, name);
  const file = join(tmp, `${name}.yaml`);
  await writeFile(file, topologyText);
  const r = await cairn('up', '--fabric', file, '--data-dir', dir, '--name', name, ...extra);
  assert.equal(r.code, 1, `expected exit 1:\n${r.stdout}${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr:\n${r.stderr}`);
  assert.equal(existsSync(join(dir, 'cluster.json')), false, 'no cluster made');
  assert.deepEqual((await netns.list()).filter((n) => n.name.startsWith(`cairn-${name}-`)), []);
  return lines[0]!.replace(file, 'FILE');
}

test('bad input: an invalid topology, with validate\'s message and the field path', async () => {
  const example = await readFile(EXAMPLE, 'utf8');
  const dup = example.replace('addresses: { data: 10.10.10.2', 'addresses: { data: 10.10.10.1');
  assert.match(await refused(dup), /^error: FILE: 1 problem\(s\): nodes\[1\]\.addresses\.data: .*10\.10\.10\.1/);
  assert.match(await refused(`${example}\ncolour: blue\n`), /^error: FILE: colour: /);
});

test('bad input: a topology with fewer nodes than asked, and one that takes the pod network\'s VNI', async () => {
  const example = await readFile(EXAMPLE, 'utf8');
  assert.equal(await refused(example, ['--nodes', '4']), 'error: FILE: nodes: the topology has only 3 nodes, --nodes asks for 4');
  assert.match(await refused(example.replace('vni: 100,', 'vni: 1,')), /^error: FILE: evpn\.vnis\[0\]\.vni: VNI 1 carries the pod network/);
});
