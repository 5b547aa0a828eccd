/**
 * Start-failure back-off, as KubeVirt's VM controller keeps it in `status.startFailure`: a VMI that
 * ends (Succeeded or Failed) without ever having been Running counts as a failed start; each
 * one in a row delays the next start of an Always or RerunOnFailure VM by
 * max(10, maxDelay/30) × count² seconds plus up to half again at random (so failing VMs spread
 * out), at most 5 minutes; the VM shows CrashLoopBackOff meanwhile. A VMI that reached Running,
 * or a run strategy that does not restart, clears it.
 */
import { rfc3339 } from '../../controllers/util/nodes.js';
import type { RunStrategy } from '../api/vm-lifecycle.js';
import { isFinal, type VirtualMachine, type VirtualMachineInstance, type VmStatus } from './vm-api.js';

/** KubeVirt's defaultMaxCrashLoopBackoffDelaySeconds. */
export const MAX_BACKOFF_SECONDS = 300;

export type StartFailure = NonNullable<VmStatus['startFailure']>;

/** Seconds to wait before the next start after `failCount` failed starts in a row (KubeVirt's calculateStartBackoffTime). */
export function startBackoffSeconds(failCount: number, random: () => number = Math.random, maxDelay = MAX_BACKOFF_SECONDS): number {
  const interval = Math.max(10, Math.floor(maxDelay / 30));
  const delay = interval * Math.max(1, failCount) ** 2;
  const jitter = Math.floor(random() * (Math.floor(delay / 2) + 1));
  return Math.min(maxDelay, delay + jitter);
}

/** Whether the VMI ever reached Running (its phase transition history says so). */
export function wasRunning(vmi: VirtualMachineInstance | undefined): boolean {
  const history = (vmi?.status?.phaseTransitionTimestamps as { phase?: string }[] | undefined) ?? [];
  return history.some((t) => t.phase === 'Running');
}

/** status.startFailure after seeing `vmi` (KubeVirt's syncStartFailureStatus); undefined clears it. */
export function nextStartFailure(vm: VirtualMachine, vmi: VirtualMachineInstance | undefined, strategy: RunStrategy | undefined, now: Date, random?: () => number): StartFailure | undefined {
  const current = vm.status?.startFailure;
  if (wasRunning(vmi) || (strategy && strategy !== 'Always' && strategy !== 'RerunOnFailure' && strategy !== 'Once')) return undefined;
  if (!vmi || !isFinal(vmi) || current?.lastFailedVMIUID === vmi.metadata.uid) return current;
  const count = (current?.consecutiveFailCount ?? 0) + 1;
  const retryAfter = new Date(now.getTime() + startBackoffSeconds(count, random) * 1000);
  return { consecutiveFailCount: count, lastFailedVMIUID: vmi.metadata.uid, retryAfterTimestamp: rfc3339(retryAfter) };
}

/** Milliseconds until the VM may be started again (0: now). */
export function backoffLeftMs(vm: VirtualMachine, now: Date): number {
  const retryAfter = vm.status?.startFailure?.retryAfterTimestamp;
  return retryAfter ? Math.max(0, Date.parse(retryAfter) - now.getTime()) : 0;
}
