// `cairn fabric validate`: one test per class of design problem the issue lists (and the ones
// Cairn adds), each checking the code, the field path and what the message tells the user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateTopology, type Problem, type ProblemCode } from '../../src/fabric/validate.js';
import type { Topology } from '../../src/fabric/topology.js';
import { loadDesign, mesh } from './fabric-fixtures.js';

const ebgp = (): Topology => structuredClone(loadDesign('switchless-3node-ebgp'));
const ibgp = (): Topology => structuredClone(loadDesign('switchless-3node-ibgp'));

/** Asserts a problem with this code at this path whose message matches; returns all problems. */
function expectProblem(t: Topology, code: ProblemCode, path: string, message: RegExp): Problem[] {
  const problems = validateTopology(t);
  const hit = problems.find((p) => p.code === code && p.path === path);
  assert.ok(hit, `expected ${code} at ${path}, got ${JSON.stringify(problems, null, 1)}`);
  assert.match(hit.message, message);
  return problems;
}

test('the shipped designs and the ring fixture are valid', () => {
  for (const name of ['switchless-3node-ibgp', 'switchless-3node-ebgp', 'switchless-5node-ebgp-ring']) assert.deepEqual(validateTopology(loadDesign(name)), []);
});

test('duplicate addresses', () => {
  const t = ebgp();
  t.nodes[2].addresses.vm = '10.20.20.1';
  t.nodes[1].loopback = '10.255.0.1';
  expectProblem(t, 'duplicate-address', 'nodes[2].addresses.vm', /10\.20\.20\.1 is already used by nodes\[0\]\.addresses\.vm/);
  expectProblem(t, 'duplicate-address', 'nodes[1].loopback', /already used by nodes\[0\]\.loopback/);
});

test('out-of-subnet addresses', () => {
  const t = ebgp();
  t.nodes[1].addresses.data = '10.10.11.2';
  t.nodes[0].loopback = '10.254.0.1';
  expectProblem(t, 'address-out-of-subnet', 'nodes[1].addresses.data', /10\.10\.11\.2 is outside network data \(10\.10\.10\.0\/24\)/);
  expectProblem(t, 'address-out-of-subnet', 'nodes[0].loopback', /outside loopbackSubnet 10\.255\.0\.0\/24/);
});

test('subnets with host bits, overlapping subnets, addresses on unknown networks', () => {
  const t = ebgp();
  t.networks[1].subnet = '10.10.10.128/25';
  t.networks[0].subnet = '10.10.10.1/24';
  t.nodes[0].addresses.storage = '10.30.30.1';
  expectProblem(t, 'subnet', 'networks[0].subnet', /host bits set; did you mean 10\.10\.10\.0\/24/);
  expectProblem(t, 'subnet', 'networks[1].subnet', /overlaps networks\[0\]\.subnet/);
  expectProblem(t, 'unknown-reference', 'nodes[0].addresses.storage', /no network "storage"/);
});

test('links whose ends do not match', () => {
  const t = ebgp();
  t.links[0].ends[1].nic = 'ens21';
  t.links[1].ends[0] = { node: 'pve9', nic: 'ens19' };
  t.links[2].ends[1] = { node: 'pve3', nic: 'ens20' };
  expectProblem(t, 'link-ends', 'links[0].ends[1].nic', /node pve2 has no NIC "ens21" \(it has ens19, ens20\)/);
  expectProblem(t, 'link-ends', 'links[1].ends[0].node', /there is no node "pve9"/);
  expectProblem(t, 'link-ends', 'links[2].ends', /both ends are on node pve3/);
  expectProblem(t, 'link-ends', 'nodes[0].nics[1]', /NIC pve1\/ens20 is not the end of any link/);

  const mtu = ebgp();
  mtu.nodes[1].nics[1].mtu = 1600;
  expectProblem(mtu, 'link-ends', 'links[0].ends', /MTUs differ \(9000 on pve1\/ens19, 1600 on pve2\/ens20\)/);

  const twice = ebgp();
  twice.links.push({ name: 'extra', ends: [{ node: 'pve1', nic: 'ens19' }, { node: 'pve3', nic: 'ens19' }] });
  expectProblem(twice, 'link-ends', 'links[3].ends[0]', /pve1\/ens19 is already cabled by links\[0\]\.ends\[0\]/);
});

test('a node not reachable over two links', () => {
  const t = mesh(['a', 'b', 'c', 'd'], [['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd']]);
  expectProblem(t, 'single-homed', 'nodes[3].nics', /node d is on 1 link\(s\); it must be reachable over two links/);
});

