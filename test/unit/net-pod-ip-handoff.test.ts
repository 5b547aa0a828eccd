// Pod IP handoff, the pure parts (no root needed): the Node annotation, who holds an address,
// the /32 routes and proxy-ARP addresses each node derives, IPAM reservation, the agent's
// check of the pod, and the admission plugin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ipam } from '../../src/net/ipam.js';
import {
  formatHandoffs,
  handoffHolders,
  handoffRoutes,
  listedAddresses,
  parseHandoffs,
  proxyArpAddresses,
  type NodeHandoffs,
} from '../../src/net/pod-ip-handoff.js';
import { handoffIPOf, handoffTable, PodIpHandoffError } from '../../src/agent/pod-ip-handoff.js';
import { podIpHandoffAdmission } from '../../src/api/admission/pod-ip-handoff.js';
import { ApiError } from '../../src/api/errors.js';
import type { AdmissionAttributes } from '../../src/registry/hooks.js';
import type { KindDefinition } from '../../src/kinds/types.js';
import type { KubeObject } from '../../src/util/object.js';
import type { Pod } from '../../src/agent/pods/api-types.js';

const ANN = 'cairn.io/pod-ip-handoff';
const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:01:00.000Z';

const nodes = (...n: NodeHandoffs[]) => n;

test('the annotation round-trips, sorted, and malformed entries are dropped', () => {
  const text = formatHandoffs([
    { ip: '10.244.1.9', podUid: 'b', since: T1 },
    { ip: '10.244.1.5', podUid: 'a', since: T0 },
  ]);
  assert.equal(text, `[{"ip":"10.244.1.5","podUid":"a","since":"${T0}"},{"ip":"10.244.1.9","podUid":"b","since":"${T1}"}]`);
  assert.deepEqual(parseHandoffs(text).map((e) => e.ip), ['10.244.1.5', '10.244.1.9']);
  assert.equal(formatHandoffs([]), undefined);
  assert.deepEqual(parseHandoffs(undefined), []);
  assert.deepEqual(parseHandoffs('not json'), []);
  assert.deepEqual(parseHandoffs('{"ip":"10.0.0.1"}'), []);
  assert.deepEqual(
    parseHandoffs(JSON.stringify([{ ip: '10.0.0.300', podUid: 'x', since: T0 }, { ip: '10.0.0.2', podUid: 'y', since: 'yesterday' }, { ip: '10.0.0.3', podUid: 'z', since: T0 }])),
    [{ ip: '10.0.0.3', podUid: 'z', since: T0 }],
  );
});

test('the latest since holds an address; every other node routes its /32 toward the holder', () => {
  const n = nodes(
    { node: 'node-1', podCidr: '10.244.1.0/24', handoffs: [] },
    { node: 'node-2', podCidr: '10.244.2.0/24', handoffs: [{ ip: '10.244.1.5', podUid: 'b', since: T0 }] },
    { node: 'node-3', podCidr: '10.244.3.0/24', handoffs: [{ ip: '10.244.1.5', podUid: 'c', since: T1 }] },
  );
  const holders = handoffHolders(n);
  assert.equal(holders.get('10.244.1.5')?.node, 'node-3');
  assert.equal(holders.get('10.244.1.5')?.podUid, 'c');
  assert.deepEqual(handoffRoutes('node-1', holders), [{ ip: '10.244.1.5', holderPodCidr: '10.244.3.0/24' }]);
  // The node it moved away from routes to the newer holder too.
  assert.deepEqual(handoffRoutes('node-2', holders), [{ ip: '10.244.1.5', holderPodCidr: '10.244.3.0/24' }]);
  assert.deepEqual(handoffRoutes('node-3', holders), []);
  // Equal times: the first node by name, on every node alike.
  const tie = handoffHolders(nodes({ node: 'b', podCidr: '10.244.2.0/24', handoffs: [{ ip: '10.244.1.5', podUid: 'x', since: T0 }] }, { node: 'a', podCidr: '10.244.3.0/24', handoffs: [{ ip: '10.244.1.5', podUid: 'y', since: T0 }] }));
  assert.equal(tie.get('10.244.1.5')?.node, 'a');
  // A holder without a podCIDR yet gets no route.
  assert.deepEqual(handoffRoutes('node-1', handoffHolders(nodes({ node: 'node-9', handoffs: [{ ip: '10.244.1.5', podUid: 'x', since: T0 }] }))), []);
});

test('proxy ARP: the node owning the subnet, and in EVPN mode the holder', () => {
  const holders = handoffHolders(
    nodes(
      { node: 'node-1', podCidr: '10.244.1.0/24', handoffs: [] },
      { node: 'node-2', podCidr: '10.244.2.0/24', handoffs: [{ ip: '10.244.1.5', podUid: 'b', since: T0 }] },
    ),
  );
  assert.deepEqual(proxyArpAddresses('node-1', '10.244.1.0/24', holders, false), ['10.244.1.5']);
  assert.deepEqual(proxyArpAddresses('node-2', '10.244.2.0/24', holders, false), []);
  assert.deepEqual(proxyArpAddresses('node-2', '10.244.2.0/24', holders, true), ['10.244.1.5']);
  assert.deepEqual(proxyArpAddresses('node-3', '10.244.3.0/24', holders, true), []);
});

