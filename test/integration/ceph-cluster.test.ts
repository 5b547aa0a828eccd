// `cairn ceph up|status|down` on a 3-node `cairn up` cluster, as a user runs them (root): a
// healthy cluster (mon, mgr, MDS, three OSDs, one per node), its Secret and StorageClasses seen
// through the real kubectl, an object written and read with `rados` and a file through
// `ceph-fuse` on the host, one OSD stopped (degraded, I/O still works) and brought back by
// `cairn ceph up` (recovered), `cairn ceph down` leaving no process or file, and `cairn down`
// stopping a Ceph cluster too. Bad input: no cluster, --osds 0.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { listProcesses } from '../../src/cluster/processes.js';
import { runTool, type ToolResult } from '../../src/net/exec.js';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { until } from '../support/until.js';

let cluster: CairnCluster;
// runTool: a tool that exits before reading its (empty) stdin is no error.
const run = (cmd: string, args: string[], timeoutMs = 120_000) => runTool(cmd, args, { timeoutMs });
const ok = (r: ToolResult, what: string) => assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);

interface Status {
  fsid: string;
  health: string;
  checks: Record<string, string>;
  monitors: string[];
  daemons: { name: string; pid: number; log: string }[];
  osds: { total: number; up: number; in: number };
  pools: { name: string }[];
  conf: string;
  adminKeyring: string;
}

async function status(): Promise<Status> {
  const r = await cluster.cairn('ceph', 'status', '--data-dir', cluster.dir, '-o', 'json');
  ok(r, 'cairn ceph status');
  return JSON.parse(r.stdout) as Status;
}

/** The processes of this cluster's Ceph daemons (and of a ceph-fuse of the test's). */
async function cephProcesses(): Promise<{ pid: number; line: string }[]> {
  return (await listProcesses())
    .filter((p) => /(^|\/)ceph-/.test(p.args[0]) && p.args.some((a) => a.startsWith(`${cluster.dir}/`)))
    .map((p) => ({ pid: p.pid, line: p.args.join(' ') }));
}
const daemonLines = async () => (await cephProcesses()).map((p) => p.line).filter((l) => !l.startsWith('ceph-fuse'));

const admin = (s: Status) => ['-c', s.conf, '-k', s.adminKeyring, '--id', 'admin'];

async function rados(s: Status, ...args: string[]): Promise<string> {
  const r = await run('rados', [...admin(s), ...args]);
  ok(r, `rados ${args.join(' ')}`);
  return r.stdout;
}

before(async () => {
  cluster = await upCluster({ nodes: 3, label: 'ceph' });
});

after(async () => {
  // `cairn down --purge` also unmounts what a failed test left mounted under the data dir.
  await cluster?.down();
});

