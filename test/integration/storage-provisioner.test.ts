/**
 * The provisioner, resizer and capacity publisher loops against a real API server (controllers
 * running: PV binder, protection), with an in-memory node-scoped driver standing in for a disk:
 * a claim selected for this node gets one CreateVolume (however often the claim changes
 * meanwhile) and a PV with the driver's topology as node affinity, bound by the binder; claims
 * selected for another node are left alone; a node without room removes selected-node and says
 * why; a driver without block support refuses Block claims by event; a Released volume with
 * reclaimPolicy Delete gets DeleteVolume and its PV removed; a larger request is expanded in two
 * steps (FileSystemResizePending until the node grows it); capacity is published per class.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../../src/client/index.js';
import { SharedInformerFactory } from '../../src/client/index.js';
import { EventRecorder } from '../../src/controllers/events.js';
import { CapacityPublisher } from '../../src/storage/capacity-publisher.js';
import type { Capacity, CreatedVolume, CreateVolumeRequest, NodeService, StorageDriver, VolumeStats } from '../../src/storage/driver.js';
import { StorageError } from '../../src/storage/errors.js';
import { ClaimProvisioner } from '../../src/storage/provisioner.js';
import { VolumeResizer } from '../../src/storage/resizer.js';
import type { KubeObject } from '../../src/util/object.js';
import { CSI_STORAGE_CAPACITIES, PVCS, PVS, STORAGE_CLASSES } from '../../src/storage/api.js';
import { NODES } from '../../src/controllers/util/nodes.js';
import { adminClient, createNamespace, eventsFor, waitFor } from '../support/objects.js';
import { startTestServer, type TestServer } from '../support/server.js';

const NS = 'prov';
const NODE = 'node-a';
const MI = 1024 * 1024;
const silent = () => undefined;

/** A node's disk in memory: sizes by volume id, a fixed free space, calls counted. */
class MemoryDriver implements StorageDriver {
  readonly name = 'mem.cairn.test';
  readonly provisioner = 'cairn.test/mem';
  readonly controllerScope = 'node' as const;
  readonly capabilities = { volumeModes: ['Filesystem'] as const, accessModes: ['ReadWriteOnce'] as const, parameters: [] };
  readonly volumes = new Map<string, number>();
  readonly calls: string[] = [];
  staged = new Set<string>();
  free = 100 * MI;
  readonly controller = {
    createVolume: async (req: CreateVolumeRequest): Promise<CreatedVolume> => {
      this.calls.push(`create ${req.name}`);
      if (!this.volumes.has(req.name)) {
        if (req.capacityBytes > this.free) throw new StorageError('ResourceExhausted', `not enough free space on the node's disk: ${req.capacityBytes} bytes requested, ${this.free} available`);
        this.volumes.set(req.name, req.capacityBytes);
        this.free -= req.capacityBytes;
      }
      return { volumeId: req.name, capacityBytes: this.volumes.get(req.name)!, volumeContext: {}, accessibleTopology: req.topology ? [req.topology] : undefined };
    },
    deleteVolume: async (id: string) => {
      this.calls.push(`delete ${id}`);
      this.free += this.volumes.get(id) ?? 0;
      this.volumes.delete(id);
    },
    controllerExpandVolume: async (id: string, bytes: number) => {
      this.calls.push(`expand ${id}`);
      this.volumes.set(id, bytes);
      return { capacityBytes: bytes, nodeExpansionRequired: true };
    },
    getCapacity: async (): Promise<Capacity> => ({ availableBytes: this.free, maximumVolumeBytes: this.free }),
  };
  readonly node: NodeService = {
    nodeStageVolume: async () => undefined,
    nodeUnstageVolume: async () => undefined,
    nodePublishVolume: async () => undefined,
    nodeUnpublishVolume: async () => undefined,
    nodeExpandVolume: async (id: string) => {
      this.calls.push(`node-expand ${id}`);
      return { capacityBytes: this.volumes.get(id)! };
    },
    nodeGetVolumeStats: async (): Promise<VolumeStats> => ({ capacityBytes: 0 }),
    isStaged: async (id: string) => this.staged.has(id),
  };
}

let server: TestServer;
let c: Client;
const driver = new MemoryDriver();
const ac = new AbortController();
let informers: SharedInformerFactory;
let resizer: VolumeResizer;
let capacity: CapacityPublisher;

