import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BucketRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  WorkQueue,
  defaultControllerRateLimiter,
} from '../../src/client/index.js';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

test('dedups keys that are queued', async () => {
  const q = new WorkQueue();
  q.add('a');
  q.add('b');
  q.add('a');
  assert.equal(q.len(), 2);
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
  assert.equal(q.len(), 0);
  assert.equal(q.metrics.adds, 2);
});

test('a key in processing is not handed out again until done, then it is', async () => {
  const q = new WorkQueue();
  q.add('a');
  const k = await q.get();
  assert.equal(k, 'a');
  q.add('a');
  q.add('a');
  assert.equal(q.len(), 0, 'dirty, not queued, while processing');
  let second: string | undefined;
  void q.get().then((v) => (second = v));
  await tick();
  assert.equal(second, undefined, 'no second worker gets the key');
  q.done('a');
  await tick();
  assert.equal(second, 'a', 'requeued once after done');
  q.done('a');
  assert.equal(q.len(), 0);
});

test('waiting getters are woken in order by adds', async () => {
  const q = new WorkQueue();
  const got = Promise.all([q.get(), q.get()]);
  q.add('x');
  q.add('y');
  assert.deepEqual(await got, ['x', 'y']);
  assert.equal(q.metrics.depth, 0);
});

test('concurrent workers never process the same key at once', async () => {
  const q = new WorkQueue();
  const active = new Set<string>();
  let overlaps = 0;
  let processed = 0;
  const worker = async () => {
    for (;;) {
      const k = await q.get();
      if (k === undefined) return;
      if (active.has(k)) overlaps++;
      active.add(k);
      await tick(1);
      if (Math.random() < 0.5) q.add(k); // re-add while processing
      active.delete(k);
      processed++;
      q.done(k);
    }
  };
  const workers = Array.from({ length: 4 }, worker);
  for (let i = 0; i < 200; i++) q.add(`k${i % 5}`);
  await tick(50);
  await q.shutDownWithDrain();
  await Promise.all(workers);
  assert.equal(overlaps, 0);
  assert.ok(processed >= 5);
});

test('addAfter delays and keeps the earliest deadline', async () => {
  const q = new WorkQueue();
  const t0 = performance.now();
  q.addAfter('a', 40);
  q.addAfter('a', 200); // later deadline: ignored
  q.addAfter('b', 0); // immediate
  assert.equal(await q.get(), 'b');
  assert.equal(await q.get(), 'a');
  const waited = performance.now() - t0;
  assert.ok(waited >= 35 && waited < 180, `waited ${waited}`);
  q.addAfter('c', 200);
  q.addAfter('c', 10); // earlier deadline replaces the later one
  const t1 = performance.now();
  assert.equal(await q.get(), 'c');
  assert.ok(performance.now() - t1 < 150);
});

test('addRateLimited backs off exponentially per key until forget', async () => {
  const q = new WorkQueue({ rateLimiter: new ItemExponentialFailureRateLimiter(10, 1000) });
  const delays: number[] = [];
  for (let i = 0; i < 4; i++) {
    const t = performance.now();
    q.addRateLimited('a');
    assert.equal(await q.get(), 'a');
    delays.push(performance.now() - t);
    q.done('a');
  }
  assert.equal(q.numRequeues('a'), 4);
  assert.equal(q.metrics.retries, 4);
  // 10, 20, 40, 80 ms (timers fire no earlier than asked).
  delays.forEach((d, i) => assert.ok(d >= 10 * 2 ** i - 2, `retry ${i} after ${d} ms`));
  assert.ok(delays[3] > delays[0]);
  q.forget('a');
  assert.equal(q.numRequeues('a'), 0);
});

test('rate limiters: per-item exponential with cap, token bucket, max of both', () => {
  const item = new ItemExponentialFailureRateLimiter<string>(5, 1_000_000);
  const seq = Array.from({ length: 5 }, () => item.when('k'));
  assert.deepEqual(seq, [5, 10, 20, 40, 80]);
  for (let i = 0; i < 100; i++) item.when('k');
  assert.equal(item.when('k'), 1_000_000, 'capped at 1000 s');
  assert.equal(item.when('other'), 5, 'per item');

  let now = 0;
  const bucket = new BucketRateLimiter<string>(10, 100, () => now);
  for (let i = 0; i < 100; i++) assert.equal(bucket.when('x'), 0, 'burst of 100 is free');
  assert.equal(bucket.when('x'), 100, 'then 10 qps: 100 ms apart');
  assert.equal(bucket.when('x'), 200);
  now += 1000; // refills 10 tokens, 2 were owed
  assert.equal(bucket.when('x'), 0);

  const both = new MaxOfRateLimiter(new ItemExponentialFailureRateLimiter<string>(5, 1000), new BucketRateLimiter<string>(10, 1, () => 0));
  assert.equal(both.when('a'), 5);
  assert.equal(both.when('b'), 100, 'the bucket wins once it is empty');
  assert.equal(both.numRequeues('a'), 1);
  both.forget('a');
  assert.equal(both.numRequeues('a'), 0);
  assert.equal(defaultControllerRateLimiter<string>().when('z'), 5);
});

test('shutDown releases waiting getters and drops queued and delayed keys', async () => {
  const q = new WorkQueue();
  const waiting = q.get();
  q.shutDown();
  assert.equal(await waiting, undefined);
  const q2 = new WorkQueue();
  q2.add('a');
  q2.addAfter('b', 10);
  q2.shutDown();
  assert.equal(await q2.get(), undefined);
  q2.add('c');
  assert.equal(q2.len(), 0, 'adds after shutdown are ignored');
});

test('shutDownWithDrain hands out what is queued and waits for in-flight work', async () => {
  const q = new WorkQueue();
  q.add('a');
  q.add('b');
  const first = await q.get();
  let drained = false;
  const drain = q.shutDownWithDrain().then(() => (drained = true));
  assert.equal(await q.get(), 'b', 'queued keys are still handed out');
  await tick();
  assert.equal(drained, false);
  q.done(first!);
  q.done('b');
  await drain;
  assert.equal(await q.get(), undefined);
});

test('metrics: depth, latency and work duration', async () => {
  const q = new WorkQueue({ name: 'm' });
  q.add('a');
  q.add('b');
  assert.equal(q.metrics.depth, 2);
  await tick(10);
  const k = (await q.get())!;
  assert.equal(q.metrics.depth, 1);
  assert.ok(q.metrics.longestRunningProcessorSeconds() >= 0);
  await tick(10);
  assert.ok(q.metrics.unfinishedWorkSeconds() > 0.005);
  q.done(k);
  assert.equal(q.metrics.queueLatencySeconds.count, 1);
  assert.ok(q.metrics.queueLatencySeconds.sum >= 0.008);
  assert.equal(q.metrics.workDurationSeconds.count, 1);
  assert.equal(q.metrics.workDurationSeconds.cumulativeCounts.at(-1), 1);
});
