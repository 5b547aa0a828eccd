// Loading a topology file: YAML errors, unknown fields and wrong types are rejected with the
// path of the field (all of them at once), and omitted fields get their documented defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { adjacencies, nodeAddress, parseTopology, TopologyLoadError, vtepAddress } from '../../src/fabric/topology.js';
import { fabricSchema } from '../../src/fabric/schema.js';
import { DESIGNS, repoPath } from './fabric-fixtures.js';

const example = readFileSync(repoPath(DESIGNS['switchless-3node-ebgp']), 'utf8');

function loadError(text: string): TopologyLoadError {
  try {
    parseTopology(text, 'fabric.yaml');
  } catch (e) {
    assert.ok(e instanceof TopologyLoadError, String(e));
    return e;
  }
  assert.fail('expected the topology to be rejected');
}

test('unknown fields are rejected with their path, all at once', () => {
  const text = example
    .replace('name: switchless-3node-ebgp', 'name: switchless-3node-ebgp\ncolour: blue')
    .replace('    asn: 65002\n', '    asn: 65002\n    asnn: 65002\n')
    .replace('bgp:\n  scheme: ebgp', 'bgp:\n  scheme: ebgp\n  multipath: true')
    .replace('{ vni: 200, vxlan: vxlan200,', '{ vni: 200, vxlna: x, vxlan: vxlan200,');
  const e = loadError(text);
  assert.deepEqual(
    e.issues.map((i) => `${i.path}: ${i.message}`),
    ['colour: unknown field', 'nodes[1].asnn: unknown field', 'bgp.multipath: unknown field', 'evpn.vnis[1].vxlna: unknown field'],
  );
  assert.equal(e.message.split('\n').length, 1, 'one line');
  assert.match(e.message, /^fabric\.yaml: colour: unknown field; nodes\[1\]\.asnn: unknown field/);
});

test('wrong types and missing required fields name the field', () => {
  const text = example
    .replace('    asn: 65001', '    asn: "65001x"')
    .replace('    loopback: 10.255.0.2\n', '')
    .replace('  hold: 15', '  hold: 15')
    .replace('{ keepalive: 5, hold: 15 }', '{ keepalive: 5, hold: fifteen }')
    .replace('loopback: 10.255.0.3', 'loopback: 10.255.0.300')
    .replace('scheme: ebgp', 'scheme: ospf');
  const e = loadError(text);
  assert.deepEqual(
    e.issues.map((i) => `${i.path}: ${i.message}`),
    [
      'nodes[0].asn: expected an integer, got the string "65001x"',
      'nodes[1].loopback: required field is missing',
      'nodes[2].loopback: expected an IPv4 address such as 10.10.10.1, got the string "10.255.0.300"',
      'bgp.scheme: must be one of "ibgp", "ebgp", got the string "ospf"',
      'bgp.timers.hold: expected an integer, got the string "fifteen"',
    ],
  );
});

test('invalid YAML gives one line with the position', () => {
  const e = loadError('name: x\nnodes: [ { name: a\n');
  assert.equal(e.issues.length, 1);
  assert.match(e.message, /^fabric\.yaml: invalid YAML at line \d+ column \d+: /);
  assert.equal(e.message.split('\n').length, 1);
  assert.match(loadError('name: a\nname: b\n').message, /invalid YAML at line 2 column 1: Map keys must be unique/);
  assert.match(loadError('- just\n- a list\n').message, /^fabric\.yaml: \(top level\): expected a mapping, got a list$/);
});

test('omitted fields get their defaults', () => {
  const minimal = example
    .replace('mtu:\n  underlay: 9000\n  overlay: 1500\n', '')
    .replace('  timers: { keepalive: 5, hold: 15 }\n', '')
    .replace('  vtep: loopback\n', '')
    .replace('    - { network: data, priority: 20 }\n    - { network: vm, priority: 10 }', '    - { network: data }\n    - { network: vm }')
    .replace('    localPreference: 100\n', '')
    .replace('  - name: pve1-pve2\n', '  - ');
  const t = parseTopology(minimal);
  assert.equal(t.target, 'ifupdown2');
  assert.deepEqual(t.mtu, { underlay: 9000, overlay: 1500 });
  assert.deepEqual(t.bgp.timers, { keepalive: 5, hold: 15 });
  assert.equal(t.evpn.vtep, 'loopback');
  assert.deepEqual(t.corosync.links, [{ network: 'data', priority: 20 }, { network: 'vm', priority: 10 }]);
  assert.equal(t.networks[1].localPreference, 100);
  assert.equal(t.links[0].name, 'pve1-pve2');
});

test('helpers: addresses, VTEP and adjacencies', () => {
  const t = parseTopology(example);
  assert.equal(nodeAddress(t, 'pve2', 'vm'), '10.20.20.2');
  assert.equal(nodeAddress(t, 'pve2', 'loopback'), '10.255.0.2');
  assert.equal(nodeAddress(t, 'pve2', 'storage'), undefined);
  assert.equal(vtepAddress(t, 'pve3'), '10.255.0.3');
  assert.deepEqual(
    adjacencies(t, 'pve1').map((a) => `${a.nic}->${a.peer}/${a.peerNic} (${a.link.name})`),
    ['ens19->pve2/ens20 (pve1-pve2)', 'ens20->pve3/ens19 (pve3-pve1)'],
  );
});

test('the published schema is a JSON Schema that forbids unknown fields everywhere', () => {
  const s = JSON.parse(JSON.stringify(fabricSchema));
  assert.equal(s.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.equal(s.additionalProperties, false);
  assert.equal(s.properties.nodes.items.additionalProperties, false);
  assert.equal(s.properties.evpn.properties.vnis.items.properties.vni.maximum, 16_777_215);
  assert.deepEqual(s.properties.bgp.properties.scheme.enum, ['ibgp', 'ebgp']);
});
