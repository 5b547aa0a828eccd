/**
 * The VirtualMachineSnapshot, VirtualMachineRestore and VirtualMachineClone controllers in a test
 * server, with the test playing the CSI snapshotter (VolumeSnapshots made ready), the volume
 * binder (claims Bound) and the VirtHandler (a running VMI with AgentConnected) through the API,
 * and a recording freezer in place of the VMI freeze subresource: an online snapshot freezes the
 * guest around the VolumeSnapshots' creation, locks the VM and reports KubeVirt's status; a
 * snapshot of a missing VM fails at its deadline; a claim without a VolumeSnapshotClass is left
 * out (PartialSnapshot); restores wait on a running target or fail as its policy says, refuse a
 * snapshot not ready, rewrite a stopped VM to restored claims and create a VM that did not exist;
 * a clone goes through its phases to a new VM with new MACs and firmware, and cleans up.
 */
import assert from 'node:assert/strict';
import { setMaxListeners } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { type Client, SharedInformerFactory } from '../../src/client/index.js';
import { silentLogger } from '../../src/client/log.js';
import { defaultClusterSettings, makeContext } from '../../src/controllers/context.js';
import { VOLUME_SNAPSHOT_CLASSES, VOLUME_SNAPSHOTS, type VolumeSnapshot } from '../../src/storage/snapshot-api.js';
import type { KubeObject } from '../../src/util/object.js';
import { type VirtualMachine, VIRTUAL_MACHINES, VMIS } from '../../src/virt/controllers/vm-api.js';
import { makeVmSnapshotController } from '../../src/virt/snapshot/vm-snapshot-controller.js';
import { RESTORE_MESSAGES } from '../../src/virt/snapshot/vm-restore-controller.js';
import {
  SNAPSHOT_SOURCE_FINALIZER,
  VM_CLONES,
  VM_RESTORES,
  VM_SNAPSHOT_CONTENTS,
  VM_SNAPSHOTS,
  type VirtualMachineClone,
  type VirtualMachineRestore,
  type VirtualMachineSnapshot,
  type VirtualMachineSnapshotContent,
} from '../../src/virt/snapshot/snapshot-types.js';
import { adminClient, createNamespace, eventsFor, R, refused, waitFor } from '../support/objects.js';
import { startTestServer, type TestServer } from '../support/server.js';

const NS = 'snapctl';
const DRIVER = 'snap.test.cairn.io';
let server: TestServer;
let c: Client;
const stopControllers = new AbortController();
setMaxListeners(0, stopControllers.signal);
/** What the freezer was asked, in order. */
const freezes: string[] = [];
let factory: SharedInformerFactory;

const cond = (o: { status?: { conditions?: { type: string; status: string; reason?: string }[] } }, type: string) => o.status?.conditions?.find((x) => x.type === type);
const getSnap = (name: string) => c.resource<VirtualMachineSnapshot>(VM_SNAPSHOTS).get(name, NS);
const getRestore = (name: string) => c.resource<VirtualMachineRestore>(VM_RESTORES).get(name, NS);
const getVm = (name: string) => c.resource<VirtualMachine>(VIRTUAL_MACHINES).get(name, NS);
const exists = (p: Promise<unknown>) => p.then(() => true, () => false);

function vmObject(name: string, claims: Record<string, string>, extra: { labels?: Record<string, string>; runStrategy?: string } = {}): VirtualMachine {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name, namespace: NS, labels: extra.labels ?? {} },
    spec: {
      runStrategy: extra.runStrategy ?? 'Halted',
      template: {
        metadata: { labels: { 'kubevirt.io/vm': name } },
        spec: {
          domain: {
            devices: { disks: [...Object.keys(claims), 'cloudinit'].map((d) => ({ name: d, disk: { bus: 'virtio' } })), interfaces: [{ name: 'default', masquerade: {}, macAddress: '02:00:00:00:00:01' }] },
            firmware: { uuid: '11111111-2222-3333-4444-555555555555', serial: 'orig-serial' },
            resources: { requests: { memory: '64Mi' } },
          },
          networks: [{ name: 'default', pod: {} }],
          volumes: [...Object.entries(claims).map(([v, claimName]) => ({ name: v, persistentVolumeClaim: { claimName } })), { name: 'cloudinit', cloudInitNoCloud: { userData: '#cloud-config\n' } }],
        },
      },
    },
  };
}

