// The VMI fields the VMI controller owns, from its launcher pod (KubeVirt's lifecycle.go): the
// phases up to Scheduled and the final ones, the mirrored conditions, the finalizer; the
// handler's fields pass through; whether the claims let the pod be made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/util/object.js';
import type { Vmi } from '../../src/virt/launcher/vmi-types.js';
import { checkVolumes } from '../../src/virt/controllers/vmi-volumes.js';
import { nextVmi, VMI_FINALIZER, VM_CONTROLLER_FINALIZER, type StatusInput } from '../../src/virt/controllers/vmi-status.js';

const NOW = '2026-01-01T00:00:00Z';
const noVolumes = { ready: true, waitForFirstConsumer: false, dataVolumes: [] };

function vmi(status: Vmi['status'] = {}, extra: Partial<Vmi['metadata']> = {}): Vmi {
  return { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: 'v', namespace: 'ns', uid: 'vmi-uid', ...extra }, spec: { domain: { devices: {} } }, status };
}
function pod(status: Record<string, unknown>, nodeName?: string, meta: Partial<KubeObject['metadata']> = {}): KubeObject {
  return { metadata: { name: 'virt-launcher-v-abcde', uid: 'pod-uid', ...meta }, spec: { nodeName, containers: [{ name: 'compute', image: 'cairn.local/virt-launcher:1' }] }, status };
}
const input = (p?: KubeObject, more: Partial<StatusInput> = {}): StatusInput => ({ pod: p, ownedPods: p ? [p] : [], volumes: noVolumes, hasOwnerVm: false, now: NOW, ...more });
const cond = (v: Vmi, type: string) => v.status?.conditions?.find((c) => c.type === type);

test('a missing claim keeps the VMI Pending with KubeVirt\'s reasons; the finalizer is added', () => {
  const message = 'PVC ns/disk does not exist, waiting for it to appear';
  const n = nextVmi(vmi(), input(undefined, { syncError: { reason: 'FailedPvcNotFound', message } }));
  assert.equal(n.status?.phase, 'Pending');
  assert.deepEqual(n.metadata.finalizers, [VMI_FINALIZER]);
  assert.deepEqual([cond(n, 'Synchronized')?.status, cond(n, 'Synchronized')?.reason, cond(n, 'Synchronized')?.message], ['False', 'FailedPvcNotFound', message]);
  assert.deepEqual([cond(n, 'PodScheduled')?.status, cond(n, 'PodScheduled')?.reason], ['False', 'Unschedulable']);
  assert.equal(cond(n, 'Ready')?.reason, 'PodNotExists');
  assert.deepEqual(n.status?.phaseTransitionTimestamps, [{ phase: 'Pending', phaseTransitionTimestamp: NOW }]);
  // Nothing changed: the same object again (so nothing is written).
  assert.deepEqual(nextVmi(n, input(undefined, { syncError: { reason: 'FailedPvcNotFound', message } })), n);
});

test('Pending → Scheduling with the pod; its PodScheduled=False is mirrored with the scheduler\'s message', () => {
  const unschedulable = pod({ phase: 'Pending', qosClass: 'Burstable', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/2 nodes are available: 2 Insufficient cpu.' }] });
  const s1 = nextVmi(vmi({ phase: 'Pending' }), input(unschedulable));
  assert.equal(s1.status?.phase, 'Scheduling');
  const s2 = nextVmi(s1, input(unschedulable));
  assert.equal(s2.status?.phase, 'Scheduling');
  assert.equal(s2.status?.qosClass, 'Burstable');
  assert.deepEqual([cond(s2, 'PodScheduled')?.reason, cond(s2, 'PodScheduled')?.message], ['Unschedulable', '0/2 nodes are available: 2 Insufficient cpu.']);
  assert.deepEqual(s2.status?.activePods, { 'pod-uid': '' });
});

test('Scheduling → Scheduled once the compute container runs: nodeName, label, activePods, image', () => {
  const running = pod({ phase: 'Running', conditions: [{ type: 'PodScheduled', status: 'True' }], containerStatuses: [{ name: 'compute', state: { running: {} } }] }, 'node-1');
  const n = nextVmi(vmi({ phase: 'Scheduling' }), input(running));
  assert.equal(n.status?.phase, 'Scheduled');
  assert.equal(n.status?.nodeName, 'node-1');
  assert.equal(n.metadata.labels?.['kubevirt.io/nodeName'], 'node-1');
  assert.deepEqual(n.status?.activePods, { 'pod-uid': 'node-1' });
  assert.equal(n.status?.launcherContainerImageVersion, 'cairn.local/virt-launcher:1');
  assert.equal(cond(n, 'PodScheduled'), undefined);
  assert.equal(cond(n, 'Ready')?.reason, 'GuestNotRunning');
});

test('Running: the handler\'s fields pass through; Ready follows the pod; the pod gone means Failed', () => {
  const ready = pod({ phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: NOW }], containerStatuses: [{ name: 'compute', state: { running: {} } }] }, 'node-1');
  const handlerOwned = { phase: 'Running' as const, nodeName: 'node-1', interfaces: [{ name: 'default', ipAddress: '10.0.2.2' }], conditions: [{ type: 'Paused', status: 'False' as const }] };
  const n = nextVmi(vmi(handlerOwned, { finalizers: [VMI_FINALIZER] }), input(ready));
  assert.equal(n.status?.phase, 'Running');
  assert.deepEqual(n.status?.interfaces, handlerOwned.interfaces);
  assert.deepEqual(cond(n, 'Paused'), { type: 'Paused', status: 'False' });
  assert.equal(cond(n, 'Ready')?.status, 'True');
  // The handler's Running is recorded too (the VM controller reads it to tell a start that ran).
  assert.deepEqual(n.status?.phaseTransitionTimestamps, [{ phase: 'Running', phaseTransitionTimestamp: NOW }]);
  const gone = nextVmi(n, input(undefined));
  assert.equal(gone.status?.phase, 'Failed');
  assert.deepEqual(gone.status?.phaseTransitionTimestamps?.map((t) => t.phase), ['Running', 'Failed']);
});

