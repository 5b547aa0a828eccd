// The migration controller's pass over a VMIM (KubeVirt's updateStatus/sync): every phase
// transition and what it reads, the failures with KubeVirt's messages, the pending target pod
// timeouts (injected, so nothing waits), deletion before and after the hand-off, and the
// VMI-side actions the pass asks for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/util/object.js';
import type { Vmi } from '../../src/virt/launcher/vmi-types.js';
import { DEFAULT_MIGRATION_CONFIGURATION, type MigrationPhase, type MigrationState, type VirtualMachineInstanceMigration } from '../../src/virt/migration/migration-state.js';
import { ANN_UNSCHEDULABLE_TIMEOUT, MIGRATION_FINALIZER, type MigrationView, stepMigration } from '../../src/virt/controllers/migration-phase.js';

const NOW = Date.parse('2026-01-01T00:10:00Z');
const UID = 'vmim-uid';

function vmim(phase?: MigrationPhase, meta: Partial<VirtualMachineInstanceMigration['metadata']> = {}): VirtualMachineInstanceMigration {
  return { metadata: { name: 'mig', namespace: 'ns', uid: UID, finalizers: [MIGRATION_FINALIZER], ...meta }, spec: { vmiName: 'v' }, status: phase ? { phase } : {} };
}
function vmi(state?: Partial<MigrationState>, phase = 'Running', nodeName = 'node-1'): Vmi {
  return {
    metadata: { name: 'v', namespace: 'ns', uid: 'vmi-uid', labels: { 'kubevirt.io/nodeName': nodeName } },
    spec: { domain: { devices: {} } },
    status: { phase: phase as 'Running', nodeName, ...(state ? { migrationState: { migrationUid: UID, ...state } } : {}) },
  };
}
const started = { phase: 'Running', containerStatuses: [{ name: 'compute', state: { running: {} } }] };
function pod(name: string, node: string | undefined, status: Record<string, unknown>, created = '2026-01-01T00:09:00Z'): KubeObject {
  return { metadata: { name, namespace: 'ns', uid: `${name}-uid`, creationTimestamp: created }, spec: { ...(node ? { nodeName: node } : {}) }, status };
}
const source = pod('virt-launcher-v-src', 'node-1', { ...started, podIP: '10.244.1.5' });
const target = (status: Record<string, unknown> = started, node: string | undefined = 'node-2', created?: string) => pod('virt-launcher-v-tgt', node, status, created);
const handedOff: Partial<MigrationState> = { sourceNode: 'node-1', sourcePod: source.metadata.name!, targetNode: 'node-2', targetPod: 'virt-launcher-v-tgt', migrationConfiguration: DEFAULT_MIGRATION_CONFIGURATION };

function view(v: Partial<MigrationView>): MigrationView {
  return {
    vmim: vmim(),
    vmi: vmi(),
    sourcePod: source,
    otherMigrationInFlight: false,
    resolveConfiguration: () => ({ configuration: DEFAULT_MIGRATION_CONFIGURATION }),
    now: NOW,
    timeouts: { unschedulableSeconds: 300, catchAllSeconds: 900 },
    ...v,
  };
}
const messages = (s: ReturnType<typeof stepMigration>) => s.events.map((e) => `${e.on} ${e.type} ${e.reason}: ${e.message}`);

test('a new migration goes Pending with its transition time; another migration in flight fails it', () => {
  const s = stepMigration(view({}));
  assert.equal(s.status.phase, 'Pending');
  assert.deepEqual(s.status.phaseTransitionTimestamps, [{ phase: 'Pending', phaseTransitionTimestamp: '2026-01-01T00:10:00Z' }]);
  // The VMIM names its source before the hand-off (KubeVirt's SetSourcePod).
  assert.deepEqual(s.status.migrationState, { sourceNode: 'node-1', sourcePod: 'virt-launcher-v-src' });
  const busy = stepMigration(view({ otherMigrationInFlight: true }));
  assert.equal(busy.status.phase, 'Failed');
  assert.deepEqual(messages(busy), ['vmim Warning FailedMigration: VMI is not eligible for migration because another migration job is in progress.']);
});

test('Pending: the target pod is created once the limits allow, then Scheduling', () => {
  assert.deepEqual(stepMigration(view({ vmim: vmim('Pending') })).action, { kind: 'createTargetPod' });
  const held = stepMigration(view({ vmim: vmim('Pending'), mustWait: 'cluster limit' }));
  assert.equal(held.action, undefined);
  assert.equal(held.status.phase, 'Pending');
  assert.ok(held.requeueAfterMs! > 0);
  // A VMI that does not run, or has no source pod, gets no target pod.
  assert.equal(stepMigration(view({ vmim: vmim('Pending'), vmi: vmi(undefined, 'Scheduled') })).action, undefined);
  assert.equal(stepMigration(view({ vmim: vmim('Pending'), sourcePod: undefined })).action, undefined);
  assert.equal(stepMigration(view({ vmim: vmim('Pending'), targetPod: target({ phase: 'Pending' }, undefined) })).status.phase, 'Scheduling');
});