/** A claim of `sc`, Bound as the binder would report it. */
async function boundClaim(name: string, sc: string): Promise<void> {
  await c.resource(R.pvcs).create({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name, namespace: NS }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '64Mi' } }, storageClassName: sc } }, { namespace: NS });
  await bind(name);
}
async function bind(name: string): Promise<void> {
  const pvc = await c.resource(R.pvcs).get(name, NS);
  await c.resource(R.pvcs).updateStatus({ ...pvc, status: { phase: 'Bound', capacity: { storage: '64Mi' } } }, { namespace: NS });
}

/** The CSI snapshotter's part: every VolumeSnapshot of the namespace cut and ready. */
async function cutVolumeSnapshots(): Promise<number> {
  const list = (await c.resource<VolumeSnapshot>(VOLUME_SNAPSHOTS).list({ namespace: NS })).items.filter((v) => !v.status?.readyToUse);
  for (const vs of list) await c.resource(VOLUME_SNAPSHOTS).updateStatus({ ...vs, status: { creationTime: new Date().toISOString(), readyToUse: true, restoreSize: '64Mi' } }, { namespace: NS });
  return list.length;
}

async function snapshot(name: string, vm: string, failureDeadline?: string): Promise<VirtualMachineSnapshot> {
  return c.resource<VirtualMachineSnapshot>(VM_SNAPSHOTS).create(
    { apiVersion: 'snapshot.kubevirt.io/v1beta1', kind: 'VirtualMachineSnapshot', metadata: { name, namespace: NS }, spec: { source: { apiGroup: 'kubevirt.io', kind: 'VirtualMachine', name: vm }, ...(failureDeadline ? { failureDeadline } : {}) } },
    { namespace: NS },
  );
}

/** A snapshot taken to the end: VolumeSnapshots cut until it is ready. */
async function readySnapshot(name: string, vm: string): Promise<VirtualMachineSnapshot> {
  await snapshot(name, vm);
  return waitFor(async () => {
    await cutVolumeSnapshots();
    const s = await getSnap(name);
    return s.status?.readyToUse ? s : undefined;
  }, `${name} ready`);
}

function restoreObject(name: string, target: string, snap: string, targetReadinessPolicy?: string): VirtualMachineRestore {
  return {
    apiVersion: 'snapshot.kubevirt.io/v1beta1',
    kind: 'VirtualMachineRestore',
    metadata: { name, namespace: NS },
    spec: { target: { apiGroup: 'kubevirt.io', kind: 'VirtualMachine', name: target }, virtualMachineSnapshotName: snap, ...(targetReadinessPolicy ? { targetReadinessPolicy: targetReadinessPolicy as 'FailImmediate' } : {}) },
  };
}

/** A running VMI of the VM, as the VirtHandler reports one whose guest agent answers. */
async function runningVmi(vm: string, agent: boolean): Promise<void> {
  const vmi = await c.resource(VMIS).create({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: vm, namespace: NS }, spec: { domain: { devices: {}, resources: { requests: { memory: '64Mi' } } } } }, { namespace: NS });
  await c.resource(VMIS).update({ ...vmi, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }, ...(agent ? [{ type: 'AgentConnected', status: 'True' }] : [])] } }, { namespace: NS });
}

