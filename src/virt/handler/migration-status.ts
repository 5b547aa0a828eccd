/**
 * What a node's VirtHandler does about a VMI's migrationState, and the fields it writes back
 * (migration-state.ts names the writer of each field; these are the handlers'). Pure, so the
 * level-triggered decisions are unit-tested: the target prepares until the guest runs on it, the
 * source starts, aborts or reports, and a source whose VMI has moved away ends its QEMU.
 */
import type { MigrationState } from '../migration/migration-state.js';
import type { SourceOutcome } from './migration-source.js';
import { FAILURE } from './migration-options.js';

export type TargetAction =
  /** Not this node's migration, or nothing left to do. */
  | 'none'
  /** Launch with `-incoming defer` (if not yet), prepare, publish the address and ports; then wait for the guest. */
  | 'prepare'
  /** The migration failed or was aborted: stop the NBD server and the proxies. */
  | 'cleanUp';

/** The target node's part; `nodeName` is the VMI's status.nodeName. */
export function targetAction(ms: MigrationState | undefined, node: string, nodeName: string | undefined): TargetAction {
  if (!ms || ms.targetNode !== node || nodeName === node) return 'none';
  if (ms.failed) return 'cleanUp';
  if (ms.targetNodeDomainReadyTimestamp) return 'none';
  return 'prepare';
}

export type SourceAction =
  | 'none'
  /** The target is ready: run the migration (or adopt the one QEMU runs, after an agent restart). */
  | 'migrate'
  /** The VMIM went before the migration started: it ends, aborted. */
  | 'abortBeforeStart'
  /** The VMIM went after the migration had completed: too late to abort. */
  | 'abortTooLate';

/** The source node's part, on a VMI whose status.nodeName is this node. */
export function sourceAction(ms: MigrationState | undefined, node: string): SourceAction {
  if (!ms || ms.sourceNode !== node || ms.targetNode === node) return 'none';
  if (ms.endTimestamp) return ms.abortRequested && !ms.abortStatus ? 'abortTooLate' : 'none';
  if (ms.abortRequested && !ms.startTimestamp) return 'abortBeforeStart';
  if (!ms.targetNodeAddress || !ms.targetDirectMigrationNodePorts) return 'none';
  return 'migrate';
}

/** Whether the source's QEMU should end: its guest runs on the target and the VMI has moved there. */
export function sourceHandedOver(ms: MigrationState | undefined, node: string, nodeName: string | undefined): boolean {
  return !!ms && ms.sourceNode === node && nodeName !== node && ms.completed === true && ms.failed !== true;
}

/** The source's fields once the migration ended. */
export function outcomeFields(o: SourceOutcome, abortRequested: boolean, now: string): Partial<MigrationState> {
  if (o.result === 'completed') return { completed: true, endTimestamp: now, ...(abortRequested ? { abortStatus: 'Failed' as const } : {}) };
  return {
    // KubeVirt marks a failed migration completed too: it has ended.
    completed: true,
    failed: true,
    failureReason: o.aborted ? FAILURE.aborted : o.reason,
    endTimestamp: now,
    ...(o.aborted ? { abortStatus: 'Succeeded' as const } : abortRequested ? { abortStatus: 'Failed' as const } : {}),
  };
}

/** The fields of an abort that came before the migration started. */
export function abortedBeforeStartFields(now: string): Partial<MigrationState> {
  return { completed: true, failed: true, failureReason: FAILURE.aborted, abortStatus: 'Succeeded', endTimestamp: now };
}
