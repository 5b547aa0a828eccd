/**
 * The snapshot controller (running in the test server's controller manager) with the generic
 * snapshotter sidecar over an in-memory, cluster-scoped driver (as a Ceph driver uses it, without
 * a node): a snapshot of a Bound claim gets its content, CreateSnapshot once, then readyToUse,
 * restoreSize and creationTime, and holds the claim's pvc-as-source-protection only while being
 * taken; a driver failure shows in the content's and the snapshot's status.error and heals on
 * retry; deleting a snapshot waits while a Pending claim restores from it, then takes the content
 * and the backing snapshot (deletionPolicy Delete).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../../src/client/index.js';
import { SharedInformerFactory } from '../../src/client/index.js';
import { EventRecorder } from '../../src/controllers/events.js';
import { PVCS, PVS } from '../../src/storage/api.js';
import type { CreatedSnapshot, CreateSnapshotRequest, StorageDriver } from '../../src/storage/driver.js';
import { StorageError } from '../../src/storage/errors.js';
import { VOLUME_SNAPSHOT_CLASSES, VOLUME_SNAPSHOT_CONTENTS, VOLUME_SNAPSHOTS, type VolumeSnapshot, type VolumeSnapshotContent } from '../../src/storage/snapshot-api.js';
import { Snapshotter } from '../../src/storage/snapshotter.js';
import type { KubeObject } from '../../src/util/object.js';
import { adminClient, createNamespace, eventsFor, waitFor } from '../support/objects.js';
import { startTestServer, type TestServer } from '../support/server.js';

const NS = 'snapctl';
const DRIVER = 'mem.cairn.test';
const MI = 1024 * 1024;
const silent = () => undefined;
const unused = () => Promise.reject(new Error('not used'));

/** Snapshots in memory; CreateSnapshot fails while `failing`. */
const taken = new Map<string, number>();
const calls: string[] = [];
let failing = false;
const driver: StorageDriver = {
  name: DRIVER,
  provisioner: 'cairn.test/mem',
  controllerScope: 'cluster',
  capabilities: { volumeModes: ['Filesystem'], accessModes: ['ReadWriteOnce'], parameters: [] },
  controller: {
    createVolume: unused,
    deleteVolume: unused,
    controllerExpandVolume: unused,
    getCapacity: unused,
    createSnapshot: async (req: CreateSnapshotRequest): Promise<CreatedSnapshot> => {
      calls.push(`create ${req.name} of ${req.sourceVolumeId}`);
      if (failing) throw new StorageError('Unavailable', 'the pool is busy');
      taken.set(req.name, 8 * MI);
      return { snapshotId: `snap-${req.name}`, sourceVolumeId: req.sourceVolumeId, sizeBytes: 8 * MI, creationTime: new Date(), readyToUse: true };
    },
    deleteSnapshot: async (id: string) => {
      calls.push(`delete ${id}`);
      taken.delete(id.slice(5));
    },
  },
  node: { nodeStageVolume: unused, nodeUnstageVolume: unused, nodePublishVolume: unused, nodeUnpublishVolume: unused, nodeExpandVolume: unused, nodeGetVolumeStats: unused, isStaged: unused },
};

let server: TestServer;
let c: Client;
let informers: SharedInformerFactory;
const ac = new AbortController();

/** A claim bound to a pre-made CSI volume of the driver (the binder binds them). */
async function boundClaim(name: string): Promise<void> {
  await c.resource(PVS).create({
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: `pv-${name}` },
    spec: { capacity: { storage: '8Mi' }, accessModes: ['ReadWriteOnce'], storageClassName: '', csi: { driver: DRIVER, volumeHandle: `vol-${name}` }, claimRef: { namespace: NS, name } },
  });
  await c.resource(PVCS).create({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name, namespace: NS }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', volumeName: `pv-${name}`, resources: { requests: { storage: '8Mi' } } } });
  await waitFor(async () => ((await c.resource(PVCS).get(name, NS)).status as { phase?: string }).phase === 'Bound', `claim ${name} Bound`);
}