before(async () => {
  server = await startTestServer({ server: { controllerOptions: { only: ['vmrestore', 'vmclone', 'vmsnapshot-volume-status', 'garbage-collector'] } } });
  c = adminClient(server);
  await createNamespace(c, NS);
  // The snapshot controller with a freezer that records what it was asked.
  factory = new SharedInformerFactory(c, { logger: silentLogger });
  const ctx = makeContext(c, factory, silentLogger, stopControllers.signal, defaultClusterSettings);
  makeVmSnapshotController({
    freezer: {
      freeze: async (ns, name, ms) => void freezes.push(`freeze ${ns}/${name} ${ms} vs=${(await c.resource(VOLUME_SNAPSHOTS).list({ namespace: NS })).items.length}`),
      unfreeze: async (ns, name) => void freezes.push(`unfreeze ${ns}/${name}`),
    },
  }).start(ctx);
  factory.start();
  await c.resource(R.storageclasses).create({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'snappable' }, provisioner: DRIVER } as KubeObject);
  await c.resource(R.storageclasses).create({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'plain' }, provisioner: 'other.test.cairn.io' } as KubeObject);
  await c.resource(VOLUME_SNAPSHOT_CLASSES).create({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: 'snap-class' }, driver: DRIVER, deletionPolicy: 'Delete' } as KubeObject);
});

after(async () => {
  stopControllers.abort();
  await factory?.stop();
  await server?.stop();
});

