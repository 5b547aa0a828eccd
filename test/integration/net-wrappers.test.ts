// The ip and nft wrappers against the real kernel, inside namespaces this test makes: typed
// errors, idempotent helpers, an nft chain/set/map synced and listed, and pod-network garbage
// collection after a simulated agent restart (leaked addresses, namespaces and veths).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ip, netns, ExistsError, NotFoundError, IpError } from '../../src/net/ip.js';
import { Nft, nv, rule } from '../../src/net/nft.js';
import { Lab } from '../../src/net/lab.js';
import { Overlay } from '../../src/net/overlay.js';
import { Ipam } from '../../src/net/ipam.js';
import { PodNetwork, hostVethName } from '../../src/net/pod-network.js';
import { requireNetTools, runClusterName, snapshotCairn, added, type HostSnapshot } from '../support/net-lab.js';

const cluster = runClusterName();
const lab = new Lab({ cluster });
let before0: HostSnapshot;
let dir: string;

before(async () => {
  requireNetTools();
  before0 = await snapshotCairn();
  dir = await mkdtemp(join(tmpdir(), 'cairn-netw-'));
});
after(async () => {
  await lab.teardown();
  await rm(dir, { recursive: true, force: true });
  assert.deepEqual(added(before0, await snapshotCairn(), cluster), { netns: [], links: [], nftTables: [] });
});

test('ip: typed errors and idempotent helpers', async () => {
  const ns = `${lab.prefix}scratch`;
  await netns.add(ns);
  await assert.rejects(netns.add(ns), ExistsError);
  assert.equal(await netns.ensure(ns), false);
  const ip = Ip.ns(ns);
  await assert.rejects(ip.deleteLink('nope0'), NotFoundError);
  assert.equal(await ip.link('nope0'), undefined);
  assert.equal(await ip.ensureBridge('br-x', { mtu: 1400 }), true);
  assert.equal(await ip.ensureBridge('br-x', { mtu: 1400 }), false);
  assert.equal((await ip.link('br-x'))?.mtu, 1400);
  await assert.rejects(ip.addBridge('br-x'), ExistsError);
  assert.equal(await ip.ensureAddr('br-x', '10.9.0.1/24'), true);
  assert.equal(await ip.ensureAddr('br-x', '10.9.0.1/24'), false);
  await ip.addVeth('ve-a', { name: 've-b' }, { mtu: 1400 });
  await ip.setLink('ve-a', { master: 'br-x', up: true });
  assert.equal((await ip.link('ve-a'))?.master, 'br-x');
  await ip.setLink('ve-a', { master: null });
  assert.equal((await ip.link('ve-a'))?.master, undefined);
  await ip.replaceRoute({ dst: '10.10.0.0/16', via: '10.9.0.254', dev: 'br-x', onlink: true });
  await ip.replaceRoute({ dst: '10.10.0.0/16', via: '10.9.0.253', dev: 'br-x', onlink: true });
  assert.deepEqual((await ip.routes({ dev: 'br-x' })).filter((r) => r.dst === '10.10.0.0/16').map((r) => r.gateway), ['10.9.0.253']);
  await assert.rejects(ip.delRoute({ dst: '10.11.0.0/16', dev: 'br-x' }), NotFoundError);
  assert.equal(await ip.removeRoute({ dst: '10.10.0.0/16', dev: 'br-x' }), true);
  await ip.sysctl('net.ipv4.conf.all.rp_filter', 2);
  assert.equal(await ip.readSysctl('net.ipv4.conf.all.rp_filter'), '2');
  const e = await ip.exec(['sh', '-c', 'exit 3']).catch((x: unknown) => x);
  assert.ok(e instanceof IpError && e.code === 3);
  await ip.ensureVxlan('vx-t', { vni: 42, local: '10.9.0.1', dstport: 4789 });
  await ip.fdbAppend({ mac: '00:00:00:00:00:00', dev: 'vx-t', dst: '10.9.0.7' });
  await ip.fdbAppend({ mac: '00:00:00:00:00:00', dev: 'vx-t', dst: '10.9.0.8' });
  assert.deepEqual((await ip.fdb('vx-t')).filter((f) => f.mac === '00:00:00:00:00:00').map((f) => f.dst).sort(), ['10.9.0.7', '10.9.0.8']);
  assert.equal(await ip.removeFdb({ mac: '00:00:00:00:00:00', dev: 'vx-t', dst: '10.9.0.7' }), true);
  assert.equal(await ip.removeFdb({ mac: '00:00:00:00:00:00', dev: 'vx-t', dst: '10.9.0.7' }), false);
  // Changing a VXLAN parameter recreates the device.
  assert.equal(await ip.ensureVxlan('vx-t', { vni: 42, local: '10.9.0.1', dstport: 4789 }), false);
  assert.equal(await ip.ensureVxlan('vx-t', { vni: 43, local: '10.9.0.1', dstport: 4789 }), true);
  assert.equal((await ip.link('vx-t'))?.linkinfo?.info_data?.['id'], 43);
});

