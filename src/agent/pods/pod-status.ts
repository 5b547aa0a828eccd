/**
 * A pod's API status from what the node knows, as the kubelet computes it: container states from
 * runtime records (kuberuntime + convertToAPIContainerStatuses), termination messages
 * (getTerminationMessage), the phase (getPhase, Kubernetes 1.32, sidecars included), the
 * kubelet-owned conditions (status/generate.go, with the status manager's lastTransitionTime
 * rule) and the merge with the status already in the API (status manager's mergePodStatus).
 * Pure functions: reading files and logs is the caller's.
 */
import type { ContainerStatus as RuntimeContainerStatus } from '../runtime/container-runtime.js';
import type { ContainerState, ContainerStatus, Pod, PodCondition, PodPhase, PodStatus } from './api-types.js';

/** upstream kubecontainer.MaxContainerTerminationMessageLength and the log fallback limits. */
export const MAX_TERMINATION_MESSAGE_BYTES = 4096;
export const MAX_TERMINATION_MESSAGE_LOG_LINES = 80;
export const MAX_TERMINATION_MESSAGE_LOG_BYTES = 2048;

/** Conditions the kubelet owns (types.PodConditionsByKubelet + PodReadyToStartContainers). */
export const KUBELET_CONDITIONS = ['PodScheduled', 'Ready', 'Initialized', 'ContainersReady', 'PodReadyToStartContainers'];
/** Set by others (eviction, preemption), carried along by the kubelet. */
const DISRUPTION_TARGET = 'DisruptionTarget';

/** The container id as the API shows it. */
export const apiContainerID = (id: string) => `cairn://${id}`;

/** The last `max` bytes of a string (upstream reads byte tails too). */
function lastBytes(s: string, max: number): string {
  const b = Buffer.from(s, 'utf8');
  return b.length <= max ? s : b.subarray(b.length - max).toString('utf8');
}

/** A runtime time as the API shows it: metav1.Time is RFC 3339 in whole seconds. */
const apiTime = (t: string | undefined) => t?.replace(/\.\d+Z$/, 'Z');

/** The API state of one runtime container record. */
export function containerState(rt: RuntimeContainerStatus, opts: { terminationMessage?: string } = {}): ContainerState {
  const containerID = apiContainerID(rt.id);
  const startedAt = apiTime(rt.startedAt);
  const finishedAt = apiTime(rt.finishedAt);
  switch (rt.state) {
    case 'running':
      return { running: { startedAt } };
    case 'created':
      return { waiting: { reason: 'ContainerCreating' } };
    case 'unknown':
      // The kubelet's answer for a container whose end it did not see.
      return {
        terminated: {
          exitCode: 137,
          reason: 'ContainerStatusUnknown',
          message: 'The container could not be located when the pod was terminated',
          startedAt: startedAt ?? null,
          finishedAt: finishedAt ?? null,
          containerID,
        },
      };
    case 'exited': {
      const exitCode = rt.exitCode ?? 0;
      const reason = rt.oomKilled ? 'OOMKilled' : rt.reason || (exitCode === 0 ? 'Completed' : 'Error');
      // The runtime's message, enriched with what the application wrote (as the kubelet does).
      const parts = [rt.message, opts.terminationMessage].filter((m): m is string => !!m);
      return {
        terminated: {
          exitCode,
          reason,
          ...(parts.length ? { message: parts.join(': ') } : {}),
          startedAt: startedAt ?? null,
          finishedAt: finishedAt ?? null,
          containerID,
        },
      };
    }
  }
}

/**
 * The termination message of an exited container (upstream getTerminationMessage +
 * readLastStringFromContainerLogs): the termination-log file (its last 4096 bytes); with
 * FallbackToLogsOnError, a failed container (non-zero exit, and not one that never ran) whose file
 * is missing or empty gets the last 80 lines of its log, at most 2048 bytes.
 * `fileContent` is undefined when the file does not exist; `logTail` is only called when needed.
 */