describe('VirtualMachineSnapshot', () => {
  it('online with a guest agent: locks the VM, freezes around the VolumeSnapshots, thaws, and reports KubeVirt\'s status', async () => {
    await boundClaim('online-disk', 'snappable');
    await c.resource(VIRTUAL_MACHINES).create(vmObject('online', { disk: 'online-disk' }, { runStrategy: 'Always' }), { namespace: NS });
    await runningVmi('online', true);
    const created = await snapshot('snap-online', 'online');
    const content = await waitFor(() => c.resource<VirtualMachineSnapshotContent>(VM_SNAPSHOT_CONTENTS).get(`vmsnapshot-content-${created.metadata.uid}`, NS), 'the content');
    assert.deepEqual(content.metadata.finalizers, ['snapshot.kubevirt.io/vmsnapshotcontent-protection']);
    assert.equal(content.spec.source.virtualMachine?.metadata.name, 'online');
    assert.deepEqual(content.spec.volumeBackups?.map((b) => [b.volumeName, b.persistentVolumeClaim.metadata.name, b.volumeSnapshotName]), [['disk', 'online-disk', `vmsnapshot-${created.metadata.uid}-volume-disk`]]);
    // While it runs: the VM locked and the snapshot progressing.
    const locked = await getVm('online');
    assert.equal(locked.status?.snapshotInProgress, 'snap-online');
    assert.ok(locked.metadata.finalizers?.includes(SNAPSHOT_SOURCE_FINALIZER));
    // Locked: no stop, no volume change until the snapshot is done.
    const stop = await refused(c.resource(VIRTUAL_MACHINES).patch('online', { spec: { runStrategy: 'Halted' } }, 'merge', { namespace: NS }), 422);
    assert.equal(stop.message, 'admission webhook "virtualmachine-validator.kubevirt.io" denied the request: Cannot update vm running state until snapshot "snap-online" completes');
    const vs = await waitFor(() => c.resource<VolumeSnapshot>(VOLUME_SNAPSHOTS).get(`vmsnapshot-${created.metadata.uid}-volume-disk`, NS), 'the VolumeSnapshot');
    assert.deepEqual(vs.spec, { source: { persistentVolumeClaimName: 'online-disk' }, volumeSnapshotClassName: 'snap-class' });
    assert.deepEqual(vs.metadata.labels, { 'snapshot.kubevirt.io/source-vm-name': 'online', 'snapshot.kubevirt.io/source-vm-namespace': NS });
    const progressing = await getSnap('snap-online');
    assert.equal(progressing.status?.phase, 'InProgress');
    assert.deepEqual(progressing.status?.indications, ['GuestAgent', 'Online']);
    // Frozen before the VolumeSnapshot existed, with the failure deadline as unfreeze timeout.
    assert.deepEqual(freezes, [`freeze ${NS}/online 300000 vs=0`]);

    await cutVolumeSnapshots();
    const done = await waitFor(async () => {
      const s = await getSnap('snap-online');
      return s.status?.phase === 'Succeeded' && s.status.readyToUse ? s : undefined;
    }, 'Succeeded');
    assert.deepEqual(freezes, [`freeze ${NS}/online 300000 vs=0`, `unfreeze ${NS}/online`]);
    assert.equal(done.status?.sourceUID, locked.metadata.uid);
    assert.equal(done.status?.virtualMachineSnapshotContentName, content.metadata.name);
    assert.ok(done.status?.creationTime);
    assert.deepEqual(done.status?.snapshotVolumes, { includedVolumes: ['disk'], excludedVolumes: ['cloudinit'] });
    assert.deepEqual(done.status?.sourceIndications?.map((i) => i.indication), ['GuestAgent', 'Online']);
    assert.deepEqual([cond(done, 'Ready')?.status, cond(done, 'Ready')?.reason], ['True', 'Ready']);
    assert.deepEqual([cond(done, 'Progressing')?.status, cond(done, 'Progressing')?.reason], ['False', 'Operation complete']);
    assert.ok(done.metadata.finalizers?.includes('snapshot.kubevirt.io/vmsnapshot-protection'));
    // Unlocked.
    await waitFor(async () => {
      const vm = await getVm('online');
      return !vm.status?.snapshotInProgress && !vm.metadata.finalizers?.includes(SNAPSHOT_SOURCE_FINALIZER);
    }, 'the VM unlocked');
    const events = await eventsFor(c, NS, 'snap-online');
    assert.ok(events.some((e) => e.reason === 'SuccessfulVirtualMachineSnapshotContentCreate'));
  });

  it('online without a guest agent: no freeze, indication NoGuestAgent', async () => {
    await boundClaim('noagent-disk', 'snappable');
    await c.resource(VIRTUAL_MACHINES).create(vmObject('noagent', { disk: 'noagent-disk' }, { runStrategy: 'Always' }), { namespace: NS });
    await runningVmi('noagent', false);
    const before = freezes.length;
    const done = await readySnapshot('snap-noagent', 'noagent');
    assert.deepEqual(done.status?.indications, ['NoGuestAgent', 'Online']);
    assert.equal(freezes.length, before);
  });

  it('a claim whose StorageClass has no VolumeSnapshotClass is left out: PartialSnapshot; offline: no Online indication', async () => {
    await boundClaim('part-a', 'snappable');
    await boundClaim('part-b', 'plain');
    await c.resource(VIRTUAL_MACHINES).create(vmObject('partial', { a: 'part-a', b: 'part-b' }), { namespace: NS });
    const done = await readySnapshot('snap-partial', 'partial');
    assert.deepEqual(done.status?.snapshotVolumes, { includedVolumes: ['a'], excludedVolumes: ['b', 'cloudinit'] });
    assert.deepEqual(done.status?.indications, ['PartialSnapshot']);
    assert.equal(done.status?.sourceIndications?.[0]?.message, 'Not all snapshotable volumes were included in the snapshot. Check status.snapshotVolumes for excluded volumes and VM VolumeSnapshotStatus for details.');
    // The VM says which of its volumes a snapshot can take.
    const statuses = await waitFor(async () => (await getVm('partial')).status?.volumeSnapshotStatuses, 'volumeSnapshotStatuses');
    assert.deepEqual(statuses, [
      { name: 'a', enabled: true },
      { name: 'b', enabled: false, reason: 'No VolumeSnapshotClass: Volume snapshots are not configured for this StorageClass [plain] [b]' },
      { name: 'cloudinit', enabled: false, reason: 'Snapshot is not supported for this volumeSource type [cloudinit]' },
    ]);
  });

  it('a missing VM: InProgress with "Source does not exist", Failed once its deadline passed', async () => {
    await snapshot('snap-missing', 'nope', '2s');
    const waiting = await waitFor(async () => {
      const s = await getSnap('snap-missing');
      return s.status?.phase === 'InProgress' ? s : undefined;
    }, 'InProgress');
    assert.deepEqual([cond(waiting, 'Progressing')?.status, cond(waiting, 'Progressing')?.reason], ['False', 'Source does not exist']);
    const failed = await waitFor(async () => {
      const s = await getSnap('snap-missing');
      return s.status?.phase === 'Failed' ? s : undefined;
    }, 'Failed', 15_000);
    assert.deepEqual([cond(failed, 'Failure')?.status, cond(failed, 'Failure')?.reason], ['True', 'snapshot deadline exceeded']);
    assert.equal(cond(failed, 'Progressing')?.reason, 'Operation failed');
    assert.equal(failed.status?.readyToUse, false);
  });

  it('deleting a snapshot deletes its content (deletionPolicy Delete) and then goes', async () => {
    const s = await getSnap('snap-noagent');
    await c.resource(VM_SNAPSHOTS).delete('snap-noagent', { namespace: NS });
    await waitFor(async () => !(await exists(getSnap('snap-noagent'))), 'the snapshot gone');
    await waitFor(async () => !(await exists(c.resource(VM_SNAPSHOT_CONTENTS).get(`vmsnapshot-content-${s.metadata.uid}`, NS))), 'the content gone');
  });
});