test('a mesh that a single link failure would partition', () => {
  // Two triangles joined by one cable: every node has two links, but c-d is a bridge.
  const t = mesh(['a', 'b', 'c', 'd', 'e', 'f'], [['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd'], ['d', 'e'], ['e', 'f'], ['f', 'd']]);
  const problems = expectProblem(t, 'partition', 'links[3]', /losing link c-d would partition the mesh into \{a, b, c\} and \{d, e, f\}/);
  assert.deepEqual(problems.map((p) => p.code), ['partition'], 'only the bridge link is reported');

  const apart = mesh(['a', 'b', 'c', 'd'], [['a', 'b'], ['a', 'b'], ['c', 'd'], ['c', 'd']]);
  expectProblem(apart, 'partition', 'links', /the mesh is not connected: \{a, b\} and \{c, d\}/);
});

test('the static (iBGP) underlay needs a direct link between every pair', () => {
  const ring = mesh(['a', 'b', 'c', 'd'], [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'a']]);
  const t: Topology = { ...ring, bgp: { scheme: 'ibgp', asn: 65000, timers: { keepalive: 5, hold: 15 } }, nodes: ring.nodes.map(({ asn: _asn, ...n }) => n) };
  expectProblem(t, 'static-needs-full-mesh', 'links', /nodes a and c have no direct link/);
});