export function terminationMessage(
  policy: 'File' | 'FallbackToLogsOnError' | undefined,
  fileContent: string | undefined,
  logTail: () => string,
  exitCode: number,
  reason?: string,
): string | undefined {
  const fallback = policy === 'FallbackToLogsOnError' && exitCode !== 0 && reason !== 'ContainerCannotRun';
  const file = fileContent === undefined ? '' : lastBytes(fileContent, MAX_TERMINATION_MESSAGE_BYTES);
  if (file) return file;
  if (!fallback) return undefined;
  const log = logTail();
  const trailing = log.endsWith('\n');
  const lines = (trailing ? log.slice(0, -1) : log).split('\n');
  const tail = lines.slice(-MAX_TERMINATION_MESSAGE_LOG_LINES).join('\n') + (trailing ? '\n' : '');
  return lastBytes(tail, MAX_TERMINATION_MESSAGE_LOG_BYTES) || undefined;
}

const isSidecar = (c: { restartPolicy?: string }) => c.restartPolicy === 'Always';
const byName = (list: ContainerStatus[], name: string) => list.find((s) => s.name === name);

/** upstream HasAnyRegularContainerStarted: a regular container is running or has terminated. */
function anyRegularStarted(pod: Pod, regular: ContainerStatus[]): boolean {
  return pod.spec.containers.some((c) => {
    const s = byName(regular, c.name);
    return !!(s?.state?.running || s?.state?.terminated);
  });
}

/**
 * The pod phase from its container statuses, as the kubelet's getPhase in Kubernetes 1.32.
 * `podIsTerminal`: the pod worker has decided the pod is done (deleted, or past its deadline), so
 * stopped containers will not restart whatever the restart policy.
 */
