/**
 * What KubeVirt's virt-api does for the start, stop, restart and migrate subresources of a
 * VirtualMachine (pkg/virt-api/rest/lifecycle.go), as pure decisions: from the VM, its VMI (if
 * any) and the request options, either a refusal with KubeVirt's error or the change to make —
 * spec.runStrategy (or the older spec.running) flipped, state change requests queued in the VM's
 * status for the VM controller, a shorter grace period on the VMI, or a migration to create.
 */
import { ApiError } from '../../api/errors.js';
import { deepEqual, isPlainObject, type KubeObject } from '../../util/object.js';

export type RunStrategy = 'Always' | 'RerunOnFailure' | 'Manual' | 'Halted' | 'Once';

export interface StateChangeRequest {
  action: 'Start' | 'Stop';
  data?: Record<string, string>;
  uid?: string;
}

/** One change to make; the VM is updated against the resourceVersion it was read at. */
export interface LifecyclePlan {
  /** New spec.runStrategy or spec.running (whichever the VM uses). */
  spec?: { runStrategy: RunStrategy } | { running: boolean };
  /** The VM's status.stateChangeRequests after the request (and status.startFailure cleared). */
  stateChangeRequests?: StateChangeRequest[];
  /** A grace period to set on the running VMI first (a stop with a shorter grace period). */
  vmiTerminationGracePeriodSeconds?: number;
  /** Restart with gracePeriodSeconds 0: delete the launcher pod at once. */
  deleteLauncherPod?: boolean;
}

const VM_RESOURCE = { group: 'kubevirt.io', resource: 'virtualmachine' };
const VMI_RESOURCE = { group: 'kubevirt.io', resource: 'virtualmachineinstance' };
const VM_NOT_RUNNING = 'VM is not running';
const conflict = (vm: KubeObject, why: string) => ApiError.conflict(VM_RESOURCE, vm.metadata.name!, why);

interface VmSpec {
  running?: boolean;
  runStrategy?: RunStrategy;
  template?: { spec?: { startStrategy?: string } };
}
const specOf = (vm: KubeObject) => (vm.spec ?? {}) as VmSpec;
const statusOf = (o: KubeObject | undefined) => (isPlainObject(o?.status) ? o.status : {}) as Record<string, unknown>;
const phaseOf = (vmi: KubeObject) => (statusOf(vmi).phase as string | undefined) ?? '';
const isFinal = (vmi: KubeObject) => ['Succeeded', 'Failed'].includes(phaseOf(vmi));

/** The run strategy a VM asks for (KubeVirt's VirtualMachine.RunStrategy()): running maps to Always/Halted; neither means Halted. */
export function runStrategyOf(vm: KubeObject): RunStrategy {
  const spec = specOf(vm);
  if (spec.running !== undefined && spec.runStrategy !== undefined) throw ApiError.internal('running and runstrategy are mutually exclusive');
  if (spec.running !== undefined) return spec.running ? 'Always' : 'Halted';
  return spec.runStrategy ?? 'Halted';
}

/** runStrategy Always/Halted, or running true/false when the VM uses the older field. */
function runningChange(vm: KubeObject, running: boolean): LifecyclePlan['spec'] {
  return specOf(vm).runStrategy !== undefined ? { runStrategy: running ? 'Always' : 'Halted' } : { running };
}

/**
 * KubeVirt's getChangeRequestJson: requests join an empty queue; a lone stop replaces whatever
 * is queued; anything else while requests are pending is refused.
 */
function queue(vm: KubeObject, ...changes: StateChangeRequest[]): StateChangeRequest[] {
  const status = statusOf(vm);
  const pending = (status.stateChangeRequests as StateChangeRequest[] | undefined) ?? [];
  if (deepEqual(status, {}) || pending.length === 0) return changes;
  if (changes.length === 1 && changes[0].action === 'Stop') return changes;
  throw ApiError.internal('unable to complete request: stop/start already underway');
}

