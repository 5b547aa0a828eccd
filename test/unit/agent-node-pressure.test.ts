// Node pressure from the kubelet's hard-eviction defaults, on fixture readings and /proc text.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluatePressure, memoryAvailableBytes, PRESSURE_TRANSITION_PERIOD_MS, PressureTracker, type PressureReadings } from '../../src/agent/node/pressure.js';
import { parseLoadavgThreads, parseMemoryStat } from '../../src/agent/node/proc-parsers.js';

const MI = 1024 * 1024;
const calm: PressureReadings = {
  memoryAvailableBytes: 4096 * MI,
  nodefs: { availableBytes: 50, capacityBytes: 100, inodesFree: 50, inodes: 100 },
  pids: { max: 4194304, inUse: 300 },
};
const with_ = (patch: Partial<PressureReadings>) => ({ ...calm, ...patch });

test('no pressure on a calm machine', () => {
  assert.deepEqual(evaluatePressure(calm), { memory: false, disk: false, pid: false });
});

test('memory: pressure below 100Mi available, not at it', () => {
  assert.equal(evaluatePressure(with_({ memoryAvailableBytes: 100 * MI })).memory, false);
  assert.equal(evaluatePressure(with_({ memoryAvailableBytes: 100 * MI - 1 })).memory, true);
});

test('disk: pressure below 10% space or 5% inodes free', () => {
  assert.equal(evaluatePressure(with_({ nodefs: { availableBytes: 10, capacityBytes: 100, inodesFree: 50, inodes: 100 } })).disk, false);
  assert.equal(evaluatePressure(with_({ nodefs: { availableBytes: 9, capacityBytes: 100, inodesFree: 50, inodes: 100 } })).disk, true);
  assert.equal(evaluatePressure(with_({ nodefs: { availableBytes: 50, capacityBytes: 100, inodesFree: 5, inodes: 100 } })).disk, false);
  assert.equal(evaluatePressure(with_({ nodefs: { availableBytes: 50, capacityBytes: 100, inodesFree: 4, inodes: 100 } })).disk, true);
  // A filesystem without inode accounting (inodes 0) is not under inode pressure.
  assert.equal(evaluatePressure(with_({ nodefs: { availableBytes: 50, capacityBytes: 100, inodesFree: 0, inodes: 0 } })).disk, false);
});

test('pids: pressure when fewer than 10% of pid_max are free', () => {
  assert.equal(evaluatePressure(with_({ pids: { max: 1000, inUse: 900 } })).pid, false);
  assert.equal(evaluatePressure(with_({ pids: { max: 1000, inUse: 901 } })).pid, true);
});

test('memory.available: capacity minus the root cgroup working set, else MemAvailable', () => {
  const stat = parseMemoryStat('cache 4096\ntotal_inactive_file 3000000000\ntotal_rss 1024000000\n');
  assert.equal(stat.get('total_inactive_file'), 3000000000);
  const total = 8 * 1024 * MI;
  assert.equal(memoryAvailableBytes(total, { usageBytes: 5000000000, inactiveFileBytes: 3000000000 }, 123), total - 2000000000);
  // More inactive file than usage: the working set is 0.
  assert.equal(memoryAvailableBytes(total, { usageBytes: 1, inactiveFileBytes: 5 }, 123), total);
  assert.equal(memoryAvailableBytes(total, undefined, 123), 123);
});

test('threads in use from /proc/loadavg', () => {
  assert.equal(parseLoadavgThreads('0.00 0.24 0.95 1/90 12785\n'), 90);
  assert.equal(parseLoadavgThreads('1.50 1.20 1.00 12/4321 99'), 4321);
  assert.throws(() => parseLoadavgThreads('garbage'), /unexpected \/proc\/loadavg/);
});

test('a pressure stays reported for the transition period after it was last seen', () => {
  const t = new PressureTracker();
  const none = { memory: false, disk: false, pid: false };
  assert.deepEqual(t.observe(none, 0), none);
  assert.deepEqual(t.observe({ ...none, memory: true }, 1000), { ...none, memory: true });
  assert.deepEqual(t.observe(none, 1000 + PRESSURE_TRANSITION_PERIOD_MS - 1), { ...none, memory: true });
  assert.deepEqual(t.observe(none, 1000 + PRESSURE_TRANSITION_PERIOD_MS), none);
});
