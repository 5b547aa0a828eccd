/**
 * One pass of the migration controller over a VirtualMachineInstanceMigration, as KubeVirt's
 * updateStatus and sync (pkg/virt-controller/watch/migration/migration.go) decide it, from what
 * the caches show: the VMIM's next status and finalizers, the one thing to do to a pod or the VMI,
 * and the events to record. Pure; the controller (migration-controller.ts) carries it out.
 *
 * Phases and what moves them:
 *   (new)           → Pending          unless another migration of the VMI is in flight
 *   Pending         → Scheduling       the target pod exists (created here once the limits allow)
 *   Scheduling      → Scheduled        the target pod is on a node and its compute container runs
 *   Scheduled       → PreparingTarget  vmi.status.migrationState names this migration (the hand-off)
 *   PreparingTarget → TargetReady      migrationState.targetNodeAddress (the target handler)
 *   TargetReady     → Running          migrationState.startTimestamp (the source handler)
 *   Running         → Succeeded        completed, not failed, targetNodeDomainReadyTimestamp, and
 *                                      the VMI moved to the target node (written here first)
 *   any             → Failed           the VMI gone or ended, the target pod down or gone, the
 *                                      migration state lost, the source reporting failure, or the
 *                                      VMIM deleted before the hand-off
 * A VMIM deleted after the hand-off asks the source to abort (migrationState.abortRequested) and
 * keeps its finalizer until the source answers (abortStatus) and the migration ends.
 */
import { podNodeName } from '../../controllers/util/nodes.js';
import { podCondition, podPhase } from '../../controllers/util/pod-state.js';
import type { KubeObject } from '../../util/object.js';
import type { Vmi } from '../launcher/vmi-types.js';
import { LABEL_MIGRATION_TARGET_NODE, type MigrationConfiguration, type MigrationPhase, type MigrationState, migrationStateOf, type VirtualMachineInstanceMigration } from '../migration/migration-state.js';
import { isFinalMigration } from './migration-limits.js';
import { isLauncherStarted, isPodDown } from './vmi-pod-state.js';
import { isFinalPhase } from './vmi-status.js';
import { rfc3339 } from '../../controllers/util/nodes.js';

/** KubeVirt's finalizer on every VMIM (its mutating webhook adds it). */
export const MIGRATION_FINALIZER = 'kubevirt.io/migrationJobFinalize';
/** KubeVirt's VMIM condition once a deletion asked for the migration to stop. */
export const CONDITION_ABORT_REQUESTED = 'migrationAbortRequested';
/** KubeVirt's per-migration overrides of the pending target pod timeouts (seconds). */
export const ANN_UNSCHEDULABLE_TIMEOUT = 'kubevirt.io/migrationUnschedulablePodTimeoutSeconds';
export const ANN_PENDING_TIMEOUT = 'kubevirt.io/migrationPendingPodTimeoutSeconds';

/** KubeVirt's event reasons (pkg/controller). */
export const REASON = {
  failed: 'FailedMigration',
  succeeded: 'SuccessfulMigration',
  createdPod: 'SuccessfulCreate',
  deletedPod: 'SuccessfulDelete',
  handedOver: 'SuccessfulHandOver',
  abort: 'SuccessfulAbortMigration',
  unschedulable: 'migrationTargetPodUnschedulable',
} as const;

/** How long a target pod may stay Pending: unschedulable 5 min, anything else 15 min (KubeVirt's defaults). */
export interface PendingTimeouts {
  unschedulableSeconds: number;
  catchAllSeconds: number;
}
export const DEFAULT_PENDING_TIMEOUTS: PendingTimeouts = { unschedulableSeconds: 300, catchAllSeconds: 900 };

export interface MigrationView {
  vmim: VirtualMachineInstanceMigration;
  vmi?: Vmi;
  /** The pod labelled with this migration's uid. */
  targetPod?: KubeObject;
  /** The VMI's current launcher pod, the one that migrates away. */
  sourcePod?: KubeObject;
  /** The migration named in the VMI's migrationState is another one that has not ended. */
  otherMigrationInFlight: boolean;
  /** Why the target pod cannot be created yet (parallel limits, a second pod still running); undefined when it can. */
  mustWait?: string;
  /** The configuration and policy the hand-off writes (resolved only when needed). */
  resolveConfiguration: () => { configuration: MigrationConfiguration; policyName?: string };
  now: number;
  timeouts: PendingTimeouts;
}