describe('VirtualMachineRestore', () => {
  it('a running target: waits with KubeVirt\'s message; FailImmediate fails', async () => {
    await c.resource(VM_RESTORES).create(restoreObject('r-running', 'online', 'snap-online'), { namespace: NS });
    const waiting = await waitFor(async () => {
      const r = await getRestore('r-running');
      return cond(r, 'Ready')?.reason === RESTORE_MESSAGES.waitGrace ? r : undefined;
    }, 'waiting for the target');
    assert.ok((await eventsFor(c, NS, 'r-running')).some((e) => e.reason === 'RestoreTargetNotReady' && e.message === RESTORE_MESSAGES.vmiExists));
    assert.equal(waiting.status?.complete, false);
    assert.equal(cond(waiting, 'Progressing')?.status, 'False');
    // One unfinished restore per target (the webhook); this one goes, with its finalizer.
    const second = await refused(c.resource(VM_RESTORES).create(restoreObject('r-fail', 'online', 'snap-online', 'FailImmediate'), { namespace: NS }), 422);
    assert.equal(second.message, 'admission webhook "virtualmachinerestore-validator.snapshot.kubevirt.io" denied the request: VirtualMachineRestore "r-running" in progress');
    await c.resource(VM_RESTORES).delete('r-running', { namespace: NS });
    await waitFor(async () => !(await exists(getRestore('r-running'))), 'r-running gone');
    await c.resource(VM_RESTORES).create(restoreObject('r-fail', 'online', 'snap-online', 'FailImmediate'), { namespace: NS });
    const failed = await waitFor(async () => {
      const r = await getRestore('r-fail');
      return cond(r, 'Failure') ? r : undefined;
    }, 'failed');
    assert.deepEqual([cond(failed, 'Failure')?.status, cond(failed, 'Failure')?.reason], ['True', 'Restore target VMI must be powered off before restore operation']);
  });

  it('a snapshot that is not ready is refused with KubeVirt\'s message', async () => {
    await c.resource(VM_RESTORES).create(restoreObject('r-notready', 'nowhere', 'snap-missing'), { namespace: NS });
    const r = await waitFor(async () => {
      const x = await getRestore('r-notready');
      return cond(x, 'Ready')?.reason?.startsWith('VMSnapshot') ? x : undefined;
    }, 'the refusal');
    assert.equal(cond(r, 'Ready')?.reason, `VMSnapshot ${NS}/snap-missing failed and is invalid to use`);
    assert.equal(r.status?.complete, false);
  });

  it('onto the stopped VM: new claims from the VolumeSnapshots, the VM rewritten to them, complete', async () => {
    const r0 = await c.resource<VirtualMachineRestore>(VM_RESTORES).create(restoreObject('r-partial', 'partial', 'snap-partial'), { namespace: NS });
    const done = await waitFor(async () => {
      const r = await getRestore('r-partial');
      return r.status?.complete ? r : undefined;
    }, 'complete');
    const claim = `restore-${r0.metadata.uid}-a`;
    assert.deepEqual(done.status?.restores, [{ volumeName: 'a', persistentVolumeClaim: claim, volumeSnapshotName: (await getSnap('snap-partial')).status?.snapshotVolumes && `vmsnapshot-${(await getSnap('snap-partial')).metadata.uid}-volume-a` }]);
    assert.ok(done.status?.restoreTime);
    assert.deepEqual([cond(done, 'Ready')?.status, cond(done, 'Ready')?.reason], ['True', 'Operation complete']);
    const pvc = await c.resource(R.pvcs).get(claim, NS);
    const spec = pvc.spec as { dataSource?: unknown; storageClassName?: string };
    assert.deepEqual(spec.dataSource, { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: `vmsnapshot-${(await getSnap('snap-partial')).metadata.uid}-volume-a` });
    assert.equal(spec.storageClassName, 'snappable');
    assert.equal(pvc.metadata.annotations?.['restore.kubevirt.io/name'], 'r-partial');
    const vm = await getVm('partial');
    const vols = (vm.spec.template?.spec?.volumes as { name: string; persistentVolumeClaim?: { claimName: string } }[]).map((v) => [v.name, v.persistentVolumeClaim?.claimName]);
    assert.deepEqual(vols, [['a', claim], ['b', 'part-b'], ['cloudinit', undefined]]);
    assert.equal(vm.spec.runStrategy, 'Halted');
    assert.equal(vm.metadata.annotations?.['restore.kubevirt.io/lastRestoreUID'], `r-partial-${r0.metadata.uid}`);
    assert.equal(vm.status?.restoreInProgress, undefined);
    assert.equal(pvc.metadata.ownerReferences?.[0]?.name, 'partial');
  });

  it('to a VM name that does not exist: the VM is created, Halted', async () => {
    await c.resource(VM_RESTORES).create(restoreObject('r-new', 'brand-new', 'snap-online'), { namespace: NS });
    await waitFor(async () => (await getRestore('r-new')).status?.complete, 'complete');
    const vm = await getVm('brand-new');
    assert.equal(vm.spec.runStrategy, 'Halted');
    const claim = (vm.spec.template?.spec?.volumes as { name: string; persistentVolumeClaim?: { claimName: string } }[])[0].persistentVolumeClaim?.claimName;
    assert.match(claim ?? '', /^restore-[0-9a-f-]+-disk$/);
  });
});

