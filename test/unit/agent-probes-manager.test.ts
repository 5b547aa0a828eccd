// The prober workers' state machine on a fake clock: when probes run, how results turn into
// ready / started / livenessFailed, and the events a user sees.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Container, Probe } from '../../src/agent/pods/api-types.js';
import { ProbeManager, type ProbeClock } from '../../src/agent/probes/probe-manager.js';
import type { ProbeTarget } from '../../src/agent/probes/probe.js';

class FakeClock implements ProbeClock {
  t = 1_000_000;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private seq = 0;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    this.timers.set(++this.seq, { at: this.t + ms, fn });
    return this.seq;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  pending(): number {
    return this.timers.size;
  }
  /** Moves time forward, firing due timers in order and letting each run's promises settle. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
    await settle();
  }
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

type Answer = { exitCode: number; output: string; timedOut?: boolean } | Error;

/** A container whose exec answers come from `answer(argv)`; every call is logged with its time. */
function fakeTarget(clock: FakeClock, answer: (argv: string[]) => Answer, container: Partial<Container> = {}) {
  const calls: { at: number; argv: string[] }[] = [];
  const target: ProbeTarget = {
    podIP: '10.244.1.5',
    container: { name: 'app', ...container },
    async exec(argv) {
      calls.push({ at: clock.now(), argv });
      const a = answer(argv);
      if (a instanceof Error) throw a;
      return { exitCode: a.exitCode, output: a.output, timedOut: a.timedOut ?? false };
    },
  };
  return { target, calls };
}

function setup(random = () => 0.5) {
  const clock = new FakeClock();
  const changes: string[] = [];
  const events: string[] = [];
  const m = new ProbeManager({
    clock,
    random,
    onChange: (uid) => changes.push(uid),
    event: (uid, type, reason, message) => events.push(`${uid} ${type} ${reason} ${message}`),
  });
  return { clock, m, changes, events };
}

const probe = (cmd: string, p: Partial<Probe> = {}): Probe => ({ exec: { command: ['check', cmd] }, ...p });
const ok = { exitCode: 0, output: '' };
const fail = (output: string) => ({ exitCode: 1, output });

test('a container without probes is ready and started at once; unknown containers are neither', async () => {
  const { clock, m, changes } = setup();
  const { target } = fakeTarget(clock, () => ok);
  m.startContainer('pod1', 'app', 'c1', new Date(clock.t), {}, target);
  assert.deepEqual(m.state('pod1', 'app'), { ready: true, started: true });
  assert.deepEqual(m.state('pod1', 'other'), { ready: false, started: false });
  assert.equal(clock.pending(), 0, 'no timers without probes');
  assert.deepEqual(changes, []);
});

test('readiness: first run right after initialDelaySeconds, then every period; thresholds', async () => {
  const { clock, m, changes, events } = setup();
  let healthy = true;
  const { target, calls } = fakeTarget(clock, () => (healthy ? ok : fail('not ready\n')));
  const t0 = clock.t;
  m.startContainer('pod1', 'app', 'c1', new Date(t0), { readinessProbe: probe('ready', { initialDelaySeconds: 5, periodSeconds: 10, successThreshold: 2 }) }, target);
  assert.deepEqual(m.state('pod1', 'app'), { ready: false, started: true });

  await clock.advance(4999);
  assert.equal(calls.length, 0, 'nothing before the initial delay');
  await clock.advance(1);
  assert.deepEqual(calls.map((c) => c.at - t0), [5000]);
  assert.equal(m.state('pod1', 'app').ready, false, 'one success is below successThreshold 2');
  await clock.advance(10_000);
  assert.deepEqual(calls.map((c) => c.at - t0), [5000, 15_000]);
  assert.equal(m.state('pod1', 'app').ready, true);
  assert.deepEqual(changes, ['pod1']);

  await clock.advance(20_000);
  assert.deepEqual(changes, ['pod1'], 'unchanged results do not signal');

  healthy = false;
  await clock.advance(20_000);
  assert.equal(m.state('pod1', 'app').ready, true, 'two failures are below failureThreshold 3');
  await clock.advance(10_000);
  assert.equal(m.state('pod1', 'app').ready, false);
  assert.deepEqual(changes, ['pod1', 'pod1']);
  assert.deepEqual(events, Array(3).fill('pod1 Warning Unhealthy Readiness probe failed: not ready\n'));
  assert.ok(calls.every((c) => c.argv.join(' ') === 'check ready'));
});

test('liveness failing past the threshold marks the instance and stops liveness, readiness goes on', async () => {
  const { clock, m, changes, events } = setup();
  let live = true;
  const { target, calls } = fakeTarget(clock, (argv) => (argv[1] === 'live' && !live ? fail('cat: /tmp/healthy: No such file or directory\n') : ok));
  m.startContainer('pod1', 'app', 'c1', new Date(clock.t), { livenessProbe: probe('live', { periodSeconds: 5 }), readinessProbe: probe('ready', { periodSeconds: 5 }) }, target);
  await clock.advance(0);
  assert.deepEqual(m.state('pod1', 'app'), { ready: true, started: true });
  live = false;
  await clock.advance(10_000);
  assert.equal(m.state('pod1', 'app').livenessFailed, undefined);
  await clock.advance(5000);
  assert.deepEqual(m.state('pod1', 'app').livenessFailed, { message: 'Container app failed liveness probe, will be restarted' });
  assert.equal(events.filter((e) => e.includes('Liveness probe failed: cat: /tmp/healthy: No such file or directory')).length, 3);
  assert.deepEqual(changes, ['pod1', 'pod1']);

  const liveRuns = calls.filter((c) => c.argv[1] === 'live').length;
  const readyRuns = calls.filter((c) => c.argv[1] === 'ready').length;
  await clock.advance(30_000);
  assert.equal(calls.filter((c) => c.argv[1] === 'live').length, liveRuns, 'no liveness runs on a failed instance');
  assert.equal(calls.filter((c) => c.argv[1] === 'ready').length, readyRuns + 6, 'readiness still probes');

  // A new instance starts afresh: the old one's workers are gone.
  live = true;
  m.startContainer('pod1', 'app', 'c2', new Date(clock.t), { livenessProbe: probe('live', { periodSeconds: 5 }), readinessProbe: probe('ready', { periodSeconds: 5 }) }, target);
  assert.deepEqual(m.state('pod1', 'app'), { ready: false, started: true });
  await clock.advance(0);
  assert.deepEqual(m.state('pod1', 'app'), { ready: true, started: true });
  m.removePod('pod1');
  assert.equal(clock.pending(), 0, 'removePod stops every timer');
});

test('the message says whether the container will be restarted', async () => {
  const { clock, m } = setup();
  const { target } = fakeTarget(clock, () => fail(''));
  m.startContainer('p', 'job', 'c1', new Date(clock.t), { livenessProbe: probe('live', { failureThreshold: 1 }) }, { ...target, container: { name: 'job' } }, { willRestart: false });
  await clock.advance(0);
  assert.deepEqual(m.state('p', 'job').livenessFailed, { message: 'Container job failed liveness probe' });
});

test('startup gates liveness and readiness; readiness runs as soon as startup succeeds', async () => {
  const { clock, m, events } = setup();
  let startupRuns = 0;
  const { target, calls } = fakeTarget(clock, (argv) => {
    if (argv[1] === 'startup') return ++startupRuns >= 3 ? ok : fail('starting');
    return ok;
  });
  const t0 = clock.t;
  m.startContainer(
    'pod1',
    'app',
    'c1',
    new Date(t0),
    { startupProbe: probe('startup', { periodSeconds: 2, failureThreshold: 5 }), livenessProbe: probe('live', { periodSeconds: 10 }), readinessProbe: probe('ready', { periodSeconds: 10 }) },
    target,
  );
  assert.deepEqual(m.state('pod1', 'app'), { ready: false, started: false });
  await clock.advance(3000);
  assert.deepEqual(calls.map((c) => c.argv[1]), ['startup', 'startup'], 'only the startup probe before started');
  await clock.advance(1000);
  assert.deepEqual(m.state('pod1', 'app'), { ready: true, started: true });
  assert.deepEqual(
    calls.map((c) => `${c.argv[1]}@${c.at - t0}`),
    ['startup@0', 'startup@2000', 'startup@4000', 'ready@4000'],
  );
  await clock.advance(20_000);
  assert.equal(calls.filter((c) => c.argv[1] === 'startup').length, 3, 'startup stops once started');
  assert.ok(calls.some((c) => c.argv[1] === 'live'), 'liveness runs after started');
  assert.equal(events.filter((e) => e.includes('Startup probe failed: starting')).length, 2);
});

test('without a readiness probe a container is ready once started, not before', async () => {
  const { clock, m, changes } = setup();
  const { target } = fakeTarget(clock, () => ok);
  m.startContainer('pod1', 'app', 'c1', new Date(clock.t), { startupProbe: probe('startup', { initialDelaySeconds: 3 }) }, target);
  assert.deepEqual(m.state('pod1', 'app'), { ready: false, started: false });
  await clock.advance(3000);
  assert.deepEqual(m.state('pod1', 'app'), { ready: true, started: true });
  assert.deepEqual(changes, ['pod1']);
  m.removePod('pod1');
});

test('startup failing past its threshold marks the instance', async () => {
  const { clock, m } = setup();
  const { target, calls } = fakeTarget(clock, () => fail('no'));
  m.startContainer('pod1', 'app', 'c1', new Date(clock.t), { startupProbe: probe('startup', { periodSeconds: 1, failureThreshold: 4 }), livenessProbe: probe('live') }, target);
  await clock.advance(2999); // runs at 0, 1 s, 2 s
  assert.equal(m.state('pod1', 'app').livenessFailed, undefined);
  await clock.advance(1);
  assert.deepEqual(m.state('pod1', 'app'), { ready: false, started: false, livenessFailed: { message: 'Container app failed startup probe, will be restarted' } });
  await clock.advance(60_000);
  assert.equal(calls.length, 4, 'no more runs after the failure');
});

test('exec timeouts fail with the command; probes that cannot run are reported but not counted', async () => {
  const { clock, m, events } = setup();
  let mode: 'timeout' | 'error' = 'timeout';
  const { target, calls } = fakeTarget(clock, () => (mode === 'timeout' ? { exitCode: 137, output: '', timedOut: true } : new Error('container "c1" is not running')));
  m.startContainer('pod1', 'app', 'c1', new Date(clock.t), { livenessProbe: probe('live', { failureThreshold: 2, timeoutSeconds: 3 }) }, target);
  await clock.advance(0);
  assert.deepEqual(events, ['pod1 Warning Unhealthy Liveness probe failed: command "check live" timed out']);
  mode = 'error';
  const before = calls.length;
  await clock.advance(50_000);
  assert.equal(calls.length - before, 15, 'each of 5 periods tries 3 times');
  assert.equal(m.state('pod1', 'app').livenessFailed, undefined, 'errors are thrown away');
  assert.equal(events.at(-1), 'pod1 Warning Unhealthy Liveness probe errored and resulted in unknown state: container "c1" is not running');
  assert.equal(events.length, 6);
});

test('exec probe commands expand $(VAR) from the container env, literal values only', async () => {
  const { clock, m } = setup();
  const { target, calls } = fakeTarget(clock, () => ok, {
    env: [
      { name: 'PORT', value: '8080' },
      { name: 'SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
    ],
  });
  m.startContainer('pod1', 'app', 'c1', new Date(clock.t), { readinessProbe: { exec: { command: ['check', '$(PORT)', '$(SECRET)', '$(NONE)', '$$(PORT)'] } } }, target);
  await clock.advance(0);
  assert.deepEqual(calls[0].argv, ['check', '8080', '', '$(NONE)', '$(PORT)']);
});

test('after an agent restart, probes of containers that were already running start at a jitter', async () => {
  const { clock, m } = setup(() => 0.25);
  const { target, calls } = fakeTarget(clock, () => ok);
  const t0 = clock.t;
  // Re-adopted: running since before this manager existed.
  m.startContainer('pod1', 'old', 'c1', new Date(t0 - 3_600_000), { readinessProbe: probe('old', { periodSeconds: 20 }) }, target);
  // Started by this agent: probed right away.
  m.startContainer('pod1', 'new', 'c2', new Date(t0), { readinessProbe: probe('new', { periodSeconds: 20 }) }, target);
  await clock.advance(30_000);
  assert.deepEqual(
    calls.map((c) => `${c.argv[1]}@${c.at - t0}`),
    ['new@0', 'old@5000', 'new@20000', 'old@25000'],
  );
  // Past the manager's first period, a re-adopted container gets no jitter.
  m.startContainer('pod2', 'old', 'c3', new Date(t0 - 1000), { readinessProbe: probe('late', { periodSeconds: 20 }) }, target);
  await clock.advance(0);
  assert.equal(calls.at(-1)!.argv[1], 'late');
  assert.equal(calls.at(-1)!.at, clock.t);
  m.stopContainer('pod1', 'old');
  m.stopContainer('pod1', 'new');
  m.stopContainer('pod2', 'old');
  assert.equal(clock.pending(), 0);
});

test('a slow probe never overlaps itself', async () => {
  const { clock, m } = setup();
  let inFlight = 0;
  let maxInFlight = 0;
  const releases: (() => void)[] = [];
  const target: ProbeTarget = {
    podIP: '10.244.1.5',
    container: { name: 'app' },
    exec: async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise<void>((r) => releases.push(r));
      inFlight--;
      return { exitCode: 0, output: '', timedOut: false };
    },
  };
  m.startContainer('pod1', 'app', 'c1', new Date(clock.t), { readinessProbe: probe('slow', { periodSeconds: 1 }) }, target);
  await clock.advance(5000);
  assert.equal(maxInFlight, 1);
  releases.shift()!();
  await clock.advance(0);
  assert.equal(maxInFlight, 1, 'the late tick runs once, after the slow run');
  assert.equal(releases.length, 1);
  m.removePod('pod1');
  releases.shift()!();
});
