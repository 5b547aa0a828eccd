/** Deployment/ReplicaSet helper semantics against upstream's: fenceposts, revision annotations, template equality, pod deletion order. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type Deployment,
  equalIgnoreHash,
  maxSurge,
  maxUnavailable,
  resolveFenceposts,
  type ReplicaSet,
  setNewReplicaSetAnnotations,
} from '../../src/controllers/deployment/util.js';
import { calculateReplicaSetStatus, slowStartBatch } from '../../src/controllers/replicaset.js';
import { rankPodsForDeletion } from '../../src/controllers/util/pod-ranking.js';
import type { KubeObject } from '../../src/util/object.js';

const dep = (replicas: number, ru?: { maxSurge?: number | string; maxUnavailable?: number | string }, type = 'RollingUpdate'): Deployment =>
  ({ metadata: { name: 'd', annotations: {} }, spec: { replicas, strategy: { type, rollingUpdate: ru } } }) as Deployment;

describe('deployment util', () => {
  test('fenceposts: surge rounds up, unavailable down, both zero means one unavailable', () => {
    assert.deepEqual(resolveFenceposts('25%', '25%', 10), [3, 2]);
    assert.deepEqual(resolveFenceposts('10%', '10%', 3), [1, 0]);
    assert.deepEqual(resolveFenceposts(0, '10%', 3), [0, 1]);
    assert.equal(maxUnavailable(dep(2, { maxSurge: 0, maxUnavailable: 5 })), 2);
    assert.equal(maxUnavailable(dep(0, { maxSurge: 1, maxUnavailable: 1 })), 0);
    assert.equal(maxSurge(dep(4, undefined, 'Recreate')), 0);
  });

  test('revision annotations: copy deployment annotations, bump the revision, keep history on reuse', () => {
    const d = dep(3, { maxSurge: 1, maxUnavailable: 0 });
    d.metadata.annotations = { 'kubernetes.io/change-cause': 'x', 'deployment.kubernetes.io/revision': '9', 'kubectl.kubernetes.io/last-applied-configuration': '{}' };
    const fresh = { metadata: { name: 'rs' }, spec: {} } as ReplicaSet;
    assert.equal(setNewReplicaSetAnnotations(d, fresh, 1, false), true);
    assert.deepEqual(fresh.metadata.annotations, {
      'kubernetes.io/change-cause': 'x',
      'deployment.kubernetes.io/revision': '1',
      'deployment.kubernetes.io/desired-replicas': '3',
      'deployment.kubernetes.io/max-replicas': '4',
    });
    const reused = { metadata: { name: 'rs', annotations: { 'deployment.kubernetes.io/revision': '2', 'deployment.kubernetes.io/revision-history': '1' } }, spec: {} } as ReplicaSet;
    setNewReplicaSetAnnotations(d, reused, 5, true);
    assert.equal(reused.metadata.annotations!['deployment.kubernetes.io/revision'], '5');
    assert.equal(reused.metadata.annotations!['deployment.kubernetes.io/revision-history'], '1,2');
    assert.equal(setNewReplicaSetAnnotations(d, reused, 5, true), false, 'idempotent');
  });

  test('templates compare ignoring the hash label and Go zero values', () => {
    const a = { metadata: { labels: { app: 'x', 'pod-template-hash': 'abc' } }, spec: { containers: [{ name: 'c', image: 'i' }], volumes: [] } };
    const b = { metadata: { labels: { app: 'x' }, annotations: {} }, spec: { containers: [{ name: 'c', image: 'i', args: [] }] } };
    assert.equal(equalIgnoreHash(a, b), true);
    assert.equal(equalIgnoreHash(a, { ...b, spec: { containers: [{ name: 'c', image: 'j' }] } }), false);
  });

  test('pods to delete: unscheduled, pending, not ready, then newer first', () => {
    const t = (s: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, s)).toISOString();
    const pod = (name: string, o: { node?: string; phase?: string; ready?: boolean; created?: number; readySince?: number }): KubeObject => ({
      metadata: { name, uid: name, creationTimestamp: t(o.created ?? 0) },
      spec: { nodeName: o.node },
      status: { phase: o.phase ?? 'Running', conditions: [{ type: 'Ready', status: o.ready ? 'True' : 'False', lastTransitionTime: t(o.readySince ?? 0) }] },
    });
    const pods = [
      pod('ready-old', { node: 'n1', ready: true, created: 0 }),
      pod('unscheduled', { phase: 'Pending' }),
      pod('running-unready', { node: 'n1' }),
      pod('pending', { node: 'n2', phase: 'Pending' }),
    ];
    assert.deepEqual(rankPodsForDeletion(pods, pods, Date.UTC(2025, 0, 1, 1)).map((p) => p.metadata.name), ['unscheduled', 'pending', 'running-unready', 'ready-old']);
  });

  test('ReplicaSet status counts and slow-start batches', async () => {
    const rs = { metadata: { name: 'r', generation: 1 }, spec: { replicas: 3, minReadySeconds: 10, template: { metadata: { labels: { a: '1', b: '2' } } } } } as ReplicaSet;
    const now = Date.now();
    const p = (labels: Record<string, string>, readyAgoS?: number): KubeObject => ({
      metadata: { name: 'p', labels },
      status: readyAgoS === undefined ? {} : { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date(now - readyAgoS * 1000).toISOString() }] },
    });
    const st = calculateReplicaSetStatus(rs, [p({ a: '1', b: '2' }, 60), p({ a: '1' }, 1), p({ a: '1', b: '2' })], undefined, now);
    assert.deepEqual([st.replicas, st.fullyLabeledReplicas, st.readyReplicas, st.availableReplicas], [3, 2, 2, 1]);
    const failed = calculateReplicaSetStatus(rs, [], new Error('quota'), now);
    assert.deepEqual([failed.conditions?.[0].type, failed.conditions?.[0].reason, failed.conditions?.[0].message], ['ReplicaFailure', 'FailedCreate', 'quota']);

    let calls = 0;
    const r = await slowStartBatch(10, 1, async () => {
      calls++;
      if (calls > 3) throw new Error('no');
    });
    // Batches of 1 and 2 succeed, the batch of 4 fails: 7 attempted, 3 succeeded.
    assert.deepEqual([r.successes, calls], [3, 7]);
  });
});
