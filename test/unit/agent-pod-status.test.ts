/**
 * Pod status computation (src/agent/pods/pod-status.ts) against the kubelet: getPhase's table
 * (restart policies, init containers, sidecars), the kubelet-owned conditions with their reasons
 * and messages, container states from runtime records, termination messages, and the merge with
 * the status already in the API.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContainerStatus, Pod, PodCondition, PodStatus } from '../../src/agent/pods/api-types.js';
import { containerState, mergeStatus, podConditions, podPhase, terminationMessage } from '../../src/agent/pods/pod-status.js';
import type { ContainerStatus as RuntimeStatus } from '../../src/agent/runtime/container-runtime.js';

const T0 = '2024-05-01T10:00:00Z';
const T1 = '2024-05-01T10:05:00Z';

type Spec = Pod['spec'];
function pod(spec: Partial<Spec> & { containers?: Spec['containers'] }, phase?: PodStatus['phase']): Pod {
  return {
    metadata: { name: 'p', namespace: 'ns', uid: 'u1' },
    spec: { containers: [{ name: 'a' }, { name: 'b' }], ...spec },
    ...(phase ? { status: { phase } } : {}),
  };
}

const base = (name: string): ContainerStatus => ({ name, ready: false, restartCount: 0, image: 'img', imageID: '' });
const running = (name: string, extra: Partial<ContainerStatus> = {}): ContainerStatus => ({ ...base(name), state: { running: { startedAt: T0 } }, started: true, ...extra });
const ready = (name: string) => running(name, { ready: true });
const stopped = (name: string, exitCode: number): ContainerStatus => ({ ...base(name), state: { terminated: { exitCode, reason: exitCode ? 'Error' : 'Completed' } } });
const waiting = (name: string, reason = 'ContainerCreating'): ContainerStatus => ({ ...base(name), state: { waiting: { reason } } });
const restarting = (name: string, exitCode: number): ContainerStatus => ({ ...base(name), state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode } } });
const initDone = (name: string) => ({ ...stopped(name, 0), ready: true });

describe('podPhase (getPhase, 1.32)', () => {
  const cases: [string, Partial<Spec>, ContainerStatus[], ContainerStatus[], string, { podIsTerminal?: boolean }?][] = [
    // restartPolicy Always (the default)
    ['Always: all running', {}, [], [running('a'), running('b')], 'Running'],
    ['Always: all stopped', {}, [], [stopped('a', 0), stopped('b', 1)], 'Running'],
    ['Always: running and stopped', {}, [], [running('a'), stopped('b', 1)], 'Running'],
    ['Always: a status missing', {}, [], [running('a')], 'Pending'],
    ['Always: one waiting', {}, [], [running('a'), waiting('b')], 'Pending'],
    ['Always: restarting counts as stopped', {}, [], [running('a'), restarting('b', 1)], 'Running'],
    ['Always: terminal pod, all succeeded', {}, [], [stopped('a', 0), stopped('b', 0)], 'Succeeded', { podIsTerminal: true }],
    ['Always: terminal pod, one failed', {}, [], [stopped('a', 0), stopped('b', 137)], 'Failed', { podIsTerminal: true }],
    ['Always: terminal pod, still running', {}, [], [running('a'), stopped('b', 0)], 'Running', { podIsTerminal: true }],
    // restartPolicy Never
    ['Never: all succeeded', { restartPolicy: 'Never' }, [], [stopped('a', 0), stopped('b', 0)], 'Succeeded'],
    ['Never: one failed', { restartPolicy: 'Never' }, [], [stopped('a', 0), stopped('b', 2)], 'Failed'],
    ['Never: running and succeeded', { restartPolicy: 'Never' }, [], [running('a'), stopped('b', 0)], 'Running'],
    ['Never: one waiting', { restartPolicy: 'Never' }, [], [stopped('a', 0), waiting('b')], 'Pending'],
    // restartPolicy OnFailure
    ['OnFailure: all succeeded', { restartPolicy: 'OnFailure' }, [], [stopped('a', 0), stopped('b', 0)], 'Succeeded'],
    ['OnFailure: one failed', { restartPolicy: 'OnFailure' }, [], [stopped('a', 0), stopped('b', 1)], 'Running'],
    ['OnFailure: one restarting after failure', { restartPolicy: 'OnFailure' }, [], [stopped('a', 0), restarting('b', 1)], 'Running'],
    ['OnFailure: one running', { restartPolicy: 'OnFailure' }, [], [stopped('a', 0), running('b')], 'Running'],
    // init containers
    ['init running', { initContainers: [{ name: 'i' }] }, [running('i')], [waiting('a', 'PodInitializing'), waiting('b', 'PodInitializing')], 'Pending'],
    ['init waiting', { initContainers: [{ name: 'i' }] }, [waiting('i', 'PodInitializing')], [waiting('a'), waiting('b')], 'Pending'],
    ['init status missing', { initContainers: [{ name: 'i' }] }, [], [running('a'), running('b')], 'Pending'],
    ['init done, containers running', { initContainers: [{ name: 'i' }] }, [initDone('i')], [running('a'), running('b')], 'Running'],
    ['init failed, Never', { restartPolicy: 'Never', initContainers: [{ name: 'i' }] }, [stopped('i', 1)], [waiting('a'), waiting('b')], 'Failed'],
    ['init failed, Always: retried', { initContainers: [{ name: 'i' }] }, [restarting('i', 1)], [waiting('a', 'PodInitializing'), waiting('b', 'PodInitializing')], 'Pending'],
    ['init failed, OnFailure: retried', { restartPolicy: 'OnFailure', initContainers: [{ name: 'i' }] }, [stopped('i', 1)], [waiting('a'), waiting('b')], 'Pending'],
    ['second init pending after first done', { initContainers: [{ name: 'i1' }, { name: 'i2' }] }, [initDone('i1'), waiting('i2')], [waiting('a'), waiting('b')], 'Pending'],
    // sidecars (restartable init containers)
    ['sidecar started, containers running', { initContainers: [{ name: 's', restartPolicy: 'Always' }] }, [running('s')], [running('a'), running('b')], 'Running'],
    ['sidecar not started yet', { initContainers: [{ name: 's', restartPolicy: 'Always' }] }, [running('s', { started: false })], [waiting('a', 'PodInitializing'), waiting('b', 'PodInitializing')], 'Pending'],
    ['sidecar waiting to start', { initContainers: [{ name: 's', restartPolicy: 'Always' }] }, [waiting('s')], [waiting('a'), waiting('b')], 'Pending'],
    ['sidecar status missing', { initContainers: [{ name: 's', restartPolicy: 'Always' }] }, [], [running('a'), running('b')], 'Pending'],
    ['sidecar restarting after init: stays Running', { initContainers: [{ name: 's', restartPolicy: 'Always' }] }, [running('s', { started: false })], [running('a'), running('b')], 'Running'],
    ['sidecar crash-looping, containers running', { initContainers: [{ name: 's', restartPolicy: 'Always' }] }, [restarting('s', 1)], [running('a'), running('b')], 'Running'],
    ['Never: sidecar running, containers succeeded', { restartPolicy: 'Never', initContainers: [{ name: 's', restartPolicy: 'Always' }] }, [running('s')], [stopped('a', 0), stopped('b', 0)], 'Running'],
    ['Never: sidecar stopped, containers succeeded', { restartPolicy: 'Never', initContainers: [{ name: 's', restartPolicy: 'Always' }] }, [stopped('s', 137)], [stopped('a', 0), stopped('b', 0)], 'Succeeded'],
    ['Never: sidecar stopped, a container failed', { restartPolicy: 'Never', initContainers: [{ name: 's', restartPolicy: 'Always' }] }, [stopped('s', 0)], [stopped('a', 0), stopped('b', 1)], 'Failed'],
    ['sidecar then regular init running', { initContainers: [{ name: 's', restartPolicy: 'Always' }, { name: 'i' }] }, [running('s'), running('i')], [waiting('a'), waiting('b')], 'Pending'],
  ];
  for (const [name, spec, init, regular, want, opts] of cases) it(name, () => assert.equal(podPhase(pod(spec), init, regular, opts), want));
});

const byType = (cs: PodCondition[]) => Object.fromEntries(cs.map((c) => [c.type, c]));

describe('podConditions', () => {
  it('lists others first, then the kubelet conditions in upstream order', () => {
    const p = pod({}, 'Running');
    p.status!.conditions = [{ type: 'example.com/gate', status: 'True' }, { type: 'Ready', status: 'False' }];
    const cs = podConditions(p, { init: [], regular: [ready('a'), ready('b')], sandboxReady: true }, undefined, T1);
    assert.deepEqual(
      cs.map((c) => c.type),
      ['example.com/gate', 'PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'],
    );
    const c = byType(cs);
    assert.deepEqual(c.Ready, { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: T1 });
    assert.equal(c.ContainersReady.status, 'True');
    assert.equal(c.Initialized.status, 'True');
    assert.equal(c.PodReadyToStartContainers.status, 'True');
    assert.equal(c.PodScheduled.status, 'True');
  });

  it('reports unready and unknown containers as upstream', () => {
    const c = byType(podConditions(pod({ containers: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] }, 'Pending'), { init: [], regular: [ready('a'), running('b')], sandboxReady: false }, undefined, T1));
    const msg = 'containers with unknown status: [c], containers with unready status: [b]';
    assert.deepEqual(c.ContainersReady, { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: msg, lastProbeTime: null, lastTransitionTime: T1 });
    assert.deepEqual(c.Ready, { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: msg, lastProbeTime: null, lastTransitionTime: T1 });
    assert.equal(c.PodReadyToStartContainers.status, 'False');
  });

  it('lists unready containers in spec order, sidecars first', () => {
    const p = pod({ initContainers: [{ name: 'side', restartPolicy: 'Always' }, { name: 'init' }] }, 'Running');
    const c = byType(podConditions(p, { init: [running('side'), initDone('init')], regular: [running('a'), running('b')], sandboxReady: true }, undefined, T1));
    assert.equal(c.ContainersReady.message, 'containers with unready status: [side a b]');
    assert.equal(c.Initialized.status, 'True');
  });

  it('Initialized: incomplete init containers', () => {
    const p = pod({ initContainers: [{ name: 'i1' }, { name: 'i2' }] }, 'Pending');
    const c = byType(podConditions(p, { init: [initDone('i1'), running('i2')], regular: [waiting('a', 'PodInitializing'), waiting('b', 'PodInitializing')], sandboxReady: true }, undefined, T1));
    assert.deepEqual(c.Initialized, {
      type: 'Initialized',
      status: 'False',
      reason: 'ContainersNotInitialized',
      message: 'containers with incomplete status: [i2]',
      lastProbeTime: null,
      lastTransitionTime: T1,
    });
    const missing = byType(podConditions(p, { init: [], regular: [], sandboxReady: false }, undefined, T1));
    assert.equal(missing.Initialized.message, 'containers with unknown status: [i1 i2]');
  });

  it('Initialized stays True once regular containers ran, even while a sidecar restarts', () => {
    const p = pod({ initContainers: [{ name: 's', restartPolicy: 'Always' }] }, 'Running');
    const c = byType(podConditions(p, { init: [restarting('s', 1)], regular: [running('a'), running('b')], sandboxReady: true }, undefined, T1));
    assert.equal(c.Initialized.status, 'True');
    assert.equal(c.Initialized.reason, undefined);
  });

  it('terminal phases: PodCompleted and PodFailed', () => {
    const done = byType(podConditions(pod({ initContainers: [{ name: 'i' }] }, 'Succeeded'), { init: [initDone('i')], regular: [stopped('a', 0), stopped('b', 0)], sandboxReady: false }, undefined, T1));
    assert.equal(done.ContainersReady.reason, 'PodCompleted');
    assert.equal(done.ContainersReady.status, 'False');
    assert.equal(done.Ready.reason, 'PodCompleted');
    assert.equal(done.Initialized.reason, 'PodCompleted');
    assert.equal(done.Initialized.status, 'True');
    const failed = byType(podConditions(pod({ restartPolicy: 'Never' }, 'Failed'), { init: [], regular: [stopped('a', 1), ready('b')], sandboxReady: false }, undefined, T1));
    assert.deepEqual([failed.ContainersReady.status, failed.ContainersReady.reason, failed.Ready.reason], ['False', 'PodFailed', 'PodFailed']);
  });

  it('honours readiness gates', () => {
    const gates = { readinessGates: [{ conditionType: 'example.com/lb' }, { conditionType: 'example.com/db' }] };
    const p = pod(gates, 'Running');
    const input = { init: [], regular: [ready('a'), ready('b')], sandboxReady: true };
    let c = byType(podConditions(p, input, undefined, T1));
    assert.deepEqual([c.Ready.status, c.Ready.reason, c.Ready.message], [
      'False',
      'ReadinessGatesNotReady',
      'corresponding condition of pod readiness gate "example.com/lb" does not exist., corresponding condition of pod readiness gate "example.com/db" does not exist.',
    ]);
    assert.equal(c.ContainersReady.status, 'True');
    p.status!.conditions = [{ type: 'example.com/lb', status: 'False' }, { type: 'example.com/db', status: 'True' }];
    c = byType(podConditions(p, input, undefined, T1));
    assert.equal(c.Ready.message, 'the status of pod readiness gate "example.com/lb" is not "True", but False');
    p.status!.conditions = [{ type: 'example.com/lb', status: 'True' }, { type: 'example.com/db', status: 'True' }];
    c = byType(podConditions(p, input, undefined, T1));
    assert.equal(c.Ready.status, 'True');
  });

  it('moves lastTransitionTime only when the status changes', () => {
    const p = pod({}, 'Running');
    const prev: PodCondition[] = [
      { type: 'Ready', status: 'False', reason: 'ContainersNotReady', lastTransitionTime: T0 },
      { type: 'ContainersReady', status: 'True', lastTransitionTime: T0 },
      { type: 'PodScheduled', status: 'True', lastTransitionTime: T0 },
      { type: 'Initialized', status: 'True', lastTransitionTime: T0 },
    ];
    const c = byType(podConditions(p, { init: [], regular: [ready('a'), ready('b')], sandboxReady: true }, prev, T1));
    assert.equal(c.Ready.lastTransitionTime, T1);
    assert.equal(c.ContainersReady.lastTransitionTime, T0);
    assert.equal(c.PodScheduled.lastTransitionTime, T0);
    assert.equal(c.Initialized.lastTransitionTime, T0);
    assert.equal(c.PodReadyToStartContainers.lastTransitionTime, T1);
  });

  it('carries DisruptionTarget from the previous status', () => {
    const p = pod({}, 'Running');
    const dt: PodCondition = { type: 'DisruptionTarget', status: 'True', reason: 'TerminationByKubelet', lastTransitionTime: T0 };
    const cs = podConditions(p, { init: [], regular: [ready('a'), ready('b')], sandboxReady: true }, [dt], T1);
    assert.deepEqual(cs[0], dt);
  });
});

const rt = (over: Partial<RuntimeStatus>): RuntimeStatus => ({
  id: 'abcd1234-web-0',
  state: 'exited',
  oomKilled: false,
  createdAt: T0,
  bundleDir: '/b',
  logPath: '/l',
  labels: {},
  ...over,
});

describe('containerState', () => {
  it('running', () => assert.deepEqual(containerState(rt({ state: 'running', startedAt: T0 })), { running: { startedAt: T0 } }));
  it('created', () => assert.deepEqual(containerState(rt({ state: 'created' })), { waiting: { reason: 'ContainerCreating' } }));
  it("the runtime's millisecond times are shown in whole seconds, as metav1.Time", () => {
    assert.deepEqual(containerState(rt({ state: 'running', startedAt: '2024-05-01T10:00:00.905Z' })), { running: { startedAt: T0 } });
    const t = containerState(rt({ exitCode: 0, startedAt: '2024-05-01T10:00:00.001Z', finishedAt: '2024-05-01T10:05:00.999Z' })).terminated!;
    assert.deepEqual([t.startedAt, t.finishedAt], [T0, T1]);
  });
  it('exited 0: Completed', () =>
    assert.deepEqual(containerState(rt({ exitCode: 0, startedAt: T0, finishedAt: T1 })), {
      terminated: { exitCode: 0, reason: 'Completed', startedAt: T0, finishedAt: T1, containerID: 'cairn://abcd1234-web-0' },
    }));
  it('exited non-zero: Error, with the termination message', () =>
    assert.deepEqual(containerState(rt({ exitCode: 3, startedAt: T0, finishedAt: T1 }), { terminationMessage: 'bad config' }).terminated, {
      exitCode: 3,
      reason: 'Error',
      message: 'bad config',
      startedAt: T0,
      finishedAt: T1,
      containerID: 'cairn://abcd1234-web-0',
    }));
  it('OOMKilled wins', () => assert.equal(containerState(rt({ exitCode: 137, oomKilled: true })).terminated?.reason, 'OOMKilled'));
  it('ContainerCannotRun keeps the runtime reason and message', () => {
    const t = containerState(rt({ exitCode: 128, reason: 'ContainerCannotRun', message: 'exec: "nope": not found' })).terminated!;
    assert.deepEqual([t.reason, t.message, t.startedAt], ['ContainerCannotRun', 'exec: "nope": not found', null]);
  });
  it('runtime message and termination message are joined', () =>
    assert.equal(containerState(rt({ exitCode: 1, message: 'runtime says' }), { terminationMessage: 'app says' }).terminated?.message, 'runtime says: app says'));
  it('unknown: 137 ContainerStatusUnknown', () => {
    const t = containerState(rt({ state: 'unknown', exitCode: 137, reason: 'ContainerStatusUnknown' })).terminated!;
    assert.deepEqual([t.exitCode, t.reason, t.message], [137, 'ContainerStatusUnknown', 'The container could not be located when the pod was terminated']);
  });
});

describe('terminationMessage', () => {
  const noLogs = () => {
    throw new Error('logs must not be read');
  };
  it('File: the file content, its last 4096 bytes', () => {
    assert.equal(terminationMessage('File', 'done', noLogs, 0), 'done');
    const big = 'x'.repeat(5000) + 'END';
    assert.equal(terminationMessage('File', big, noLogs, 1), big.slice(-4096));
    assert.equal(terminationMessage('File', undefined, noLogs, 1), undefined);
    assert.equal(terminationMessage('File', '', noLogs, 1), undefined);
  });
  it('FallbackToLogsOnError: logs only for a failed container without a message', () => {
    assert.equal(terminationMessage('FallbackToLogsOnError', 'from file', noLogs, 1), 'from file');
    assert.equal(terminationMessage('FallbackToLogsOnError', '', noLogs, 0), undefined);
    assert.equal(terminationMessage('FallbackToLogsOnError', undefined, () => 'line1\nline2\n', 2), 'line1\nline2\n');
    assert.equal(terminationMessage('FallbackToLogsOnError', '', noLogs, 128, 'ContainerCannotRun'), undefined);
  });
  it('FallbackToLogsOnError: last 80 lines, at most 2048 bytes', () => {
    const lines = Array.from({ length: 100 }, (_, i) => `l${i}`).join('\n') + '\n';
    assert.equal(terminationMessage('FallbackToLogsOnError', undefined, () => lines, 1), Array.from({ length: 80 }, (_, i) => `l${i + 20}`).join('\n') + '\n');
    const long = Array.from({ length: 10 }, (_, i) => `${i}`.repeat(300)).join('\n');
    const got = terminationMessage('FallbackToLogsOnError', undefined, () => long, 1)!;
    assert.equal(Buffer.byteLength(got), 2048);
    assert.ok(long.endsWith(got));
  });
});

describe('mergeStatus', () => {
  const kubeletConds = (readyStatus: 'True' | 'False'): PodCondition[] => [
    { type: 'Initialized', status: 'True', lastTransitionTime: T1 },
    { type: 'Ready', status: readyStatus, lastTransitionTime: T1 },
    { type: 'ContainersReady', status: readyStatus, lastTransitionTime: T1 },
    { type: 'PodScheduled', status: 'True', lastTransitionTime: T0 },
  ];

  it('keeps conditions owned by others, startTime and qosClass', () => {
    const prev: PodStatus = {
      phase: 'Pending',
      startTime: T0,
      qosClass: 'Burstable',
      conditions: [{ type: 'example.com/gate', status: 'True' }, { type: 'Ready', status: 'False' }],
    };
    const next: PodStatus = { phase: 'Running', startTime: T1, conditions: [{ type: 'example.com/gate', status: 'False' }, ...kubeletConds('True')] };
    const out = mergeStatus(prev, next);
    assert.equal(out.startTime, T0);
    assert.equal(out.qosClass, 'Burstable');
    assert.deepEqual(out.conditions![0], { type: 'example.com/gate', status: 'True' });
    assert.deepEqual(
      out.conditions!.map((c) => `${c.type}=${c.status}`),
      ['example.com/gate=True', 'Initialized=True', 'Ready=True', 'ContainersReady=True', 'PodScheduled=True'],
    );
    assert.equal(mergeStatus(undefined, next).startTime, T1);
  });

  it('never leaves a terminal phase', () => {
    const out = mergeStatus({ phase: 'Failed', reason: 'DeadlineExceeded', message: 'too slow' }, { phase: 'Running', conditions: kubeletConds('False') });
    assert.deepEqual([out.phase, out.reason, out.message], ['Failed', 'DeadlineExceeded', 'too slow']);
  });

  it('holds a terminal phase back while containers may still run', () => {
    const out = mergeStatus({ phase: 'Running' }, { phase: 'Succeeded', conditions: kubeletConds('False') }, { couldHaveRunningContainers: true });
    assert.equal(out.phase, 'Running');
    assert.equal(mergeStatus({ phase: 'Running' }, { phase: 'Succeeded', conditions: kubeletConds('False') }).phase, 'Succeeded');
  });

  it('keeps reason and message with an unchanged phase', () => {
    const out = mergeStatus({ phase: 'Running', reason: 'Why', message: 'because' }, { phase: 'Running' });
    assert.deepEqual([out.reason, out.message], ['Why', 'because']);
    const changed = mergeStatus({ phase: 'Pending', reason: 'Why' }, { phase: 'Running' });
    assert.equal(changed.reason, undefined);
  });

  it('a terminal pod is not Ready', () => {
    const out = mergeStatus({ phase: 'Running' }, { phase: 'Failed', conditions: kubeletConds('True') }, { now: T1 });
    const c = byType(out.conditions!);
    assert.deepEqual(c.Ready, { type: 'Ready', status: 'False', reason: 'PodFailed', lastProbeTime: null, lastTransitionTime: T1 });
    assert.equal(c.ContainersReady.reason, 'PodFailed');
  });
});