describe('VirtualMachineClone', () => {
  it('clones a VM through its phases into a new VM with new MACs and firmware, filtered labels, and cleans up', async () => {
    await boundClaim('src-disk', 'snappable');
    await c.resource(VIRTUAL_MACHINES).create(vmObject('src', { disk: 'src-disk' }, { labels: { keep: 'yes', 'skip-me': 'no' } }), { namespace: NS });
    const clone = await c.resource<VirtualMachineClone>(VM_CLONES).create(
      {
        apiVersion: 'clone.kubevirt.io/v1beta1',
        kind: 'VirtualMachineClone',
        metadata: { name: 'cl', namespace: NS },
        spec: { source: { apiGroup: 'kubevirt.io', kind: 'VirtualMachine', name: 'src' }, target: { apiGroup: 'kubevirt.io', kind: 'VirtualMachine', name: 'dst' }, labelFilters: ['*', '!skip-.*'] },
      },
      { namespace: NS },
    );
    const phases = new Set<string>();
    await waitFor(async () => {
      await cutVolumeSnapshots();
      const cl = await c.resource<VirtualMachineClone>(VM_CLONES).get('cl', NS);
      if (cl.status?.phase) phases.add(cl.status.phase);
      return cl.status?.phase === 'Succeeded';
    }, 'Succeeded');
    assert.ok(phases.has('Succeeded'));
    const dst = await getVm('dst');
    const tspec = dst.spec.template?.spec as { domain: { devices: { interfaces: { macAddress?: string }[] }; firmware?: { uuid?: string; serial?: string } } };
    assert.notEqual(tspec.domain.devices.interfaces[0].macAddress, '02:00:00:00:00:01');
    assert.notEqual(tspec.domain.firmware?.uuid, '11111111-2222-3333-4444-555555555555');
    assert.notEqual(tspec.domain.firmware?.serial, 'orig-serial');
    assert.deepEqual(dst.metadata.labels, { keep: 'yes' });
    // The restored claim bound: the temporary snapshot and restore go.
    const claim = (dst.spec.template?.spec?.volumes as { persistentVolumeClaim?: { claimName: string } }[])[0].persistentVolumeClaim!.claimName;
    await bind(claim);
    await waitFor(async () => !(await exists(getSnap(`tmp-snapshot-${clone.metadata.uid}`))) && !(await exists(getRestore(`tmp-restore-${clone.metadata.uid}`))), 'the temporary objects gone');
    const cl = await c.resource<VirtualMachineClone>(VM_CLONES).get('cl', NS);
    assert.equal(cl.status?.targetName, 'dst');
    assert.deepEqual([cond(cl, 'Ready')?.status, cond(cl, 'Ready')?.reason], ['True', 'Ready']);
    const reasons = (await eventsFor(c, NS, 'cl')).map((e) => e.reason);
    for (const r of ['SnapshotCreated', 'SnapshotReady', 'RestoreCreated', 'RestoreReady', 'TargetVMCreated', 'PVCBound']) assert.ok(reasons.includes(r), `${r} in ${reasons.join(',')}`);
  });

  it('a clone onto an existing VM stops at its restore, with KubeVirt\'s message', async () => {
    const clone = await c.resource<VirtualMachineClone>(VM_CLONES).create(
      { apiVersion: 'clone.kubevirt.io/v1beta1', kind: 'VirtualMachineClone', metadata: { name: 'cl-exists', namespace: NS }, spec: { source: { apiGroup: 'kubevirt.io', kind: 'VirtualMachine', name: 'src' }, target: { apiGroup: 'kubevirt.io', kind: 'VirtualMachine', name: 'brand-new' } } } as VirtualMachineClone,
      { namespace: NS },
    );
    const r = await waitFor(async () => {
      await cutVolumeSnapshots();
      const x = await getRestore(`tmp-restore-${clone.metadata.uid}`);
      return cond(x, 'Ready')?.reason === RESTORE_MESSAGES.existingTarget ? x : undefined;
    }, 'the restore refusing the existing target');
    assert.equal(r.status?.complete, false);
    assert.equal((await c.resource<VirtualMachineClone>(VM_CLONES).get('cl-exists', NS)).status?.phase, 'RestoreInProgress');
  });

  it('a clone of a VM with a volume no snapshot can take waits, with KubeVirt\'s reason', async () => {
    await c.resource(VM_CLONES).create({ apiVersion: 'clone.kubevirt.io/v1beta1', kind: 'VirtualMachineClone', metadata: { name: 'cl-partial', namespace: NS }, spec: { source: { apiGroup: 'kubevirt.io', kind: 'VirtualMachine', name: 'partial' } } } as VirtualMachineClone, { namespace: NS });
    const cl = await waitFor(async () => {
      const x = await c.resource<VirtualMachineClone>(VM_CLONES).get('cl-partial', NS);
      return cond(x, 'Ready')?.reason?.includes('does not support') ? x : undefined;
    }, 'pending');
    assert.equal(cond(cl, 'Ready')?.reason, 'Virtual Machine volume b does not support snapshots');
    assert.ok((await eventsFor(c, NS, 'cl-partial')).some((e) => e.reason === 'VMVolumeSnapshotsInvalid'));
  });

  it('a clone of a missing VM waits: Progressing False Pending, Ready False with the reason', async () => {
    await c.resource(VM_CLONES).create({ apiVersion: 'clone.kubevirt.io/v1beta1', kind: 'VirtualMachineClone', metadata: { name: 'cl-missing', namespace: NS }, spec: { source: { apiGroup: 'kubevirt.io', kind: 'VirtualMachine', name: 'ghost' } } } as VirtualMachineClone, { namespace: NS });
    const cl = await waitFor(async () => {
      const x = await c.resource<VirtualMachineClone>(VM_CLONES).get('cl-missing', NS);
      return cond(x, 'Ready') ? x : undefined;
    }, 'pending');
    assert.equal(cl.status?.phase ?? '', '');
    assert.deepEqual([cond(cl, 'Progressing')?.reason, cond(cl, 'Ready')?.reason], ['Pending', `Source doesnt exist: VirtualMachine ${NS}/ghost`]);
  });
});

