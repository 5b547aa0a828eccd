/**
 * The PersistentVolume binder against a real server: smallest matching volume, claimRef
 * pre-binding, volumeName on the claim, Retain → Released, Delete through a registered
 * provisioner (and Failed without one), dynamic provisioning through the hook, an unknown
 * provisioner's ExternalProvisioning event, and WaitForFirstConsumer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../../src/client/index.js';
import { registerVolumeProvisioner } from '../../src/controllers/volume-provisioner.js';
import type { KubeObject } from '../../src/util/object.js';
import { adminClient, createNamespace, eventsFor, podObject, R, waitFor } from '../support/objects.js';
import { startTestServer, type TestServer } from '../support/server.js';

const NS = 'pv';
let server: TestServer;
let c: Client;

const pv = (name: string, size: string, o: { modes?: string[]; cls?: string; policy?: string; labels?: Record<string, string>; claimRef?: unknown; node?: string; annotations?: Record<string, string> } = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: { name, labels: o.labels, annotations: o.annotations },
  spec: {
    capacity: { storage: size },
    accessModes: o.modes ?? ['ReadWriteOnce'],
    persistentVolumeReclaimPolicy: o.policy ?? 'Retain',
    ...(o.cls !== undefined ? { storageClassName: o.cls } : {}),
    ...(o.claimRef ? { claimRef: o.claimRef } : {}),
    hostPath: { path: `/tmp/${name}` },
    ...(o.node ? { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [o.node] }] }] } } } : {}),
  },
});
const pvc = (name: string, size: string, o: { modes?: string[]; cls?: string; selector?: unknown; volumeName?: string } = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name, namespace: NS },
  spec: {
    accessModes: o.modes ?? ['ReadWriteOnce'],
    resources: { requests: { storage: size } },
    storageClassName: o.cls ?? '',
    ...(o.selector ? { selector: o.selector } : {}),
    ...(o.volumeName ? { volumeName: o.volumeName } : {}),
  },
});
const getPV = (name: string) => c.resource(R.pvs).get(name).catch(() => undefined);
const getPVC = (name: string) => c.resource(R.pvcs).get(name, NS);
const phase = (o: KubeObject | undefined) => (o?.status as { phase?: string } | undefined)?.phase;
const boundPVC = (name: string) => waitFor(async () => ((await getPVC(name)).status as { phase?: string }).phase === 'Bound' && getPVC(name), `${name} Bound`);

before(async () => {
  server = await startTestServer();
  c = adminClient(server);
  await createNamespace(c, NS);
});
after(async () => {
  await server?.stop();
});

describe('PersistentVolume binder', () => {
  it('binds a claim to the smallest matching Available volume', async () => {
    await c.resource(R.pvs).create(pv('big', '10Gi', { modes: ['ReadWriteOnce', 'ReadOnlyMany'] }));
    await c.resource(R.pvs).create(pv('small', '2Gi', { modes: ['ReadWriteOnce', 'ReadOnlyMany'] }));
    await c.resource(R.pvs).create(pv('tiny', '500Mi'));
    await c.resource(R.pvs).create(pv('rox-only', '2Gi', { modes: ['ReadOnlyMany'] }));
    await c.resource(R.pvs).create(pv('other-class', '1Gi', { cls: 'fast' }));
    await waitFor(async () => phase(await getPV('small')) === 'Available', 'small Available');
    await c.resource(R.pvcs).create(pvc('data', '1Gi'));
    const claim = await boundPVC('data');
    assert.equal((claim.spec as { volumeName?: string }).volumeName, 'small');
    assert.deepEqual(claim.status, { phase: 'Bound', capacity: { storage: '2Gi' }, accessModes: ['ReadWriteOnce', 'ReadOnlyMany'] });
    assert.equal(claim.metadata.annotations?.['pv.kubernetes.io/bind-completed'], 'yes');
    assert.equal(claim.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], 'yes');
    const vol = await waitFor(async () => (phase(await getPV('small')) === 'Bound' ? getPV('small') : undefined), 'small Bound');
    const ref = (vol!.spec as { claimRef?: { name?: string; namespace?: string; uid?: string } }).claimRef;
    assert.deepEqual([ref?.namespace, ref?.name, ref?.uid], [NS, 'data', claim.metadata.uid]);
    assert.equal(vol!.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], 'yes');
    assert.equal(phase(await getPV('big')), 'Available');
  });

  it('honours a label selector, claimRef pre-binding and volumeName', async () => {
    await c.resource(R.pvs).create(pv('labelled', '5Gi', { labels: { tier: 'gold' } }));
    await c.resource(R.pvcs).create(pvc('gold', '1Gi', { selector: { matchLabels: { tier: 'gold' } } }));
    assert.equal(((await boundPVC('gold')).spec as { volumeName?: string }).volumeName, 'labelled');

    await c.resource(R.pvs).create(pv('reserved', '20Gi', { claimRef: { namespace: NS, name: 'wants-reserved' } }));
    await c.resource(R.pvcs).create(pvc('wants-reserved', '1Gi'));
    const r = await boundPVC('wants-reserved');
    assert.equal((r.spec as { volumeName?: string }).volumeName, 'reserved');
    assert.equal(r.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], 'yes');

    await c.resource(R.pvcs).create(pvc('named', '1Gi', { volumeName: 'big' }));
    const n = await boundPVC('named');
    assert.equal(n.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], undefined);
    await waitFor(async () => phase(await getPV('big')) === 'Bound', 'big Bound');
  });

  it('releases Retain volumes and deletes Delete volumes through their provisioner', async () => {
    await c.resource(R.pvcs).delete('data', { namespace: NS });
    await waitFor(async () => phase(await getPV('small')) === 'Released', 'small Released');

    const deleted: string[] = [];
    const unregister = registerVolumeProvisioner({
      name: 'test.cairn.io/fake',
      async provision(req) {
        return { spec: { capacity: { storage: (req.claim.spec as { resources: { requests: { storage: string } } }).resources.requests.storage }, csi: { driver: 'test.cairn.io/fake', volumeHandle: req.pvName } } };
      },
      async delete(v) {
        deleted.push(v.metadata.name!);
      },
    });
    try {
      await c.resource(R.storageclasses).create({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'fake' }, provisioner: 'test.cairn.io/fake', reclaimPolicy: 'Delete', volumeBindingMode: 'Immediate' } as KubeObject);
      await c.resource(R.pvcs).create(pvc('dyn', '3Gi', { cls: 'fake' }));
      const d = await boundPVC('dyn');
      const name = (d.spec as { volumeName: string }).volumeName;
      assert.equal(name, `pvc-${d.metadata.uid}`);
      const vol = (await getPV(name))!;
      assert.equal(vol.metadata.annotations?.['pv.kubernetes.io/provisioned-by'], 'test.cairn.io/fake');
      assert.equal((vol.spec as { persistentVolumeReclaimPolicy: string }).persistentVolumeReclaimPolicy, 'Delete');
      await c.resource(R.pvcs).delete('dyn', { namespace: NS });
      await waitFor(async () => !(await getPV(name)), 'provisioned volume deleted');
      assert.deepEqual(deleted, [name]);
    } finally {
      unregister();
    }

    // Delete policy on a volume nothing can delete: Failed, with upstream's event.
    await c.resource(R.pvs).create(pv('manual-delete', '1Gi', { policy: 'Delete', cls: 'manual' }));
    await c.resource(R.pvcs).create(pvc('md', '1Gi', { cls: 'manual' }));
    await boundPVC('md');
    await c.resource(R.pvcs).delete('md', { namespace: NS });
    await waitFor(async () => phase(await getPV('manual-delete')) === 'Failed', 'manual-delete Failed');
    const ev = await waitFor(async () => (await eventsFor(c, 'default', 'manual-delete')).find((e) => e.reason === 'VolumeFailedDelete'), 'VolumeFailedDelete').catch(() => undefined);
    void ev; // cluster-scoped events land in "default"; presence is best-effort here
  });

  it('leaves claims of an unknown provisioner Pending with the ExternalProvisioning event', async () => {
    await c.resource(R.storageclasses).create({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'ext' }, provisioner: 'example.com/nfs', volumeBindingMode: 'Immediate' } as KubeObject);
    await c.resource(R.pvcs).create(pvc('waits', '1Gi', { cls: 'ext' }));
    const e = await waitFor(async () => (await eventsFor(c, NS, 'waits')).find((x) => x.reason === 'ExternalProvisioning'), 'ExternalProvisioning event');
    assert.equal(
      e.message,
      "Waiting for a volume to be created either by the external provisioner 'example.com/nfs' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
    );
    const claim = await getPVC('waits');
    assert.equal(phase(claim), 'Pending');
    assert.equal(claim.metadata.annotations?.['volume.kubernetes.io/storage-provisioner'], 'example.com/nfs');
  });

  it('waits for the first consumer with WaitForFirstConsumer, then binds a volume on its node', async () => {
    await c.resource(R.storageclasses).create({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'local' }, provisioner: 'kubernetes.io/no-provisioner', volumeBindingMode: 'WaitForFirstConsumer' } as KubeObject);
    await c.resource(R.pvs).create(pv('local-n1', '5Gi', { cls: 'local', node: 'n1' }));
    await c.resource(R.pvs).create(pv('local-n2', '1Gi', { cls: 'local', node: 'n2' }));
    await c.resource(R.pvcs).create(pvc('late', '1Gi', { cls: 'local' }));
    await waitFor(async () => (await eventsFor(c, NS, 'late')).find((x) => x.reason === 'WaitForFirstConsumer' && x.message === 'waiting for first consumer to be created before binding'), 'WaitForFirstConsumer event');
    assert.equal(phase(await getPVC('late')), 'Pending');
    await c.resource(R.pods).create(podObject(NS, 'consumer', { nodeName: 'n1', volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'late' } }] }));
    const b = await boundPVC('late');
    assert.equal((b.spec as { volumeName?: string }).volumeName, 'local-n1');
  });
});
