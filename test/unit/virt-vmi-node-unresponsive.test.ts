// KubeVirt's node controller as the VMI controller plays it: a Scheduled or Running VMI on an
// unresponsive node (gone, or Ready Unknown) fails with NodeUnresponsive once no launcher pod of
// it is alive there; a launcher still alive (even terminating: its containers may run on) keeps it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/util/object.js';
import type { Vmi } from '../../src/virt/launcher/vmi-types.js';
import { nextVmi, REASON_NODE_UNRESPONSIVE, type StatusInput } from '../../src/virt/controllers/vmi-status.js';

const NOW = '2026-01-01T00:00:00Z';
const vmi = (phase: 'Scheduled' | 'Running'): Vmi => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachineInstance',
  metadata: { name: 'v', namespace: 'ns', uid: 'vmi-uid' },
  spec: { domain: { devices: {} } },
  status: { phase, nodeName: 'node-2' },
});
const launcher = (status: Record<string, unknown>, meta: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  metadata: { name: 'virt-launcher-v-abcde', uid: 'pod-uid', creationTimestamp: NOW, ...meta },
  spec: { nodeName: 'node-2', containers: [{ name: 'compute', image: 'cairn.local/virt-launcher:1' }] },
  status,
});
const input = (pod: KubeObject | undefined, nodeUnresponsive: boolean): StatusInput => ({
  pod,
  ownedPods: pod ? [pod] : [],
  volumes: { ready: true, waitForFirstConsumer: false, dataVolumes: [] },
  hasOwnerVm: true,
  nodeUnresponsive,
  now: NOW,
});
const running = { phase: 'Running', containerStatuses: [{ name: 'compute', state: { running: {} } }] };

test('no live launcher on an unresponsive node: Failed with NodeUnresponsive', () => {
  for (const phase of ['Scheduled', 'Running'] as const) {
    const gone = nextVmi(vmi(phase), input(undefined, true));
    assert.deepEqual([gone.status?.phase, gone.status?.reason], ['Failed', REASON_NODE_UNRESPONSIVE]);
  }
  const allTerminated = launcher({ phase: 'Running', containerStatuses: [{ name: 'compute', state: { terminated: { exitCode: 137 } } }] });
  assert.equal(nextVmi(vmi('Running'), input(allTerminated, true)).status?.reason, REASON_NODE_UNRESPONSIVE);
});

test('a launcher still alive keeps the VMI, even terminating; a responsive node changes nothing', () => {
  assert.equal(nextVmi(vmi('Running'), input(launcher(running), true)).status?.phase, 'Running');
  const evicted = launcher(running, { deletionTimestamp: NOW });
  assert.equal(nextVmi(vmi('Running'), input(evicted, true)).status?.phase, 'Running', 'fencing first: the guest may still run there');
  const plain = nextVmi(vmi('Running'), input(undefined, false));
  assert.equal(plain.status?.phase, 'Failed');
  assert.equal(plain.status?.reason, undefined, 'a pod missing from a live node is KubeVirt\'s plain Failed');
});
