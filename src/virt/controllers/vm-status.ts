/**
 * The VM's status after a sync, as KubeVirt's VM controller writes it: `created`/`ready` from the
 * VMI, the Ready condition mirrored from the VMI's (or VMINotExists / VMIConditionMissing), the
 * VMI's other conditions copied, a Failure condition carrying the sync error (removed once a sync
 * succeeds), `runStrategy`, `desiredGeneration`/`observedGeneration`, the pinned instancetype and
 * preference revisions, the start-failure record, the remaining state change requests and the
 * printable status. Condition
 * timestamps move only when a condition changes, so an unchanged VM writes nothing.
 */
import type { RunStrategy, StateChangeRequest } from '../api/vm-lifecycle.js';
import { printableStatus, type StatusFacts } from './printable-status.js';
import { ANN_VM_GENERATION, conditionOf, isFinal, type RevisionRef, type VirtualMachine, type VirtualMachineInstance, type VmCondition, type VmStatus } from './vm-api.js';

export interface SyncFailure {
  reason: string;
  message: string;
}

/** Conditions the VM keeps itself rather than copying from the VMI. */
const OWN_CONDITIONS = new Set(['Ready', 'Failure', 'RestartRequired']);

/** `next` with the old condition's timestamps when nothing but timestamps changed. */
function keepTimes(old: VmCondition | undefined, next: VmCondition): VmCondition {
  if (old && old.status === next.status && old.reason === next.reason && old.message === next.message) {
    return { ...next, lastProbeTime: old.lastProbeTime ?? null, lastTransitionTime: old.lastTransitionTime ?? null };
  }
  return next;
}

export function syncConditions(existing: VmCondition[], vmi: VirtualMachineInstance | undefined, failure: SyncFailure | undefined, now: string): VmCondition[] {
  const byType = new Map(existing.map((c) => [c.type, c]));
  const vmiReady = conditionOf(vmi, 'Ready');
  const ready: VmCondition = !vmi
    ? { type: 'Ready', status: 'False', reason: 'VMINotExists', message: 'VMI does not exist', lastProbeTime: now, lastTransitionTime: now }
    : !vmiReady
      ? { type: 'Ready', status: 'False', reason: 'VMIConditionMissing', message: 'VMI is missing the Ready condition', lastProbeTime: now, lastTransitionTime: now }
      : { ...vmiReady, type: 'Ready' };
  byType.set('Ready', keepTimes(byType.get('Ready'), ready));
  if (failure) byType.set('Failure', keepTimes(byType.get('Failure'), { type: 'Failure', status: 'True', reason: failure.reason, message: failure.message, lastProbeTime: null, lastTransitionTime: now }));
  else byType.delete('Failure');
  if (vmi) {
    const fromVmi = (vmi.status?.conditions ?? []).filter((c) => !OWN_CONDITIONS.has(c.type));
    for (const type of [...byType.keys()]) if (!OWN_CONDITIONS.has(type) && !fromVmi.some((c) => c.type === type)) byType.delete(type);
    for (const c of fromVmi) byType.set(c.type, { ...c });
  }
  return [...byType.values()];
}

export interface StatusInput {
  /** Undefined when the run strategy could not be read (running and runStrategy both set). */
  strategy?: RunStrategy;
  failure?: SyncFailure;
  facts: StatusFacts;
  stateChangeRequests: StateChangeRequest[];
  instancetypeRef?: RevisionRef;
  preferenceRef?: RevisionRef;
  /** The start-failure record after this pass (start-failure.ts); undefined clears it. */
  startFailure?: VmStatus['startFailure'];
  now: string;
}

export function nextStatus(vm: VirtualMachine, vmi: VirtualMachineInstance | undefined, input: StatusInput): VmStatus {
  const { stateChangeRequests: _old, instancetypeRef: _it, preferenceRef: _pref, startFailure: _sf, ...kept } = vm.status ?? {};
  const withFailure: VirtualMachine = { ...vm, status: { ...vm.status, startFailure: input.startFailure } };
  const status: VmStatus = {
    ...kept,
    created: !!vmi,
    ready: !!vmi && !isFinal(vmi) && conditionOf(vmi, 'Ready')?.status === 'True',
    conditions: syncConditions(vm.status?.conditions ?? [], vmi, input.failure, input.now),
    printableStatus: printableStatus(withFailure, vmi, input.facts),
    desiredGeneration: vm.metadata.generation,
  };
  if (input.strategy) status.runStrategy = input.strategy;
  const observed = vmi?.metadata.annotations?.[ANN_VM_GENERATION];
  if (observed !== undefined) status.observedGeneration = Number(observed);
  if (input.stateChangeRequests.length) status.stateChangeRequests = input.stateChangeRequests;
  if (input.instancetypeRef) status.instancetypeRef = input.instancetypeRef;
  if (input.preferenceRef) status.preferenceRef = input.preferenceRef;
  if (input.startFailure) status.startFailure = input.startFailure;
  return status;
}