export interface MigrationEvent {
  on: 'vmim' | 'vmi';
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export type MigrationAction =
  | { kind: 'createTargetPod' }
  | { kind: 'deleteTargetPod'; message: string }
  | { kind: 'handOff' }
  | { kind: 'requestAbort' }
  | { kind: 'moveToTarget' }
  | { kind: 'markFailedOnVmi' }
  | { kind: 'dropTargetLabel' };

export interface MigrationStep {
  status: NonNullable<VirtualMachineInstanceMigration['status']>;
  finalizers: string[];
  action?: MigrationAction;
  events: MigrationEvent[];
  /** Look again this much later (a pending timeout, a limit); events re-trigger the rest. */
  requeueAfterMs?: number;
}

/** How soon a migration held back by the limits is looked at again (KubeVirt: 1-5 s by priority). */
export const LIMIT_RECHECK_MS = 3000;


function timeoutSeconds(vmim: VirtualMachineInstanceMigration, annotation: string, fallback: number): number {
  const n = Number.parseInt(vmim.metadata.annotations?.[annotation] ?? '', 10);
  return Number.isNaN(n) ? fallback : n;
}

const isUnschedulable = (pod: KubeObject) => podCondition(pod, 'PodScheduled')?.status === 'False' && podCondition(pod, 'PodScheduled')?.reason === 'Unschedulable';

export function stepMigration(v: MigrationView): MigrationStep {
  const { vmim, vmi, targetPod } = v;
  const uid = vmim.metadata.uid!;
  const phase = vmim.status?.phase;
  const status = structuredClone(vmim.status ?? {});
  const out: MigrationStep = { status, finalizers: [...(vmim.metadata.finalizers ?? [])], events: [] };
  const state = migrationStateOf(vmi);
  const ours: MigrationState | undefined = state?.migrationUid === uid ? state : undefined;
  const deleting = !!vmim.metadata.deletionTimestamp;
  const vmimEvent = (type: MigrationEvent['type'], reason: string, message: string) => out.events.push({ on: 'vmim', type, reason, message });
  const fail = (message: string) => {
    status.phase = 'Failed';
    vmimEvent('Warning', REASON.failed, message);
  };
  const handedOff = phase === 'PreparingTarget' || phase === 'TargetReady' || phase === 'Running';

  if (isFinalMigration(vmim)) {
    out.finalizers = out.finalizers.filter((f) => f !== MIGRATION_FINALIZER);
    if (vmi && ours) out.action = endedOnVmi(vmi, ours, phase === 'Failed');
    // A failed migration's target pod never carries the guest (the VMI never moved there).
    if (!out.action && phase === 'Failed' && targetPod && !targetPod.metadata.deletionTimestamp && podNodeName(targetPod) !== vmi?.status?.nodeName) {
      out.action = { kind: 'deleteTargetPod', message: `migration failed and pod ${targetPod.metadata.namespace}/${targetPod.metadata.name} is deleted` };
    }
  } else if (!vmi) {
    fail('Migration failed because vmi does not exist.');
  } else if (isFinalPhase(vmi.status?.phase)) {
    fail('Migration failed vmi shutdown during migration.');
  } else if (deleting && !ours) {
    setAbortCondition(status, v.now);
    fail('Migration failed due to being canceled');
  } else if (targetPod && isPodDown(targetPod)) {
    fail('Migration failed because target pod shutdown during migration');
  } else if (phase && phase !== 'Pending' && !targetPod) {
    fail('Migration target pod was removed during active migration.');
  } else if (handedOff && !ours) {
    fail(state?.migrationUid ? "VMI's migration state was taken over by another migration job during active migration." : "VMI's migration state was cleared during the active migration.");
  } else if (ours?.failed || ours?.abortStatus === 'Succeeded') {
    fail('source node reported migration failed');
    out.events.push({ on: 'vmi', type: 'Warning', reason: REASON.failed, message: `VirtualMachineInstance migration uid ${uid} failed. reason:${ours.failureReason ?? ''}` });
  } else {
    if (deleting) setAbortCondition(status, v.now);
    progress(v, out, ours);
  }

  // The VMIM shows the VMI's migration state once handed off, and its source before (KubeVirt's SetSourcePod).
  if (ours) status.migrationState = structuredClone(ours);
  else if (!isFinalMigration(vmim) && v.sourcePod && vmi?.status?.nodeName) {
    status.migrationState = { ...status.migrationState, sourceNode: vmi.status.nodeName, sourcePod: v.sourcePod.metadata.name! } as MigrationState;
  }
  if (status.phase && status.phase !== phase) {
    status.phaseTransitionTimestamps = [...(status.phaseTransitionTimestamps ?? []), { phase: status.phase, phaseTransitionTimestamp: rfc3339(v.now) }];
  }
  return out;
}

/** What an ended migration still leaves to do on the VMI: KubeVirt marks a migration failed before the source started it; the target label goes. */
function endedOnVmi(vmi: Vmi, ours: MigrationState, failed: boolean): MigrationAction | undefined {
  if (failed && !ours.failed && !ours.completed && !ours.startTimestamp) return { kind: 'markFailedOnVmi' };
  if (vmi.metadata.labels?.[LABEL_MIGRATION_TARGET_NODE] !== undefined && (ours.completed || failed)) return { kind: 'dropTargetLabel' };
  return undefined;
}

function setAbortCondition(status: MigrationStep['status'], now: number): void {
  if (status.conditions?.some((c) => c.type === CONDITION_ABORT_REQUESTED)) return;
  status.conditions = [...(status.conditions ?? []), { type: CONDITION_ABORT_REQUESTED, status: 'True', lastProbeTime: rfc3339(now) }];
}

/** KubeVirt's processMigrationPhase and the phase's part of sync. */
function progress(v: MigrationView, out: MigrationStep, ours: MigrationState | undefined): void {
  const { vmim, vmi, targetPod } = v;
  const status = out.status;
  const next = (p: MigrationPhase) => (status.phase = p);
  // Deleted after the hand-off: the source handler cancels (before or during the transfer) and reports abortStatus.
  if (vmim.metadata.deletionTimestamp && ours && !ours.abortRequested) {
    out.action = { kind: 'requestAbort' };
    out.events.push({ on: 'vmim', type: 'Normal', reason: REASON.abort, message: 'Migration is ready to be canceled by virt-handler.' });
    return;
  }
  switch (vmim.status?.phase) {
    case undefined:
      if (v.otherMigrationInFlight) {
        status.phase = 'Failed';
        out.events.push({ on: 'vmim', type: 'Warning', reason: REASON.failed, message: 'VMI is not eligible for migration because another migration job is in progress.' });
      } else next('Pending');
      return;
    case 'Pending':
      if (targetPod) {
        next('Scheduling');
        pendingTimeouts(v, out);
      } else if (vmi!.status?.phase === 'Running' && v.sourcePod) {
        if (v.mustWait) out.requeueAfterMs = LIMIT_RECHECK_MS;
        else out.action = { kind: 'createTargetPod' };
      }
      return;
    case 'Scheduling':
      if (isLauncherStarted(targetPod!) && podNodeName(targetPod!)) next('Scheduled');
      else pendingTimeouts(v, out);
      return;
    case 'Scheduled':
      if (ours?.targetNode) next('PreparingTarget');
      else if (isLauncherStarted(targetPod!)) out.action = { kind: 'handOff' };
      return;
    case 'PreparingTarget':
      if (ours!.targetNodeAddress) next('TargetReady');
      return;
    case 'TargetReady':
      if (ours!.startTimestamp) next('Running');
      return;
    case 'Running':
      if (ours!.completed && !ours!.failed && ours!.targetNodeDomainReadyTimestamp) {
        if (vmi!.status?.nodeName !== ours!.targetNode) out.action = { kind: 'moveToTarget' };
        else {
          next('Succeeded');
          out.events.push({ on: 'vmim', type: 'Normal', reason: REASON.succeeded, message: 'Source node reported migration succeeded' });
        }
      }
      return;
  }
}

/** KubeVirt's handlePendingPodTimeout: a target pod Pending too long is deleted, which fails the migration. */
function pendingTimeouts(v: MigrationView, out: MigrationStep): void {
  const pod = v.targetPod!;
  if (podPhase(pod) !== 'Pending' || pod.metadata.deletionTimestamp) return;
  const created = Date.parse(pod.metadata.creationTimestamp ?? '');
  if (Number.isNaN(created)) return;
  const pending = Math.max(0, Math.floor((v.now - created) / 1000));
  const where = `${pod.metadata.namespace}/${pod.metadata.name}`;
  const check = (limit: number, message: string): boolean => {
    if (pending >= limit) {
      out.action = { kind: 'deleteTargetPod', message };
      return true;
    }
    out.requeueAfterMs = Math.min(out.requeueAfterMs ?? Infinity, (limit - pending) * 1000);
    return false;
  };
  if (isUnschedulable(pod)) {
    out.events.push({ on: 'vmim', type: 'Warning', reason: REASON.unschedulable, message: `Migration target pod for VMI [${v.vmi!.metadata.namespace}/${v.vmi!.metadata.name}] is currently unschedulable.` });
    if (check(timeoutSeconds(v.vmim, ANN_UNSCHEDULABLE_TIMEOUT, v.timeouts.unschedulableSeconds), `unschedulable pod ${where} timeout period exceeded`)) return;
  }
  check(timeoutSeconds(v.vmim, ANN_PENDING_TIMEOUT, v.timeouts.catchAllSeconds), `pending pod ${where} timeout period exceeded`);
}
