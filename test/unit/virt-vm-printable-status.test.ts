/**
 * The VM's printable status in KubeVirt's precedence, its conditions mirrored from the VMI, and
 * the DataVolume facts behind Provisioning / DataVolumeError / WaitingForVolumeBinding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DataVolume } from '../../src/virt/cdi/datavolume-api.js';
import { printableStatus, type StatusFacts } from '../../src/virt/controllers/printable-status.js';
import type { VirtualMachine, VirtualMachineInstance, VmCondition } from '../../src/virt/controllers/vm-api.js';
import { nextStatus, syncConditions } from '../../src/virt/controllers/vm-status.js';
import { dataVolumeError, dataVolumeFromTemplate, dataVolumeProvisioning, hasUnboundClaim, templateState } from '../../src/virt/controllers/vm-volumes.js';

const vm = (extra: Partial<VirtualMachine['metadata']> = {}, status?: VirtualMachine['status']): VirtualMachine => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachine',
  metadata: { name: 'vm1', namespace: 'ns', uid: 'vm-uid', generation: 2, ...extra },
  spec: {
    dataVolumeTemplates: [{ metadata: { name: 'root', labels: { a: 'b' } }, spec: { source: { blank: {} }, storage: { resources: { requests: { storage: '1Gi' } } } } }],
    template: { spec: { volumes: [{ name: 'root', dataVolume: { name: 'root' } }, { name: 'data', persistentVolumeClaim: { claimName: 'data' } }] } },
  },
  ...(status ? { status } : {}),
});
const vmi = (phase: string, conditions: VmCondition[] = [], meta: Record<string, unknown> = {}): VirtualMachineInstance => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachineInstance',
  metadata: { name: 'vm1', namespace: 'ns', uid: 'vmi-uid', ...meta },
  spec: {},
  status: { phase, conditions },
});
const none: StatusFacts = { startExpected: false, stopExpected: false, setToStart: true, restarts: true, dataVolumeError: false, dataVolumeProvisioning: false, unboundClaim: false };
const ps = (v: VirtualMachine, i: VirtualMachineInstance | undefined, f: Partial<StatusFacts> = {}) => printableStatus(v, i, { ...none, ...f });

test('printable status follows the VMI and the controller\'s own action, first match wins', () => {
  assert.equal(ps(vm(), undefined), 'Stopped');
  assert.equal(ps(vm(), undefined, { startExpected: true }), 'Starting');
  assert.equal(ps(vm(), vmi('')), 'Starting');
  assert.equal(ps(vm(), vmi('Scheduling')), 'Starting');
  assert.equal(ps(vm(), vmi('Running')), 'Running');
  assert.equal(ps(vm(), vmi('Running', [{ type: 'Paused', status: 'True' }])), 'Paused');
  assert.equal(ps(vm(), vmi('Running'), { stopExpected: true }), 'Stopping');
  assert.equal(ps(vm(), vmi('Running', [], { deletionTimestamp: 'x' })), 'Stopping');
  assert.equal(ps(vm({ deletionTimestamp: 'x' }), vmi('Running')), 'Terminating');
  assert.equal(ps(vm(), vmi('Failed')), 'Stopped');
  assert.equal(ps(vm(), vmi('Running', [], {})), 'Running');
  const migrating = { ...vmi('Running'), status: { phase: 'Running', migrationState: { startTimestamp: 't' } } };
  assert.equal(ps(vm(), migrating), 'Migrating');
  assert.equal(ps(vm(), vmi('Pending', [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }])), 'ErrorUnschedulable');
  assert.equal(ps(vm(), vmi('Pending', [{ type: 'Synchronized', status: 'False', reason: 'FailedPvcNotFound' }])), 'ErrorPvcNotFound');
  assert.equal(ps(vm(), vmi('Scheduled', [{ type: 'Synchronized', status: 'False', reason: 'ImagePullBackOff' }])), 'ImagePullBackOff');
  assert.equal(ps(vm(), undefined, { dataVolumeProvisioning: true }), 'Provisioning');
  assert.equal(ps(vm(), undefined, { dataVolumeError: true, dataVolumeProvisioning: true }), 'DataVolumeError');
  assert.equal(ps(vm(), vmi('Pending'), { unboundClaim: true }), 'WaitingForVolumeBinding');
  assert.equal(ps(vm(), undefined, { unboundClaim: true, setToStart: false }), 'Stopped');
  assert.equal(ps(vm({}, { startFailure: { consecutiveFailCount: 2 } }), vmi('Failed')), 'CrashLoopBackOff');
});

test('conditions: Ready mirrors the VMI, Failure carries the sync error, the VMI\'s others are copied', () => {
  assert.deepEqual(
    syncConditions([], undefined, undefined, 'T1').map((c) => [c.type, c.status, c.reason]),
    [['Ready', 'False', 'VMINotExists']],
  );
  const withVmi = syncConditions([{ type: 'Stale', status: 'True' }], vmi('Running', [{ type: 'Ready', status: 'True' }, { type: 'LiveMigratable', status: 'True' }]), { reason: 'FailedCreate', message: 'boom' }, 'T2');
  assert.deepEqual(withVmi.map((c) => [c.type, c.status, c.reason ?? '']).sort(), [['Failure', 'True', 'FailedCreate'], ['LiveMigratable', 'True', ''], ['Ready', 'True', '']]);
  // An unchanged condition keeps its timestamps, so a second pass writes nothing new.
  const again = syncConditions(syncConditions([], undefined, undefined, 'T1'), undefined, undefined, 'T9');
  assert.equal(again[0].lastTransitionTime, 'T1');
  assert.equal(syncConditions(withVmi, vmi('Running', [{ type: 'Ready', status: 'True' }]), undefined, 'T3').some((c) => c.type === 'Failure'), false);
});

test('status fields: created, ready, generations, run strategy, requests', () => {
  const s = nextStatus(vm(), vmi('Running', [{ type: 'Ready', status: 'True' }], { annotations: { 'kubevirt.io/vm-generation': '2' } }), {
    strategy: 'Always',
    facts: none,
    stateChangeRequests: [],
    now: 'T',
  });
  assert.deepEqual([s.created, s.ready, s.printableStatus, s.runStrategy, s.desiredGeneration, s.observedGeneration, s.stateChangeRequests], [true, true, 'Running', 'Always', 2, 2, undefined]);
  assert.equal(nextStatus(vm(), undefined, { facts: none, stateChangeRequests: [{ action: 'Start' }], now: 'T' }).stateChangeRequests?.length, 1);
});

test('DataVolume templates: created with the VM as owner, ready when Succeeded or WaitForFirstConsumer', () => {
  const v = vm();
  const dv = dataVolumeFromTemplate(v, v.spec.dataVolumeTemplates![0]);
  assert.deepEqual(dv.metadata.labels, { a: 'b', 'kubevirt.io/created-by': 'vm-uid' });
  assert.deepEqual(dv.metadata.ownerReferences, [{ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', name: 'vm1', uid: 'vm-uid', controller: true, blockOwnerDeletion: true }]);
  const withPhase = (phase: string, conditions: DataVolume['status'] extends infer S ? (S extends { conditions?: infer C } ? C : never) : never = []): DataVolume => ({ ...dv, status: { phase: phase as never, conditions } });
  assert.deepEqual(templateState(v, () => undefined).missing.length, 1);
  assert.equal(templateState(v, () => withPhase('ImportInProgress')).ready, false);
  assert.equal(templateState(v, () => withPhase('WaitForFirstConsumer')).ready, true);
  assert.equal(templateState(v, () => withPhase('Failed')).failed.length, 1);
  assert.equal(dataVolumeProvisioning(v, () => withPhase('ImportInProgress')), true);
  assert.equal(dataVolumeProvisioning(v, () => withPhase('WaitForFirstConsumer')), false);
  assert.equal(dataVolumeProvisioning(v, () => withPhase('Succeeded')), false);
  assert.equal(dataVolumeError(v, () => withPhase('Failed')), 'DataVolume root is in Failed phase');
  assert.equal(dataVolumeError(v, () => withPhase('ImportInProgress', [{ type: 'Running', status: 'False', reason: 'Error', message: 'HTTP 404' }])), 'DataVolume root importer has stopped running due to an error: HTTP 404');
  assert.equal(hasUnboundClaim(v, (n) => (n === 'data' ? { metadata: { name: 'data' }, status: { phase: 'Pending' } } : undefined)), true);
  assert.equal(hasUnboundClaim(v, () => ({ metadata: {}, status: { phase: 'Bound' } })), false);
});
