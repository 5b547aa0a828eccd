/**
 * The VirtualMachineRestore controller (KubeVirt's pkg/storage/snapshot restore.go): a restore
 * of a ready snapshot onto a stopped VM (or onto a VM name that does not exist yet, which it
 * creates) makes one claim per volume backup from its VolumeSnapshot, rewrites the target's spec
 * to the snapshot's with those claims (restore-spec.ts), deletes the DataVolumes the target no
 * longer uses, and reports complete with restoreTime — KubeVirt's conditions and messages along
 * the way. A running target waits as targetReadinessPolicy says (WaitGracePeriod by default:
 * 5 minutes, then Failed; WaitEventually; StopTarget; FailImmediate). While it works the target
 * carries status.restoreInProgress.
 */
import { finalStateOf, type Informer, isAlreadyExists, isConflict, isNotFound, runController, WorkQueue } from '../../client/index.js';
import type { ControllerSpec } from '../../controllers/context.js';
import { objectKeyOf } from '../../controllers/context.js';
import { rfc3339 } from '../../controllers/util/nodes.js';
import { PVCS } from '../../storage/api.js';
import { VOLUME_SNAPSHOTS, type VolumeSnapshot } from '../../storage/snapshot-api.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import { DATAVOLUMES } from '../cdi/datavolume-api.js';
import { type VirtualMachine, type VirtualMachineInstance, VIRTUAL_MACHINES, vmControllerRef, VMIS } from '../controllers/vm-api.js';
import { lastRestoreValue, obsoleteDataVolumes, patchVm, restoredClaim, restoredVm, restorePvcName } from './restore-spec.js';
import { ANN_LAST_RESTORE_UID, setCondition, VM_RESTORE_FINALIZER, VM_RESTORES, VM_SNAPSHOT_CONTENTS, VM_SNAPSHOTS, type VirtualMachineRestore, type VirtualMachineSnapshot, type VirtualMachineSnapshotContent, type VolumeRestore } from './snapshot-types.js';
import { snapshotContentName } from './snapshot-volumes.js';

/** snapshotv1.DefaultGracePeriod. */
const DEFAULT_GRACE_MS = 5 * 60_000;
export const RESTORE_MESSAGES = {
  waitEventually: 'Waiting for target VM to be powered off. Please stop the restore target to proceed with restore',
  stopTarget: 'Automatically stopping restore target for restore operation',
  vmiExists: 'Restore target VMI still exists, please stop the restore target to proceed with restore',
  targetNotReady: 'Restore target VMI must be powered off before restore operation',
  graceExceeded: 'Restore target failed to be ready within 5m0s. Please power off the target VM before attempting restore',
  waitGrace: 'Waiting for target VM to be powered off. Please stop the restore target to proceed with restore, or the operation will fail after 5m0s',
  existingTarget: 'restore source and restore target are different but restore target already exists',
} as const;
const EVENT = { complete: 'VirtualMachineRestoreComplete', error: 'VirtualMachineRestoreError', notReady: 'RestoreTargetNotReady', failed: 'Operation failed' } as const;

/** A restore step that cannot go on; `failure` ends the restore (the Failure condition). */
class RestoreError extends Error {
  override name = 'RestoreError';
  constructor(
    message: string,
    readonly failure = false,
  ) {
    super(message);
  }
}

const isComplete = (r: VirtualMachineRestore) => r.status?.complete === true;
const isFailed = (r: VirtualMachineRestore) => (r.status?.conditions ?? []).some((c) => c.type === 'Failure');
const isProgressing = (r: VirtualMachineRestore) => !isComplete(r) && !isFailed(r);

