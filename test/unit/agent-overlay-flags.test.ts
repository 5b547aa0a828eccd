// `cairn agent` overlay flags (`cairn up --fabric` passes them): the default overlay, the EVPN
// mode with the node's VTEP and pod MTU, and one line naming the flag for each mistake.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAgentFlags } from '../../src/cli/commands/agent.js';
import { CliError } from '../../src/cli/errors.js';

const base = { kubeconfig: '/k', 'node-name': 'node-1', 'hostname-override': 'node-1' };

test('the default overlay is vxlan, its VTEP the internal IP, its MTU from the underlay', () => {
  const f = parseAgentFlags(base);
  assert.equal(f.overlay, 'vxlan');
  assert.equal(f.vtepIP, undefined);
  assert.equal(f.podMtu, undefined);
});

test('evpn with the node VTEP and pod MTU', () => {
  const f = parseAgentFlags({ ...base, overlay: 'evpn', 'vtep-ip': '10.20.20.1', 'pod-mtu': '8950' });
  assert.deepEqual([f.overlay, f.vtepIP, f.podMtu], ['evpn', '10.20.20.1', 8950]);
});

test('each mistake is one line naming the flag', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ ...base, overlay: 'flannel' }, /^--overlay wants one of vxlan, evpn, got "flannel"$/],
    [{ ...base, 'vtep-ip': '10.20.20' }, /^--vtep-ip wants an IPv4 address/],
    [{ ...base, 'pod-mtu': '60' }, /^--pod-mtu wants a whole number of at least 68/],
  ];
  for (const [v, re] of bad) assert.throws(() => parseAgentFlags(v as never), (e: unknown) => e instanceof CliError && re.test(e.message));
});