test('cairn ceph up refuses bad input with one plain line', async () => {
  const empty = await mkdtemp(join(tmpdir(), 'cairn-ceph-none-'));
  try {
    const r = await run(process.execPath, [new URL('../../../bin/cairn.js', import.meta.url).pathname, 'ceph', 'up', '--data-dir', empty]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: no Cairn cluster in ${empty}: run 'cairn up --data-dir ${empty}' first\n`);
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
  const zero = await cluster.cairn('ceph', 'up', '--data-dir', cluster.dir, '--osds', '0');
  assert.equal(zero.code, 1);
  assert.match(zero.stderr, /^error: --osds wants a whole number from 3 to 16 .*got "0"\n$/);
  const size = await cluster.cairn('ceph', 'up', '--data-dir', cluster.dir, '--osd-size', '4GB');
  assert.match(size.stderr, /^error: --osd-size wants a size from 1Gi to 1Ti/);
  assert.ok(!existsSync(join(cluster.dir, 'ceph')), 'refused input made nothing');
});

test('cairn ceph up: a healthy cluster, its Secret and StorageClasses', async () => {
  const t0 = Date.now();
  const r = await cluster.cairn('ceph', 'up', '--data-dir', cluster.dir, '--timeout', '300');
  ok(r, 'cairn ceph up');
  console.log(`cairn ceph up took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  assert.match(r.stdout, /is HEALTH_OK: 3\/3 OSDs up/);
  const s = await status();
  assert.equal(s.health, 'HEALTH_OK', JSON.stringify(s.checks));
  assert.deepEqual(s.osds, { total: 3, up: 3, in: 3 });
  assert.deepEqual(s.daemons.map((d) => d.name).sort(), ['mds.node-2', 'mgr.node-1', 'mon.node-1', 'osd.0', 'osd.1', 'osd.2']);
  assert.deepEqual(s.monitors, [`${cluster.underlayPrefix}.11:6789`]);
  for (const p of ['cairn-rbd', 'cairnfs-metadata', 'cairnfs-data']) assert.ok(s.pools.some((x) => x.name === p), `pool ${p}`);
  const rss = await Promise.all(s.daemons.map(async (d) => `${d.name} ${Math.round(Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${d.pid}/status`, 'utf8'))![1]) / 1024)} MiB`));
  console.log(`daemons' RSS: ${rss.join(', ')}`);

  // One OSD per node: the CRUSH hosts are the node names.
  const tree = JSON.parse((await run('ceph', [...admin(s), 'osd', 'tree', '--format', 'json'])).stdout) as { nodes: { type: string; name: string; children?: number[] }[] };
  assert.deepEqual(tree.nodes.filter((n) => n.type === 'host').map((n) => [n.name, n.children?.length]).sort(), [['node-1', 1], ['node-2', 1], ['node-3', 1]]);
  // Only the owner reads the keyrings.
  for (const k of [s.adminKeyring, join(cluster.dir, 'ceph', 'ceph.client.cairn.keyring')]) {
    const mode = (await run('stat', ['-c', '%a', k])).stdout.trim();
    assert.equal(mode, '600', k);
  }
  // The mgr volumes module, as the drivers' least-privilege client.
  const cairnClient = ['-c', s.conf, '-k', join(cluster.dir, 'ceph', 'ceph.client.cairn.keyring'), '--id', 'cairn'];
  ok(await run('ceph', [...cairnClient, 'fs', 'subvolume', 'create', 'cairnfs', 'probe']), 'fs subvolume create as client.cairn');

  const sc = await cluster.json<{ provisioner: string; parameters: Record<string, string>; allowVolumeExpansion: boolean; reclaimPolicy: string }>(['get', 'storageclass', 'ceph-rbd']);
  assert.equal(sc.provisioner, 'cairn.io/ceph-rbd');
  assert.equal(sc.allowVolumeExpansion, true);
  assert.equal(sc.reclaimPolicy, 'Delete');
  assert.deepEqual(sc.parameters, {
    clusterID: s.fsid,
    pool: 'cairn-rbd',
    monitors: s.monitors.join(','),
    'csi.storage.k8s.io/provisioner-secret-name': 'cairn-ceph',
    'csi.storage.k8s.io/provisioner-secret-namespace': 'kube-system',
    'csi.storage.k8s.io/node-stage-secret-name': 'cairn-ceph',
    'csi.storage.k8s.io/node-stage-secret-namespace': 'kube-system',
    'csi.storage.k8s.io/controller-expand-secret-name': 'cairn-ceph',
    'csi.storage.k8s.io/controller-expand-secret-namespace': 'kube-system',
  });
  const fs = await cluster.json<{ provisioner: string; parameters: Record<string, string> }>(['get', 'storageclass', 'cephfs']);
  assert.equal(fs.provisioner, 'cairn.io/cephfs');
  assert.equal(fs.parameters.fsName, 'cairnfs');
  const secret = await cluster.json<{ type: string; data: Record<string, string> }>(['-n', 'kube-system', 'get', 'secret', 'cairn-ceph']);
  assert.equal(secret.type, 'Opaque');
  const dec = (k: string) => Buffer.from(secret.data[k], 'base64').toString();
  assert.equal(dec('userID'), 'cairn');
  assert.equal(dec('adminID'), 'admin');
  assert.match(await readFile(s.adminKeyring, 'utf8'), new RegExp(`key = ${dec('adminKey').replace(/[+/]/g, '\\$&')}`));

  // The cluster by its name, as `cairn up --name` gave it.
  const byName = await cluster.cairn('ceph', 'status', '--name', cluster.name);
  ok(byName, 'cairn ceph status --name');
  assert.match(byName.stdout, new RegExp(`^cluster ${s.fsid}: HEALTH_OK\n`));
  assert.match(byName.stdout, /^osds: 3 total, 3 up, 3 in$/m);

  const again = await cluster.cairn('ceph', 'up', '--data-dir', cluster.dir);
  ok(again, 'cairn ceph up (again)');
  assert.match(again.stdout, new RegExp(`the existing cluster ${s.fsid} is HEALTH_OK`));
  assert.deepEqual((await status()).daemons.map((d) => d.pid).sort(), s.daemons.map((d) => d.pid).sort(), 'no daemon restarted');
});