export const vmRestoreController: ControllerSpec = {
  name: 'vmrestore',
  start(ctx) {
    const restoreInf = ctx.informers.forResource<VirtualMachineRestore>(VM_RESTORES);
    const snapInf = ctx.informers.forResource<VirtualMachineSnapshot>(VM_SNAPSHOTS);
    const contentInf = ctx.informers.forResource<VirtualMachineSnapshotContent>(VM_SNAPSHOT_CONTENTS);
    const vmInf = ctx.informers.forResource<VirtualMachine>(VIRTUAL_MACHINES);
    const vmiInf = ctx.informers.forResource<VirtualMachineInstance>(VMIS);
    const pvcInf = ctx.informers.forResource<KubeObject>(PVCS);
    const vsInf = ctx.informers.forResource<VolumeSnapshot>(VOLUME_SNAPSHOTS);
    const recorder = ctx.recorder('virtualmachinerestore-controller');
    const queue = new WorkQueue<string>({ name: 'vmrestore' });
    const restores = () => ctx.client.resource<VirtualMachineRestore>(VM_RESTORES);
    const vms = () => ctx.client.resource<VirtualMachine>(VIRTUAL_MACHINES);
    const controller = runController({
      name: 'vmrestore',
      queue,
      reconcile: (key) => reconcile(key),
      informers: [restoreInf, snapInf, contentInf, vmInf, vmiInf, pvcInf, vsInf],
      workers: 2,
      signal: ctx.signal,
      logger: ctx.logger,
    });
    const on = <T extends KubeObject>(inf: Informer<T>, keys: (o: T) => string[]) => {
      const add = (o: T) => keys(o).forEach((k) => queue.add(k));
      inf.addEventHandler({ onAdd: add, onUpdate: (_o, n) => add(n), onDelete: (o) => add(finalStateOf(o)) });
    };
    const progressingIn = (o: KubeObject) => restoreInf.store.byNamespace(o.metadata.namespace ?? '').filter(isProgressing).map(objectKeyOf);
    on(restoreInf, (r) => [objectKeyOf(r)]);
    for (const inf of [snapInf, contentInf, vmInf, vmiInf, pvcInf] as Informer<KubeObject>[]) on(inf, progressingIn);

    function snapshotOf(r: VirtualMachineRestore): { snapshot: VirtualMachineSnapshot; content: VirtualMachineSnapshotContent } {
      const ns = r.metadata.namespace!;
      const key = `${ns}/${r.spec.virtualMachineSnapshotName}`;
      const snapshot = snapInf.store.getByName(r.spec.virtualMachineSnapshotName, ns);
      if (!snapshot) throw new RestoreError(`VMSnapshot ${key} does not exist`);
      if (snapshot.status?.phase === 'Failed') throw new RestoreError(`VMSnapshot ${key} failed and is invalid to use`);
      if (snapshot.status?.readyToUse !== true) throw new RestoreError(`VMSnapshot ${key} not ready`);
      const contentName = snapshot.status.virtualMachineSnapshotContentName;
      if (!contentName) throw new RestoreError(`no snapshot content name in ${key}`);
      const content = contentInf.store.getByName(snapshotContentName(snapshot), ns);
      if (!content) throw new RestoreError(`VMSnapshotContent ${ns}/${contentName} does not exist`);
      if (content.status?.readyToUse !== true) throw new RestoreError(`VMSnapshotContent ${ns}/${contentName} not ready`);
      return { snapshot, content };
    }

    /** reconcileVolumeRestores: status.restores filled and the claims created; whether anything changed. */
    async function restoreVolumes(r: VirtualMachineRestore, content: VirtualMachineSnapshotContent, target: VirtualMachine | undefined): Promise<{ restores: VolumeRestore[]; changed: boolean }> {
      const ns = r.metadata.namespace!;
      const restores: VolumeRestore[] = [];
      let changed = false;
      const source = content.spec.source.virtualMachine;
      for (const backup of content.spec.volumeBackups ?? []) {
        if (!backup.volumeSnapshotName) throw new RestoreError(`VolumeSnapshotName missing ${JSON.stringify(backup)}`);
        const prior = r.status?.restores?.find((x) => x.volumeName === backup.volumeName);
        const entry: VolumeRestore = prior ?? { volumeName: backup.volumeName, persistentVolumeClaim: restorePvcName(r, backup.volumeName), volumeSnapshotName: backup.volumeSnapshotName };
        restores.push(entry);
        const pvc = pvcInf.store.getByName(entry.persistentVolumeClaim, ns);
        if (pvc) {
          const phase = (pvc.status as { phase?: string } | undefined)?.phase;
          if (phase === 'Lost') throw new RestoreError(`PVC ${ns}/${entry.persistentVolumeClaim} in status "Lost"`);
          continue;
        }
        const vs = vsInf.store.getByName(backup.volumeSnapshotName, ns);
        if (!vs) throw new RestoreError(`missing volumeSnapshot ${backup.volumeSnapshotName}`);
        const claim = restoredClaim(r, backup, vs.status?.restoreSize, { name: source?.metadata.name ?? '', namespace: source?.metadata.namespace ?? ns });
        if (target) claim.metadata.ownerReferences = [vmControllerRef(target)];
        try {
          await ctx.client.resource(PVCS).create(claim, { namespace: ns });
        } catch (e) {
          if (!isAlreadyExists(e)) throw e;
        }
        changed = true;
      }
      return { restores, changed: changed || !deepEqual(restores, r.status?.restores ?? []) };
    }

    /** The target's spec rewritten (and created when new); whether it was written now. */
    async function reconcileTarget(r: VirtualMachineRestore, content: VirtualMachineSnapshotContent, restoresList: VolumeRestore[], target: VirtualMachine | undefined): Promise<{ written: boolean; deleted: string[] }> {
      const ns = r.metadata.namespace!;
      if (target?.metadata.annotations?.[ANN_LAST_RESTORE_UID] === lastRestoreValue(r)) return { written: false, deleted: [] };
      const source = content.spec.source.virtualMachine;
      if (!source) throw new RestoreError('unexpected snapshot source');
      const next = restoredVm(source, r, restoresList, target);
      if (!target) {
        const created = await vms().create(patchVmOrFail(next, r.spec.patches), { namespace: ns });
        // Restored claims belong to the VM they were restored for.
        for (const entry of restoresList) await adoptClaim(ns, entry.persistentVolumeClaim, created);
        return { written: true, deleted: [] };
      }
      const deleted = obsoleteDataVolumes(target, next);
      await vms().update(next, { namespace: ns });
      return { written: true, deleted };
    }

    function patchVmOrFail(vm: VirtualMachine, patches: string[] | undefined): VirtualMachine {
      try {
        return patchVm(vm, patches);
      } catch (e) {
        throw new RestoreError(`error patching VM ${vm.metadata.name}: ${(e as Error).message}`);
      }
    }

    async function adoptClaim(ns: string, name: string, vm: VirtualMachine): Promise<void> {
      const pvc = pvcInf.store.getByName(name, ns) ?? (await ctx.client.resource(PVCS).get(name, ns));
      if (pvc.metadata.ownerReferences?.length) return;
      await ctx.client.resource(PVCS).patch(name, { metadata: { ownerReferences: [vmControllerRef(vm)] } }, 'merge', { namespace: ns });
    }

    async function setRestoreInProgress(vm: VirtualMachine | undefined, value: string | undefined): Promise<void> {
      if (!vm || vm.status?.restoreInProgress === value) return;
      const { restoreInProgress: _old, ...status } = vm.status ?? {};
      await vms().updateStatus({ ...vm, status: value ? { ...status, restoreInProgress: value } : status }, { namespace: vm.metadata.namespace });
    }

    async function writeStatus(r: VirtualMachineRestore, status: NonNullable<VirtualMachineRestore['status']>): Promise<VirtualMachineRestore> {
      if (deepEqual(status, r.status ?? {})) return r;
      return restores().updateStatus({ ...r, status }, { namespace: r.metadata.namespace });
    }

    /** doUpdateErrorWithFailure. */
    async function reportError(r: VirtualMachineRestore, message: string, failure: boolean, now: string): Promise<void> {
      const status = structuredClone(r.status ?? {});
      status.conditions = setCondition(status.conditions, 'Progressing', 'False', message, now);
      status.conditions = setCondition(status.conditions, 'Ready', 'False', message, now);
      if (failure) status.conditions = setCondition(status.conditions, 'Failure', 'True', message, now);
      if (!deepEqual(status, r.status ?? {})) {
        recorder.event(r, 'Warning', failure ? EVENT.failed : EVENT.error, failure ? `VirtualMachineRestore failed ${message}` : `VirtualMachineRestore encountered error ${message}`);
        await writeStatus(r, status);
      }
    }

    /** handleVMRestoreTargetNotReady: wait, stop the target, or fail, as the policy says. */
    async function targetNotReady(r: VirtualMachineRestore, target: VirtualMachine, now: Date): Promise<{ requeueAfterMs?: number } | void> {
      const t = rfc3339(now);
      const policy = r.spec.targetReadinessPolicy ?? 'WaitGracePeriod';
      let reason: string;
      switch (policy) {
        case 'WaitEventually':
          reason = RESTORE_MESSAGES.waitEventually;
          break;
        case 'StopTarget': {
          recorder.event(r, 'Warning', EVENT.notReady, RESTORE_MESSAGES.stopTarget);
          const spec = target.spec.running !== undefined ? { running: false } : { runStrategy: 'Halted' };
          await vms().patch(target.metadata.name!, { spec }, 'merge', { namespace: target.metadata.namespace });
          reason = RESTORE_MESSAGES.stopTarget;
          break;
        }
        case 'FailImmediate':
          return reportError(r, RESTORE_MESSAGES.targetNotReady, true, t);
        case 'WaitGracePeriod': {
          const left = Date.parse(r.metadata.creationTimestamp ?? t) + DEFAULT_GRACE_MS - now.getTime();
          if (left < 0) return reportError(r, RESTORE_MESSAGES.graceExceeded, true, t);
          recorder.event(r, 'Warning', EVENT.notReady, RESTORE_MESSAGES.vmiExists);
          const status = structuredClone(r.status ?? {});
          status.conditions = setCondition(status.conditions, 'Progressing', 'False', RESTORE_MESSAGES.waitGrace, t);
          status.conditions = setCondition(status.conditions, 'Ready', 'False', RESTORE_MESSAGES.waitGrace, t);
          await writeStatus(r, status);
          return { requeueAfterMs: left + 10 };
        }
        default:
          return reportError(r, `unknown targetReadinessPolicy: ${String(policy)}`, false, t);
      }
      if (policy === 'WaitEventually') recorder.event(r, 'Warning', EVENT.notReady, RESTORE_MESSAGES.vmiExists);
      const status = structuredClone(r.status ?? {});
      status.conditions = setCondition(status.conditions, 'Progressing', 'False', reason, t);
      status.conditions = setCondition(status.conditions, 'Ready', 'False', reason, t);
      await writeStatus(r, status);
    }

    async function reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
      let r = restoreInf.store.get(key);
      if (!r) return;
      const ns = r.metadata.namespace!;
      const now = new Date();
      const t = rfc3339(now);
      try {
        if (!r.status) {
          const status = { complete: false, conditions: setCondition(setCondition([], 'Progressing', 'True', 'Initializing VirtualMachineRestore', t), 'Ready', 'False', 'Initializing VirtualMachineRestore', t) };
          await writeStatus(r, status);
          return;
        }
        if (r.spec.target?.kind !== 'VirtualMachine') return await reportError(r, `unknown source ${JSON.stringify(r.spec.target)}`, false, t);
        const target = vmInf.store.getByName(r.spec.target.name, ns);
        if (r.metadata.deletionTimestamp) {
          if (target?.status?.restoreInProgress === r.metadata.name) await setRestoreInProgress(target, undefined);
          const status = structuredClone(r.status ?? {});
          status.conditions = setCondition(status.conditions, 'Progressing', 'False', 'VM restore is deleting', t);
          status.conditions = setCondition(status.conditions, 'Ready', 'False', 'VM restore is deleting', t);
          r = await writeStatus(r, status);
          const finalizers = (r.metadata.finalizers ?? []).filter((f) => f !== VM_RESTORE_FINALIZER);
          if (finalizers.length !== (r.metadata.finalizers ?? []).length) await restores().patch(r.metadata.name!, { metadata: { resourceVersion: r.metadata.resourceVersion, finalizers } }, 'merge', { namespace: ns });
          return;
        }
        if (!isProgressing(r)) {
          // Done: the target's lock goes with the finalizer.
          if (target?.status?.restoreInProgress === r.metadata.name) await setRestoreInProgress(target, undefined);
          return;
        }
        // target.Own: a restore without owner (not a clone's) belongs to its target VM.
        const ownerRefs = r.metadata.ownerReferences?.length || !target ? r.metadata.ownerReferences : [vmControllerRef(target)];
        const finalizers = (r.metadata.finalizers ?? []).includes(VM_RESTORE_FINALIZER) ? r.metadata.finalizers : [...(r.metadata.finalizers ?? []), VM_RESTORE_FINALIZER];
        if (!deepEqual(ownerRefs, r.metadata.ownerReferences) || !deepEqual(finalizers, r.metadata.finalizers)) {
          r = await restores().update({ ...r, metadata: { ...r.metadata, ownerReferences: ownerRefs, finalizers } }, { namespace: ns });
        }
        if (target && vmiInf.store.getByName(target.metadata.name!, ns)) return await targetNotReady(r, target, now);
        const { snapshot, content } = snapshotOf(r);
        const restored = target?.metadata.annotations?.[ANN_LAST_RESTORE_UID] === lastRestoreValue(r);
        if (target && !restored && snapshot.status?.sourceUID && snapshot.status.sourceUID !== target.metadata.uid) throw new RestoreError(RESTORE_MESSAGES.existingTarget);
        if (target && target.status?.restoreInProgress !== r.metadata.name) {
          if (target.status?.restoreInProgress) throw new RestoreError(`vm restore ${target.status.restoreInProgress} in progress`);
          await setRestoreInProgress(target, r.metadata.name);
          return;
        }
        const vols = await restoreVolumes(r, content, target);
        if (vols.changed) {
          const status = structuredClone(r.status ?? {});
          status.restores = vols.restores;
          status.conditions = setCondition(status.conditions, 'Progressing', 'True', 'Creating new PVCs', t);
          status.conditions = setCondition(status.conditions, 'Ready', 'False', 'Waiting for new PVCs', t);
          await writeStatus(r, status);
          return;
        }
        const tgt = await reconcileTarget(r, content, vols.restores, target);
        if (tgt.written) {
          const status = structuredClone(r.status ?? {});
          if (tgt.deleted.length) status.deletedDataVolumes = [...new Set([...(status.deletedDataVolumes ?? []), ...tgt.deleted])];
          status.conditions = setCondition(status.conditions, 'Progressing', 'True', 'Updating target spec', t);
          status.conditions = setCondition(status.conditions, 'Ready', 'False', 'Waiting for target update', t);
          await writeStatus(r, status);
          return;
        }
        for (const dv of r.status?.deletedDataVolumes ?? []) {
          try {
            await ctx.client.resource(DATAVOLUMES).delete(dv, { namespace: ns });
          } catch (e) {
            if (!isNotFound(e)) throw e;
          }
        }
        await setRestoreInProgress(target, undefined);
        recorder.event(r, 'Normal', EVENT.complete, `Successfully completed VirtualMachineRestore ${r.metadata.name}`);
        const status = structuredClone(r.status ?? {});
        status.complete = true;
        status.restoreTime = t;
        status.conditions = setCondition(status.conditions, 'Progressing', 'False', 'Operation complete', t);
        status.conditions = setCondition(status.conditions, 'Ready', 'True', 'Operation complete', t);
        await writeStatus(r, status);
      } catch (e) {
        if (isConflict(e)) return { requeueAfterMs: 100 };
        // The restore (or an object it reads) went meanwhile: the next pass sees the cache catch up.
        if (isNotFound(e)) return { requeueAfterMs: 1_000 };
        if (e instanceof RestoreError) {
          try {
            await reportError(r, e.message, e.failure, t);
          } catch (e2) {
            if (isConflict(e2)) return { requeueAfterMs: 100 };
            throw e2;
          }
          // KubeVirt returns the error: the restore is retried with backoff.
          return e.failure ? undefined : { requeueAfterMs: 5_000 };
        }
        throw e;
      }
    }

    return controller;
  },
};
