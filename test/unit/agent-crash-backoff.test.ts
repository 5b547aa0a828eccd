// The container restart back-off: what the waiting message and the restart times look like for
// a container that keeps crashing, and when it starts over.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CrashBackoff } from '../../src/agent/pods/crash-backoff.js';

const POD = 'web-1_default(0b0c6a2e-1111-2222-3333-444455556666)';

/** A container that crashes `runMs` after each (re)start, restarted as soon as allowed. */
function crashLoop(b: CrashBackoff, clock: { t: number }, key: string, exits: number, runMs = 1000): { waits: number[]; messages: string[] } {
  const waits: number[] = [];
  const messages: string[] = [];
  let started = clock.t;
  for (let i = 0; i < exits; i++) {
    clock.t = started + runMs;
    b.recordExit(key, new Date(started), new Date(clock.t));
    const wait = b.remaining(key);
    waits.push(wait);
    messages.push(b.message(key, 'app', POD));
    clock.t += wait;
    assert.equal(b.remaining(key), 0, 'a restart is allowed once the wait is over');
    started = clock.t;
  }
  return { waits, messages };
}

test('first restart is immediate, then 10s doubling up to 5m', () => {
  const clock = { t: 1_000_000 };
  const b = new CrashBackoff({ now: () => clock.t });
  const { waits, messages } = crashLoop(b, clock, 'uid/app', 9);
  assert.deepEqual(waits, [0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
  assert.equal(messages[1], `back-off 10s restarting failed container=app pod=${POD}`);
  assert.equal(messages[4], `back-off 1m20s restarting failed container=app pod=${POD}`);
  assert.equal(messages[6], `back-off 5m0s restarting failed container=app pod=${POD}`);
});

test('remaining counts down from the exit, not from when the exit was noticed', () => {
  const clock = { t: 5_000_000 };
  const b = new CrashBackoff({ now: () => clock.t });
  b.recordExit('k', new Date(clock.t - 2000), new Date(clock.t - 1000));
  clock.t += 1000;
  b.recordExit('k', new Date(clock.t - 500), new Date(clock.t - 100)); // second exit, noticed 4 s late
  clock.t += 4000;
  assert.equal(b.remaining('k'), 10_000 - 4100);
});

test('a run longer than 10 minutes resets the back-off; a shorter one does not', () => {
  const clock = { t: 10_000_000 };
  const b = new CrashBackoff({ now: () => clock.t });
  crashLoop(b, clock, 'k', 5); // next wait would be 160 s
  let started = clock.t;
  clock.t = started + 9 * 60_000;
  b.recordExit('k', new Date(started), new Date(clock.t));
  assert.equal(b.remaining('k'), 160_000, '9 minutes up is not stable');
  clock.t += 160_000;
  started = clock.t;
  clock.t = started + 10 * 60_000 + 1;
  b.recordExit('k', new Date(started), new Date(clock.t));
  assert.equal(b.remaining('k'), 0, 'over 10 minutes up: restart at once');
  started = clock.t;
  clock.t += 1000;
  b.recordExit('k', new Date(started), new Date(clock.t));
  assert.equal(b.remaining('k'), 10_000, 'and the doubling starts over');
});

test('keys are independent and forget() starts a key afresh', () => {
  const clock = { t: 0 };
  const b = new CrashBackoff({ now: () => clock.t });
  crashLoop(b, clock, 'a', 3);
  b.recordExit('b', new Date(clock.t - 10), new Date(clock.t));
  assert.equal(b.remaining('b'), 0);
  b.recordExit('a', new Date(clock.t - 10), new Date(clock.t));
  assert.equal(b.remaining('a'), 40_000);
  b.forget('a');
  assert.equal(b.remaining('a'), 0);
  b.recordExit('a', new Date(clock.t - 10), new Date(clock.t));
  assert.equal(b.remaining('a'), 0, 'after forget the first exit restarts at once');
});

test('old entries are garbage-collected', () => {
  const clock = { t: 0 };
  const b = new CrashBackoff({ now: () => clock.t });
  crashLoop(b, clock, 'old', 4); // would wait 80 s next
  clock.t += 11 * 60_000;
  b.recordExit('other', new Date(clock.t - 10), new Date(clock.t)); // any exit runs the GC
  b.recordExit('old', undefined, new Date(clock.t)); // start time unknown: only the GC can reset it
  assert.equal(b.remaining('old'), 0);
});

test('custom timings', () => {
  const clock = { t: 0 };
  const b = new CrashBackoff({ now: () => clock.t, initialMs: 100, maxMs: 350 });
  assert.deepEqual(crashLoop(b, clock, 'k', 5, 10).waits, [0, 100, 200, 350, 350]);
  assert.match(b.message('k', 'app', POD), /^back-off 350ms restarting/);
});

test('restore() after an agent restart continues the sequence from the restart count', () => {
  const clock = { t: 50_000_000 };
  // The newest instance (attempt 3, i.e. 3 restarts before it) exited 5 s ago while no agent ran.
  const b = new CrashBackoff({ now: () => clock.t });
  b.restore('k', 3, new Date(clock.t - 5000), new Date(clock.t - 6000));
  assert.equal(b.remaining('k'), 40_000 - 5000);
  assert.match(b.message('k', 'app', POD), /^back-off 40s /);
  clock.t += 35_000;
  const started = clock.t;
  clock.t += 1000;
  b.recordExit('k', new Date(started), new Date(clock.t));
  assert.equal(b.remaining('k'), 80_000, 'the next exit doubles on');

  // A newer instance runs: restore from the one before it; its exit gets the next wait.
  const c = new CrashBackoff({ now: () => clock.t });
  c.restore('k', 1, new Date(clock.t - 30_000), new Date(clock.t - 31_000));
  assert.equal(c.remaining('k'), 0, 'that restart is long done');
  c.recordExit('k', new Date(clock.t - 20_000), new Date(clock.t));
  assert.equal(c.remaining('k'), 20_000);

  // Restart count 0: the first exit restarts at once, as without restore.
  const d = new CrashBackoff({ now: () => clock.t });
  d.restore('k', 0, new Date(clock.t - 1000), new Date(clock.t - 2000));
  assert.equal(d.remaining('k'), 0);

  // The instance had run for more than 10 minutes: stable, restart at once.
  const e = new CrashBackoff({ now: () => clock.t });
  e.restore('k', 7, new Date(clock.t - 1000), new Date(clock.t - 11 * 60_000));
  assert.equal(e.remaining('k'), 0);
});
