// The ceph.conf `cairn ceph up` writes (through the fabric's renderer) and how Cairn recognises
// its Ceph daemons' processes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { daemonArgv, parseDaemonArgv } from '../../src/ceph/ceph-cli.js';
import { renderClusterConf } from '../../src/ceph/conf.js';
import { CephLayout } from '../../src/ceph/layout.js';
import { ClusterLayout, DEFAULT_SPEC } from '../../src/cluster/layout.js';

const layout = (nodes: number) => new CephLayout(new ClusterLayout('/d', { ...DEFAULT_SPEC, name: 'x', nodes, underlayCidr: '172.28.5.0/24' }));
const FSID = '0c8f5e8e-6a0a-4f3b-9d8e-3f2d1c0b9a87';

function entries(conf: string, section: string): Record<string, string> {
  const body = conf.split(/^\[/m).find((s) => s.startsWith(`${section}]`))!;
  return Object.fromEntries(body.split('\n').slice(1).filter((l) => l.includes(' = ')).map((l) => l.trim().split(' = ') as [string, string]));
}

test('the conf binds the mon on node-1 and keeps every file under DIR/ceph', () => {
  const conf = renderClusterConf(layout(3), { fsid: FSID, osdSizeBytes: 4 * 2 ** 30, osdHosts: 3 });
  const g = entries(conf, 'global');
  assert.equal(g.fsid, FSID);
  assert.equal(g.mon_host, '172.28.5.11');
  assert.equal(g.public_network, '172.28.5.0/24');
  assert.equal(g.auth_cluster_required, 'cephx');
  assert.equal(g.osd_pool_default_size, '3');
  assert.equal(g.osd_pool_default_min_size, '2');
  assert.equal(g.osd_crush_chooseleaf_type, '1');
  assert.deepEqual(entries(conf, 'mon.node-1'), { mon_addr: '172.28.5.11', public_addr: '172.28.5.11', public_bind_addr: '172.28.5.11' });
  const osd = entries(conf, 'osd');
  assert.equal(osd.osd_data, '/d/ceph/osd-$id');
  assert.equal(osd.keyring, '$osd_data/keyring');
  assert.equal(osd.bluestore_block_size, String(4 * 2 ** 30));
  for (const [k, v] of Object.entries({ ...g, ...osd, ...entries(conf, 'mon'), ...entries(conf, 'mgr'), ...entries(conf, 'mds') }))
    if (v.startsWith('/')) assert.ok(v.startsWith('/d/ceph/'), `${k} = ${v}`);
});

test('with fewer hosts than replicas the failure domain is the OSD', () => {
  assert.equal(entries(renderClusterConf(layout(2), { fsid: FSID, osdSizeBytes: 2 ** 30, osdHosts: 2 }), 'global').osd_crush_chooseleaf_type, '0');
});

test('daemons are placed round robin over the nodes', () => {
  const l = layout(2);
  assert.deepEqual([0, 1, 2].map((i) => l.netns(l.osd(i))), ['cairn-x-node-1', 'cairn-x-node-2', 'cairn-x-node-1']);
  assert.equal(l.mds.id, 'node-2');
  assert.equal(layout(1).mds.id, 'node-1');
});

test("a daemon's argv is recognised, also before nsenter has exec'd it", () => {
  const argv = daemonArgv('osd', '2', '/d/ceph/ceph.conf');
  assert.deepEqual(parseDaemonArgv(argv), { type: 'osd', id: '2', conf: '/d/ceph/ceph.conf' });
  assert.deepEqual(parseDaemonArgv(['nsenter', '--net=/run/netns/cairn-x-node-1', '--', ...argv]), { type: 'osd', id: '2', conf: '/d/ceph/ceph.conf' });
  assert.equal(parseDaemonArgv(['ceph-fuse', '--conf', '/d/ceph/ceph.conf', '/mnt']), undefined);
  assert.equal(parseDaemonArgv(['/usr/bin/ceph-osd', '--id', '2', '--conf', '/d/ceph/ceph.conf']), undefined, 'not started by Cairn (no -f)');
});
