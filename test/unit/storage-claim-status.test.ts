/**
 * The expansion bookkeeping on a claim's status, as external-resizer and the kubelet write it:
 * one resize condition at a time (others kept), allocatedResources, allocatedResourceStatuses
 * set and cleared, capacity on completion, transition times kept while a condition stays.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FS_RESIZE_PENDING_MESSAGE, withResizeState } from '../../src/storage/claim-status.js';
import type { KubeObject } from '../../src/util/object.js';

const claim = (status: Record<string, unknown>): KubeObject => ({ metadata: { name: 'c', namespace: 'ns' }, status });

describe('claim resize status', () => {
  it('walks Resizing → FileSystemResizePending → done', () => {
    const bound = claim({ phase: 'Bound', capacity: { storage: '1Gi' }, conditions: [{ type: 'ModifyingVolume', status: 'True' }] });
    const resizing = withResizeState(bound, { condition: { type: 'Resizing' }, allocated: '2Gi', resizeStatus: 'ControllerResizeInProgress' });
    assert.deepEqual(resizing.conditions?.map((c) => c.type), ['ModifyingVolume', 'Resizing']);
    assert.deepEqual(resizing.allocatedResources, { storage: '2Gi' });
    assert.deepEqual(resizing.allocatedResourceStatuses, { storage: 'ControllerResizeInProgress' });
    assert.deepEqual(resizing.capacity, { storage: '1Gi' });

    const pending = withResizeState(claim(resizing as Record<string, unknown>), { condition: { type: 'FileSystemResizePending', message: FS_RESIZE_PENDING_MESSAGE }, resizeStatus: 'NodeResizePending' });
    const cond = pending.conditions!.find((c) => c.type === 'FileSystemResizePending')!;
    assert.equal(cond.status, 'True');
    assert.equal(cond.message, 'Waiting for user to (re-)start a pod to finish file system resize of volume on node.');
    assert.ok(!pending.conditions!.some((c) => c.type === 'Resizing'));

    const again = withResizeState(claim(pending as Record<string, unknown>), { condition: { type: 'FileSystemResizePending', message: FS_RESIZE_PENDING_MESSAGE }, resizeStatus: 'NodeResizePending' });
    assert.equal(again.conditions!.find((c) => c.type === 'FileSystemResizePending')!.lastTransitionTime, cond.lastTransitionTime);

    const done = withResizeState(claim(pending as Record<string, unknown>), { capacity: '2Gi', resizeStatus: null });
    assert.deepEqual(done.capacity, { storage: '2Gi' });
    assert.equal(done.allocatedResourceStatuses, undefined);
    assert.deepEqual(done.allocatedResources, { storage: '2Gi' });
    assert.deepEqual(done.conditions?.map((c) => c.type), ['ModifyingVolume']);
  });
});
