/**
 * The VM's `status.printableStatus` (the STATUS column of `kubectl get vm`), as KubeVirt's
 * setPrintableStatus picks it: several may hold at once, so they are tried in KubeVirt's order and
 * the first that holds wins; none → Unknown. What comes from the VMI is read from whatever fields
 * it has (its phase, its Paused/PodScheduled/Synchronized conditions, its migration state).
 */
import { conditionOf, isFinal, type VirtualMachine, type VirtualMachineInstance, vmiPhase } from './vm-api.js';

export type PrintableStatus =
  | 'Stopped'
  | 'Provisioning'
  | 'Starting'
  | 'Running'
  | 'Paused'
  | 'Stopping'
  | 'Terminating'
  | 'CrashLoopBackOff'
  | 'Migrating'
  | 'Unknown'
  | 'ErrorUnschedulable'
  | 'ErrImagePull'
  | 'ImagePullBackOff'
  | 'ErrorPvcNotFound'
  | 'DataVolumeError'
  | 'WaitingForVolumeBinding';

export interface StatusFacts {
  /** The controller created the VMI in this pass (KubeVirt: a creation expectation pending). */
  startExpected: boolean;
  /** The controller deleted the VMI in this pass. */
  stopExpected: boolean;
  /** The run strategy wants a VMI now (isSetToStart). */
  setToStart: boolean;
  /** The run strategy is one that restarts a failed VMI (Always, RerunOnFailure, Once). */
  restarts: boolean;
  dataVolumeError: boolean;
  dataVolumeProvisioning: boolean;
  unboundClaim: boolean;
}

const conditionIs = (vmi: VirtualMachineInstance | undefined, type: string, status: string, reason?: string) => {
  const c = conditionOf(vmi, type);
  return !!c && c.status === status && (reason === undefined || c.reason === reason);
};
const isRunning = (vmi: VirtualMachineInstance | undefined) => !!vmi && vmiPhase(vmi) === 'Running';
const isMigrating = (vmi: VirtualMachineInstance | undefined) => !!vmi?.status?.migrationState?.startTimestamp && !vmi.status.migrationState.endTimestamp;

export function printableStatus(vm: VirtualMachine, vmi: VirtualMachineInstance | undefined, f: StatusFacts): PrintableStatus {
  const paused = conditionIs(vmi, 'Paused', 'True');
  const checks: [PrintableStatus, () => boolean][] = [
    ['Terminating', () => !!vm.metadata.deletionTimestamp],
    ['Stopping', () => !!vmi && !isFinal(vmi) && (!!vmi.metadata.deletionTimestamp || f.stopExpected)],
    ['Migrating', () => isMigrating(vmi)],
    ['Paused', () => isRunning(vmi) && paused],
    ['Running', () => isRunning(vmi) && !paused],
    ['ErrorPvcNotFound', () => conditionIs(vmi, 'Synchronized', 'False', 'FailedPvcNotFound')],
    ['DataVolumeError', () => f.dataVolumeError],
    ['ErrorUnschedulable', () => conditionIs(vmi, 'PodScheduled', 'False', 'Unschedulable')],
    ['Provisioning', () => f.dataVolumeProvisioning],
    ['WaitingForVolumeBinding', () => f.setToStart && f.unboundClaim],
    ['ErrImagePull', () => conditionIs(vmi, 'Synchronized', 'False', 'ErrImagePull')],
    ['ImagePullBackOff', () => conditionIs(vmi, 'Synchronized', 'False', 'ImagePullBackOff')],
    ['Starting', () => (vmi ? ['', 'Pending', 'Scheduling', 'Scheduled'].includes(vmiPhase(vmi)) : f.startExpected)],
    [
      'CrashLoopBackOff',
      () => (!vmi || isFinal(vmi)) && !f.startExpected && f.restarts && (vm.status?.startFailure?.consecutiveFailCount ?? 0) > 0,
    ],
    ['Stopped', () => (vmi ? isFinal(vmi) : !f.startExpected)],
  ];
  return checks.find(([, holds]) => holds())?.[0] ?? 'Unknown';
}
