/**
 * The scheduler's messages for pods whose volumes decide where they fit: a PreFilter refusal
 * is told once (not per node), volume Filter reasons are counted per node like any other, and
 * the device numbers a block volume is handed to runc with.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitErrorMessage, type NodeFailure } from '../../src/scheduler/algorithm.js';
import { VOLUME_REASON } from '../../src/scheduler/volume-binding.js';
import { deviceNumbers } from '../../src/agent/volumes/container-devices.js';

const all = (n: number, f: NodeFailure) => new Map(Array.from({ length: n }, (_, i) => [`node-${i + 1}`, f]));

describe('FailedScheduling messages for volumes', () => {
  it('tells a PreFilter refusal once', () => {
    const msg = 'persistentvolumeclaim "data" not found';
    assert.equal(
      fitErrorMessage(2, all(2, { reasons: [msg], unresolvable: true }), undefined, msg),
      '0/2 nodes are available: persistentvolumeclaim "data" not found. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.',
    );
  });

  it('counts volume Filter reasons per node', () => {
    assert.equal(
      fitErrorMessage(2, all(2, { reasons: [VOLUME_REASON.notEnoughSpace], unresolvable: true })),
      '0/2 nodes are available: 2 node(s) did not have enough free storage. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.',
    );
    assert.equal(
      fitErrorMessage(2, all(2, { reasons: [VOLUME_REASON.rwopConflict], unresolvable: false })),
      '0/2 nodes are available: 2 node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.',
    );
  });
});

describe('block device numbers', () => {
  it('split dev_t as glibc does', () => {
    assert.deepEqual(deviceNumbers(0x0701), { major: 7, minor: 1 });
    assert.deepEqual(deviceNumbers(259 * 256 + 3), { major: 259, minor: 3 });
    // Minor numbers above 255 live in the high bits of the low word.
    assert.deepEqual(deviceNumbers((7 << 8) | 0x2c | (0x1 << 20)), { major: 7, minor: 0x12c });
  });
});
