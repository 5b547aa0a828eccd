/**
 * Snapshots, restores and clones of `cairn.io/local` volumes on a 2-node `cairn up` cluster,
 * through the real kubectl: a snapshot taken with the default VolumeSnapshotClass (annotation)
 * is bound to its content both ways and becomes ready with its restoreSize; a claim restored from
 * it holds the data of snapshot time (not what was written after), on the source's node, with a
 * larger filesystem when asked; a clone holds the source's current data; a restore pinned to the
 * other node is refused by the scheduler with a clear reason; deletionPolicy Delete removes the
 * content and the snapshot file, Retain keeps both, and the retained snapshot comes back as a
 * pre-provisioned one; a cloned claim carries cloning-protection and is deleted once its clone is
 * bound; bad snapshots (missing claim, unbound claim, missing class, a class of
 * another driver) report status.error and an event without harming the controller; a restore
 * smaller than the snapshot's restoreSize is refused with an event.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Container, Pod, PodSpec } from '../../src/agent/pods/api-types.js';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { until } from '../support/until.js';

const TEST_TIMEOUT = 300_000;
const WAIT = 120_000;
const POLL = 1000;
const DRIVER = 'local.cairn.io';
const SNAP_API = 'snapshot.storage.k8s.io/v1';

let cluster: CairnCluster;
const NS = 'snaps';

interface Obj {
  metadata: { name: string; uid: string; labels?: Record<string, string>; annotations?: Record<string, string>; finalizers?: string[] };
  spec: Record<string, any>;
  status?: Record<string, any>;
}

async function apply(...items: object[]): Promise<void> {
  await cluster.ok(['apply', '-n', NS, '-f', '-'], { input: items.map((o) => JSON.stringify(o)).join('\n') });
}
const get = (kind: string, name: string, namespaced = true) => cluster.json<Obj>(['get', kind, name, ...(namespaced ? ['-n', NS] : [])]);
const waitFor = <T>(what: string, check: () => Promise<T>, ms = WAIT): Promise<T> => until(what, async () => ({ value: await check() }), ms, POLL).then((r) => r.value);

const SLEEP = 'trap "exit 0" TERM; sleep 3600 & wait';
function pod(name: string, claimName: string, script: string, spec: Partial<PodSpec> = {}): Pod {
  const c: Container = { name: 'main', image: cluster.busybox, command: ['sh', '-c', `${script}; ${SLEEP}`], volumeMounts: [{ name: 'data', mountPath: '/data' }] };
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { terminationGracePeriodSeconds: 1, containers: [c], volumes: [{ name: 'data', persistentVolumeClaim: { claimName } }], ...spec } };
}
function claim(name: string, size: string, dataSource?: { kind: string; name: string; apiGroup?: string }, useRef = false): object {
  const src = dataSource ? { [useRef ? 'dataSourceRef' : 'dataSource']: dataSource } : {};
  return { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: size } }, ...src } };
}
const fromSnapshot = (name: string) => ({ apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name });
function snapshotClass(name: string, deletionPolicy: string, extra: Record<string, unknown> = {}): object {
  return { apiVersion: SNAP_API, kind: 'VolumeSnapshotClass', metadata: { name }, driver: DRIVER, deletionPolicy, ...extra };
}
function snapshot(name: string, source: Record<string, string>, className?: string): object {
  return { apiVersion: SNAP_API, kind: 'VolumeSnapshot', metadata: { name }, spec: { source, ...(className ? { volumeSnapshotClassName: className } : {}) } };
}

async function running(name: string): Promise<Pod> {
  return waitFor(`pod ${name} Running`, async () => {
    const p = await cluster.json<Pod>(['get', 'pod', name, '-n', NS]);
    if (p.status?.phase !== 'Running' || !p.status.containerStatuses?.[0]?.ready) throw new Error(`status ${JSON.stringify(p.status)}`);
    return p;
  });
}
const exec = (podName: string, script: string) => cluster.ok(['exec', podName, '-n', NS, '--', 'sh', '-c', script]);

async function ready(name: string): Promise<Obj> {
  return waitFor(`snapshot ${name} readyToUse`, async () => {
    const s = await get('volumesnapshot', name);
    if (s.status?.readyToUse !== true) throw new Error(`status ${JSON.stringify(s.status)}`);
    return s;
  });
}

async function gone(kind: string, name: string, namespaced = true): Promise<void> {
  await waitFor(`${kind} ${name} to be gone`, async () => {
    const r = await cluster.kubectl(['get', kind, name, ...(namespaced ? ['-n', NS] : [])]);
    if (r.code === 0 || !/NotFound/.test(r.stderr)) throw new Error(`still there: ${r.stdout}${r.stderr}`);
  });
}

async function event(kind: string, name: string, reason: string, message: RegExp): Promise<string> {
  return waitFor(`${kind} ${name} event ${reason} ${message}`, async () => {
    const list = await cluster.json<{ items: { reason: string; message: string }[] }>(['get', 'events', '-n', NS, '--field-selector', `involvedObject.kind=${kind},involvedObject.name=${name}`]);
    const e = list.items.find((x) => x.reason === reason && message.test(x.message));
    if (!e) throw new Error(`events: ${JSON.stringify(list.items)}`);
    return e.message;
  });
}

const nodeDir = (node: string) => join(cluster.dir, 'nodes', /^node-(\d+)$/.exec(node)![1], 'storage', 'local');
const snapshotFile = (node: string, handle: string) => join(nodeDir(node), 'snapshots', `${handle}.img`);

let sourceNode = '';

before(async () => {
  cluster = await upCluster({ nodes: 2, label: 'snapshot' });
  await cluster.ok(['create', 'namespace', NS]);
  await cluster.ok(['apply', '-f', '-'], {
    input: [snapshotClass('local-snap', 'Delete', { metadata: { name: 'local-snap', annotations: { 'snapshot.storage.kubernetes.io/is-default-class': 'true' } } }), snapshotClass('local-retain', 'Retain'), { ...snapshotClass('other-driver', 'Delete'), driver: 'rbd.csi.ceph.com' }]
      .map((o) => JSON.stringify(o))
      .join('\n'),
  });
});

after(async () => {
  await cluster?.down();
});

describe('snapshots of local volumes on cairn up', () => {
  it('takes a snapshot with the default class, restores the data of snapshot time and clones the current data', { timeout: TEST_TIMEOUT }, async () => {
    await apply(claim('data', '64Mi'), pod('writer', 'data', 'echo before > /data/note'));
    sourceNode = (await running('writer')).spec!.nodeName!;
    await exec('writer', 'sync');

    await apply(snapshot('snap1', { persistentVolumeClaimName: 'data' }));
    const snap = await ready('snap1');
    assert.equal(snap.spec.volumeSnapshotClassName, 'local-snap', 'the default class for the volume’s driver is filled in');
    assert.equal(snap.status!.restoreSize, '64Mi');
    assert.ok(snap.status!.creationTime, 'creationTime');
    assert.equal(snap.status!.boundVolumeSnapshotContentName, `snapcontent-${snap.metadata.uid}`);
    assert.deepEqual(
      [...(snap.metadata.finalizers ?? [])].sort(),
      ['snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection', 'snapshot.storage.kubernetes.io/volumesnapshot-bound-protection'],
    );
    const content = await get('volumesnapshotcontent', snap.status!.boundVolumeSnapshotContentName, false);
    const pv = await get('pv', (await get('pvc', 'data')).spec.volumeName, false);
    assert.deepEqual(
      [content.spec.driver, content.spec.deletionPolicy, content.spec.volumeSnapshotClassName, content.spec.source.volumeHandle, content.spec.volumeSnapshotRef.name, content.spec.volumeSnapshotRef.uid],
      [DRIVER, 'Delete', 'local-snap', pv.spec.csi.volumeHandle, 'snap1', snap.metadata.uid],
    );
    assert.equal(content.metadata.labels?.['snapshot.storage.kubernetes.io/managed-by'], sourceNode);
    assert.ok(content.metadata.finalizers?.includes('snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection'));
    assert.equal(content.status!.readyToUse, true);
    assert.equal(content.status!.restoreSize, 64 * 1024 * 1024);
    assert.ok(existsSync(snapshotFile(sourceNode, content.status!.snapshotHandle)), 'the snapshot file is on the source node');
    // The claim's protection while the snapshot was taken is released.
    await waitFor('pvc-as-source-protection released', async () => {
      const c = await get('pvc', 'data');
      if (c.metadata.finalizers?.includes('snapshot.storage.kubernetes.io/pvc-as-source-protection')) throw new Error(JSON.stringify(c.metadata.finalizers));
    });
    const kubectlRow = await cluster.ok(['get', 'volumesnapshot', 'snap1', '-n', NS]);
    assert.match(kubectlRow, /snap1\s+true\s+data\s+64Mi\s+local-snap\s+snapcontent-/);

    await exec('writer', 'echo after > /data/note; sync');

    // Restore, bigger than the source (dataSourceRef, as upstream accepts it), and a clone.
    await apply(claim('restored', '128Mi', fromSnapshot('snap1'), true), pod('reader', 'restored', 'true'));
    await apply(claim('cloned', '64Mi', { kind: 'PersistentVolumeClaim', name: 'data' }), pod('cloner', 'cloned', 'true'));
    const reader = await running('reader');
    assert.equal(reader.spec!.nodeName, sourceNode, 'a restore of a local snapshot runs on its node');
    assert.equal((await exec('reader', 'cat /data/note')).trim(), 'before');
    const size = Number((await exec('reader', 'df -k /data | tail -1')).trim().split(/\s+/)[1]);
    assert.ok(size > 100_000, `the restored filesystem grew to the request: ${size} KiB`);
    const cloner = await running('cloner');
    assert.equal(cloner.spec!.nodeName, sourceNode);
    assert.equal((await exec('cloner', 'cat /data/note')).trim(), 'after');
    assert.ok((await get('pvc', 'data')).metadata.finalizers?.includes('provisioner.storage.kubernetes.io/cloning-protection'), 'a cloned claim is protected');
    await event('PersistentVolumeClaim', 'restored', 'ProvisioningSucceeded', /Successfully provisioned volume/);
  });

  it('keeps a restore pinned to another node Pending with the reason', { timeout: TEST_TIMEOUT }, async () => {
    const other = sourceNode === 'node-1' ? 'node-2' : 'node-1';
    await apply(claim('elsewhere', '64Mi', fromSnapshot('snap1')), pod('elsewhere', 'elsewhere', 'true', { nodeSelector: { 'kubernetes.io/hostname': other } }));
    await event('Pod', 'elsewhere', 'FailedScheduling', /didn't have the node-local snapshot or volume a PersistentVolumeClaim is restored or cloned from/);
    assert.equal((await get('pvc', 'elsewhere')).status?.phase, 'Pending');
    await cluster.ok(['delete', 'pod', 'elsewhere', '-n', NS, '--wait=false']);
    await cluster.ok(['delete', 'pvc', 'elsewhere', '-n', NS, '--wait=false']);
  });

  it('refuses a restore smaller than the restoreSize with an event', { timeout: TEST_TIMEOUT }, async () => {
    await apply(claim('small', '32Mi', fromSnapshot('snap1')), pod('small', 'small', 'true'));
    const msg = await event('PersistentVolumeClaim', 'small', 'ProvisioningFailed', /requested volume size \d+ is less than the size \d+ for the source snapshot snap1/);
    assert.match(msg, /33554432 is less than the size 67108864/);
    assert.equal((await get('pvc', 'small')).status?.phase, 'Pending');
    await cluster.ok(['delete', 'pod', 'small', '-n', NS, '--wait=false']);
    await cluster.ok(['delete', 'pvc', 'small', '-n', NS, '--wait=false']);
  });

  it('reports bad snapshots in status.error and an event, and keeps working', { timeout: TEST_TIMEOUT }, async () => {
    await apply(claim('unbound', '16Mi'));
    await apply(
      snapshot('no-claim', { persistentVolumeClaimName: 'missing' }),
      snapshot('not-bound', { persistentVolumeClaimName: 'unbound' }, 'local-snap'),
      snapshot('no-class', { persistentVolumeClaimName: 'data' }, 'nonexistent'),
      snapshot('wrong-driver', { persistentVolumeClaimName: 'data' }, 'other-driver'),
    );
    const expected: [string, string, RegExp][] = [
      ['no-claim', 'SetDefaultSnapshotClassFailed', /PVC missing .*not found/],
      ['not-bound', 'SnapshotContentCreationFailed', /the PVC unbound is not yet bound to a PV, will not attempt to take a snapshot/],
      ['no-class', 'SnapshotContentCreationFailed', /volumesnapshotclass.snapshot.storage.k8s.io "nonexistent" not found/],
      ['wrong-driver', 'SnapshotContentCreationFailed', /VolumeSnapshotClass other-driver is for driver rbd.csi.ceph.com/],
    ];
    for (const [name, reason, message] of expected) {
      const s = await waitFor(`${name} status.error`, async () => {
        const o = await get('volumesnapshot', name);
        if (!o.status?.error?.message) throw new Error(JSON.stringify(o.status));
        return o;
      });
      assert.match(s.status!.error.message, message);
      assert.equal(s.status!.readyToUse, false);
      await event('VolumeSnapshot', name, reason, message);
    }
    // The controller still works: a good snapshot after the bad ones becomes ready.
    await apply(snapshot('good', { persistentVolumeClaimName: 'data' }));
    await ready('good');
    for (const [name] of expected) await cluster.ok(['delete', 'volumesnapshot', name, '-n', NS]);
  });

  it('deletes the content and the snapshot file with Delete, keeps them with Retain, and restores a pre-provisioned snapshot', { timeout: TEST_TIMEOUT }, async () => {
    // Retain: the content and the file stay when the snapshot goes.
    await apply(snapshot('kept', { persistentVolumeClaimName: 'data' }, 'local-retain'));
    const kept = await ready('kept');
    const keptContent = await get('volumesnapshotcontent', kept.status!.boundVolumeSnapshotContentName, false);
    const handle = keptContent.status!.snapshotHandle as string;
    await cluster.ok(['delete', 'volumesnapshot', 'kept', '-n', NS]);
    await gone('volumesnapshot', 'kept');
    const retained = await get('volumesnapshotcontent', keptContent.metadata.name, false);
    assert.equal(retained.spec.deletionPolicy, 'Retain');
    assert.ok(existsSync(snapshotFile(sourceNode, handle)), 'a retained snapshot keeps its file');

    // The retained data, brought back as a pre-provisioned snapshot, restores.
    await cluster.ok(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: SNAP_API,
        kind: 'VolumeSnapshotContent',
        metadata: { name: 'pre-provisioned', labels: { 'snapshot.storage.kubernetes.io/managed-by': sourceNode } },
        spec: { deletionPolicy: 'Delete', driver: DRIVER, source: { snapshotHandle: handle }, volumeSnapshotRef: { name: 'imported', namespace: NS } },
      }),
    });
    await apply(snapshot('imported', { volumeSnapshotContentName: 'pre-provisioned' }));
    await ready('imported');
    assert.equal((await get('volumesnapshotcontent', 'pre-provisioned', false)).spec.volumeSnapshotRef.uid, (await get('volumesnapshot', 'imported')).metadata.uid);
    await apply(claim('from-import', '64Mi', fromSnapshot('imported')), pod('importer', 'from-import', 'true'));
    await running('importer');
    assert.equal((await exec('importer', 'cat /data/note')).trim(), 'after');

    // Deleting the retained content object leaves the data (its policy is Retain).
    await cluster.ok(['delete', 'volumesnapshotcontent', keptContent.metadata.name]);
    await gone('volumesnapshotcontent', keptContent.metadata.name, false);
    assert.ok(existsSync(snapshotFile(sourceNode, handle)));

    // Delete: the snapshot takes its content and the file with it.
    const good = await get('volumesnapshot', 'good');
    const goodContent = await get('volumesnapshotcontent', good.status!.boundVolumeSnapshotContentName, false);
    const goodFile = snapshotFile(sourceNode, goodContent.status!.snapshotHandle);
    assert.ok(existsSync(goodFile));
    await cluster.ok(['delete', 'volumesnapshot', 'good', '-n', NS]);
    await gone('volumesnapshot', 'good');
    await gone('volumesnapshotcontent', goodContent.metadata.name, false);
    assert.ok(!existsSync(goodFile), 'deletionPolicy Delete removes the snapshot file');
    // The same for the imported one (Delete on its pre-provisioned content): the retained data goes now.
    await cluster.ok(['delete', 'volumesnapshot', 'imported', '-n', NS]);
    await gone('volumesnapshotcontent', 'pre-provisioned', false);
    assert.ok(!existsSync(snapshotFile(sourceNode, handle)));
    await cluster.ok(['delete', 'volumesnapshot', 'snap1', '-n', NS]);
    await gone('volumesnapshot', 'snap1');
    // Its clone Bound and its snapshots gone, the source claim can go.
    await cluster.ok(['delete', 'pod', 'writer', '-n', NS, '--wait=false']);
    await cluster.ok(['delete', 'pvc', 'data', '-n', NS, '--wait=false']);
    await gone('pvc', 'data');
  });
});
