/**
 * The VirtualMachineClone controller (KubeVirt's pkg/virt-controller/watch/clone): a clone of a
 * VM takes a temporary snapshot of it (`tmp-snapshot-<clone uid>`; a clone of a
 * VirtualMachineSnapshot uses that one), restores it onto the target VM name (generated
 * `<source>-clone-<5 chars>` when the clone names none) with the patches of clone-patches.ts
 * (new MACs, firmware UUID and serial, label and annotation filters) through a temporary restore
 * (`tmp-restore-<clone uid>`), then, once the target exists and its restored claims are bound,
 * deletes the temporary restore and snapshot. Phases SnapshotInProgress → RestoreInProgress →
 * CreatingTargetVM → Succeeded (Failed when the snapshot's content lacks a volume), with
 * KubeVirt's events and Ready/Progressing conditions. A succeeded clone whose target VM is
 * deleted is deleted too.
 */
import { finalStateOf, type Informer, isAlreadyExists, isConflict, isNotFound, runController, WorkQueue } from '../../client/index.js';
import type { ControllerSpec } from '../../controllers/context.js';
import { objectKeyOf } from '../../controllers/context.js';
import { controllerRefOf, newControllerRef } from '../../controllers/util/controller-ref.js';
import { rfc3339 } from '../../controllers/util/nodes.js';
import { PVCS } from '../../storage/api.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import { KUBEVIRT_GROUP } from '../api/kubevirt.js';
import { randomSuffix } from '../api/vm-snapshot-admission.js';
import { type VirtualMachine, VIRTUAL_MACHINES } from '../controllers/vm-api.js';
import {
  CLONE_API_VERSION,
  type ClonePhase,
  setCondition,
  SNAPSHOT_API_VERSION,
  VM_CLONES,
  VM_RESTORES,
  VM_SNAPSHOT_CONTENTS,
  VM_SNAPSHOTS,
  type VirtualMachineClone,
  type VirtualMachineRestore,
  type VirtualMachineSnapshot,
  type VirtualMachineSnapshotContent,
} from '../snapshot/snapshot-types.js';
import { claimOfVolume, snapshotContentName, vmVolumes } from '../snapshot/snapshot-volumes.js';
import type { VolumeSnapshotStatus } from '../snapshot/vm-volume-snapshot-status.js';
import { clonePatches } from './clone-patches.js';

const EVENT = {
  snapshotCreated: 'SnapshotCreated',
  snapshotReady: 'SnapshotReady',
  restoreCreated: 'RestoreCreated',
  restoreCreationFailed: 'RestoreCreationFailed',
  restoreReady: 'RestoreReady',
  targetVmCreated: 'TargetVMCreated',
  pvcBound: 'PVCBound',
  snapshotContentInvalid: 'SnapshotContentInvalid',
  sourceDoesNotExist: 'SourceDoesNotExist',
  volumeSnapshotsInvalid: 'VMVolumeSnapshotsInvalid',
} as const;

/** validateVolumeSnapshotStatus: every claim volume of the VM reported snapshottable on its status. */
export function volumeSnapshotProblems(vm: VirtualMachine): string | undefined {
  const statuses = (vm.status?.volumeSnapshotStatuses as VolumeSnapshotStatus[] | undefined) ?? [];
  const problems = vmVolumes(vm.spec)
    .filter((v) => v.persistentVolumeClaim || v.dataVolume)
    .flatMap((v) => {
      const s = statuses.find((x) => x.name === v.name);
      if (!s) return [`Virtual Machine volume ${v.name} snapshot support unknown`];
      return s.enabled ? [] : [`Virtual Machine volume ${v.name} does not support snapshots`];
    });
  return problems.length ? problems.join('\n') : undefined;
}

export const tmpSnapshotName = (clone: KubeObject) => `tmp-snapshot-${clone.metadata.uid}`;
export const tmpRestoreName = (clone: KubeObject) => `tmp-restore-${clone.metadata.uid}`;
/** generateVMName, for a clone the admission mutator did not name a target for: `<source>-clone-<5 chars>`. */
export function generatedTargetName(source: string): string {
  const base = `${source}-clone`;
  return `${base.length > 252 ? 'clone-object' : base}-${randomSuffix()}`;
}

/** What one pass found: pending (waiting on the source, with the reason), failing, or progress. */
interface SyncInfo {
  pending?: { event: string; reason: string };
  failing?: { event: string; reason: string };
  snapshotName?: string;
  snapshotReady?: boolean;
  restoreName?: string;
  targetName?: string;
  restoreReady?: boolean;
  targetCreated?: boolean;
  pvcBound?: boolean;
}

