// The oom_score_adj floor: only a process without CAP_SYS_RESOURCE (bit 24 of CapEff) has one,
// its own value, so a Guaranteed container's -997 is raised to what runc may write.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { oomScoreAdjFloor, restrictOomScoreAdj } from '../../src/agent/runtime/oom-score-adj.js';

const status = (capEff: string) => `Name:\tnode\nCapInh:\t0000000000000000\nCapPrm:\t${capEff}\nCapEff:\t${capEff}\nCapBnd:\t${capEff}\n`;

test('a process with CAP_SYS_RESOURCE has no floor', () => {
  assert.equal(oomScoreAdjFloor(status('000001ffffffffff'), 0), undefined);
  assert.equal(oomScoreAdjFloor(status('0000000001000000'), 0), undefined);
});

test('a process without CAP_SYS_RESOURCE cannot go below its own value', () => {
  // A container runtime's usual bounding set minus CAP_SYS_RESOURCE.
  assert.equal(oomScoreAdjFloor(status('000001fffeffffff'), 0), 0);
  assert.equal(oomScoreAdjFloor(status('00000000a80425fb'), -500), -500);
});

test('an unreadable capability set counts as missing', () => {
  assert.equal(oomScoreAdjFloor('Name:\tnode\n', 0), 0);
});

test('restrictOomScoreAdj raises only values below the floor of this process', () => {
  const floor = oomScoreAdjFloor(readFileSync('/proc/self/status', 'utf8'), Number(readFileSync('/proc/self/oom_score_adj', 'utf8')));
  for (const v of [1000, 999, 2]) assert.equal(restrictOomScoreAdj(v), Math.max(v, floor ?? v));
  assert.equal(restrictOomScoreAdj(-997), floor === undefined ? -997 : Math.max(-997, floor));
});
