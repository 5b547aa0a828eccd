// The lab's reading of rendered interfaces files: what `ifup -a` would bring up, in which order
// and with which settings; anything it cannot apply is refused with the line, never skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadTopology } from '../../src/fabric/topology.js';
import { renderNode } from '../../src/fabric/render.js';
import { planInterfaces } from '../../src/fabric/lab/apply-interfaces.js';
import { withGuestPortsCondoned } from '../../src/fabric/lab/check-ifquery.js';
import { InterfacesError } from '../../src/fabric/lab/errors.js';

const EXAMPLES = new URL('../../../examples/fabric/', import.meta.url).pathname;
const NICS = new Set(['lo', 'ens19', 'ens20']);

test('the rendered interfaces of the iBGP example plan as loopback, NICs, VXLAN devices, bridges', async () => {
  const t = await loadTopology(join(EXAMPLES, 'switchless-3node-ibgp.yaml'));
  const plan = planInterfaces(renderNode(t, 'pve1').interfaces, NICS);
  assert.deepEqual(
    plan.map((p) => [p.name, p.kind]),
    [
      ['lo', 'loopback'],
      ['ens19', 'nic'],
      ['ens20', 'nic'],
      ['vxlan100', 'vxlan'],
      ['vxlan200', 'vxlan'],
      ['vmbr100', 'bridge'],
      ['vmbr200', 'bridge'],
    ],
  );
  const ens19 = plan.find((p) => p.name === 'ens19')!;
  assert.deepEqual(ens19.addresses, ['10.10.10.1/32', '10.20.20.1/32']);
  assert.equal(ens19.mtu, 9000);
  const vx = plan.find((p) => p.name === 'vxlan100')!;
  assert.deepEqual(vx.vxlan, { vni: 100, local: '10.20.20.1', learning: false, port: 4789 });
  assert.deepEqual(vx.port, { learning: false });
  assert.equal(vx.mtu, 8950);
  assert.deepEqual(plan.find((p) => p.name === 'vmbr100')!.bridge, { ports: ['vxlan100'], stp: false, forwardDelay: 0 });
});

test('only auto interfaces and their bridge ports are planned, as with ifup -a', () => {
  const text = ['auto br0', 'iface br0', '    bridge-ports ens19', '', 'iface ens20 inet static', '    address 10.0.0.1/32', ''].join('\n');
  const plan = planInterfaces(text, NICS);
  assert.deepEqual(
    plan.map((p) => p.name),
    ['ens19', 'br0'],
  );
});

test('what the lab cannot apply is refused with its line', () => {
  const cases: [string, RegExp][] = [
    ['auto ens19\niface ens19 inet static\n    post-up ip route add 10.0.0.0/8 dev ens19\n', /interfaces line 3: attribute "post-up" is not one the lab can apply/],
    ['auto ens19\niface ens19 inet static\n    mtu 99999\n', /interfaces line 3: expected a number 68–65535, got "99999"/],
    ['auto eth7\niface eth7 inet static\n    address 10.0.0.1/32\n', /interfaces line 2: eth7 is not a NIC of this node and has no vxlan-id or bridge-ports/],
    ['auto br0\niface br0\n    bridge-ports ens19\n    bridge-vlan-aware yes\n', /line 4: VLAN-aware bridges are not supported by the lab/],
    ['    address 10.0.0.1/32\n', /interfaces line 1: attribute "address" outside an iface stanza/],
    ['mapping eth0\n', /interfaces line 1: unsupported statement "mapping"/],
    ['auto ens19\niface ens19\niface ens19\n', /interfaces line 3: interface ens19 is defined twice/],
  ];
  for (const [text, message] of cases) assert.throws(() => planInterfaces(text, NICS), (e: unknown) => e instanceof InterfacesError && message.test(e.message), text);
});

test('ifquery checks the rendered file with only the guest ports condoned', async () => {
  const t = await loadTopology(join(EXAMPLES, 'switchless-3node-ebgp.yaml'));
  const rendered = renderNode(t, 'pve2').interfaces;
  const checked = withGuestPortsCondoned(rendered);
  assert.equal(new Set(checked.split('\n').filter((l) => !rendered.split('\n').includes(l))).size, 1, 'one distinct added line');
  assert.equal(checked.match(/^ {4}bridge-ports-condone-regex \^gst\[0-9\]\+\$$/gm)?.length, t.evpn.vnis.length);
  assert.equal(checked.replace(/^ {4}bridge-ports-condone-regex .*\n/gm, ''), rendered);
});
