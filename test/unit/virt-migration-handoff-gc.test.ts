// Pod IP handoff claims of a lost node (src/virt/controllers/migration-handoff-gc.ts): a node that
// is not Ready loses the entries whose pod is gone from the API, keeps those whose pod still
// exists (even Terminating), and a Ready node's list is left to its own agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/util/object.js';
import { POD_IP_HANDOFFS_ANNOTATION } from '../../src/net/pod-ip-handoff.js';
import { staleHandoffs } from '../../src/virt/controllers/migration-handoff-gc.js';

const entries = [
  { ip: '10.244.1.5', podUid: 'gone', since: '2026-01-01T00:00:00.000Z' },
  { ip: '10.244.1.6', podUid: 'still-there', since: '2026-01-01T00:00:01.000Z' },
];
const node = (ready: 'True' | 'False' | 'Unknown'): KubeObject => ({
  metadata: { name: 'node-2', annotations: { [POD_IP_HANDOFFS_ANNOTATION]: JSON.stringify(entries) } },
  status: { conditions: [{ type: 'Ready', status: ready }] },
});
const exists = (uid: string) => uid === 'still-there';

test('a node that is not Ready loses the claims of pods gone from the API, keeps the others', () => {
  for (const ready of ['Unknown', 'False'] as const) {
    const { keep, drop } = staleHandoffs(node(ready), exists);
    assert.deepEqual(drop.map((e) => e.podUid), ['gone']);
    assert.deepEqual(keep.map((e) => e.podUid), ['still-there']);
  }
});

test('a Ready node keeps its list (its agent drops what ended); a node without claims has nothing to drop', () => {
  assert.deepEqual(staleHandoffs(node('True'), exists).drop, []);
  assert.deepEqual(staleHandoffs({ metadata: { name: 'node-3' }, status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } }, exists), { keep: [], drop: [] });
});