test('the launcher ending: Succeeded, or Failed with the container\'s reason', () => {
  const done = pod({ phase: 'Succeeded', containerStatuses: [{ name: 'compute', state: { terminated: { exitCode: 0, reason: 'Completed' } } }] }, 'node-1');
  assert.equal(nextVmi(vmi({ phase: 'Running', nodeName: 'node-1' }), input(done)).status?.phase, 'Succeeded');
  const crashed = pod({ phase: 'Failed', containerStatuses: [{ name: 'compute', state: { terminated: { exitCode: 1, reason: 'Error', message: 'qemu: could not open disk' } } }] }, 'node-1');
  const f = nextVmi(vmi({ phase: 'Scheduled', nodeName: 'node-1' }), input(crashed));
  assert.deepEqual([f.status?.phase, f.status?.reason], ['Failed', 'Error']);
});

test('a final VMI never moves back; its finalizers go once no pod is left (the VM\'s too when the VM is gone)', () => {
  const failed = vmi({ phase: 'Failed' }, { finalizers: [VMI_FINALIZER, VM_CONTROLLER_FINALIZER] });
  const still = pod({ phase: 'Failed' }, 'node-1');
  const a = nextVmi(failed, input(still, { hasOwnerVm: true }));
  assert.equal(a.status?.phase, 'Failed');
  assert.deepEqual(a.metadata.finalizers, [VMI_FINALIZER, VM_CONTROLLER_FINALIZER]);
  assert.deepEqual(nextVmi(failed, input(undefined, { hasOwnerVm: true })).metadata.finalizers, [VM_CONTROLLER_FINALIZER]);
  assert.equal(nextVmi(failed, input(undefined)).metadata.finalizers, undefined);
});

test('a VMI deleted before it had a pod fails; a failed DataVolume fails it too', () => {
  assert.equal(nextVmi(vmi({ phase: 'Pending' }, { deletionTimestamp: NOW }), input(undefined)).status?.phase, 'Failed');
  const dv = { metadata: { name: 'dv' }, spec: {}, status: { phase: 'Failed' as const } };
  const n = nextVmi(vmi(), input(undefined, { volumes: { ready: false, waitForFirstConsumer: false, dataVolumes: [dv] } }));
  assert.equal(n.status?.phase, 'Failed');
  assert.deepEqual([cond(n, 'DataVolumesReady')?.status, cond(n, 'DataVolumesReady')?.reason], ['Unknown', 'NotAllDVsReady']);
});

test('volumes: a missing claim in KubeVirt\'s words; a DataVolume\'s claim waits for the import, or lets a provisioning pod go first', () => {
  const v = vmi();
  v.spec.volumes = [
    { name: 'a', persistentVolumeClaim: { claimName: 'plain' } },
    { name: 'b', dataVolume: { name: 'imported' } },
  ];
  const claim = (name: string, dv?: string): KubeObject => ({ metadata: { name, ownerReferences: dv ? [{ apiVersion: 'cdi.kubevirt.io/v1beta1', kind: 'DataVolume', name: dv, uid: 'dv-uid', controller: true }] : [] } });
  const dv = (phase: string) => ({ metadata: { name: 'imported' }, spec: {}, status: { phase: phase as never } });
  const claims = new Map([['plain', claim('plain')], ['imported', claim('imported', 'imported')]]);

  const missing = checkVolumes(v, () => undefined, () => undefined);
  assert.equal(missing.ready, false);
  assert.equal(missing.missing, 'PVC ns/plain does not exist, waiting for it to appear');

  const importing = checkVolumes(v, (n) => claims.get(n), () => dv('ImportInProgress'));
  assert.deepEqual([importing.ready, importing.waitForFirstConsumer, importing.missing, importing.dataVolumes.length], [false, false, undefined, 1]);
  const wffc = checkVolumes(v, (n) => claims.get(n), () => dv('WaitForFirstConsumer'));
  assert.deepEqual([wffc.ready, wffc.waitForFirstConsumer], [true, true]);
  const done = checkVolumes(v, (n) => claims.get(n), () => dv('Succeeded'));
  assert.deepEqual([done.ready, done.waitForFirstConsumer], [true, false]);
});
