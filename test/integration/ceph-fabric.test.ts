// `cairn ceph up` on a `cairn up --fabric` cluster (3 nodes): the Ceph daemons take the
// topology's fsid, networks and monitors — the values `cairn fabric render` writes into every
// node's ceph.conf — and stand on the fabric: three monitors and the OSDs' public side on the
// public network, the OSDs' replication on the cluster network over the fabric's links; a pod's
// ceph-rbd claim keeps its data from one node to another; a pod reaches the monitors over the
// fabric; after `cairn down` and `cairn up` the same cluster comes back; `cairn ceph down`
// leaves no route on the host.
//
// The topology is the iBGP seed design with the cluster network moved to its `vm` network (the
// example keeps both on `data`), and both networks renumbered at random per run: the host routes
// the public network to the cluster's bridge, and clusters on the same addresses would collide.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ClusterLayout, type ClusterSpec } from '../../src/cluster/layout.js';
import { contains } from '../../src/fabric/ipv4.js';
import { checkFrrInstalled } from '../../src/fabric/lab/frr.js';
import { Ip } from '../../src/net/ip.js';
import { type CairnCluster, run, type Run, upCluster } from '../support/cairn-cluster.js';
import { until } from '../support/until.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const EXAMPLE = join(ROOT, 'examples/fabric/switchless-3node-ibgp.yaml');
const FSID = '5d3bd0a6-6f2c-4c39-9d0b-2f6b0d7c6a11';
/** Outside the Service network (10.96.0.0/12) and upCluster's cluster CIDRs (10.112–249.0.0/16). */
const NET = 20 + Math.floor(Math.random() * 70);
const PUBLIC = `10.${NET}.10.0/24`;
const CLUSTER = `10.${NET}.20.0/24`;
const publicIP = (n: number) => `10.${NET}.10.${n}`;
const clusterIP = (n: number) => `10.${NET}.20.${n}`;

let tmp: string;
let topology: string;
let cluster: CairnCluster;
let layout: ClusterLayout;
const ok = (r: Run, what: string) => assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);

interface CephStatus {
  fsid: string;
  health: string;
  checks: Record<string, string>;
  monitors: string[];
  daemons: { name: string; pid: number }[];
  conf: string;
  adminKeyring: string;
}

async function status(): Promise<CephStatus> {
  const r = await cluster.cairn('ceph', 'status', '--data-dir', cluster.dir, '-o', 'json');
  ok(r, 'cairn ceph status');
  return JSON.parse(r.stdout) as CephStatus;
}

/** `ceph ARGS --format json` as the cluster's admin, from the host. */
async function cephJson<T>(s: CephStatus, ...args: string[]): Promise<T> {
  const r = await run('ceph', ['-c', s.conf, '-k', s.adminKeyring, '--connect-timeout', '20', ...args, '--format', 'json'], { timeoutMs: 60_000 });
  ok(r, `ceph ${args.join(' ')}`);
  return JSON.parse(r.stdout) as T;
}

type AddrVec = { addrvec: { type: string; addr: string }[] };
const ips = (v: AddrVec) => [...new Set(v.addrvec.map((a) => a.addr.replace(/:\d+$/, '')))];

/** The `key = value` entries of one section of a ceph.conf. */
function section(conf: string, name: string): Record<string, string> {
  const body = conf.split(/^\[/m).find((s) => s.startsWith(`${name}]`)) ?? '';
  return Object.fromEntries(body.split('\n').slice(1).filter((l) => l.includes(' = ')).map((l) => l.trim().split(' = ') as [string, string]));
}

function pod(name: string, node: string, script: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'c', image: cluster.busybox, command: ['sh', '-c', `${script}; sleep 3600`], volumeMounts: [{ name: 'v', mountPath: '/data' }] }],
      volumes: [{ name: 'v', persistentVolumeClaim: { claimName: 'data' } }],
    },
  });
}

async function running(name: string): Promise<void> {
  await until(`pod ${name} Running`, async () => (await cluster.json<{ status: { phase?: string } }>(['get', 'pod', name])).status.phase === 'Running', 120_000, 500);
}

/** The host's routes to the public network. */
const publicRoutes = async () => (await Ip.root.routes()).filter((r) => r.dst === PUBLIC);

