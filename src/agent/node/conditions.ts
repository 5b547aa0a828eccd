/**
 * The four node conditions as the kubelet's status setters write them (pkg/kubelet/nodestatus):
 * MemoryPressure, DiskPressure, PIDPressure, Ready — reasons and messages verbatim, heartbeat
 * time = now, transition time kept unless the status changed. Also the Node events the kubelet
 * records when a condition appears or changes (`NodeHasSufficientMemory`, `NodeReady`, ...).
 * Used by the node agent and by the simulated nodes.
 */
import type { Condition } from '../../controllers/util/nodes.js';

export interface ConditionInputs {
  memoryPressure: boolean;
  diskPressure: boolean;
  pidPressure: boolean;
  /** Why the node is not ready (runtime down, network not set up); undefined = ready. */
  notReady?: string;
  /** Ready=True message (default the kubelet's). */
  readyMessage?: string;
}

export interface ConditionsResult {
  conditions: Condition[];
  /** Event reasons for conditions that appeared or changed status, in condition order. */
  events: string[];
}

interface Variant {
  reason: string;
  message: string;
  event: string;
}

const SETTERS: { type: string; bad: (i: ConditionInputs) => boolean; ok: Variant; notOk: Variant; badStatus: 'True' | 'False' }[] = [
  {
    type: 'MemoryPressure',
    bad: (i) => i.memoryPressure,
    badStatus: 'True',
    ok: { reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available', event: 'NodeHasSufficientMemory' },
    notOk: { reason: 'KubeletHasInsufficientMemory', message: 'kubelet has insufficient memory available', event: 'NodeHasInsufficientMemory' },
  },
  {
    type: 'DiskPressure',
    bad: (i) => i.diskPressure,
    badStatus: 'True',
    ok: { reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure', event: 'NodeHasNoDiskPressure' },
    notOk: { reason: 'KubeletHasDiskPressure', message: 'kubelet has disk pressure', event: 'NodeHasDiskPressure' },
  },
  {
    type: 'PIDPressure',
    bad: (i) => i.pidPressure,
    badStatus: 'True',
    ok: { reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available', event: 'NodeHasSufficientPID' },
    notOk: { reason: 'KubeletHasInsufficientPID', message: 'kubelet has insufficient PID available', event: 'NodeHasInsufficientPID' },
  },
  {
    type: 'Ready',
    bad: (i) => i.notReady !== undefined,
    badStatus: 'False',
    ok: { reason: 'KubeletReady', message: 'kubelet is posting ready status', event: 'NodeReady' },
    notOk: { reason: 'KubeletNotReady', message: '', event: 'NodeNotReady' },
  },
];

/** The conditions to post now, given the ones the Node has. Other condition types are kept as they are. */
export function kubeletConditions(prev: Condition[] | undefined, inputs: ConditionInputs, now: string): ConditionsResult {
  const conditions: Condition[] = [];
  const events: string[] = [];
  for (const s of SETTERS) {
    const bad = s.bad(inputs);
    const status = bad ? s.badStatus : s.badStatus === 'True' ? 'False' : 'True';
    const v = bad ? s.notOk : s.ok;
    let message = v.message;
    if (s.type === 'Ready') message = bad ? inputs.notReady! : (inputs.readyMessage ?? v.message);
    const old = prev?.find((c) => c.type === s.type);
    const changed = !old || old.status !== status;
    conditions.push({
      type: s.type,
      status,
      lastHeartbeatTime: now,
      lastTransitionTime: !changed && old?.lastTransitionTime ? old.lastTransitionTime : now,
      reason: v.reason,
      message,
    });
    if (changed) events.push(v.event);
  }
  const ours = new Set(SETTERS.map((s) => s.type));
  for (const c of prev ?? []) if (!ours.has(c.type)) conditions.push(c);
  return { conditions, events };
}

/** Whether two condition lists differ in anything but heartbeat times (kubelet's nodeStatusHasChanged). */
export function conditionsDiffer(a: Condition[] | undefined, b: Condition[] | undefined): boolean {
  const strip = (cs: Condition[] | undefined) =>
    JSON.stringify((cs ?? []).map(({ type, status, reason, message, lastTransitionTime }) => ({ type, status, reason, message, lastTransitionTime })).sort((x, y) => x.type.localeCompare(y.type)));
  return strip(a) !== strip(b);
}
