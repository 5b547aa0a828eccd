// The sync runner (upstream's BoundedFrequencyRunner): bursts coalesce, a request during a run
// makes exactly one more, runs keep the minimum interval, a retry waits its back-off.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SyncRunner } from '../../src/proxy/sync-runner.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a burst of requests is one run', async () => {
  let runs = 0;
  const r = new SyncRunner(async () => void runs++, 5);
  for (let i = 0; i < 100; i++) r.run();
  await r.whenIdle();
  assert.equal(runs, 1);
  await r.stop();
});

test('requests during a run make exactly one more run, after the minimum interval', async () => {
  const starts: number[] = [];
  const r = new SyncRunner(async () => {
    starts.push(Date.now());
    await sleep(20);
  }, 50);
  r.run();
  await sleep(5);
  for (let i = 0; i < 10; i++) r.run();
  await r.whenIdle();
  assert.equal(starts.length, 2);
  assert.ok(starts[1]! - starts[0]! >= 49, `second run ${starts[1]! - starts[0]!} ms after the first`);
  await r.stop();
});

test('a retry waits its back-off, later requests too', async () => {
  const starts: number[] = [];
  const r = new SyncRunner(async () => void starts.push(Date.now()), 1);
  const t0 = Date.now();
  r.retryAfter(80);
  r.run();
  await r.whenIdle();
  assert.equal(starts.length, 1);
  assert.ok(starts[0]! - t0 >= 79, `ran after ${starts[0]! - t0} ms`);
  await r.stop();
});

test('stop waits for the run in progress and ends the runner', async () => {
  let finished = false;
  let runs = 0;
  const r = new SyncRunner(async () => {
    runs++;
    await sleep(30);
    finished = true;
  }, 1);
  r.run();
  await sleep(5);
  await r.stop();
  assert.ok(finished);
  r.run();
  await sleep(20);
  assert.equal(runs, 1);
});