const claim = (name: string, size: string, o: { node?: string; cls?: string; mode?: string } = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name, namespace: NS, ...(o.node ? { annotations: { 'volume.kubernetes.io/selected-node': o.node } } : {}) },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: size } }, storageClassName: o.cls ?? 'mem', ...(o.mode ? { volumeMode: o.mode } : {}) },
});
const getClaim = (name: string) => c.resource(PVCS).get(name, NS);
const phase = (o: KubeObject) => (o.status as { phase?: string } | undefined)?.phase;

before(async () => {
  server = await startTestServer();
  c = adminClient(server);
  await createNamespace(c, NS);
  await c.resource(NODES).create({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE } } });
  for (const [name, extra] of [
    ['mem', { allowVolumeExpansion: true }],
    ['mem-retain', { reclaimPolicy: 'Retain' }],
  ] as const)
    await c.resource(STORAGE_CLASSES).create({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name }, provisioner: driver.provisioner, volumeBindingMode: 'WaitForFirstConsumer', ...extra } as KubeObject);
  informers = new SharedInformerFactory(c, {});
  const labels = () => ({ 'kubernetes.io/hostname': NODE });
  const node = { name: NODE, labels, topology: labels, uid: () => undefined };
  const provisioner = new ClaimProvisioner({ client: c, informers, recorder: new EventRecorder(c, `${driver.provisioner}_${NODE}`, silent), logger: silent, driver, node, onChange: () => capacity.kick() });
  resizer = new VolumeResizer({
    client: c,
    informers,
    recorder: new EventRecorder(c, `external-resizer ${driver.name}`, silent),
    kubeletRecorder: new EventRecorder(c, 'kubelet', silent),
    logger: silent,
    driver,
    node,
    stagingPath: () => '/unused',
  });
  capacity = new CapacityPublisher({ client: c, informers, logger: silent, driver, node });
  informers.start();
  await informers.waitForSync(ac.signal);
  provisioner.start(ac.signal);
  resizer.start(ac.signal);
  capacity.start();
});

after(async () => {
  ac.abort();
  await capacity?.stop();
  await informers?.stop();
  await server?.stop();
});

