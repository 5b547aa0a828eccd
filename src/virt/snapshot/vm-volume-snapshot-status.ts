/**
 * A VM's status.volumeSnapshotStatuses, as KubeVirt's snapshot controller keeps them
 * (updateVolumeSnapshotStatuses): for each volume whether a snapshot can take it, and why not —
 * a volume that is not a claim or DataVolume, a claim that is missing, a StorageClass without a
 * VolumeSnapshotClass. Clones refuse to start from a VM whose claims are not all enabled.
 */
import { finalStateOf, type Informer, isConflict, isNotFound, runController, WorkQueue } from '../../client/index.js';
import type { ControllerSpec } from '../../controllers/context.js';
import { objectKeyOf } from '../../controllers/context.js';
import { PVCS, STORAGE_CLASSES } from '../../storage/api.js';
import { VOLUME_SNAPSHOT_CLASSES } from '../../storage/snapshot-api.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import { type DataVolume, DATAVOLUMES } from '../cdi/datavolume-api.js';
import { type VirtualMachine, VIRTUAL_MACHINES } from '../controllers/vm-api.js';
import { AmbiguousSnapshotClassError, snapshotClassFor, vmVolumes, type VmVolume } from './snapshot-volumes.js';

export interface VolumeSnapshotStatus {
  name: string;
  enabled: boolean;
  reason?: string;
}

/** The StorageClass name behind a volume, or the reason there is none to ask. */
type ClassLookup = { storageClass: string } | { reason: string };

export interface VolumeStatusLookups {
  claim(name: string): KubeObject | undefined;
  dataVolume(name: string): DataVolume | undefined;
  storageClass(name: string): (KubeObject & { provisioner?: string }) | undefined;
  snapshotClasses(): (KubeObject & { driver?: string })[];
}

function storageClassOf(vm: VirtualMachine, v: VmVolume, l: VolumeStatusLookups): ClassLookup {
  const claimClass = (name: string): ClassLookup => {
    const pvc = l.claim(name);
    if (!pvc) return { reason: 'PVC not found' };
    return { storageClass: (pvc.spec as { storageClassName?: string } | undefined)?.storageClassName ?? '' };
  };
  if (v.persistentVolumeClaim) return claimClass(v.persistentVolumeClaim.claimName);
  if (v.dataVolume) {
    const name = v.dataVolume.name;
    const dv = l.dataVolume(name);
    const fromDv = (dv?.spec as { pvc?: { storageClassName?: string }; storage?: { storageClassName?: string } } | undefined)?.pvc?.storageClassName;
    if (fromDv) return { storageClass: fromDv };
    const template = vm.spec.dataVolumeTemplates?.find((t) => t.metadata?.name === name);
    const fromTemplate = (template?.spec as { pvc?: { storageClassName?: string } } | undefined)?.pvc?.storageClassName;
    if (dv && fromTemplate) return { storageClass: fromTemplate };
    return claimClass(name);
  }
  return { reason: 'volume type has no StorageClass defined' };
}

/** getVolumeSnapshotStatus for every volume of the VM. */
export function volumeSnapshotStatuses(vm: VirtualMachine, l: VolumeStatusLookups): VolumeSnapshotStatus[] {
  return vmVolumes(vm.spec).map((v) => {
    if (!v.persistentVolumeClaim && !v.dataVolume) return { name: v.name, enabled: false, reason: `Snapshot is not supported for this volumeSource type [${v.name}]` };
    const found = storageClassOf(vm, v, l);
    if ('reason' in found) return { name: v.name, enabled: false, reason: found.reason };
    const sc = l.storageClass(found.storageClass);
    let cls: string | undefined;
    try {
      cls = sc ? snapshotClassFor(sc, l.snapshotClasses()) : undefined;
    } catch (e) {
      if (!(e instanceof AmbiguousSnapshotClassError)) throw e;
      return { name: v.name, enabled: false, reason: e.message };
    }
    if (!cls) return { name: v.name, enabled: false, reason: `No VolumeSnapshotClass: Volume snapshots are not configured for this StorageClass [${found.storageClass}] [${v.name}]` };
    return { name: v.name, enabled: true };
  });
}

export const vmVolumeSnapshotStatusController: ControllerSpec = {
  name: 'vmsnapshot-volume-status',
  start(ctx) {
    const vmInf = ctx.informers.forResource<VirtualMachine>(VIRTUAL_MACHINES);
    const pvcInf = ctx.informers.forResource<KubeObject>(PVCS);
    const dvInf = ctx.informers.forResource<DataVolume>(DATAVOLUMES);
    const scInf = ctx.informers.forResource<KubeObject & { provisioner?: string }>(STORAGE_CLASSES);
    const vscInf = ctx.informers.forResource<KubeObject & { driver?: string }>(VOLUME_SNAPSHOT_CLASSES);
    const queue = new WorkQueue<string>({ name: 'vmsnapshot-volume-status' });
    const controller = runController({
      name: 'vmsnapshot-volume-status',
      queue,
      reconcile: (key) => reconcile(key),
      informers: [vmInf, pvcInf, dvInf, scInf, vscInf],
      workers: 1,
      signal: ctx.signal,
      logger: ctx.logger,
    });
    const on = <T extends KubeObject>(inf: Informer<T>, keys: (o: T) => string[]) => {
      const add = (o: T) => keys(o).forEach((k) => queue.add(k));
      inf.addEventHandler({ onAdd: add, onUpdate: (_o, n) => add(n), onDelete: (o) => add(finalStateOf(o)) });
    };
    on(vmInf, (vm) => [objectKeyOf(vm)]);
    const inNamespace = (o: KubeObject) => vmInf.store.byNamespace(o.metadata.namespace ?? '').map(objectKeyOf);
    on(pvcInf, inNamespace);
    on(dvInf, inNamespace);
    // Classes concern every VM.
    const all = () => vmInf.store.list().map(objectKeyOf);
    on(scInf, all);
    on(vscInf, all);

    async function reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
      const vm = vmInf.store.get(key);
      if (!vm || vm.metadata.deletionTimestamp) return;
      const ns = vm.metadata.namespace;
      const statuses = volumeSnapshotStatuses(vm, {
        claim: (n) => pvcInf.store.getByName(n, ns),
        dataVolume: (n) => dvInf.store.getByName(n, ns),
        storageClass: (n) => scInf.store.getByName(n),
        snapshotClasses: () => vscInf.store.list(),
      });
      const current = (vm.status?.volumeSnapshotStatuses as VolumeSnapshotStatus[] | undefined) ?? [];
      if (deepEqual(statuses, current)) return;
      const { volumeSnapshotStatuses: _old, ...rest } = vm.status ?? {};
      try {
        await ctx.client.resource<VirtualMachine>(VIRTUAL_MACHINES).updateStatus({ ...vm, status: statuses.length ? { ...rest, volumeSnapshotStatuses: statuses } : rest }, { namespace: ns });
      } catch (e) {
        if (isConflict(e)) return { requeueAfterMs: 200 };
        if (isNotFound(e)) return;
        throw e;
      }
    }

    return controller;
  },
};