export const vmCloneController: ControllerSpec = {
  name: 'vmclone',
  start(ctx) {
    const cloneInf = ctx.informers.forResource<VirtualMachineClone>(VM_CLONES);
    const snapInf = ctx.informers.forResource<VirtualMachineSnapshot>(VM_SNAPSHOTS);
    const contentInf = ctx.informers.forResource<VirtualMachineSnapshotContent>(VM_SNAPSHOT_CONTENTS);
    const restoreInf = ctx.informers.forResource<VirtualMachineRestore>(VM_RESTORES);
    const vmInf = ctx.informers.forResource<VirtualMachine>(VIRTUAL_MACHINES);
    const pvcInf = ctx.informers.forResource<KubeObject>(PVCS);
    const recorder = ctx.recorder('virtualmachineclone-controller');
    const queue = new WorkQueue<string>({ name: 'vmclone' });
    const clones = () => ctx.client.resource<VirtualMachineClone>(VM_CLONES);
    const controller = runController({
      name: 'vmclone',
      queue,
      reconcile: (key) => reconcile(key),
      informers: [cloneInf, snapInf, contentInf, restoreInf, vmInf, pvcInf],
      workers: 2,
      signal: ctx.signal,
      logger: ctx.logger,
    });
    const on = <T extends KubeObject>(inf: Informer<T>, keys: (o: T) => string[]) => {
      const add = (o: T) => keys(o).forEach((k) => queue.add(k));
      inf.addEventHandler({ onAdd: add, onUpdate: (_o, n) => add(n), onDelete: (o) => add(finalStateOf(o)) });
    };
    const owningClone = (o: KubeObject) => {
      const ref = controllerRefOf(o);
      return ref?.kind === 'VirtualMachineClone' ? [`${o.metadata.namespace}/${ref.name}`] : [];
    };
    // Sources appearing, snapshots becoming ready, targets made or deleted, claims bound: every clone of the namespace looks again.
    const inNamespace = (o: KubeObject) => cloneInf.store.byNamespace(o.metadata.namespace ?? '').map(objectKeyOf);
    on(cloneInf, (c) => [objectKeyOf(c)]);
    on(snapInf, (s) => [...owningClone(s), ...inNamespace(s)]);
    on(restoreInf, owningClone);
    on(vmInf, inNamespace);
    on(pvcInf, inNamespace);

    /** verifySnapshotContent: every claim volume of the snapshot's VM was backed up. */
    function contentProblem(snapshot: VirtualMachineSnapshot): string | undefined {
      const content = contentInf.store.getByName(snapshotContentName(snapshot), snapshot.metadata.namespace);
      if (!content) return `snapshot content ${snapshotContentName(snapshot)} in namespace ${snapshot.metadata.namespace} does not exist`;
      const vm = content.spec.source.virtualMachine;
      if (!vm) return `cannot get snapshot name from content ${content.metadata.name}`;
      const backedUp = new Set((content.spec.volumeBackups ?? []).map((b) => b.volumeName));
      const missing = vmVolumes(vm.spec).filter((v) => claimOfVolume(v) && !backedUp.has(v.name));
      return missing.length ? missing.map((v) => `volume ${v.name} is not backed up in snapshot ${snapshot.metadata.name}`).join('\n') : undefined;
    }

    async function createSnapshot(clone: VirtualMachineClone, vm: VirtualMachine): Promise<string> {
      const snapshot: VirtualMachineSnapshot = {
        apiVersion: SNAPSHOT_API_VERSION,
        kind: 'VirtualMachineSnapshot',
        metadata: { name: tmpSnapshotName(clone), namespace: vm.metadata.namespace, ownerReferences: [{ ...newControllerRef(clone, CLONE_API_VERSION, 'VirtualMachineClone'), blockOwnerDeletion: true }] },
        spec: { source: { apiGroup: KUBEVIRT_GROUP, kind: 'VirtualMachine', name: vm.metadata.name! } },
      };
      try {
        await ctx.client.resource(VM_SNAPSHOTS).create(snapshot, { namespace: vm.metadata.namespace });
        recorder.event(clone, 'Normal', EVENT.snapshotCreated, `created snapshot ${snapshot.metadata.name} for clone ${clone.metadata.name}`);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
      return snapshot.metadata.name!;
    }

    async function createRestore(clone: VirtualMachineClone, snapshot: VirtualMachineSnapshot): Promise<{ restoreName: string; targetName: string }> {
      const ns = clone.metadata.namespace!;
      const content = contentInf.store.getByName(snapshotContentName(snapshot), ns);
      const vm = content?.spec.source.virtualMachine;
      if (!vm) throw new Error(`cannot get VM manifest from snapshot: snapshot content of ${snapshot.metadata.name} has no VirtualMachine`);
      const targetName = clone.spec.target?.name || clone.status?.targetName || generatedTargetName(vm.metadata.name);
      const restore: VirtualMachineRestore = {
        apiVersion: SNAPSHOT_API_VERSION,
        kind: 'VirtualMachineRestore',
        metadata: { name: tmpRestoreName(clone), namespace: ns, ownerReferences: [{ ...newControllerRef(clone, CLONE_API_VERSION, 'VirtualMachineClone'), blockOwnerDeletion: true }] },
        spec: {
          target: { apiGroup: KUBEVIRT_GROUP, kind: 'VirtualMachine', name: targetName },
          virtualMachineSnapshotName: snapshot.metadata.name!,
          patches: clonePatches({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: vm.metadata, spec: vm.spec }, clone.spec),
        },
      };
      try {
        await ctx.client.resource(VM_RESTORES).create(restore, { namespace: ns });
        recorder.event(clone, 'Normal', EVENT.restoreCreated, `created restore ${restore.metadata.name} for clone ${clone.metadata.name}`);
      } catch (e) {
        if (!isAlreadyExists(e)) {
          recorder.event(clone, 'Warning', EVENT.restoreCreationFailed, `failed creating restore ${restore.metadata.name} for clone ${clone.metadata.name}: ${(e as Error).message}`);
          throw e;
        }
        // Made by a pass whose status write was lost: its target name (perhaps generated) stands.
        const made = await ctx.client.resource<VirtualMachineRestore>(VM_RESTORES).get(restore.metadata.name!, ns);
        return { restoreName: restore.metadata.name!, targetName: made.spec.target.name };
      }
      return { restoreName: restore.metadata.name!, targetName };
    }

    async function deleteIfThere(ref: typeof VM_RESTORES, name: string, ns: string): Promise<void> {
      try {
        await ctx.client.resource(ref).delete(name, { namespace: ns });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }

    /** syncTargetVM: as far as the clone can go in this pass. */
    async function sync(clone: VirtualMachineClone): Promise<SyncInfo> {
      const ns = clone.metadata.namespace!;
      const src = clone.spec.source;
      const info: SyncInfo = {};
      let snapshotName = clone.status?.snapshotName;
      let snapshot: VirtualMachineSnapshot | undefined;
      let sourceVm: VirtualMachine | undefined;
      if (src.kind === 'VirtualMachine') {
        sourceVm = vmInf.store.getByName(src.name, ns);
        if (!sourceVm) return { pending: { event: EVENT.sourceDoesNotExist, reason: `Source doesnt exist: VirtualMachine ${ns}/${src.name}` } };
      } else if (src.kind === 'VirtualMachineSnapshot') {
        snapshot = snapInf.store.getByName(src.name, ns);
        if (!snapshot) return { pending: { event: EVENT.sourceDoesNotExist, reason: `Source doesnt exist: VirtualMachineSnapshot ${ns}/${src.name}` } };
        snapshotName = snapshot.metadata.name;
      } else {
        throw new Error(`clone ${clone.metadata.name} is defined with an unknown source type ${src.kind}`);
      }
      const phase: ClonePhase = clone.status?.phase ?? '';
      if (phase === '' || phase === 'SnapshotInProgress') {
        if (sourceVm && !snapshotName) {
          const notSnapshottable = volumeSnapshotProblems(sourceVm);
          if (notSnapshottable) return { pending: { event: EVENT.volumeSnapshotsInvalid, reason: notSnapshottable } };
          info.snapshotName = await createSnapshot(clone, sourceVm);
          return info;
        }
        snapshot ??= snapInf.store.getByName(snapshotName!, ns);
        if (!snapshot) throw new Error(`snapshot ${snapshotName} is not created yet for clone ${clone.metadata.name}`);
        if (snapshot.status?.readyToUse !== true) return info;
        const problem = contentProblem(snapshot);
        if (problem) return { failing: { event: EVENT.snapshotContentInvalid, reason: problem } };
        recorder.event(clone, 'Normal', EVENT.snapshotReady, `snapshot ${snapshot.metadata.name} for clone ${clone.metadata.name} is ready to use`);
        info.snapshotReady = true;
      }
      if (phase === '' || phase === 'SnapshotInProgress' || phase === 'RestoreInProgress') {
        snapshot ??= snapInf.store.getByName(snapshotName!, ns);
        if (!snapshot) return { pending: { event: 'SnapshotDeleted', reason: `snapshot ${snapshotName} does not exist anymore` } };
        if (!clone.status?.restoreName) {
          Object.assign(info, await createRestore(clone, snapshot));
          return info;
        }
        const restore = restoreInf.store.getByName(clone.status.restoreName, ns);
        if (!restore) throw new Error(`restore ${clone.status.restoreName} is not created yet for clone ${clone.metadata.name}`);
        if (restore.status?.complete !== true) return info;
        recorder.event(clone, 'Normal', EVENT.restoreReady, `restore ${restore.metadata.name} for clone ${clone.metadata.name} is ready to use`);
        info.restoreReady = true;
      }
      if (phase !== 'Succeeded' && phase !== 'Failed') {
        const target = clone.status?.targetName;
        if (!target || !vmInf.store.getByName(target, ns)) throw new Error(`target VM ${target} is not created yet for clone ${clone.metadata.name}`);
        if (phase === 'CreatingTargetVM' || info.restoreReady) recorder.event(clone, 'Normal', EVENT.targetVmCreated, `created target VM ${target} for clone ${clone.metadata.name}`);
        info.targetCreated = true;
      }
      if (clone.status?.restoreName) {
        const restore = restoreInf.store.getByName(clone.status.restoreName, ns);
        if (!restore) throw new Error(`restore ${clone.status.restoreName} is not created yet for clone ${clone.metadata.name}`);
        for (const r of restore.status?.restores ?? []) {
          const pvc = pvcInf.store.getByName(r.persistentVolumeClaim, ns);
          if (!pvc) throw new Error(`PVC ${r.persistentVolumeClaim} is not created yet for clone ${clone.metadata.name}`);
          // The claims are provisioned from the temporary snapshot: it stays until they are.
          if ((pvc.status as { phase?: string } | undefined)?.phase !== 'Bound') return info;
        }
        recorder.event(clone, 'Normal', EVENT.pvcBound, `all PVC for clone ${clone.metadata.name} are bound`);
        info.pvcBound = true;
        await deleteIfThere(VM_RESTORES, clone.status.restoreName, ns);
        if (src.kind === 'VirtualMachine' && clone.status.snapshotName) await deleteIfThere(VM_SNAPSHOTS, clone.status.snapshotName, ns);
      }
      return info;
    }

    /** updateStatus: phase steps, conditions, the temporary objects' names. */
    function nextStatus(clone: VirtualMachineClone, info: SyncInfo, now: string): NonNullable<VirtualMachineClone['status']> {
      const status = structuredClone(clone.status ?? {});
      let c = status.conditions;
      if (info.pending) {
        c = setCondition(setCondition(c, 'Progressing', 'False', 'Pending', now), 'Ready', 'False', info.pending.reason, now);
      } else if (info.failing) {
        status.phase = 'Failed';
        c = setCondition(setCondition(c, 'Progressing', 'False', 'Failed', now), 'Ready', 'False', info.failing.reason, now);
      } else {
        c = setCondition(setCondition(c, 'Progressing', 'True', 'Still processing', now), 'Ready', 'False', 'Still processing', now);
      }
      if (!status.phase && !info.pending) status.phase = 'SnapshotInProgress';
      if (status.phase === 'SnapshotInProgress') {
        if (info.snapshotName) status.snapshotName = info.snapshotName;
        if (info.snapshotReady) status.phase = 'RestoreInProgress';
      }
      if (status.phase === 'RestoreInProgress') {
        if (info.restoreName) status.restoreName = info.restoreName;
        if (info.targetName) status.targetName = info.targetName;
        if (info.restoreReady) status.phase = 'CreatingTargetVM';
      }
      if (status.phase === 'CreatingTargetVM' && info.targetCreated) status.phase = 'Succeeded';
      if (status.phase === 'Succeeded') c = setCondition(setCondition(c, 'Progressing', 'False', 'Ready', now), 'Ready', 'True', 'Ready', now);
      if (info.pvcBound) {
        delete status.snapshotName;
        delete status.restoreName;
      }
      status.conditions = c;
      return status;
    }

    async function reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
      const clone = cloneInf.store.get(key);
      if (!clone) return;
      const ns = clone.metadata.namespace!;
      try {
        if (clone.status?.phase === 'Succeeded' && clone.status.targetName && !vmInf.store.getByName(clone.status.targetName, ns)) {
          if (!clone.metadata.deletionTimestamp) await clones().delete(clone.metadata.name!, { namespace: ns });
          return;
        }
        let info: SyncInfo;
        let syncError: Error | undefined;
        try {
          info = await sync(clone);
        } catch (e) {
          if (isConflict(e)) return { requeueAfterMs: 100 };
          syncError = e as Error;
          info = {};
        }
        const reported = info.pending ?? info.failing;
        if (reported) recorder.event(clone, info.failing ? 'Warning' : 'Normal', reported.event, reported.reason);
        const status = nextStatus(clone, info, rfc3339(new Date()));
        if (!deepEqual(status, clone.status ?? {})) await clones().updateStatus({ ...clone, status }, { namespace: ns });
        if (syncError) {
          ctx.logger({ level: 'info', msg: 'clone not done yet', clone: key, reason: syncError.message });
          return { requeueAfterMs: 2_000 };
        }
      } catch (e) {
        if (isConflict(e)) return { requeueAfterMs: 100 };
        if (isNotFound(e)) return;
        throw e;
      }
    }

    return controller;
  },
};