test('Scheduling → Scheduled once the target pod is on a node and its compute container runs', () => {
  assert.equal(stepMigration(view({ vmim: vmim('Scheduling'), targetPod: target({ phase: 'Pending' }, 'node-2') })).status.phase, 'Scheduling');
  assert.equal(stepMigration(view({ vmim: vmim('Scheduling'), targetPod: target() })).status.phase, 'Scheduled');
});

test('Scheduled: the hand-off is asked for, then PreparingTarget once the VMI names this migration', () => {
  const s = stepMigration(view({ vmim: vmim('Scheduled'), targetPod: target() }));
  assert.deepEqual(s.action, { kind: 'handOff' });
  assert.equal(s.status.phase, 'Scheduled');
  const p = stepMigration(view({ vmim: vmim('Scheduled'), targetPod: target(), vmi: vmi(handedOff) }));
  assert.equal(p.status.phase, 'PreparingTarget');
  // From then on the VMIM mirrors the VMI's migration state.
  assert.deepEqual(p.status.migrationState, { migrationUid: UID, ...handedOff });
});

test('PreparingTarget → TargetReady (targetNodeAddress) → Running (startTimestamp)', () => {
  assert.equal(stepMigration(view({ vmim: vmim('PreparingTarget'), targetPod: target(), vmi: vmi(handedOff) })).status.phase, 'PreparingTarget');
  assert.equal(stepMigration(view({ vmim: vmim('PreparingTarget'), targetPod: target(), vmi: vmi({ ...handedOff, targetNodeAddress: '10.0.0.2' }) })).status.phase, 'TargetReady');
  assert.equal(stepMigration(view({ vmim: vmim('TargetReady'), targetPod: target(), vmi: vmi({ ...handedOff, targetNodeAddress: '10.0.0.2', startTimestamp: 'x' }) })).status.phase, 'Running');
});

test('Running → the VMI moves to the target first, then Succeeded with KubeVirt\'s event; the finalizer goes', () => {
  const done = { ...handedOff, targetNodeAddress: '10.0.0.2', startTimestamp: 'x', completed: true, endTimestamp: 'y' };
  // Completed but the guest not yet confirmed on the target: wait.
  assert.equal(stepMigration(view({ vmim: vmim('Running'), targetPod: target(), vmi: vmi(done) })).action, undefined);
  const ready = { ...done, targetNodeDomainReadyTimestamp: 'z' };
  const move = stepMigration(view({ vmim: vmim('Running'), targetPod: target(), vmi: vmi(ready) }));
  assert.deepEqual(move.action, { kind: 'moveToTarget' });
  assert.equal(move.status.phase, 'Running');
  const s = stepMigration(view({ vmim: vmim('Running'), targetPod: target(), vmi: vmi(ready, 'Running', 'node-2') }));
  assert.equal(s.status.phase, 'Succeeded');
  assert.deepEqual(messages(s), ['vmim Normal SuccessfulMigration: Source node reported migration succeeded']);
  const final = stepMigration(view({ vmim: { ...vmim('Succeeded'), status: s.status }, targetPod: target(), vmi: vmi(ready, 'Running', 'node-2') }));
  assert.deepEqual(final.finalizers, []);
  assert.equal(final.action, undefined, 'the target pod of a successful migration is the guest: never deleted');
});

test('the source reporting failure fails the migration; the failed target pod is then deleted, the VMI stays', () => {
  const failed = { ...handedOff, startTimestamp: 'x', completed: true, failed: true, failureReason: 'migration timed out' };
  const s = stepMigration(view({ vmim: vmim('Running'), targetPod: target(), vmi: vmi(failed) }));
  assert.equal(s.status.phase, 'Failed');
  assert.deepEqual(messages(s), ['vmim Warning FailedMigration: source node reported migration failed', `vmi Warning FailedMigration: VirtualMachineInstance migration uid ${UID} failed. reason:migration timed out`]);
  const after = stepMigration(view({ vmim: vmim('Failed'), targetPod: target(), vmi: vmi(failed) }));
  assert.equal(after.action?.kind, 'deleteTargetPod');
  assert.deepEqual(after.finalizers, []);
  assert.equal(after.status.migrationState?.failed, true, 'the VMIM keeps the VMI\'s failed state');
});

