/**
 * The VM controller's run strategy decisions (KubeVirt's syncRunStrategy, isSetToStart and the
 * trimming of state change requests): what happens to the VMI for each strategy and VMI phase;
 * the start-failure back-off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StateChangeRequest } from '../../src/virt/api/vm-lifecycle.js';
import { decideRun, firstRequestDone, isSetToStart } from '../../src/virt/controllers/run-strategy.js';
import { backoffLeftMs, nextStartFailure, startBackoffSeconds, wasRunning } from '../../src/virt/controllers/start-failure.js';
import type { VirtualMachine, VirtualMachineInstance } from '../../src/virt/controllers/vm-api.js';

const vm = (requests: StateChangeRequest[] = [], runStrategy?: string): VirtualMachine => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachine',
  metadata: { name: 'vm1', namespace: 'ns', uid: 'vm-uid' },
  spec: { template: { spec: {} } },
  status: { stateChangeRequests: requests, ...(runStrategy ? { runStrategy } : {}) },
});
const vmi = (phase: string, deleting = false): VirtualMachineInstance => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachineInstance',
  metadata: { name: 'vm1', namespace: 'ns', uid: 'vmi-uid', ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  spec: {},
  status: { phase },
});
const stopThis: StateChangeRequest = { action: 'Stop', uid: 'vmi-uid' };
const start: StateChangeRequest = { action: 'Start' };

test('Always starts a missing VMI, replaces a finished one, and restarts on a stop request for its VMI', () => {
  assert.deepEqual(decideRun(vm(), undefined, 'Always'), { start: true });
  assert.deepEqual(decideRun(vm(), vmi('Running'), 'Always'), {});
  assert.deepEqual(decideRun(vm(), vmi('Succeeded'), 'Always'), { stop: true });
  assert.deepEqual(decideRun(vm(), vmi('Failed'), 'Always'), { stop: true });
  assert.deepEqual(decideRun(vm([stopThis, start]), vmi('Running'), 'Always'), { stop: true });
  assert.deepEqual(decideRun(vm([{ action: 'Stop', uid: 'older' }]), vmi('Running'), 'Always'), {}, 'a stop for another VMI is stale');
  assert.deepEqual(decideRun(vm(), vmi('Failed', true), 'Always'), {}, 'already being deleted');
});

test('RerunOnFailure recreates after Failed (queueing a start) but not after Succeeded', () => {
  assert.deepEqual(decideRun(vm(), vmi('Failed'), 'RerunOnFailure'), { stop: true, queueStart: true });
  assert.deepEqual(decideRun(vm(), vmi('Succeeded'), 'RerunOnFailure'), { stop: true });
  assert.deepEqual(decideRun(vm(), vmi('Running'), 'RerunOnFailure'), {});
  assert.deepEqual(decideRun(vm([stopThis]), vmi('Running'), 'RerunOnFailure'), { stop: true });
  // With no VMI: a start request, or arriving from another strategy, starts; otherwise it stays down.
  assert.deepEqual(decideRun(vm([start], 'RerunOnFailure'), undefined, 'RerunOnFailure'), { start: true });
  assert.deepEqual(decideRun(vm([], 'Halted'), undefined, 'RerunOnFailure'), { start: true });
  assert.deepEqual(decideRun(vm([], 'RerunOnFailure'), undefined, 'RerunOnFailure'), {});
});

test('Manual acts only on state change requests', () => {
  assert.deepEqual(decideRun(vm(), undefined, 'Manual'), {});
  assert.deepEqual(decideRun(vm([start]), undefined, 'Manual'), { start: true });
  assert.deepEqual(decideRun(vm(), vmi('Failed'), 'Manual'), {});
  assert.deepEqual(decideRun(vm([stopThis]), vmi('Running'), 'Manual'), { stop: true });
});

test('Halted stops any VMI and turns a (paused) start request into Always; Once never recreates', () => {
  assert.deepEqual(decideRun(vm(), vmi('Running'), 'Halted'), { stop: true });
  assert.deepEqual(decideRun(vm(), undefined, 'Halted'), {});
  assert.deepEqual(decideRun(vm([{ action: 'Start', data: { paused: 'true' } }]), undefined, 'Halted'), { flipToRunning: true });
  assert.deepEqual(decideRun(vm(), undefined, 'Once'), { start: true });
  assert.deepEqual(decideRun(vm(), vmi('Failed'), 'Once'), {});
  assert.deepEqual(decideRun(vm(), vmi('Succeeded'), 'Once'), {});
});

test('isSetToStart follows the strategy and the VMI', () => {
  assert.equal(isSetToStart(vm(), undefined, 'Always'), true);
  assert.equal(isSetToStart(vm(), undefined, 'Halted'), false);
  assert.equal(isSetToStart(vm(), undefined, 'Manual'), false);
  assert.equal(isSetToStart(vm([start]), undefined, 'Manual'), true);
  assert.equal(isSetToStart(vm([stopThis]), vmi('Running'), 'Manual'), false);
  assert.equal(isSetToStart(vm(), vmi('Succeeded'), 'RerunOnFailure'), false);
  assert.equal(isSetToStart(vm(), vmi('Failed'), 'RerunOnFailure'), true);
  assert.equal(isSetToStart(vm(), vmi('Running'), 'Once'), false);
});

test('the first request is done when its stop took effect or its start runs', () => {
  assert.equal(firstRequestDone(vm([stopThis]), vmi('Running')), false);
  assert.equal(firstRequestDone(vm([stopThis]), undefined), true);
  assert.equal(firstRequestDone(vm([{ action: 'Stop', uid: 'older' }]), vmi('Running')), true);
  assert.equal(firstRequestDone(vm([{ action: 'Stop' }]), vmi('Running')), true, 'a stop without uid cannot be acted on');
  assert.equal(firstRequestDone(vm([start]), undefined), false);
  assert.equal(firstRequestDone(vm([start]), vmi('')), true);
  assert.equal(firstRequestDone(vm([start]), vmi('Failed')), false);
  assert.equal(firstRequestDone(vm([start]), vmi('Running', true)), false);
  assert.equal(firstRequestDone(vm([]), undefined), false);
});

test('start failures: counted once per VMI that ended without running, backed off as KubeVirt, cleared by a run', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  assert.equal(startBackoffSeconds(1, () => 0), 10);
  assert.equal(startBackoffSeconds(1, () => 0.999), 15);
  assert.equal(startBackoffSeconds(3, () => 0), 90);
  assert.equal(startBackoffSeconds(6, () => 0.5), 300, 'at most 5 minutes');
  const early = vmi('Failed');
  const first = nextStartFailure(vm(), early, 'Always', now, () => 0);
  assert.deepEqual(first, { consecutiveFailCount: 1, lastFailedVMIUID: 'vmi-uid', retryAfterTimestamp: '2026-01-01T00:00:10Z' });
  const counted = { ...vm(), status: { startFailure: first } };
  assert.equal(nextStartFailure(counted, early, 'Always', now), first, 'the same VMI counts once');
  assert.equal(nextStartFailure(counted, { ...early, metadata: { ...early.metadata, uid: 'next' } }, 'Always', now, () => 0)?.consecutiveFailCount, 2);
  assert.equal(nextStartFailure(counted, undefined, 'Always', now), first, 'kept while no VMI runs');
  const ran = { ...vmi('Failed'), status: { phase: 'Failed', phaseTransitionTimestamps: [{ phase: 'Running' }] } };
  assert.equal(nextStartFailure(counted, ran, 'Always', now), undefined);
  assert.equal(nextStartFailure(counted, undefined, 'Manual', now), undefined, 'a strategy that does not restart clears it');
  assert.equal(backoffLeftMs(counted, now), 10_000);
  assert.equal(backoffLeftMs(counted, new Date('2026-01-01T00:00:11Z')), 0);
  assert.equal(wasRunning(ran), true);
});