export function podPhase(pod: Pod, init: ContainerStatus[], regular: ContainerStatus[], opts: { podIsTerminal?: boolean } = {}): PodPhase {
  const spec = pod.spec;
  let pendingRegularInit = 0;
  let pendingSidecars = 0;
  let failedInitialization = 0;
  for (const c of spec.initContainers ?? []) {
    if (isSidecar(c)) continue;
    const s = byName(init, c.name);
    if (!s?.state) {
      pendingRegularInit++;
    } else if (s.state.running) {
      pendingRegularInit++;
    } else if (s.state.terminated) {
      if (s.state.terminated.exitCode !== 0) failedInitialization++;
    } else if (s.state.waiting) {
      if (s.lastState?.terminated) {
        if (s.lastState.terminated.exitCode !== 0) failedInitialization++;
      } else pendingRegularInit++;
    } else pendingRegularInit++;
  }

  let unknown = 0;
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const c of spec.initContainers ?? []) {
    if (!isSidecar(c)) continue;
    const s = byName(init, c.name);
    if (!s) {
      unknown++;
    } else if (s.state?.running) {
      if (!s.started) pendingSidecars++;
      running++;
    } else if (s.state?.terminated) {
      // A stopped sidecar does not count for the phase.
    } else if (s.state?.waiting) {
      if (!s.lastState?.terminated) {
        pendingSidecars++;
        waiting++;
      }
    } else {
      pendingSidecars++;
      unknown++;
    }
  }
  for (const c of spec.containers) {
    const s = byName(regular, c.name);
    if (!s) {
      unknown++;
    } else if (s.state?.running) {
      running++;
    } else if (s.state?.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state?.waiting) {
      if (s.lastState?.terminated) stopped++;
      else waiting++;
    } else unknown++;
  }

  const restartPolicy = spec.restartPolicy ?? 'Always';
  if (failedInitialization > 0 && restartPolicy === 'Never') return 'Failed';
  // Restarting sidecars do not send an initialized pod back to Pending.
  if (pendingRegularInit > 0 || (pendingSidecars > 0 && !anyRegularStarted(pod, regular)) || waiting > 0) return 'Pending';
  if (running > 0 && unknown === 0) return 'Running';
  if (running === 0 && stopped > 0 && unknown === 0) {
    if (opts.podIsTerminal) return stopped === succeeded ? 'Succeeded' : 'Failed';
    if (restartPolicy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (restartPolicy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

/** What podConditions needs besides the pod (whose status.phase is the phase just computed). */
export interface ConditionInput {
  init: ContainerStatus[];
  regular: ContainerStatus[];
  /** The pod's sandbox (network namespace with its IP) exists. */
  sandboxReady: boolean;
}

type NewCondition = Pick<PodCondition, 'type' | 'status' | 'reason' | 'message'>;

const goList = (names: string[]) => `[${names.join(' ')}]`;

function containersReady(pod: Pod, statuses: ContainerStatus[], phase: PodPhase | undefined): NewCondition {
  const unknown: string[] = [];
  const unready: string[] = [];
  const check = (name: string) => {
    const s = byName(statuses, name);
    if (!s) unknown.push(name);
    else if (!s.ready) unready.push(name);
  };
  for (const c of pod.spec.initContainers ?? []) if (isSidecar(c)) check(c.name);
  for (const c of pod.spec.containers) check(c.name);
  if (phase === 'Succeeded' && unknown.length === 0) return { type: 'ContainersReady', status: 'False', reason: 'PodCompleted' };
  if (phase === 'Failed') return { type: 'ContainersReady', status: 'False', reason: 'PodFailed' };
  const messages: string[] = [];
  if (unknown.length) messages.push(`containers with unknown status: ${goList(unknown)}`);
  if (unready.length) messages.push(`containers with unready status: ${goList(unready)}`);
  if (messages.length) return { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: messages.join(', ') };
  return { type: 'ContainersReady', status: 'True' };
}

function podReady(pod: Pod, conditions: PodCondition[], cr: NewCondition): NewCondition {
  if (cr.status !== 'True') return { type: 'Ready', status: cr.status, reason: cr.reason, message: cr.message };
  const messages: string[] = [];
  for (const gate of pod.spec.readinessGates ?? []) {
    const c = conditions.find((x) => x.type === gate.conditionType);
    if (!c) messages.push(`corresponding condition of pod readiness gate ${JSON.stringify(gate.conditionType)} does not exist.`);
    else if (c.status !== 'True') messages.push(`the status of pod readiness gate ${JSON.stringify(gate.conditionType)} is not "True", but ${c.status}`);
  }
  if (messages.length) return { type: 'Ready', status: 'False', reason: 'ReadinessGatesNotReady', message: messages.join(', ') };
  return { type: 'Ready', status: 'True' };
}

function initialized(pod: Pod, init: ContainerStatus[], regular: ContainerStatus[], phase: PodPhase | undefined): NewCondition {
  const unknown: string[] = [];
  const incomplete: string[] = [];
  for (const c of pod.spec.initContainers ?? []) {
    const s = byName(init, c.name);
    if (!s) unknown.push(c.name);
    else if (isSidecar(c) ? !s.started : !s.ready) incomplete.push(c.name);
  }
  if (phase === 'Succeeded' && unknown.length === 0) return { type: 'Initialized', status: 'True', reason: 'PodCompleted' };
  // Regular containers have run: the pod was initialized (sidecars may be restarting now).
  if (anyRegularStarted(pod, regular)) return { type: 'Initialized', status: 'True' };
  const messages: string[] = [];
  if (unknown.length) messages.push(`containers with unknown status: ${goList(unknown)}`);
  if (incomplete.length) messages.push(`containers with incomplete status: ${goList(incomplete)}`);
  if (messages.length) return { type: 'Initialized', status: 'False', reason: 'ContainersNotInitialized', message: messages.join(', ') };
  return { type: 'Initialized', status: 'True' };
}

/** Stamps lastTransitionTime: the previous one while the status is unchanged, else now (status manager). */
function stamp(c: NewCondition, prev: PodCondition[] | undefined, now: string): PodCondition {
  const old = prev?.find((p) => p.type === c.type);
  const out: PodCondition = { type: c.type, status: c.status, lastProbeTime: null, lastTransitionTime: old && old.status === c.status ? (old.lastTransitionTime ?? now) : now };
  if (c.reason) out.reason = c.reason;
  if (c.message) out.message = c.message;
  return out;
}

/**
 * The pod's conditions: those owned by others as the API has them (plus DisruptionTarget from
 * `prev`), then PodReadyToStartContainers, Initialized, Ready, ContainersReady and PodScheduled.
 * `prev` is the status last computed or posted (for DisruptionTarget and transition times).
 */
export function podConditions(pod: Pod, input: ConditionInput, prev: PodCondition[] | undefined, now: string): PodCondition[] {
  const phase = pod.status?.phase;
  const previous = prev ?? pod.status?.conditions;
  const out: PodCondition[] = (pod.status?.conditions ?? []).filter((c) => !KUBELET_CONDITIONS.includes(c.type)).map((c) => ({ ...c }));
  const disruption = previous?.find((c) => c.type === DISRUPTION_TARGET);
  if (disruption) {
    const at = out.findIndex((c) => c.type === DISRUPTION_TARGET);
    if (at >= 0) out[at] = { ...disruption };
    else out.push({ ...disruption });
  }
  const all = [...input.init, ...input.regular];
  out.push(stamp({ type: 'PodReadyToStartContainers', status: input.sandboxReady ? 'True' : 'False' }, previous, now));
  out.push(stamp(initialized(pod, input.init, input.regular, phase), previous, now));
  const cr = containersReady(pod, all, phase);
  out.push(stamp(podReady(pod, out, cr), previous, now));
  out.push(stamp(cr, previous, now));
  out.push(stamp({ type: 'PodScheduled', status: 'True' }, previous, now));
  return out;
}

const isTerminal = (p: PodPhase | undefined) => p === 'Succeeded' || p === 'Failed';

export interface MergeOptions {
  /** Containers may still run: a terminal phase is held back until they have stopped (default false). */
  couldHaveRunningContainers?: boolean;
  /** For transition times set here (default: the current time). */
  now?: string;
}

/**
 * The status to write, from the one in the API (`prev`) and the one just computed (`next`), as the
 * kubelet's generateAPIPodStatus + status manager: conditions owned by others stay as `prev` has
 * them (DisruptionTarget from `next`); startTime and qosClass never change once set; a terminal
 * phase is final, and reached only once no container can run; reason and message stay with their
 * phase; a terminal pod is never Ready.
 */
export function mergeStatus(prev: PodStatus | undefined, next: PodStatus, opts: MergeOptions = {}): PodStatus {
  const now = opts.now ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const out: PodStatus = { ...next };
  const conditions: PodCondition[] = (prev?.conditions ?? []).filter((c) => !KUBELET_CONDITIONS.includes(c.type) && c.type !== DISRUPTION_TARGET);
  for (const c of next.conditions ?? []) if (KUBELET_CONDITIONS.includes(c.type) || c.type === DISRUPTION_TARGET) conditions.push(c);
  out.conditions = conditions;
  if (prev?.startTime) out.startTime = prev.startTime;
  if (prev?.qosClass) out.qosClass = prev.qosClass;

  const keepPrevPhase = () => {
    out.phase = prev!.phase;
    out.reason = prev!.reason;
    out.message = prev!.message;
  };
  if (isTerminal(prev?.phase) && out.phase !== prev!.phase) keepPrevPhase();
  else if (!isTerminal(prev?.phase) && isTerminal(out.phase) && opts.couldHaveRunningContainers && prev) keepPrevPhase();
  else if (prev && out.phase === prev.phase) {
    out.reason ??= prev.reason;
    out.message ??= prev.message;
  }

  if (isTerminal(out.phase)) {
    const reason = out.phase === 'Succeeded' ? 'PodCompleted' : 'PodFailed';
    out.conditions = out.conditions.map((c) =>
      (c.type === 'Ready' || c.type === 'ContainersReady') && c.status === 'True'
        ? { type: c.type, status: 'False', reason, lastProbeTime: null, lastTransitionTime: now }
        : c,
    );
  }
  return out;
}