const snapshotOf = (name: string, claim: string): VolumeSnapshot => ({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', metadata: { name, namespace: NS }, spec: { source: { persistentVolumeClaimName: claim }, volumeSnapshotClassName: 'mem' } });
const getSnapshot = (name: string) => c.resource<VolumeSnapshot>(VOLUME_SNAPSHOTS).get(name, NS);
const ready = (name: string) => waitFor(async () => (await getSnapshot(name)).status?.readyToUse === true && getSnapshot(name), `snapshot ${name} ready`);
const goneSnapshot = (name: string) => waitFor(() => getSnapshot(name).then(() => false, () => true), `snapshot ${name} gone`);

before(async () => {
  server = await startTestServer();
  c = adminClient(server);
  await createNamespace(c, NS);
  await c.resource(VOLUME_SNAPSHOT_CLASSES).create({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: 'mem' }, driver: DRIVER, deletionPolicy: 'Delete' } as KubeObject);
  informers = new SharedInformerFactory(c, {});
  const sidecar = new Snapshotter({ client: c, informers, recorder: new EventRecorder(c, `csi-snapshotter ${DRIVER}`, silent), logger: silent, driver });
  informers.start();
  await informers.waitForSync(ac.signal);
  sidecar.start(ac.signal);
});

after(async () => {
  ac.abort();
  await informers?.stop();
  await server?.stop();
});

describe('snapshot controller with a cluster-scoped snapshotter', () => {
  it('takes a snapshot of a bound claim once and reports it ready, holding the claim only meanwhile', async () => {
    await boundClaim('data');
    await c.resource(VOLUME_SNAPSHOTS).create(snapshotOf('s1', 'data'));
    const s = await ready('s1');
    assert.equal(s.status?.restoreSize, '8Mi');
    assert.match(s.status?.creationTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const content = await c.resource<VolumeSnapshotContent>(VOLUME_SNAPSHOT_CONTENTS).get(s.status!.boundVolumeSnapshotContentName!);
    assert.equal(content.metadata.name, `snapcontent-${s.metadata.uid}`);
    assert.equal(content.metadata.labels, undefined, 'a volume without node affinity is not managed by a node');
    assert.deepEqual([content.status?.snapshotHandle, content.status?.restoreSize], [`snap-${content.metadata.name}`, 8 * MI]);
    assert.ok(Number.isInteger(content.status?.creationTime) && content.status!.creationTime! > 1e18, 'creationTime in ns');
    assert.deepEqual(calls, [`create ${content.metadata.name} of vol-data`]);
    await waitFor(async () => !(await c.resource(PVCS).get('data', NS)).metadata.finalizers?.includes('snapshot.storage.kubernetes.io/pvc-as-source-protection'), 'pvc-as-source-protection released');
    const events = (await eventsFor(c, NS, 's1')).map((e) => e.reason);
    for (const r of ['CreatingSnapshot', 'SnapshotCreated', 'SnapshotReady']) assert.ok(events.includes(r), `${r} in ${events.join(',')}`);
  });

  it('shows a driver failure in status.error and heals on retry', async () => {
    failing = true;
    await c.resource(VOLUME_SNAPSHOTS).create(snapshotOf('s2', 'data'));
    const failed = await waitFor(async () => (await getSnapshot('s2')).status?.error && getSnapshot('s2'), 'snapshot s2 error');
    assert.match(failed.status!.error!.message!, /failed to take snapshot of the volume vol-data: rpc error: code = Unavailable desc = the pool is busy/);
    assert.equal(failed.status?.readyToUse, false);
    failing = false;
    const healed = await ready('s2');
    assert.equal(healed.status?.error, undefined);
  });

  it('waits for a restore before deleting, then deletes the content and the backing snapshot', async () => {
    const s = await getSnapshot('s1');
    const contentName = s.status!.boundVolumeSnapshotContentName!;
    // A claim restoring from s1 that no provisioner serves stays Pending.
    await c.resource(PVCS).create({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'restore', namespace: NS },
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'nobody', resources: { requests: { storage: '8Mi' } }, dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 's1' } },
    });
    await c.resource(VOLUME_SNAPSHOTS).delete('s1', { namespace: NS });
    await waitFor(async () => (await eventsFor(c, NS, 's1')).some((e) => e.reason === 'SnapshotDeletePending' && e.message === 'Snapshot is being used to restore a PVC'), 'SnapshotDeletePending');
    assert.ok(await getSnapshot('s1'), 'kept while the restore is pending');
    assert.ok(taken.has(contentName));
    await c.resource(PVCS).delete('restore', { namespace: NS });
    await goneSnapshot('s1');
    await waitFor(() => c.resource(VOLUME_SNAPSHOT_CONTENTS).get(contentName).then(() => false, () => true), 'content gone');
    assert.ok(calls.includes(`delete snap-${contentName}`));
    assert.ok(!taken.has(contentName));
  });
});
