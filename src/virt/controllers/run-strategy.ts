/**
 * What the VM controller does about the VMI for each run strategy, as KubeVirt's virt-controller
 * decides it (pkg/virt-controller/watch/vm syncRunStrategy, isSetToStart and
 * isTrimFirstChangeRequestNeeded), as pure functions of the VM and its VMI. The run strategy
 * itself (`running` → Always/Halted, mutual exclusion) is virt-api's runStrategyOf.
 */
import type { RunStrategy, StateChangeRequest } from '../api/vm-lifecycle.js';
import { isFinal, type VirtualMachine, type VirtualMachineInstance, vmiPhase } from './vm-api.js';

export interface RunDecision {
  /** Create the VMI (after the DataVolumes are ready). */
  start?: boolean;
  /** Delete the VMI. */
  stop?: boolean;
  /** RerunOnFailure after a failure: queue a Start so the next VMI follows the deleted one. */
  queueStart?: boolean;
  /** Halted with a start request (a paused start): flip the VM to Always (or running: true). */
  flipToRunning?: boolean;
}

const requests = (vm: VirtualMachine): StateChangeRequest[] => vm.status?.stateChangeRequests ?? [];

/** Only the first request counts: the later ones have not been acted on yet. */
export const hasStartRequest = (vm: VirtualMachine) => requests(vm)[0]?.action === 'Start';
export function hasStopRequestFor(vm: VirtualMachine, vmi: VirtualMachineInstance): boolean {
  const first = requests(vm)[0];
  return first?.action === 'Stop' && first.uid !== undefined && first.uid === vmi.metadata.uid;
}

export function decideRun(vm: VirtualMachine, vmi: VirtualMachineInstance | undefined, strategy: RunStrategy): RunDecision {
  const deleting = !!vmi?.metadata.deletionTimestamp;
  switch (strategy) {
    case 'Always':
      // A stop request for this VMI is a restart: delete it, and the next sync starts a new one.
      if (vmi) return !deleting && (hasStopRequestFor(vm, vmi) || isFinal(vmi)) ? { stop: true } : {};
      return { start: true };
    case 'RerunOnFailure': {
      if (vmi) {
        const failed = vmiPhase(vmi) === 'Failed';
        if (deleting || !(hasStopRequestFor(vm, vmi) || failed || vmiPhase(vmi) === 'Succeeded')) return {};
        return failed ? { stop: true, queueStart: true } : { stop: true };
      }
      // Coming from another strategy starts the VM; after a success or a stop it stays down.
      if (!hasStartRequest(vm) && vm.status?.runStrategy === strategy) return {};
      return { start: true };
    }
    case 'Manual':
      if (vmi) return hasStopRequestFor(vm, vmi) && !deleting ? { stop: true } : {};
      return hasStartRequest(vm) ? { start: true } : {};
    case 'Halted':
      if (vmi) return deleting ? {} : { stop: true };
      return hasStartRequest(vm) ? { flipToRunning: true } : {};
    case 'Once':
      return vmi ? {} : { start: true };
  }
}

/** Whether the VM is meant to run now (KubeVirt's isSetToStart; WaitingForVolumeBinding needs it). */
export function isSetToStart(vm: VirtualMachine, vmi: VirtualMachineInstance | undefined, strategy: RunStrategy): boolean {
  switch (strategy) {
    case 'Always':
      return true;
    case 'Halted':
      return false;
    case 'Manual':
      return vmi ? !hasStopRequestFor(vm, vmi) : hasStartRequest(vm);
    case 'RerunOnFailure':
      return vmi ? vmiPhase(vmi) !== 'Succeeded' : true;
    case 'Once':
      return !vmi;
  }
}

/**
 * The first state change request is done (and dropped) when a Stop's VMI is gone or replaced, or
 * a Start's VMI runs; a Stop without a uid can never be acted on and is dropped too.
 */
export function firstRequestDone(vm: VirtualMachine, vmi: VirtualMachineInstance | undefined): boolean {
  const first = requests(vm)[0];
  if (!first) return false;
  if (first.action === 'Stop') return !vmi || first.uid === undefined || first.uid !== vmi.metadata.uid;
  return !!vmi && !vmi.metadata.deletionTimestamp && !isFinal(vmi);
}
