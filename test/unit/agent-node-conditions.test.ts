// The kubelet's node conditions, events and label reconciliation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conditionsDiffer, kubeletConditions } from '../../src/agent/node/conditions.js';
import { defaultNodeLabels, reconcileLabels } from '../../src/agent/node/labels.js';

const calm = { memoryPressure: false, diskPressure: false, pidPressure: false };

test('a new node gets the four conditions with the kubelet reasons and messages, and their events', () => {
  const r = kubeletConditions(undefined, calm, 'T1');
  assert.deepEqual(
    r.conditions.map((c) => [c.type, c.status, c.reason, c.message, c.lastHeartbeatTime, c.lastTransitionTime]),
    [
      ['MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available', 'T1', 'T1'],
      ['DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure', 'T1', 'T1'],
      ['PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available', 'T1', 'T1'],
      ['Ready', 'True', 'KubeletReady', 'kubelet is posting ready status', 'T1', 'T1'],
    ],
  );
  assert.deepEqual(r.events, ['NodeHasSufficientMemory', 'NodeHasNoDiskPressure', 'NodeHasSufficientPID', 'NodeReady']);
});

test('unchanged conditions keep their transition time and make no events; changes do', () => {
  const first = kubeletConditions(undefined, calm, 'T1').conditions;
  const same = kubeletConditions(first, calm, 'T2');
  assert.deepEqual(same.events, []);
  assert.ok(same.conditions.every((c) => c.lastHeartbeatTime === 'T2' && c.lastTransitionTime === 'T1'));
  assert.equal(conditionsDiffer(first, same.conditions), false);

  const bad = kubeletConditions(same.conditions, { memoryPressure: true, diskPressure: true, pidPressure: true, notReady: 'container runtime is down' }, 'T3');
  assert.deepEqual(bad.events, ['NodeHasInsufficientMemory', 'NodeHasDiskPressure', 'NodeHasInsufficientPID', 'NodeNotReady']);
  assert.deepEqual(
    bad.conditions.map((c) => [c.type, c.status, c.reason, c.message, c.lastTransitionTime]),
    [
      ['MemoryPressure', 'True', 'KubeletHasInsufficientMemory', 'kubelet has insufficient memory available', 'T3'],
      ['DiskPressure', 'True', 'KubeletHasDiskPressure', 'kubelet has disk pressure', 'T3'],
      ['PIDPressure', 'True', 'KubeletHasInsufficientPID', 'kubelet has insufficient PID available', 'T3'],
      ['Ready', 'False', 'KubeletNotReady', 'container runtime is down', 'T3'],
    ],
  );
  assert.equal(conditionsDiffer(same.conditions, bad.conditions), true);
});

test('conditions of other types (set by others) are kept', () => {
  const other = { type: 'NetworkUnavailable', status: 'False', reason: 'RouteCreated', lastTransitionTime: 'T0' };
  const r = kubeletConditions([other], calm, 'T1');
  assert.deepEqual(r.conditions.at(-1), other);
  assert.equal(r.conditions.length, 5);
});

test('a custom Ready message (the simulator) only when ready', () => {
  const r = kubeletConditions(undefined, { ...calm, readyMessage: 'kubelet is posting ready status (simulated node)' }, 'T');
  assert.equal(r.conditions[3]!.message, 'kubelet is posting ready status (simulated node)');
});

test('default labels, and their reconciliation on an existing node', () => {
  assert.deepEqual(defaultNodeLabels('node-1', 'amd64'), {
    'kubernetes.io/hostname': 'node-1',
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/os': 'linux',
    'beta.kubernetes.io/arch': 'amd64',
  });
  assert.equal(reconcileLabels({ a: '1', keep: 'x' }, { a: '1' }), undefined);
  assert.deepEqual(reconcileLabels({ a: '0', keep: 'x' }, { a: '1', b: '2' }), { a: '1', keep: 'x', b: '2' });
  assert.deepEqual(reconcileLabels({ a: '0' }, { a: '' }), {});
  assert.equal(reconcileLabels(undefined, { a: '' }), undefined);
});