test('KubeVirt\'s failure messages: VMI gone or ended, target pod down or gone, state cleared or taken over', () => {
  const fails = (v: Partial<MigrationView>) => messages(stepMigration(view(v)))[0];
  assert.equal(fails({ vmi: undefined }), 'vmim Warning FailedMigration: Migration failed because vmi does not exist.');
  assert.equal(fails({ vmi: vmi(undefined, 'Succeeded') }), 'vmim Warning FailedMigration: Migration failed vmi shutdown during migration.');
  assert.equal(fails({ vmim: vmim('Scheduled'), targetPod: target({ phase: 'Failed' }) }), 'vmim Warning FailedMigration: Migration failed because target pod shutdown during migration');
  assert.equal(fails({ vmim: vmim('Scheduling') }), 'vmim Warning FailedMigration: Migration target pod was removed during active migration.');
  assert.equal(fails({ vmim: vmim('PreparingTarget'), targetPod: target() }), "vmim Warning FailedMigration: VMI's migration state was cleared during the active migration.");
  const other = vmi(handedOff);
  (other.status!.migrationState as { migrationUid: string }).migrationUid = 'other';
  assert.equal(fails({ vmim: vmim('Running'), targetPod: target(), vmi: other }), "vmim Warning FailedMigration: VMI's migration state was taken over by another migration job during active migration.");
});

test('a target pod gone before the source started: the VMI\'s migration state is marked failed, then the label goes', () => {
  const s = stepMigration(view({ vmim: vmim('Failed'), vmi: vmi(handedOff) }));
  assert.deepEqual(s.action, { kind: 'markFailedOnVmi' });
  const withLabel = vmi({ ...handedOff, failed: true, completed: true });
  withLabel.metadata.labels!['kubevirt.io/migrationTargetNodeName'] = 'node-2';
  assert.deepEqual(stepMigration(view({ vmim: vmim('Failed'), vmi: withLabel })).action, { kind: 'dropTargetLabel' });
});

test('pending target pod timeouts: unschedulable (5 min) and catch-all (15 min), KubeVirt\'s messages; injected and per-migration', () => {
  const unschedulable = { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] };
  const young = stepMigration(view({ vmim: vmim('Scheduling'), targetPod: target(unschedulable, undefined, '2026-01-01T00:09:00Z') }));
  assert.equal(young.action, undefined);
  assert.equal(young.requeueAfterMs, 240_000);
  assert.deepEqual(messages(young), ['vmim Warning migrationTargetPodUnschedulable: Migration target pod for VMI [ns/v] is currently unschedulable.']);
  const old = stepMigration(view({ vmim: vmim('Scheduling'), targetPod: target(unschedulable, undefined, '2026-01-01T00:04:00Z') }));
  assert.deepEqual(old.action, { kind: 'deleteTargetPod', message: 'unschedulable pod ns/virt-launcher-v-tgt timeout period exceeded' });
  const pending = stepMigration(view({ vmim: vmim('Scheduling'), targetPod: target({ phase: 'Pending' }, 'node-2', '2026-01-01T00:09:59Z'), timeouts: { unschedulableSeconds: 1, catchAllSeconds: 1 } }));
  assert.deepEqual(pending.action, { kind: 'deleteTargetPod', message: 'pending pod ns/virt-launcher-v-tgt timeout period exceeded' });
  const annotated = stepMigration(view({ vmim: vmim('Scheduling', { annotations: { [ANN_UNSCHEDULABLE_TIMEOUT]: '10' } }), targetPod: target(unschedulable, undefined, '2026-01-01T00:09:00Z') }));
  assert.equal(annotated.action?.kind, 'deleteTargetPod');
});

test('deleted before the hand-off: Failed with the abort condition (the target pod is deleted next); after it: the abort is asked of the source', () => {
  const deleting = { deletionTimestamp: '2026-01-01T00:09:30Z' };
  const s = stepMigration(view({ vmim: vmim('Scheduling', deleting), targetPod: target({ phase: 'Pending' }, undefined) }));
  assert.equal(s.status.phase, 'Failed');
  assert.deepEqual(messages(s), ['vmim Warning FailedMigration: Migration failed due to being canceled']);
  assert.equal(s.status.conditions?.[0].type, 'migrationAbortRequested');
  const running = { ...handedOff, targetNodeAddress: 'a', startTimestamp: 'x' };
  const abort = stepMigration(view({ vmim: vmim('Running', deleting), targetPod: target(), vmi: vmi(running) }));
  assert.deepEqual(abort.action, { kind: 'requestAbort' });
  assert.equal(abort.status.phase, 'Running');
  assert.deepEqual(abort.finalizers, [MIGRATION_FINALIZER], 'the finalizer waits for the source');
  // Asked once; the source answering abortStatus Succeeded ends it.
  assert.equal(stepMigration(view({ vmim: vmim('Running', deleting), targetPod: target(), vmi: vmi({ ...running, abortRequested: true }) })).action, undefined);
  assert.equal(stepMigration(view({ vmim: vmim('Running', deleting), targetPod: target(), vmi: vmi({ ...running, abortRequested: true, abortStatus: 'Succeeded', failed: true }) })).status.phase, 'Failed');
  // Handed off but not started yet: the source is asked too (it ends the migration before starting it).
  assert.deepEqual(stepMigration(view({ vmim: vmim('TargetReady', deleting), targetPod: target(), vmi: vmi({ ...handedOff, targetNodeAddress: 'a' }) })).action, { kind: 'requestAbort' });
});
