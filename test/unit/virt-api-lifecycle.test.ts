/**
 * KubeVirt's start/stop/restart/migrate decisions (virt-api's lifecycle.go) for each run
 * strategy, with its error messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../src/api/errors.js';
import type { KubeObject } from '../../src/util/object.js';
import { planMigration, planRestart, planStart, planStop, runStrategyOf } from '../../src/virt/api/vm-lifecycle.js';

const vm = (spec: Record<string, unknown>, status?: Record<string, unknown>): KubeObject => ({
  apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'vm1', namespace: 'ns' }, spec: { template: { spec: {} }, ...spec }, ...(status ? { status } : {}),
});
const vmi = (phase: string, spec: Record<string, unknown> = {}): KubeObject => ({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: 'vm1', namespace: 'ns', uid: 'u-1' }, spec, status: { phase } });

function refused(fn: () => unknown): { code: number; message: string } {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError, String(e));
    return { code: e.code, message: e.message };
  }
  assert.fail('expected a refusal');
}

test('run strategy: runStrategy, else running, else Halted; both set is an error', () => {
  assert.equal(runStrategyOf(vm({ runStrategy: 'Manual' })), 'Manual');
  assert.equal(runStrategyOf(vm({ running: true })), 'Always');
  assert.equal(runStrategyOf(vm({ running: false })), 'Halted');
  assert.equal(runStrategyOf(vm({})), 'Halted');
  assert.deepEqual(refused(() => runStrategyOf(vm({ running: true, runStrategy: 'Always' }))), { code: 500, message: 'Internal error occurred: running and runstrategy are mutually exclusive' });
});

test('start', () => {
  assert.deepEqual(planStart(vm({ runStrategy: 'Halted' }), undefined), { spec: { runStrategy: 'Always' } });
  assert.deepEqual(planStart(vm({ running: false }), undefined), { spec: { running: true } });
  assert.deepEqual(planStart(vm({ runStrategy: 'Halted' }), undefined, { paused: true }), { stateChangeRequests: [{ action: 'Start', data: { paused: 'true' } }] });
  assert.deepEqual(planStart(vm({ runStrategy: 'Manual' }), undefined), { stateChangeRequests: [{ action: 'Start' }] });
  assert.deepEqual(planStart(vm({ runStrategy: 'Manual' }), vmi('Succeeded')), { stateChangeRequests: [{ action: 'Stop', uid: 'u-1' }, { action: 'Start' }] });
  assert.deepEqual(planStart(vm({ runStrategy: 'Halted' }), vmi('Failed')), { spec: { runStrategy: 'Always' } });
  assert.deepEqual(refused(() => planStart(vm({ runStrategy: 'Halted' }), vmi('Running'))), { code: 409, message: 'Operation cannot be fulfilled on virtualmachine.kubevirt.io "vm1": VM is already running' });
  assert.equal(refused(() => planStart(vm({ runStrategy: 'Always' }), undefined)).message, 'Operation cannot be fulfilled on virtualmachine.kubevirt.io "vm1": Always does not support manual start requests');
  assert.equal(refused(() => planStart(vm({ runStrategy: 'RerunOnFailure' }), vmi('Failed'))).message, 'Operation cannot be fulfilled on virtualmachine.kubevirt.io "vm1": RerunOnFailure does not support starting VM from failed state');
  assert.deepEqual(refused(() => planStart(vm({ runStrategy: 'Manual' }, { stateChangeRequests: [{ action: 'Start' }] }), undefined)), {
    code: 500,
    message: 'Internal error occurred: unable to complete request: stop/start already underway',
  });
});

test('stop', () => {
  assert.deepEqual(planStop(vm({ runStrategy: 'Always' }), vmi('Running')), { spec: { runStrategy: 'Halted' } });
  assert.deepEqual(planStop(vm({ running: true }), undefined), { spec: { running: false } });
  assert.deepEqual(planStop(vm({ runStrategy: 'Manual' }, { stateChangeRequests: [{ action: 'Start' }] }), vmi('Running'), { gracePeriod: 5 }), {
    vmiTerminationGracePeriodSeconds: 5,
    stateChangeRequests: [{ action: 'Stop', uid: 'u-1' }],
  });
  assert.equal(refused(() => planStop(vm({ runStrategy: 'Manual' }), undefined)).message, 'Operation cannot be fulfilled on virtualmachine.kubevirt.io "vm1": VM is not running');
  assert.equal(refused(() => planStop(vm({ runStrategy: 'Halted' }), vmi('Succeeded'))).message, 'Operation cannot be fulfilled on virtualmachine.kubevirt.io "vm1": VM is not running');
  const halted = 'Operation cannot be fulfilled on virtualmachine.kubevirt.io "vm1": Halted only supports manual stop requests with a shorter graceperiod';
  assert.equal(refused(() => planStop(vm({ runStrategy: 'Halted' }), vmi('Running', { terminationGracePeriodSeconds: 30 }))).message, halted);
  assert.equal(refused(() => planStop(vm({ runStrategy: 'Halted' }), vmi('Running', { terminationGracePeriodSeconds: 30 }), { gracePeriod: 30 })).message, halted);
  assert.deepEqual(planStop(vm({ runStrategy: 'Halted' }), vmi('Running', { terminationGracePeriodSeconds: 30 }), { gracePeriod: 0 }), {
    vmiTerminationGracePeriodSeconds: 0,
    stateChangeRequests: [{ action: 'Stop', uid: 'u-1' }],
  });
});

test('restart', () => {
  assert.deepEqual(planRestart(vm({ runStrategy: 'Always' }), vmi('Running')), { stateChangeRequests: [{ action: 'Stop', uid: 'u-1' }, { action: 'Start' }] });
  assert.deepEqual(planRestart(vm({ runStrategy: 'Manual' }), vmi('Running'), { gracePeriodSeconds: 0 }), { stateChangeRequests: [{ action: 'Stop', uid: 'u-1' }, { action: 'Start' }], deleteLauncherPod: true });
  assert.deepEqual(refused(() => planRestart(vm({ runStrategy: 'Always' }), vmi('Running'), { gracePeriodSeconds: 5 })), { code: 400, message: 'For force restart, only gracePeriod=0 is supported for now' });
  assert.equal(refused(() => planRestart(vm({ runStrategy: 'Always' }), vmi('Running'), { gracePeriodSeconds: -1 })).message, 'gracePeriod has to be greater or equal to 0');
  assert.equal(refused(() => planRestart(vm({ runStrategy: 'Halted' }), undefined)).message, 'Operation cannot be fulfilled on virtualmachine.kubevirt.io "vm1": RunStategy Halted does not support manual restart requests');
  assert.equal(refused(() => planRestart(vm({ runStrategy: 'Always' }), undefined)).message, 'Operation cannot be fulfilled on virtualmachine.kubevirt.io "vm1": VM is not running: Halted');
});

test('migrate', () => {
  assert.deepEqual(planMigration(vm({ runStrategy: 'Always' }), vmi('Running'), { addedNodeSelector: { zone: 'a' } }), {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstanceMigration',
    metadata: { generateName: 'kubevirt-migrate-vm-', namespace: 'ns' },
    spec: { vmiName: 'vm1', addedNodeSelector: { zone: 'a' } },
  });
  assert.deepEqual(refused(() => planMigration(vm({}), undefined)), { code: 404, message: 'virtualmachineinstance.kubevirt.io "vm1" not found' });
  assert.equal(refused(() => planMigration(vm({}), vmi('Scheduling'))).message, 'Operation cannot be fulfilled on virtualmachine.kubevirt.io "vm1": VM is not running');
});
