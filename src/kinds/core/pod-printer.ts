/**
 * `kubectl get pods` columns, computed as upstream's printPod does: the Status column is the
 * pod's phase refined by init-container progress, container waiting/terminated reasons and
 * deletion, and Restarts shows the time since the last restart.
 */
import type { Printer } from '../types.js';
import { age, ageColumn, nameColumn } from '../printing.js';
import { asObj, asObjList, asStr, type Obj } from './helpers.js';

const isSidecar = (c: Obj | undefined) => c?.restartPolicy === 'Always';

/** The later of two RFC 3339 timestamps ('' when neither is set). */
const later = (a: string, b: string) => (!a ? b : !b ? a : Date.parse(b) > Date.parse(a) ? b : a);

const lastTerminatedAt = (st: Obj) => asStr(asObj(asObj(st.lastState)?.terminated)?.finishedAt);

/** "Reason" of a terminated container, or Signal:N / ExitCode:N when it has none. */
function terminatedReason(t: Obj, prefix: string): string {
  if (asStr(t.reason)) return prefix + asStr(t.reason);
  return t.signal ? `${prefix}Signal:${t.signal}` : `${prefix}ExitCode:${Number(t.exitCode ?? 0)}`;
}

export interface PodRow {
  ready: string;
  status: string;
  restarts: string;
}

export function podRow(pod: Obj, now: Date): PodRow {
  const spec = asObj(pod.spec) ?? {};
  const status = asObj(pod.status) ?? {};
  const conditions = asObjList(status.conditions);
  const phase = asStr(status.phase);
  let reason = asStr(status.reason) || phase;
  if (conditions.some((c) => c.type === 'PodScheduled' && c.reason === 'SchedulingGated')) reason = 'SchedulingGated';

  const initSpecs = new Map(asObjList(spec.initContainers).map((c) => [asStr(c.name), c]));
  const total = asObjList(spec.containers).length + [...initSpecs.values()].filter(isSidecar).length;
  let ready = 0;
  let restarts = 0;
  let sidecarRestarts = 0;
  let lastRestart = '';
  let lastSidecarRestart = '';

  let initializing = false;
  const initStatuses = asObjList(status.initContainerStatuses);
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i];
    const restartCount = Number(cs.restartCount ?? 0);
    restarts += restartCount;
    lastRestart = later(lastRestart, lastTerminatedAt(cs));
    const sidecar = isSidecar(initSpecs.get(asStr(cs.name)));
    if (sidecar) {
      sidecarRestarts += restartCount;
      lastSidecarRestart = later(lastSidecarRestart, lastTerminatedAt(cs));
    }
    const state = asObj(cs.state) ?? {};
    const terminated = asObj(state.terminated);
    const waiting = asObj(state.waiting);
    if (terminated && Number(terminated.exitCode ?? 0) === 0) continue;
    if (sidecar && cs.started === true) {
      if (cs.ready === true) ready++;
      continue;
    }
    // The first init container that has not completed decides the status.
    if (terminated) reason = terminatedReason(terminated, 'Init:');
    else if (waiting && asStr(waiting.reason) && waiting.reason !== 'PodInitializing') reason = `Init:${asStr(waiting.reason)}`;
    else reason = `Init:${i}/${initSpecs.size}`;
    initializing = true;
    break;
  }

  const initialized = conditions.some((c) => c.type === 'Initialized' && c.status === 'True');
  if (!initializing || initialized) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    const statuses = asObjList(status.containerStatuses);
    // Walked backwards so that the first container's reason wins, as upstream.
    for (let i = statuses.length - 1; i >= 0; i--) {
      const cs = statuses[i];
      restarts += Number(cs.restartCount ?? 0);
      lastRestart = later(lastRestart, lastTerminatedAt(cs));
      const state = asObj(cs.state) ?? {};
      const waiting = asObj(state.waiting);
      const terminated = asObj(state.terminated);
      if (waiting && asStr(waiting.reason)) reason = asStr(waiting.reason);
      else if (terminated) reason = terminatedReason(terminated, '');
      else if (cs.ready === true && asObj(state.running)) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === 'Completed' && hasRunning) reason = conditions.some((c) => c.type === 'Ready' && c.status === 'True') ? 'Running' : 'NotReady';
  }

  const meta = asObj(pod.metadata) ?? {};
  if (meta.deletionTimestamp && status.reason === 'NodeLost') reason = 'Unknown';
  else if (meta.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating';

  const restartText = restarts !== 0 && lastRestart ? `${restarts} (${age(lastRestart, now)} ago)` : String(restarts);
  return { ready: `${ready}/${total}`, status: reason, restarts: restartText };
}

/** The wide columns: first pod IP, node, nominated node, and readiness gates passed/total. */
function wideCells(pod: Obj): string[] {
  const spec = asObj(pod.spec) ?? {};
  const status = asObj(pod.status) ?? {};
  const ip = asStr(asObjList(status.podIPs)[0]?.ip) || asStr(status.podIP);
  const gates = asObjList(spec.readinessGates);
  let gatesText = '<none>';
  if (gates.length) {
    const conditions = asObjList(status.conditions);
    const passed = gates.filter((g) => conditions.find((c) => c.type === g.conditionType)?.status === 'True').length;
    gatesText = `${passed}/${gates.length}`;
  }
  return [ip || '<none>', asStr(spec.nodeName) || '<none>', asStr(status.nominatedNodeName) || '<none>', gatesText];
}

export const podPrinter: Printer = {
  columns: [
    nameColumn,
    { name: 'Ready', type: 'string', description: 'Ready containers out of all containers (sidecars included).', priority: 0 },
    { name: 'Status', type: 'string', description: 'The pod phase, or the reason it is not yet running or has stopped.', priority: 0 },
    { name: 'Restarts', type: 'string', description: 'Container restarts, with the time since the latest one.', priority: 0 },
    ageColumn,
    { name: 'IP', type: 'string', description: 'The IP address allocated to the pod.', priority: 1 },
    { name: 'Node', type: 'string', description: 'The node the pod is bound to.', priority: 1 },
    { name: 'Nominated Node', type: 'string', description: 'The node the scheduler expects the pod to run on once preemption completes.', priority: 1 },
    { name: 'Readiness Gates', type: 'string', description: 'Readiness gates whose conditions are true, out of all gates.', priority: 1 },
  ],
  cells(obj, now) {
    const row = podRow(obj, now);
    return [obj.metadata.name, row.ready, row.status, row.restarts, age(obj.metadata.creationTimestamp, now), ...wideCells(obj)];
  },
};