export function planStart(vm: KubeObject, vmi: KubeObject | undefined, opts: { paused?: boolean } = {}): LifecyclePlan {
  if (vmi && !isFinal(vmi) && phaseOf(vmi) !== 'Unknown' && phaseOf(vmi) !== '') throw conflict(vm, 'VM is already running');
  const data = opts.paused ? { paused: 'true' } : undefined;
  const start: StateChangeRequest = { action: 'Start', ...(data ? { data } : {}) };
  const strategy = runStrategyOf(vm);
  switch (strategy) {
    case 'Halted':
      // A paused start goes through the controller, which then flips the run strategy itself.
      if (opts.paused && specOf(vm).template?.spec?.startStrategy !== 'Paused') return { stateChangeRequests: queue(vm, start) };
      return { spec: runningChange(vm, true) };
    case 'RerunOnFailure':
    case 'Manual': {
      if (strategy === 'RerunOnFailure' && vmi && phaseOf(vmi) === 'Failed') throw conflict(vm, 'RerunOnFailure does not support starting VM from failed state');
      const needsRestart = !!vmi && (strategy === 'RerunOnFailure' ? phaseOf(vmi) === 'Succeeded' : isFinal(vmi));
      return { stateChangeRequests: needsRestart ? queue(vm, { action: 'Stop', uid: vmi!.metadata.uid }, start) : queue(vm, start) };
    }
    case 'Always':
    case 'Once':
      throw conflict(vm, `${strategy} does not support manual start requests`);
  }
}

export function planStop(vm: KubeObject, vmi: KubeObject | undefined, opts: { gracePeriod?: number } = {}): LifecyclePlan {
  const strategy = runStrategyOf(vm);
  const running = !!vmi && !isFinal(vmi);
  const plan: LifecyclePlan = running && opts.gracePeriod !== undefined ? { vmiTerminationGracePeriodSeconds: opts.gracePeriod } : {};
  const stopRequest = () => queue(vm, { action: 'Stop', uid: vmi!.metadata.uid });
  switch (strategy) {
    case 'Halted': {
      if (!running) throw conflict(vm, VM_NOT_RUNNING);
      const old = (vmi!.spec as { terminationGracePeriodSeconds?: number } | undefined)?.terminationGracePeriodSeconds;
      if (opts.gracePeriod === undefined || (old !== undefined && opts.gracePeriod >= old))
        throw conflict(vm, 'Halted only supports manual stop requests with a shorter graceperiod');
      return { ...plan, stateChangeRequests: stopRequest() };
    }
    case 'RerunOnFailure':
    case 'Manual':
      if (!running) throw conflict(vm, VM_NOT_RUNNING);
      return { ...plan, stateChangeRequests: stopRequest() };
    case 'Always':
    case 'Once':
      return { ...plan, spec: runningChange(vm, false) };
  }
}

export function planRestart(vm: KubeObject, vmi: KubeObject | undefined, opts: { gracePeriodSeconds?: number } = {}): LifecyclePlan {
  const grace = opts.gracePeriodSeconds;
  if (grace !== undefined && grace > 0) throw ApiError.badRequest('For force restart, only gracePeriod=0 is supported for now');
  if (grace !== undefined && grace < 0) throw ApiError.badRequest('gracePeriod has to be greater or equal to 0');
  const strategy = runStrategyOf(vm);
  if (strategy === 'Halted' || strategy === 'Once') throw conflict(vm, `RunStategy ${strategy} does not support manual restart requests`);
  if (!vmi) throw conflict(vm, `${VM_NOT_RUNNING}: Halted`);
  return { stateChangeRequests: queue(vm, { action: 'Stop', uid: vmi.metadata.uid }, { action: 'Start' }), ...(grace === 0 ? { deleteLauncherPod: true } : {}) };
}

/** The migration virt-api creates for `virtualmachines/NAME/migrate`, after KubeVirt's checks. */
export function planMigration(vm: KubeObject, vmi: KubeObject | undefined, opts: { addedNodeSelector?: Record<string, string> } = {}): KubeObject {
  const name = vm.metadata.name!;
  if (!vmi) throw ApiError.notFound(VMI_RESOURCE, name);
  if (phaseOf(vmi) !== 'Running') throw conflict(vm, VM_NOT_RUNNING);
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstanceMigration',
    metadata: { generateName: 'kubevirt-migrate-vm-', namespace: vm.metadata.namespace },
    spec: { vmiName: name, ...(opts.addedNodeSelector ? { addedNodeSelector: opts.addedNodeSelector } : {}) },
  };
}