test('an ASN scheme mixed up', () => {
  const i = ibgp();
  i.nodes[1].asn = 65002;
  expectProblem(i, 'asn-scheme', 'nodes[1].asn', /ibgp scheme uses one AS \(bgp\.asn\)/);
  delete i.bgp.asn;
  expectProblem(i, 'asn-scheme', 'bgp.asn', /needs the cluster's AS/);

  const e = ebgp();
  e.bgp.asn = 65000;
  delete e.nodes[0].asn;
  e.nodes[2].asn = 65002;
  expectProblem(e, 'asn-scheme', 'bgp.asn', /ebgp scheme gives every node its own AS/);
  expectProblem(e, 'asn-scheme', 'nodes[0].asn', /needs an AS for node pve1/);
  expectProblem(e, 'asn-scheme', 'nodes[2].asn', /AS 65002 is also nodes\[1\]'s/);

  const range = ebgp();
  range.nodes[0].asn = 0;
  expectProblem(range, 'asn-range', 'nodes[0].asn', /AS 0 is out of range/);
});

test('BGP timers', () => {
  const t = ebgp();
  t.bgp.timers = { keepalive: 20, hold: 15 };
  expectProblem(t, 'bgp-timers', 'bgp.timers.keepalive', /shorter than the hold time 15 s/);
  t.bgp.timers = { keepalive: 1, hold: 2 };
  expectProblem(t, 'bgp-timers', 'bgp.timers.hold', /0 or at least 3 s/);
});

test('VNIs duplicated or out of range', () => {
  const t = ebgp();
  t.evpn.vnis[1].vni = 100;
  t.evpn.vnis.push({ vni: 16_777_216, vxlan: 'vxlan300', bridge: 'vmbr300' }, { vni: 0, vxlan: 'vxlan0', bridge: 'vmbr0' });
  expectProblem(t, 'vni-duplicate', 'evpn.vnis[1].vni', /VNI 100 is also evpn\.vnis\[0\]'s/);
  expectProblem(t, 'vni-range', 'evpn.vnis[2].vni', /VNI 16777216 is out of range \(1-16777215, 24 bits\)/);
  expectProblem(t, 'vni-range', 'evpn.vnis[3].vni', /VNI 0 is out of range/);
});

test('a VTEP network that does not exist, or a node without a VTEP address', () => {
  const t = ibgp();
  delete t.nodes[2].addresses.vm;
  expectProblem(t, 'vtep', 'nodes[2].addresses', /no address on network vm, which carries the VXLAN tunnels/);
  t.evpn.vtep = 'tunnels';
  expectProblem(t, 'unknown-reference', 'evpn.vtep', /"tunnels" is neither "loopback" nor a network/);
});

test('an MTU under the VXLAN overhead of the overlay MTU', () => {
  const t = ebgp();
  t.mtu = { underlay: 1500, overlay: 1500 };
  expectProblem(t, 'mtu', 'mtu.underlay', /underlay MTU 1500 leaves no room for VXLAN: the overlay MTU 1500 plus 50 bytes needs at least 1550/);

  const nic = ebgp();
  nic.mtu = { underlay: 9000, overlay: 8950 };
  nic.nodes[0].nics[0].mtu = 8999;
  nic.nodes[1].nics[1].mtu = 8999;
  expectProblem(nic, 'mtu', 'nodes[0].nics[0].mtu', /MTU 8999 on pve1\/ens19 leaves no room for VXLAN/);
  assert.deepEqual(validateTopology({ ...nic, mtu: { underlay: 9000, overlay: 8949 } }), [], '8949 + 50 fits');
});

test('names that ifupdown2 rejects', () => {
  const t = ebgp();
  t.nodes[0].nics[0].name = 'ens19.100';
  t.links[0].ends[0].nic = 'ens19.100';
  t.evpn.vnis[0].bridge = 'bridge-for-vm-100';
  t.evpn.vnis[1].vxlan = 'lo';
  expectProblem(t, 'interface-name', 'nodes[0].nics[0].name', /not a valid interface name for ifupdown2/);
  expectProblem(t, 'interface-name', 'evpn.vnis[0].bridge', /"bridge-for-vm-100" is not a valid interface name/);
  expectProblem(t, 'interface-name', 'evpn.vnis[1].vxlan', /"lo" is reserved/);
});

test("Proxmox's rule for VXLAN interface names, only when that target is chosen", () => {
  const t = ebgp();
  assert.deepEqual(validateTopology({ ...t, target: 'ifupdown2' }), []);
  t.target = 'proxmox';
  expectProblem(t, 'interface-name', 'evpn.vnis[0].vxlan', /with target proxmox, VXLAN interface names must start with "en" and end with a number/);
  t.evpn.vnis = [{ vni: 100, vxlan: 'envx100', bridge: 'vmbr100' }];
  assert.deepEqual(validateTopology(t), []);
});

test('host and network names, duplicate names', () => {
  const t = ebgp();
  t.nodes[1].name = 'pve_2';
  t.networks[1].name = 'loopback';
  t.evpn.vnis[1].bridge = 'vmbr100';
  t.nodes[0].nics.push({ name: 'ens19' });
  expectProblem(t, 'name', 'nodes[1].name', /"pve_2" is not a valid host name/);
  expectProblem(t, 'name', 'networks[1].name', /"loopback" is reserved/);
  expectProblem(t, 'duplicate-name', 'evpn.vnis[1].bridge', /"vmbr100" is already used by evpn\.vnis\[0\]\.bridge/);
  expectProblem(t, 'duplicate-name', 'nodes[0].nics[2].name', /NIC "ens19" is declared twice on pve1/);
});

test('a Ceph monitor on a node without a storage-network address', () => {
  const t = ebgp();
  t.nodes.push({ ...structuredClone(t.nodes[0]), name: 'pve4', loopback: '10.255.0.4', asn: 65004, addresses: { vm: '10.20.20.4' }, nics: [] });
  t.corosync.links = [{ network: 'vm', priority: 10 }];
  // pve4 is a compute node on the VM network only; it is cabled to two nodes.
  t.nodes[3].nics = [{ name: 'ens19' }, { name: 'ens20' }];
  t.nodes[0].nics.push({ name: 'ens21' });
  t.nodes[1].nics.push({ name: 'ens21' });
  t.links.push({ name: 'pve4-pve1', ends: [{ node: 'pve4', nic: 'ens19' }, { node: 'pve1', nic: 'ens21' }] }, { name: 'pve4-pve2', ends: [{ node: 'pve4', nic: 'ens20' }, { node: 'pve2', nic: 'ens21' }] });
  assert.deepEqual(validateTopology(t), [], 'a node off the storage network is fine');
  t.ceph.monitors.push('pve4', 'pve7');
  expectProblem(t, 'ceph-monitor', 'ceph.monitors[3]', /monitor pve4 has no address on the storage \(public\) network data/);
  expectProblem(t, 'ceph-monitor', 'ceph.monitors[4]', /there is no node "pve7"/);
  t.ceph.clusterNetwork = 'replication';
  expectProblem(t, 'ceph-network', 'ceph.clusterNetwork', /there is no network "replication"/);
});

test('corosync links on networks that do not exist, or that a node is not on', () => {
  const t = ebgp();
  t.corosync.links[1].network = 'ring1';
  expectProblem(t, 'corosync-network', 'corosync.links[1].network', /there is no network "ring1" in networks \(data, vm\)/);
  t.corosync.links[1].network = 'data';
  expectProblem(t, 'corosync-network', 'corosync.links[1].network', /links 0 and 1 both use network data/);
  delete t.nodes[2].addresses.data;
  expectProblem(t, 'corosync-network', 'nodes[2].addresses', /node pve3 has no address on network data, which carries corosync link 0/);
});

test('every problem is reported at once', () => {
  const t = ebgp();
  t.nodes[2].addresses.vm = '10.20.20.1';
  t.evpn.vnis[0].vni = 0;
  t.mtu.underlay = 1400;
  t.ceph.publicNetwork = 'storage';
  t.corosync.links[0].network = 'ring0';
  const codes = new Set(validateTopology(t).map((p) => p.code));
  for (const c of ['duplicate-address', 'vni-range', 'mtu', 'ceph-network', 'corosync-network'] as const) assert.ok(codes.has(c), `missing ${c}`);
});
