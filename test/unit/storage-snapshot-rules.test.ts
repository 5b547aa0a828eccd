/**
 * The snapshot controller's object-only rules, as upstream's common controller decides them: the
 * default class for a volume's driver (none or several is an error naming why), a snapshot's
 * status from its content's (nanosecond creationTime to RFC 3339, bytes to a quantity, errors
 * replaced and cleared, the created/ready transitions reported once), whether a Pending claim is
 * being restored from a snapshot, whether a claim still has a snapshot being taken, and which data
 * source a claim names (dataSourceRef winning over dataSource).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultSnapshotClass, isBeingRestored, isClaimBeingSnapshotted, SnapshotRuleError, snapshotStatusFromContent } from '../../src/controllers/snapshot-rules.js';
import { claimDataSource, isClaimSource, isSnapshotSource, type VolumeSnapshot, type VolumeSnapshotClass, type VolumeSnapshotContent } from '../../src/storage/snapshot-api.js';
import type { KubeObject } from '../../src/util/object.js';

const DEFAULT = { 'snapshot.storage.kubernetes.io/is-default-class': 'true' };
const cls = (name: string, driver: string, annotations?: Record<string, string>): VolumeSnapshotClass => ({ metadata: { name, annotations }, driver, deletionPolicy: 'Delete' });
const snap = (name: string, extra: Partial<VolumeSnapshot> = {}): VolumeSnapshot => ({ metadata: { name, namespace: 'ns', uid: `uid-${name}` }, spec: { source: { persistentVolumeClaimName: 'data' } }, ...extra });
const content = (status?: VolumeSnapshotContent['status']): VolumeSnapshotContent => ({ metadata: { name: 'snapcontent-1' }, spec: {}, ...(status ? { status } : {}) });
const claim = (name: string, spec: Record<string, unknown>, phase = 'Pending'): KubeObject => ({ metadata: { name, namespace: 'ns' }, spec, status: { phase } });
const SNAP_SRC = { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 's1' };

describe('default snapshot class', () => {
  it('is the one annotated default for the driver', () => {
    const classes = [cls('plain', 'local.cairn.io'), cls('ceph', 'rbd.csi.ceph.com', DEFAULT), cls('local', 'local.cairn.io', DEFAULT)];
    assert.equal(defaultSnapshotClass(classes, 'local.cairn.io').metadata.name, 'local');
  });

  it('is an error when there is none or several, naming why', () => {
    assert.throws(
      () => defaultSnapshotClass([cls('plain', 'local.cairn.io'), cls('other', 'x', DEFAULT)], 'local.cairn.io'),
      (e: SnapshotRuleError) => e.reason === 'SetDefaultSnapshotClassFailed' && /cannot find default snapshot class for driver local\.cairn\.io/.test(e.message),
    );
    assert.throws(() => defaultSnapshotClass([cls('a', 'd', DEFAULT), cls('b', 'd', DEFAULT)], 'd'), /2 default snapshot classes were found/);
  });
});

describe('snapshot status from its content', () => {
  it('binds first, not ready while the content has no status', () => {
    const c = snapshotStatusFromContent(snap('s'), content());
    assert.deepEqual(c, { status: { boundVolumeSnapshotContentName: 'snapcontent-1', readyToUse: false }, created: false, ready: false });
  });

  it('copies creationTime (ns), restoreSize (bytes) and readiness once, reporting the transitions', () => {
    const ns = Date.UTC(2026, 10, 21, 6, 0, 0) * 1e6;
    const c = snapshotStatusFromContent(snap('s', { status: { boundVolumeSnapshotContentName: 'snapcontent-1', readyToUse: false } }), content({ readyToUse: true, creationTime: ns, restoreSize: 64 * 1024 * 1024, snapshotHandle: 'h' }));
    assert.deepEqual(c, {
      status: { boundVolumeSnapshotContentName: 'snapcontent-1', readyToUse: true, creationTime: '2026-11-21T06:00:00Z', restoreSize: '64Mi' },
      created: true,
      ready: true,
    });
    assert.equal(snapshotStatusFromContent(snap('s', { status: c!.status }), content({ readyToUse: true, creationTime: ns, restoreSize: 64 * 1024 * 1024 })), undefined, 'nothing changes twice');
  });

  it("takes the content's error, and clears one the content no longer has", () => {
    const error = { message: 'failed to take snapshot', time: '2026-11-21T06:00:00Z' };
    const failing = snapshotStatusFromContent(snap('s', { status: { boundVolumeSnapshotContentName: 'snapcontent-1', readyToUse: false } }), content({ readyToUse: false, error }));
    assert.deepEqual(failing?.status.error, error);
    const healed = snapshotStatusFromContent(snap('s', { status: failing!.status }), content({ readyToUse: true }));
    assert.equal(healed?.status.error, undefined);
    assert.equal(healed?.status.readyToUse, true);
  });
});

describe('finalizer conditions', () => {
  it('a snapshot is being restored while a Pending claim in its namespace names it', () => {
    const s = snap('s1');
    assert.equal(isBeingRestored(s, [claim('r', { dataSource: SNAP_SRC })]), true);
    assert.equal(isBeingRestored(s, [claim('r', { dataSource: SNAP_SRC }, 'Bound')]), false);
    assert.equal(isBeingRestored(s, [claim('r', { dataSource: { ...SNAP_SRC, name: 'other' } })]), false);
    assert.equal(isBeingRestored(s, [claim('r', { dataSourceRef: SNAP_SRC })]), true);
  });

  it('a claim is being snapshotted while another snapshot of it is not ready', () => {
    const taking = snap('a');
    const done = snap('b', { status: { readyToUse: true } });
    assert.equal(isClaimBeingSnapshotted('data', [taking, done]), true);
    assert.equal(isClaimBeingSnapshotted('data', [taking, done], taking), false, 'the snapshot being deleted does not count');
    assert.equal(isClaimBeingSnapshotted('other', [taking]), false);
  });
});

describe('claim data source', () => {
  it('is dataSourceRef when set, else dataSource', () => {
    assert.deepEqual(claimDataSource(claim('c', { dataSource: { kind: 'PersistentVolumeClaim', name: 'a' }, dataSourceRef: SNAP_SRC })), SNAP_SRC);
    assert.deepEqual(claimDataSource(claim('c', { dataSource: { kind: 'PersistentVolumeClaim', name: 'a' } })), { kind: 'PersistentVolumeClaim', name: 'a' });
    assert.equal(claimDataSource(claim('c', {})), undefined);
  });

  it('tells snapshots (their API group) from claims (the core group)', () => {
    assert.equal(isSnapshotSource(SNAP_SRC), true);
    assert.equal(isSnapshotSource({ kind: 'VolumeSnapshot', name: 's' }), false);
    assert.equal(isClaimSource({ kind: 'PersistentVolumeClaim', name: 'a' }), true);
    assert.equal(isClaimSource({ apiGroup: 'example.com', kind: 'PersistentVolumeClaim', name: 'a' }), false);
  });
});