test('handoffTable reads podCIDRs and annotations from Node objects', () => {
  const node = (name: string, podCIDR: string, ann?: string): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, annotations: ann ? { 'cairn.io/pod-ip-handoffs': ann } : {} }, spec: { podCIDR } });
  const t = handoffTable([node('node-1', '10.244.1.0/24'), node('node-2', '10.244.2.0/24', formatHandoffs([{ ip: '10.244.1.5', podUid: 'b', since: T0 }]))]);
  assert.equal(t.holders.get('10.244.1.5')?.podCidr, '10.244.2.0/24');
  assert.deepEqual([...listedAddresses(t.nodes)], ['10.244.1.5']);
});

test('IPAM never hands out a reserved address, and does once it is no longer listed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-ipam-handoff-'));
  try {
    const reserved = new Set(['10.244.7.2', '10.244.7.3']);
    const ipam = await Ipam.open({ dir, subnet: '10.244.7.0/30', reserved: () => reserved });
    // A /30 has .1 (gateway) and .2 as hosts: .2 is reserved, so nothing is left.
    await assert.rejects(ipam.allocate('a'));
    reserved.clear();
    assert.equal(await ipam.allocate('a'), '10.244.7.2');
    const big = await Ipam.open({ dir, subnet: '10.244.8.0/24', reserved: () => new Set(['10.244.8.2', '10.244.8.3']) });
    assert.equal(await big.allocate('x'), '10.244.8.4');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const launcher = (labels: Record<string, string>, ip = '10.244.1.5'): Pod => ({ metadata: { name: 'p', namespace: 'default', uid: 'u', labels, annotations: { [ANN]: ip } }, spec: { containers: [] } }) as unknown as Pod;

test('the agent honours the annotation only on a migration target launcher pod', () => {
  assert.equal(handoffIPOf(launcher({ 'kubevirt.io': 'virt-launcher', 'kubevirt.io/migrationJobUID': 'm' })), '10.244.1.5');
  assert.throws(() => handoffIPOf(launcher({ 'kubevirt.io': 'virt-launcher' })), (e: Error) => e instanceof PodIpHandoffError && /kubevirt.io\/migrationJobUID/.test(e.message));
  assert.throws(() => handoffIPOf(launcher({ app: 'web', 'kubevirt.io/migrationJobUID': 'm' })), PodIpHandoffError);
  assert.throws(() => handoffIPOf(launcher({ 'kubevirt.io': 'virt-launcher', 'kubevirt.io/migrationJobUID': 'm' }, 'ten')), /not an IPv4 address/);
  assert.equal(handoffIPOf({ metadata: { name: 'p' }, spec: { containers: [] } } as unknown as Pod), undefined);
});

const podsKind = { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true } as unknown as KindDefinition;
const attrs = (over: Partial<AdmissionAttributes>): AdmissionAttributes => ({
  operation: 'CREATE',
  kind: podsKind,
  namespace: 'default',
  name: 'target',
  object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'target', annotations: { [ANN]: '10.244.1.5' } } },
  user: { name: 'admin', groups: ['system:masters', 'system:authenticated'] },
  dryRun: false,
  ...over,
});
const refusal = (code: number) => (e: unknown) => e instanceof ApiError && e.code === code && e.details?.causes?.[0]?.field === `metadata.annotations[${ANN}]`;

test('admission: only the controller manager creates such a pod; nobody adds it later', async () => {
  const plugin = podIpHandoffAdmission();
  await assert.rejects(plugin.admit(attrs({})), refusal(403));
  await plugin.admit(attrs({ user: { name: 'system:apiserver', groups: ['system:masters'] } }));
  await plugin.admit(attrs({ user: { name: 'system:kube-controller-manager', groups: [] } }));
  await assert.rejects(plugin.admit(attrs({ user: { name: 'system:apiserver', groups: [] }, object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 't', annotations: { [ANN]: 'x' } } } })), refusal(422));
  // Update: adding or changing is refused even for the controller manager; keeping it is fine.
  const old: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'target' } };
  await assert.rejects(plugin.admit(attrs({ operation: 'UPDATE', oldObject: old, user: { name: 'system:apiserver', groups: [] } })), refusal(422));
  const same: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'target', annotations: { [ANN]: '10.244.1.5' } } };
  await plugin.admit(attrs({ operation: 'UPDATE', oldObject: same }));
  // Pods without it, and other kinds, pass.
  await plugin.admit(attrs({ object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'plain' } } }));
});