test('data through rados and ceph-fuse; an OSD stopped and brought back', async () => {
  const s = await status();
  const src = join(cluster.dir, 'obj.in');
  await writeFile(src, 'cairn object\n');
  await rados(s, '-p', 'cairn-rbd', 'put', 'probe', src);
  assert.equal(await rados(s, '-p', 'cairn-rbd', 'get', 'probe', '-'), 'cairn object\n');

  const mnt = join(cluster.dir, 'mnt');
  await mkdir(mnt);
  ok(await run('ceph-fuse', [...admin(s), '--client_fs', 'cairnfs', '--log-file', join(cluster.dir, 'ceph', 'log', 'fuse.log'), mnt]), 'ceph-fuse');
  try {
    await writeFile(join(mnt, 'hello.txt'), 'through cephfs\n');
    assert.equal(await readFile(join(mnt, 'hello.txt'), 'utf8'), 'through cephfs\n');

    // An OSD stops: the cluster is degraded, I/O goes on (size 3, min_size 2).
    const osd = s.daemons.find((d) => d.name === 'osd.1')!;
    process.kill(osd.pid, 'SIGTERM');
    const degraded = await until('osd.1 down', async () => {
      const now = await status();
      return now.osds.up === 2 && now.health !== 'HEALTH_OK' && now;
    }, 60_000, 1000);
    assert.ok('OSD_DOWN' in degraded.checks, JSON.stringify(degraded.checks));
    await writeFile(join(mnt, 'degraded.txt'), 'written while degraded\n');
    await writeFile(src, 'degraded object\n');
    await rados(s, '-p', 'cairn-rbd', 'put', 'probe2', src);
    assert.equal(await rados(s, '-p', 'cairn-rbd', 'get', 'probe2', '-'), 'degraded object\n');

    // The mon marks an OSD down as soon as it starts shutting down; the process itself may hold
    // its data directory's lock a little longer, and a restart before it lets go fails for that
    // reason instead of the one this test makes.
    await until('osd.1 process to exit', () => !existsSync(`/proc/${osd.pid}`), 30_000, 200);

    // An OSD that cannot start: `cairn ceph up` names it and its log.
    const block = join(cluster.dir, 'ceph', 'osd-1', 'block');
    const osdLog = join(cluster.dir, 'ceph', 'log', 'osd.1.log');
    const logBefore = (await readFile(osdLog)).length;
    const osd1Running = async () => (await cephProcesses()).some((p) => /(^|\/)ceph-osd /.test(p.line) && / --id 1 /.test(` ${p.line} `));
    await rename(block, `${block}.away`);
    let failed: ToolResult;
    try {
      failed = await cluster.cairn('ceph', 'up', '--data-dir', cluster.dir, '--timeout', '60');
      // The OSD it started must be gone before its block comes back, or it would start after all.
      await until('the failed osd.1 to be gone', async () => !(await osd1Running()), 60_000, 200);
    } finally {
      await rename(`${block}.away`, block);
    }
    assert.equal(failed.code, 1, failed.stdout);
    assert.match(failed.stderr, new RegExp(`^error: osd\\.1 exited; its log: ${osdLog} \\(last line: `));
    // The log it names says why. Ceph's log thread may not flush its final `osd init failed`
    // before the process exits; the block device's failed open comes earlier and is always there.
    const why = /osd init failed|bdev\(\S+ \S+\/osd-1\/block\) open stat got/;
    await until('osd.1 log to say why', async () => {
      const text = (await readFile(osdLog)).subarray(logBefore).toString('utf8');
      if (why.test(text)) return true;
      throw new Error(`cairn ceph up said ${JSON.stringify(failed.stderr)}; the log since:\n${text.trimEnd().split('\n').slice(-8).join('\n')}`);
    }, 10_000, 500);

    // `cairn ceph up` starts it again and waits until the cluster has recovered.
    const r = await cluster.cairn('ceph', 'up', '--data-dir', cluster.dir);
    ok(r, 'cairn ceph up (restart osd.1)');
    assert.match(r.stdout, /osd\.1 started on node-2/);
    const healed = await status();
    assert.equal(healed.health, 'HEALTH_OK', JSON.stringify(healed.checks));
    assert.deepEqual(healed.osds, { total: 3, up: 3, in: 3 });
    assert.equal(await readFile(join(mnt, 'degraded.txt'), 'utf8'), 'written while degraded\n');
    assert.equal(await rados(s, '-p', 'cairn-rbd', 'get', 'probe', '-'), 'cairn object\n');
  } finally {
    ok(await run('umount', [mnt]), 'umount');
    // ceph-fuse exits once the last reference to its mount is gone, but any process that entered
    // a private mount namespace meanwhile (`ip netns exec`, a container; other tests run
    // alongside) holds a copy: stop the test's own client.
    for (const p of (await cephProcesses()).filter((x) => x.line.startsWith('ceph-fuse'))) process.kill(p.pid, 'SIGTERM');
    await until('ceph-fuse to exit', async () => !(await cephProcesses()).some((p) => p.line.startsWith('ceph-fuse')), 20_000, 200);
  }
});

test('cairn ceph down leaves no process or file; cairn down stops a Ceph cluster too', async () => {
  const r = await cluster.cairn('ceph', 'down', '--data-dir', cluster.dir);
  ok(r, 'cairn ceph down');
  assert.deepEqual(await daemonLines(), []);
  assert.ok(!existsSync(join(cluster.dir, 'ceph')), 'DIR/ceph removed');
  assert.equal((await cluster.kubectl(['get', 'storageclass', 'ceph-rbd'])).code, 1);
  assert.equal((await cluster.kubectl(['-n', 'kube-system', 'get', 'secret', 'cairn-ceph'])).code, 1);
  const st = await cluster.cairn('ceph', 'status', '--data-dir', cluster.dir);
  assert.equal(st.stderr, `error: no Ceph cluster in ${cluster.dir}: run 'cairn ceph up --data-dir ${cluster.dir}'\n`);

  ok(await cluster.cairn('ceph', 'up', '--data-dir', cluster.dir), 'cairn ceph up (again, after down)');
  assert.equal((await daemonLines()).length, 6);
  const down = await cluster.cairn('down', '--data-dir', cluster.dir);
  ok(down, 'cairn down');
  assert.match(down.stdout, /stopped ceph osd\.0/);
  assert.deepEqual(await daemonLines(), []);
});