describe('node-scoped provisioning', () => {
  it('creates one volume for a claim selected for its node and a PV the binder binds', async () => {
    await c.resource(PVCS).create(claim('a', '10Mi', { node: NODE }));
    const bound = await waitFor(async () => phase(await getClaim('a')) === 'Bound' && getClaim('a'), 'claim a Bound');
    const pvName = (bound.spec as { volumeName: string }).volumeName;
    assert.equal(pvName, `pvc-${bound.metadata.uid}`);
    const pv = await c.resource(PVS).get(pvName);
    const spec = pv.spec as Record<string, unknown>;
    assert.deepEqual(spec.csi, { driver: 'mem.cairn.test', volumeHandle: pvName, fsType: 'ext4', volumeAttributes: { 'storage.kubernetes.io/csiProvisionerIdentity': `cairn.test/mem_${NODE}` } });
    assert.deepEqual(spec.nodeAffinity, { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [NODE] }] }] } });
    assert.deepEqual(spec.capacity, { storage: '10Mi' });
    assert.equal(spec.persistentVolumeReclaimPolicy, 'Delete');
    assert.equal(pv.metadata.annotations?.['pv.kubernetes.io/provisioned-by'], 'cairn.test/mem');
    assert.deepEqual(driver.calls.filter((x) => x.endsWith(pvName)), [`create ${pvName}`]);
    const reasons = (await eventsFor(c, NS, 'a')).map((e) => e.reason);
    assert.ok(reasons.includes('Provisioning') && reasons.includes('ProvisioningSucceeded'), reasons.join(','));
  });

  it('leaves claims selected for other nodes, or not selected yet, alone', async () => {
    await c.resource(PVCS).create(claim('elsewhere', '1Mi', { node: 'node-b' }));
    await c.resource(PVCS).create(claim('waiting', '1Mi'));
    await new Promise((r) => setTimeout(r, 1500));
    for (const n of ['elsewhere', 'waiting']) {
      const cl = await getClaim(n);
      assert.equal(phase(cl), 'Pending');
      assert.ok(!driver.calls.includes(`create pvc-${cl.metadata.uid}`), `${n} was provisioned here`);
    }
  });

  it('gives the node up when it has no room: selected-node removed, the reason on the claim', async () => {
    await c.resource(PVCS).create(claim('big', '500Mi', { node: NODE }));
    await waitFor(async () => !(await getClaim('big')).metadata.annotations?.['volume.kubernetes.io/selected-node'], 'selected-node removed');
    const e = await waitFor(async () => (await eventsFor(c, NS, 'big')).find((x) => x.reason === 'ProvisioningFailed'), 'ProvisioningFailed');
    assert.match(e.message, /^failed to provision volume with StorageClass "mem": rpc error: code = ResourceExhausted desc = not enough free space on the node's disk/);
    assert.equal(phase(await getClaim('big')), 'Pending');
  });

  it('refuses Block claims of a driver without block support, by event', async () => {
    await c.resource(PVCS).create(claim('blk', '1Mi', { node: NODE, mode: 'Block' }));
    const e = await waitFor(async () => (await eventsFor(c, NS, 'blk')).find((x) => x.reason === 'ProvisioningFailed'), 'ProvisioningFailed');
    assert.equal(e.message, 'cairn.test/mem does not support block volume provisioning');
  });

  it('publishes capacity per class for its node, and follows what provisioning takes', async () => {
    const list = await waitFor(async () => {
      const l = (await c.resource(CSI_STORAGE_CAPACITIES).list({ namespace: 'kube-system' })).items as (KubeObject & { storageClassName: string; capacity: string; nodeTopology: unknown })[];
      return l.length === 2 && l.find((o) => o.storageClassName === 'mem')?.capacity === `${driver.free / MI}Mi` && l;
    }, 'two CSIStorageCapacity objects with the free space left');
    assert.deepEqual(list.map((o) => o.storageClassName).sort(), ['mem', 'mem-retain']);
    assert.deepEqual(list[0].nodeTopology, { matchLabels: { 'kubernetes.io/hostname': NODE } });
    assert.equal(list[0].metadata.labels?.['csi.storage.k8s.io/managed-by'], `external-provisioner-${NODE}`);
  });

  it('expands in two steps: the volume, then (once staged) the filesystem', async () => {
    const before = await getClaim('a');
    const pvName = (before.spec as { volumeName: string }).volumeName;
    await c.resource(PVCS).patch('a', { spec: { resources: { requests: { storage: '20Mi' } } } }, 'merge', { namespace: NS });
    const pending = await waitFor(async () => {
      const cl = await getClaim('a');
      const st = cl.status as { conditions?: { type: string }[]; allocatedResourceStatuses?: Record<string, string>; capacity?: Record<string, string> };
      return st.conditions?.some((x) => x.type === 'FileSystemResizePending') && st;
    }, 'FileSystemResizePending');
    assert.deepEqual(pending.capacity, { storage: '10Mi' });
    assert.deepEqual(pending.allocatedResourceStatuses, { storage: 'NodeResizePending' });
    assert.deepEqual(((await c.resource(PVS).get(pvName)).spec as { capacity: unknown }).capacity, { storage: '20Mi' });
    driver.staged.add(pvName);
    resizer.kick(`${NS}/a`);
    const done = await waitFor(async () => {
      const st = (await getClaim('a')).status as { conditions?: unknown[]; capacity?: Record<string, string>; allocatedResourceStatuses?: unknown };
      return st.capacity?.storage === '20Mi' && !st.conditions && !st.allocatedResourceStatuses && st;
    }, 'capacity 20Mi');
    assert.ok(done);
    assert.ok(driver.calls.includes(`node-expand ${pvName}`));
    const reasons = (await eventsFor(c, NS, 'a')).map((e) => e.reason);
    for (const r of ['Resizing', 'FileSystemResizeRequired', 'FileSystemResizeSuccessful']) assert.ok(reasons.includes(r), reasons.join(','));
  });

  it('deletes a Released volume with reclaimPolicy Delete, and keeps a Retain one', async () => {
    await c.resource(PVCS).create(claim('kept', '1Mi', { node: NODE, cls: 'mem-retain' }));
    const kept = await waitFor(async () => phase(await getClaim('kept')) === 'Bound' && getClaim('kept'), 'kept Bound');
    const keptPv = (kept.spec as { volumeName: string }).volumeName;
    const pvName = ((await getClaim('a')).spec as { volumeName: string }).volumeName;
    await c.resource(PVCS).delete('a', { namespace: NS });
    await c.resource(PVCS).delete('kept', { namespace: NS });
    await waitFor(async () => !(await c.resource(PVS).list()).items.some((p) => p.metadata.name === pvName), `${pvName} removed`);
    assert.ok(driver.calls.includes(`delete ${pvName}`));
    assert.ok(!driver.volumes.has(pvName));
    await waitFor(async () => phase(await c.resource(PVS).get(keptPv)) === 'Released', `${keptPv} Released`);
    assert.ok(driver.volumes.has(keptPv) && !driver.calls.includes(`delete ${keptPv}`));
  });
});
