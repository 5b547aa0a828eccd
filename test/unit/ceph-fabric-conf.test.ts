// `cairn ceph up` on a `cairn up --fabric` cluster takes its fsid, networks and monitors from the
// topology kept in the data dir: the ceph.conf it writes carries the [global] and [mon.*] values
// `cairn fabric render` writes for every node, plus its own daemons' settings.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { renderClusterConf } from '../../src/ceph/conf.js';
import { CephLayout } from '../../src/ceph/layout.js';
import { ClusterLayout, DEFAULT_SPEC } from '../../src/cluster/layout.js';
import { renderCeph } from '../../src/fabric/render/ceph.js';
import { loadTopology } from '../../src/fabric/topology.js';

const EXAMPLES = new URL('../../../examples/fabric/', import.meta.url).pathname;
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** A cluster made with `--fabric` on an example: its data dir holds the copy of the topology. */
async function onFabric(example: string): Promise<CephLayout> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-ceph-fabric-unit-'));
  dirs.push(dir);
  await copyFile(join(EXAMPLES, example), join(dir, 'fabric.yaml'));
  return CephLayout.of(new ClusterLayout(dir, { ...DEFAULT_SPEC, name: 'x', underlayCidr: '172.28.5.0/24', fabric: join(EXAMPLES, example) }));
}

function entries(conf: string, section: string): Record<string, string> | undefined {
  const body = conf.split(/^\[/m).find((s) => s.startsWith(`${section}]`));
  return body === undefined ? undefined : Object.fromEntries(body.split('\n').slice(1).filter((l) => l.includes(' = ')).map((l) => l.trim().split(' = ') as [string, string]));
}

test("on a fabric the monitors are the topology's, on its public network", async () => {
  const l = await onFabric('switchless-3node-ebgp.yaml');
  assert.deepEqual(
    l.mons.map((m) => [m.id, l.netns(m)]),
    [1, 2, 3].map((n) => [`pve${n}`, `cairn-x-node-${n}`]),
  );
  assert.deepEqual(l.monitors, ['10.10.10.1:6789', '10.10.10.2:6789', '10.10.10.3:6789']);
  assert.equal(l.networks.fsid, '0b4f3c1e-8a7d-4e52-a1c9-3e6f2d9b7c40');
});

test("the conf's [global] and [mon.*] are what cairn fabric render writes", async () => {
  const l = await onFabric('switchless-3node-ebgp.yaml');
  const t = await loadTopology(join(EXAMPLES, 'switchless-3node-ebgp.yaml'));
  const conf = renderClusterConf(l, { fsid: l.networks.fsid!, osdSizeBytes: 2 ** 30, osdHosts: 3 });
  const rendered = renderCeph(t, 'pve2');
  for (const [k, v] of Object.entries(entries(rendered, 'global')!)) assert.equal(entries(conf, 'global')![k], v, k);
  for (const n of [1, 2, 3]) assert.deepEqual(entries(conf, `mon.pve${n}`), entries(rendered, `mon.pve${n}`));
  assert.equal(entries(conf, 'global')!.cluster_network, '10.20.20.0/24');
  // Replication leaves from the cluster network's address, not the fabric NIC's first (public) one.
  assert.equal(entries(conf, 'osd')!.ms_bind_before_connect, 'true');
});

test('with one network for both sides (and without a fabric) OSDs connect as the kernel routes', async () => {
  const l = await onFabric('switchless-3node-ibgp.yaml');
  assert.equal(entries(renderClusterConf(l, { fsid: l.networks.fsid!, osdSizeBytes: 2 ** 30, osdHosts: 3 }), 'osd')!.ms_bind_before_connect, undefined);
  const plain = new CephLayout(new ClusterLayout('/d', { ...DEFAULT_SPEC, name: 'x', underlayCidr: '172.28.5.0/24' }));
  assert.equal(entries(renderClusterConf(plain, { fsid: 'f', osdSizeBytes: 2 ** 30, osdHosts: 3 }), 'osd')!.ms_bind_before_connect, undefined);
  assert.deepEqual(plain.monitors, ['172.28.5.11:6789']);
});