describe('admission', () => {
  it('snapshots: a kubevirt.io VirtualMachine source, an immutable spec', async () => {
    const bad = (source: object) => c.resource(VM_SNAPSHOTS).create({ apiVersion: 'snapshot.kubevirt.io/v1beta1', kind: 'VirtualMachineSnapshot', metadata: { name: 'bad', namespace: NS }, spec: { source } } as KubeObject, { namespace: NS });
    const noGroup = await refused(bad({ kind: 'VirtualMachine', name: 'x' }), 422);
    assert.equal(noGroup.message, 'admission webhook "virtualmachinesnapshot-validator.snapshot.kubevirt.io" denied the request: missing apiGroup');
    assert.deepEqual(noGroup.details?.causes, [{ reason: 'FieldValueNotFound', message: 'missing apiGroup', field: 'spec.source.apiGroup' }]);
    assert.match((await refused(bad({ apiGroup: 'kubevirt.io', kind: 'VirtualMachineInstance', name: 'x' }), 422)).message!, /invalid kind$/);
    assert.match((await refused(bad({ apiGroup: 'apps', kind: 'VirtualMachine', name: 'x' }), 422)).message!, /invalid apiGroup$/);
    const s = await getSnap('snap-partial');
    const changed = await refused(c.resource(VM_SNAPSHOTS).update({ ...s, spec: { ...s.spec, deletionPolicy: 'Retain' } }, { namespace: NS }), 422);
    assert.match(changed.message!, /spec in immutable after creation$/);
  });

  it('restores: patches of labels, annotations and /spec/ only', async () => {
    const r = restoreObject('r-patch', 'patched', 'snap-partial');
    r.spec.patches = ['{"op":"replace","path":"/metadata/name","value":"x"}', '{"op":"add","path":"/metadata/labels/a","value":"b"}'];
    const bad = await refused(c.resource(VM_RESTORES).create(r, { namespace: NS }), 422);
    assert.deepEqual(bad.details?.causes?.map((x) => x.message), ['patching is valid only for elements under /spec/ only: "path": "/metadata/name"']);
  });

  it('clones: a target named when none is given; the source as target, bad filters, MACs and patches refused', async () => {
    const made = await c.resource<VirtualMachineClone>(VM_CLONES).create({ apiVersion: 'clone.kubevirt.io/v1beta1', kind: 'VirtualMachineClone', metadata: { name: 'cl-named', namespace: NS }, spec: { source: { apiGroup: 'kubevirt.io', kind: 'VirtualMachine', name: 'ghost2' } } } as VirtualMachineClone, { namespace: NS });
    assert.equal(made.spec.target?.kind, 'VirtualMachine');
    assert.match(made.spec.target?.name ?? '', /^clone-ghost2-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    const bad = await refused(
      c.resource(VM_CLONES).create(
        {
          apiVersion: 'clone.kubevirt.io/v1beta1',
          kind: 'VirtualMachineClone',
          metadata: { name: 'cl-bad', namespace: NS },
          spec: { source: { apiGroup: 'kubevirt.io', kind: 'VirtualMachine', name: 'src' }, target: { apiGroup: 'kubevirt.io', kind: 'VirtualMachine', name: 'src' }, labelFilters: ['a*b'], newMacAddresses: { default: 'zz' }, patches: ['{'] },
        } as VirtualMachineClone,
        { namespace: NS },
      ),
      422,
    );
    assert.deepEqual(bad.details?.causes?.map((x) => x.message), [
      'spec.labels filter a*b is invalid: cannot contain a wildcard character (*); FilterRules: WildcardChar can be only at the end of the filter',
      'Target name cannot be equal to source name when both are VirtualMachines',
      'interface default has malformed MAC address (zz).',
      'patch is not valid JSON ({)',
    ]);
  });
});