test('nft: chains, sets and maps synced atomically in a namespace', async () => {
  const ns = `${lab.prefix}scratch`;
  const nft = new Nft({ netns: ns });
  await nft.syncSet({ name: 'blocked-addrs', type: 'ipv4_addr', flags: ['interval'] }, [nv.cidr('192.0.2.0/24'), nv.ip('198.51.100.7')]);
  await nft.syncChain({ name: 'fwd-filter', base: { type: 'filter', hook: 'forward', priority: 'filter' } }, [
    rule`ip daddr ${nv.set('blocked-addrs')} drop`,
    rule`iifname ${nv.iface('br-x')} tcp dport ${nv.port(22)} drop`,
  ]);
  await nft.syncMap({ name: 'port-jumps', type: 'inet_service', valueType: 'verdict' }, [[nv.port(80), nv.verdict('accept')]]);
  let st = await nft.list();
  assert.equal(st?.rules.filter((r) => r.chain === 'fwd-filter').length, 2);
  assert.equal(st?.sets.find((s) => s.name === 'blocked-addrs')?.elem.length, 2);
  assert.equal(st?.maps.find((s) => s.name === 'port-jumps')?.map, 'verdict');
  // Re-sync replaces, it does not append.
  await nft.syncChain({ name: 'fwd-filter', base: { type: 'filter', hook: 'forward', priority: 'filter' } }, [rule`ip daddr ${nv.set('blocked-addrs')} drop`]);
  st = await nft.list();
  assert.equal(st?.rules.filter((r) => r.chain === 'fwd-filter').length, 1);
  // A failing transaction changes nothing.
  const s = nft.script().flushChain('fwd-filter').addRule('fwd-filter', rule`ip daddr ${nv.set('no-such-set')} drop`);
  await assert.rejects(nft.apply(s));
  assert.equal((await nft.list())?.rules.filter((r) => r.chain === 'fwd-filter').length, 1);
  assert.ok((await nft.listTables()).some((t) => t.name === 'cairn'));
  assert.equal(await nft.removeTable(), true);
  assert.equal(await nft.removeTable(), false);
  assert.equal(await nft.list(), undefined);
});

test('pod network gc after a restart: leaked addresses, namespaces and veths go, live pods stay', async () => {
  const node = await lab.addNode(1);
  const overlay = new Overlay({ node: node.ip, podCidr: '10.244.1.0/24', clusterCidr: '10.244.0.0/16', underlayIP: node.underlayIP, underlayDev: node.underlayDev });
  const { mtu } = await overlay.setup();
  const ipamDir = join(dir, 'ipam');
  let ipam = await Ipam.open({ dir: ipamDir, subnet: '10.244.1.0/24' });
  let pn = new PodNetwork({ node: node.ip, ipam, mtu, netnsPrefix: lab.podNetnsPrefix });
  const live = await pn.setup({ id: 'aaaa1111-live' });
  const dead = await pn.setup({ id: 'bbbb2222-dead' });
  await ipam.allocate('cccc3333-never-made'); // crash between allocation and sandbox creation
  // "Agent restart": fresh objects over the same state; only 'aaaa1111-live' is still wanted.
  ipam = await Ipam.open({ dir: ipamDir, subnet: '10.244.1.0/24' });
  pn = new PodNetwork({ node: node.ip, ipam, mtu, netnsPrefix: lab.podNetnsPrefix });
  const gc = await pn.gc(['aaaa1111-live']);
  assert.deepEqual(gc.addresses.sort(), [dead.podIP, '10.244.1.4'].sort());
  assert.deepEqual(gc.netns, [dead.netns]);
  assert.equal(await node.ip.link(hostVethName('bbbb2222-dead')), undefined);
  assert.equal((await pn.status({ id: 'aaaa1111-live' }))?.podIP, live.podIP);
  assert.deepEqual(ipam.list().map((a) => a.id), ['aaaa1111-live']);
  // Setup after a partial failure: the namespace exists but eth0 is gone — rebuilt in place.
  await Ip.ns(live.netns).deleteLink('eth0');
  const again = await pn.setup({ id: 'aaaa1111-live' });
  assert.equal(again.podIP, live.podIP);
  assert.ok(await node.ip.link(again.hostVeth));
});
