/** Scheduler pieces without a server: CIDR allocation, the fit error message, scoring. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CidrSet } from '../../src/controllers/node-ipam.js';
import { Algorithm, fitErrorMessage, numFeasibleNodesToFind, REASON } from '../../src/scheduler/algorithm.js';
import { SchedulerCache } from '../../src/scheduler/cache.js';
import { podInfoOf, podRequests } from '../../src/scheduler/pod-info.js';
import type { KubeObject } from '../../src/util/object.js';

const node = (name: string, cpu: string, memory: string, extra: Partial<KubeObject> = {}): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    spec: {},
    status: { allocatable: { cpu, memory, pods: '110' }, conditions: [{ type: 'Ready', status: 'True' }] },
    ...extra,
  }) as KubeObject;
const pod = (name: string, requests: Record<string, string> = {}, spec: Record<string, unknown> = {}): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { containers: [{ name: 'c', resources: { requests } }], ...spec } }) as KubeObject;

describe('CidrSet', () => {
  it('hands out each /24 once, and again after release', () => {
    const s = new CidrSet('10.244.0.0/16');
    assert.equal(s.size, 256);
    const got = new Set<string>();
    for (let i = 0; i < 256; i++) got.add(s.allocate()!);
    assert.equal(got.size, 256);
    assert.equal(s.allocate(), undefined);
    s.release('10.244.7.0/24');
    assert.equal(s.allocate(), '10.244.7.0/24');
    const t = new CidrSet('10.244.0.0/16');
    assert.ok(t.occupy('10.244.0.0/24'));
    assert.equal(t.allocate(), '10.244.1.0/24');
    assert.equal(t.occupy('192.168.0.0/24'), false);
  });
});

describe('scheduler algorithm', () => {
  it('feasible nodes to find, as upstream', () => {
    assert.equal(numFeasibleNodesToFind(50), 50);
    assert.equal(numFeasibleNodesToFind(1000), 420);
    assert.equal(numFeasibleNodesToFind(5000), 500);
  });

  it('pod requests: containers summed, init containers as a maximum, overhead added', () => {
    const r = podRequests({
      containers: [{ resources: { requests: { cpu: '100m', memory: '1Gi' } } }, { resources: { requests: { cpu: '200m' } } }],
      initContainers: [{ resources: { requests: { cpu: '1', memory: '10Mi' } } }],
      overhead: { cpu: '50m' },
    });
    assert.deepEqual([r.cpu, r.memory], [1050, 2 ** 30]);
  });

  it('formats the FailedScheduling message as upstream', () => {
    const f = new Map([
      ['a', { reasons: ['node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }'], unresolvable: true }],
      ['b', { reasons: ['Insufficient cpu'], unresolvable: false }],
      ['c', { reasons: ['Insufficient cpu', 'Insufficient memory'], unresolvable: false }],
    ]);
    assert.equal(
      fitErrorMessage(3, f),
      '0/3 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.',
    );
    assert.equal(fitErrorMessage(1, new Map([['a', { reasons: [REASON.nodeAffinity], unresolvable: true }]]), 'Never'), "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: not eligible due to preemptionPolicy=Never.");
    assert.equal(fitErrorMessage(0, new Map()), 'no nodes available to schedule pods');
  });

  it('least allocated and balanced allocation prefer the emptier, more balanced node', () => {
    const cache = new SchedulerCache();
    cache.upsertNode(node('busy', '4', '8Gi'));
    cache.upsertNode(node('idle', '4', '8Gi'));
    cache.addPod(podInfoOf(pod('x', { cpu: '3', memory: '1Gi' })), 'busy');
    const alg = new Algorithm(cache, { nsLabels: () => undefined });
    assert.deepEqual(alg.schedule(podInfoOf(pod('p', { cpu: '500m', memory: '1Gi' }))), { node: 'idle' });
  });

  it('PreferNoSchedule taints count against a node', () => {
    const cache = new SchedulerCache();
    cache.upsertNode(node('soft', '4', '8Gi', { spec: { taints: [{ key: 'k', effect: 'PreferNoSchedule' }] } }));
    cache.upsertNode(node('clean', '4', '8Gi'));
    const alg = new Algorithm(cache, { nsLabels: () => undefined });
    for (let i = 0; i < 5; i++) assert.deepEqual(alg.schedule(podInfoOf(pod(`p${i}`))), { node: 'clean' });
  });

  it('a node not Ready without its taint yet is treated as tainted not-ready', () => {
    const cache = new SchedulerCache();
    cache.upsertNode(node('down', '4', '8Gi', { status: { allocatable: { cpu: '4', memory: '8Gi', pods: '110' }, conditions: [{ type: 'Ready', status: 'False' }] } }));
    const alg = new Algorithm(cache, { nsLabels: () => undefined });
    const d = alg.schedule(podInfoOf(pod('p')));
    assert.ok('failures' in d);
    assert.deepEqual(d.failures.get('down'), { reasons: ['node(s) had untolerated taint {node.kubernetes.io/not-ready: }'], unresolvable: true });
  });
});