before(async () => {
  await checkFrrInstalled();
  tmp = await mkdtemp(join(tmpdir(), 'cairn-ceph-fabric-'));
  topology = join(tmp, 'fabric.yaml');
  const text = (await readFile(EXAMPLE, 'utf8'))
    .replaceAll('10.10.10.', `10.${NET}.10.`)
    .replaceAll('10.20.20.', `10.${NET}.20.`)
    .replace('clusterNetwork: data', 'clusterNetwork: vm');
  await writeFile(topology, text);
  cluster = await upCluster({ nodes: 3, label: 'ceph-fabric', upArgs: ['--fabric', topology] });
  const spec = (JSON.parse(await readFile(join(cluster.dir, 'cluster.json'), 'utf8')) as { spec: ClusterSpec }).spec;
  layout = new ClusterLayout(cluster.dir, spec);
});

after(async () => {
  if (cluster) await cluster.down();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test("cairn ceph up: HEALTH_OK with the topology's fsid, networks and three monitors", async () => {
  const t0 = Date.now();
  const r = await cluster.cairn('ceph', 'up', '--data-dir', cluster.dir, '--timeout', '240');
  ok(r, 'cairn ceph up');
  console.log(`cairn ceph up on the fabric took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  assert.match(r.stdout, new RegExp(`cluster ${FSID} is HEALTH_OK: 3/3 OSDs up`));
  const s = await status();
  assert.equal(s.fsid, FSID);
  assert.deepEqual(s.daemons.map((d) => d.name).sort(), ['mds.node-2', 'mgr.node-1', 'mon.pve1', 'mon.pve2', 'mon.pve3', 'osd.0', 'osd.1', 'osd.2']);
  const monitors = [1, 2, 3].map((n) => `${publicIP(n)}:6789`);
  assert.deepEqual(s.monitors, monitors);

  // One source of truth: the [global] and [mon.*] sections are what `cairn fabric render` writes.
  const rendered = join(tmp, 'rendered');
  ok(await cluster.cairn('fabric', 'render', topology, '--out', rendered), 'cairn fabric render');
  const fabricConf = await readFile(join(rendered, 'pve1', 'ceph.conf'), 'utf8');
  const conf = await readFile(s.conf, 'utf8');
  const g = section(conf, 'global');
  for (const [k, v] of Object.entries(section(fabricConf, 'global'))) assert.equal(g[k], v, `[global] ${k}`);
  for (const n of [1, 2, 3]) assert.deepEqual(section(conf, `mon.pve${n}`), section(fabricConf, `mon.pve${n}`));
  assert.equal(g.public_network, PUBLIC);
  assert.equal(g.cluster_network, CLUSTER);

  const sc = await cluster.json<{ parameters: Record<string, string> }>(['get', 'storageclass', 'ceph-rbd']);
  assert.equal(sc.parameters.clusterID, FSID);
  assert.equal(sc.parameters.monitors, monitors.join(','));
});

test('the daemons stand on the fabric: public side on the public network, replication on the cluster network', async () => {
  const s = await status();
  const mons = await cephJson<{ mons: { name: string; public_addrs: AddrVec }[] }>(s, 'mon', 'dump');
  assert.deepEqual(mons.mons.map((m) => [m.name, ips(m.public_addrs)]).sort(), [1, 2, 3].map((n) => [`pve${n}`, [publicIP(n)]]));
  const quorum = await cephJson<{ quorum_names: string[] }>(s, 'quorum_status');
  assert.deepEqual(quorum.quorum_names.sort(), ['pve1', 'pve2', 'pve3']);

  const osds = await cephJson<{ osds: { osd: number; public_addrs: AddrVec; cluster_addrs: AddrVec; heartbeat_back_addrs: AddrVec }[] }>(s, 'osd', 'dump');
  assert.equal(osds.osds.length, 3);
  for (const o of osds.osds) {
    const node = (o.osd % 3) + 1; // OSD K on node-(K mod N + 1)
    assert.deepEqual(ips(o.public_addrs), [publicIP(node)], `osd.${o.osd} public address`);
    assert.deepEqual(ips(o.cluster_addrs), [clusterIP(node)], `osd.${o.osd} cluster address`);
    assert.ok(contains(PUBLIC, publicIP(node)) && contains(CLUSTER, clusterIP(node)));
  }
  const mgr = await cephJson<{ active_name: string; active_addrs: AddrVec }>(s, 'mgr', 'dump');
  assert.deepEqual([mgr.active_name, ips(mgr.active_addrs)], ['node-1', [publicIP(1)]]);
  const fs = await cephJson<{ filesystems: { mdsmap: { info: Record<string, { name: string; addrs: AddrVec }> } }[] }>(s, 'fs', 'dump');
  assert.deepEqual(Object.values(fs.filesystems[0].mdsmap.info).map((m) => [m.name, ips(m.addrs)]), [['node-2', [publicIP(2)]]]);

  // Each node's OSD talks to the others' cluster side (replication, back heartbeats) from its own cluster address, over a fabric link.
  const clusterPorts = new Set(osds.osds.flatMap((o) => [...o.cluster_addrs.addrvec, ...o.heartbeat_back_addrs.addrvec].map((a) => a.addr)));
  for (const n of [1, 2, 3]) {
    const ss = await run('ip', ['netns', 'exec', layout.lab.nodeNetns(n), 'ss', '-tnH', 'state', 'established']);
    ok(ss, 'ss');
    const replication = ss.stdout.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => clusterPorts.has(f[3]) && !f[3].startsWith(`${clusterIP(n)}:`));
    assert.ok(replication.length > 0, `node-${n} has replication connections:\n${ss.stdout}`);
    for (const [, , local, peer] of replication) assert.ok(local.startsWith(`${clusterIP(n)}:`), `node-${n}: ${local} -> ${peer} leaves from its cluster address`);
    for (const p of [1, 2, 3].filter((p) => p !== n)) {
      const via = await run('ip', ['-n', layout.lab.nodeNetns(n), 'route', 'get', clusterIP(p)]);
      assert.match(via.stdout, /dev ens(19|20) /, `node-${n} reaches ${clusterIP(p)} over the fabric: ${via.stdout}`);
    }
  }
});

test('a ceph-rbd claim keeps its data from a pod on one node to a pod on another; pods reach the monitors over the fabric', async () => {
  const claim = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data' }, spec: { storageClassName: 'ceph-rbd', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } };
  await cluster.ok(['apply', '-f', '-'], { input: JSON.stringify(claim) });
  await cluster.ok(['apply', '-f', '-'], { input: pod('writer', 'node-3', 'echo written on node-3 > /data/f && sync') });
  await running('writer');
  assert.equal((await cluster.ok(['exec', 'writer', '--', 'cat', '/data/f'])).trim(), 'written on node-3');
  // The monitor answers a pod on node-3 with msgr2's banner, over the fabric (QEMU's librbd in a VM's pod connects so).
  const banner = await cluster.ok(['exec', 'writer', '--', 'sh', '-c', `nc -w 3 ${publicIP(1)} 3300 </dev/null | head -c 7`]);
  assert.equal(banner, 'ceph v2');
  await cluster.ok(['delete', 'pod', 'writer', '--wait=true', '--timeout=90s']);

  await cluster.ok(['apply', '-f', '-'], { input: pod('reader', 'node-1', 'true') });
  await running('reader');
  assert.equal((await cluster.ok(['exec', 'reader', '--', 'cat', '/data/f'])).trim(), 'written on node-3');
  await cluster.ok(['delete', 'pod', 'reader', '--wait=true', '--timeout=90s']);
  await cluster.ok(['delete', 'pvc', 'data', '--wait=true', '--timeout=90s']);
});

test('after cairn down and cairn up the same Ceph cluster comes back; cairn ceph down leaves no route', async () => {
  ok(await cluster.cairn('down', '--data-dir', cluster.dir), 'cairn down');
  assert.deepEqual(await publicRoutes(), [], 'the route went with the bridge');
  ok(await cluster.cairn('up', '--data-dir', cluster.dir), 'cairn up (again)');
  const r = await cluster.cairn('ceph', 'up', '--data-dir', cluster.dir, '--timeout', '240');
  ok(r, 'cairn ceph up (again)');
  assert.match(r.stdout, new RegExp(`the existing cluster ${FSID} is HEALTH_OK`));
  for (const n of [1, 2, 3]) assert.match(r.stdout, new RegExp(`mon\\.pve${n} started on node-${n}`));
  assert.deepEqual((await publicRoutes()).map((x) => x.dev), [layout.lab.bridge]);

  const down = await cluster.cairn('ceph', 'down', '--data-dir', cluster.dir);
  ok(down, 'cairn ceph down');
  assert.match(down.stdout, new RegExp(`removed route ${PUBLIC.replaceAll('.', '\\.')} dev ${layout.lab.bridge}`));
  assert.deepEqual(await publicRoutes(), []);
  assert.ok(!existsSync(join(cluster.dir, 'ceph')));
});
