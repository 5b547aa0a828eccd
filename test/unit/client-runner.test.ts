import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ItemExponentialFailureRateLimiter, WorkQueue, runController, type Logger } from '../../src/client/index.js';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, what: string, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await tick(2);
  }
}
const fastQueue = () => new WorkQueue<string>({ name: 'test', rateLimiter: new ItemExponentialFailureRateLimiter(2, 50) });

test('reconciles keys; success forgets, errors retry with backoff and are logged', async () => {
  const queue = fastQueue();
  const calls: string[] = [];
  const logs: Parameters<Logger>[0][] = [];
  let failures = 2;
  const c = runController({
    name: 'demo',
    queue,
    workers: 2,
    logger: (e) => logs.push(e),
    reconcile: async (key) => {
      calls.push(key);
      if (key === 'flaky' && failures-- > 0) throw new Error('not yet');
    },
  });
  queue.add('ok');
  queue.add('flaky');
  await until(() => calls.filter((k) => k === 'flaky').length === 3, 'retries');
  await until(() => c.metrics.reconcileTotal.success === 2, 'success');
  assert.equal(c.metrics.reconcileTotal.error, 2);
  assert.equal(c.metrics.reconcileErrors, 2);
  assert.equal(queue.numRequeues('flaky'), 0, 'forgotten after success');
  assert.equal(queue.metrics.retries, 2);
  const errLogs = logs.filter((l) => l.level === 'error');
  assert.equal(errLogs.length, 2);
  assert.deepEqual({ msg: errLogs[0].msg, controller: errLogs[0].controller, key: errLogs[0].key, error: errLogs[0].error }, { msg: 'reconcile failed', controller: 'demo', key: 'flaky', error: 'not yet' });
  assert.equal(c.metrics.reconcileTimeSeconds.count, 4);
  assert.equal(c.metrics.workers, 2);
  await c.stop();
});

test('requeueAfterMs schedules another reconcile without counting an error', async () => {
  const queue = fastQueue();
  const times: number[] = [];
  const c = runController({
    name: 'requeue',
    queue,
    logger: () => {},
    reconcile: async () => {
      times.push(performance.now());
      return times.length < 3 ? { requeueAfterMs: 30 } : undefined;
    },
  });
  queue.add('k');
  await until(() => times.length === 3, 'three reconciles');
  assert.ok(times[1] - times[0] >= 25, `gap ${times[1] - times[0]}`);
  assert.equal(c.metrics.reconcileTotal.requeue_after, 2);
  assert.equal(c.metrics.reconcileTotal.success, 1);
  assert.equal(c.metrics.reconcileTotal.error, 0);
  await c.stop();
});

test('waits for informers to sync before the first reconcile', async () => {
  const queue = fastQueue();
  let release!: () => void;
  const synced = new Promise<void>((r) => (release = r));
  const calls: string[] = [];
  const c = runController({
    name: 'sync',
    queue,
    logger: () => {},
    informers: [{ waitForSync: () => synced }],
    reconcile: async (k) => void calls.push(k),
  });
  queue.add('a');
  await tick(20);
  assert.deepEqual(calls, []);
  release();
  await until(() => calls.length === 1, 'reconcile after sync');
  await c.stop();
});

test('one key is never reconciled concurrently; distinct keys are', async () => {
  const queue = fastQueue();
  const active = new Set<string>();
  let maxParallel = 0;
  let overlap = false;
  let n = 0;
  const c = runController({
    name: 'par',
    queue,
    workers: 4,
    logger: () => {},
    reconcile: async (k) => {
      if (active.has(k)) overlap = true;
      active.add(k);
      maxParallel = Math.max(maxParallel, active.size);
      queue.add(k); // an event for the same key arrives mid-reconcile
      await tick(3);
      active.delete(k);
      n++;
    },
  });
  for (const k of ['a', 'b', 'c', 'd']) queue.add(k);
  await until(() => n >= 20, 'work');
  await c.stop();
  assert.equal(overlap, false);
  assert.ok(maxParallel > 1, 'distinct keys run in parallel');
});

test('stops on signal: in-flight reconcile finishes, workers exit', async () => {
  const queue = fastQueue();
  const ac = new AbortController();
  let finished = false;
  let sawAbort = false;
  const c = runController({
    name: 'stop',
    queue,
    signal: ac.signal,
    logger: () => {},
    reconcile: async (_k, { signal }) => {
      await tick(20);
      sawAbort = signal.aborted;
      finished = true;
    },
  });
  queue.add('a');
  await until(() => c.metrics.activeWorkers === 1, 'started');
  ac.abort();
  await c.done;
  assert.ok(finished);
  assert.ok(sawAbort, 'reconcile can see the stop');
  assert.ok(queue.shuttingDown);
  // A controller aborted before sync exits without reconciling.
  const never = runController({ name: 'x', queue: fastQueue(), signal: ac.signal, logger: () => {}, informers: [{ waitForSync: () => new Promise(() => {}) }], reconcile: async () => assert.fail() });
  await never.done;
});
