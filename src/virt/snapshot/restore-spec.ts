/**
 * What a VirtualMachineRestore makes, as KubeVirt's restore.go makes it: the claims restored from
 * the snapshot's VolumeSnapshots (CreateRestorePVCDefFromVMRestore, named
 * `restore-<restore uid>-<volume>`), and the target VM's spec rewritten to them
 * (generateRestoredVMSpec), with the restore's JSON patches applied to a new target.
 *
 * One deviation: KubeVirt hands a restored claim of a dataVolumeTemplate to a renamed template
 * through CDI's populatedFor adoption, which Cairn's DataVolume controller does not do; every
 * dataVolume volume becomes a persistentVolumeClaim volume of the restored claim (KubeVirt's
 * path for DataVolumes that did not come from a template) and its template is dropped.
 */
import { applyJsonPatch } from '../../registry/patch/json-patch.js';
import type { KubeObject } from '../../util/object.js';
import type { VirtualMachine, VmSpec } from '../controllers/vm-api.js';
import { ANN_LAST_RESTORE_UID, ANN_RESTORE_NAME, type SnapshotVm, type VirtualMachineRestore, type VolumeBackup, type VolumeRestore } from './snapshot-types.js';
import { vmVolumes, type VmVolume } from './snapshot-volumes.js';

export const LABEL_RESTORE_SOURCE_NAME = 'restore.kubevirt.io/source-vm-name';
export const LABEL_RESTORE_SOURCE_NAMESPACE = 'restore.kubevirt.io/source-vm-namespace';
/** Annotations of the source claim a restored one must not carry (binding and import state), content type aside. */
const DROPPED_ANNOTATION_PREFIXES = ['pv.kubernetes.io', 'volume.beta.kubernetes.io', 'cdi.kubevirt.io', 'volume.kubernetes.io'];
const CONTENT_TYPE_ANNOTATION = 'cdi.kubevirt.io/storage.contentType';

export class RestorePatchError extends Error {
  override name = 'RestorePatchError';
}

export const restorePvcName = (restore: KubeObject, volumeName: string) => `restore-${restore.metadata.uid}-${volumeName}`;
/** The restore's mark on what it wrote (lastRestoreUID). */
export const lastRestoreValue = (restore: KubeObject) => `${restore.metadata.name}-${restore.metadata.uid}`;

/** The restored claim of a volume backup, its size at least the snapshot's restore size. */
export function restoredClaim(restore: VirtualMachineRestore, backup: VolumeBackup, restoreSize: string | undefined, source: { name: string; namespace: string }): KubeObject {
  const src = backup.persistentVolumeClaim;
  const spec = src.spec as { accessModes?: string[]; resources?: { requests?: Record<string, string> }; storageClassName?: string; volumeMode?: string };
  const annotations = Object.fromEntries(
    Object.entries(src.metadata.annotations ?? {}).filter(([k]) => k === CONTENT_TYPE_ANNOTATION || !DROPPED_ANNOTATION_PREFIXES.some((p) => k.startsWith(p))),
  );
  const requests = { ...(spec.resources?.requests ?? {}) };
  if (restoreSize && (!requests.storage || quantityBytes(requests.storage) < quantityBytes(restoreSize))) requests.storage = restoreSize;
  const dataSource = { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: backup.volumeSnapshotName! };
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: restorePvcName(restore, backup.volumeName),
      namespace: restore.metadata.namespace,
      labels: { ...(src.metadata.labels ?? {}), [LABEL_RESTORE_SOURCE_NAME]: source.name, [LABEL_RESTORE_SOURCE_NAMESPACE]: source.namespace },
      annotations: { ...annotations, [ANN_RESTORE_NAME]: restore.metadata.name!, [ANN_LAST_RESTORE_UID]: lastRestoreValue(restore) },
    },
    spec: {
      ...(spec.accessModes ? { accessModes: spec.accessModes } : {}),
      resources: { ...spec.resources, requests },
      ...(spec.storageClassName ? { storageClassName: spec.storageClassName } : {}),
      ...(spec.volumeMode ? { volumeMode: spec.volumeMode } : {}),
      dataSource,
      dataSourceRef: dataSource,
    },
  };
}

const SUFFIX: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50 };
function quantityBytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)([kMGTP]i?|Ki)?$/.exec(q.trim());
  return m ? Number(m[1]) * (SUFFIX[m[2] ?? ''] ?? 1) : NaN;
}

/**
 * The target's VM after the restore: the snapshot's spec with its claims swapped for the restored
 * ones; a new target starts Halted (or running: false), an existing one keeps its run strategy.
 */
export function restoredVm(snapshotVm: SnapshotVm, restore: VirtualMachineRestore, restores: VolumeRestore[], existing: VirtualMachine | undefined): VirtualMachine {
  const spec: VmSpec = structuredClone(snapshotVm.spec);
  const byVolume = new Map(restores.map((r) => [r.volumeName, r]));
  const replacedTemplates = new Set<string>();
  const volumes = vmVolumes(spec).map((v): VmVolume => {
    const r = byVolume.get(v.name);
    if (!r) return v;
    if (v.persistentVolumeClaim) return { ...v, persistentVolumeClaim: { ...v.persistentVolumeClaim, claimName: r.persistentVolumeClaim } };
    if (v.dataVolume) {
      replacedTemplates.add(v.dataVolume.name);
      const hotpluggable = v.dataVolume.hotpluggable;
      return { name: v.name, persistentVolumeClaim: { claimName: r.persistentVolumeClaim, ...(hotpluggable !== undefined ? { hotpluggable } : {}) } };
    }
    return v;
  });
  if (spec.template?.spec) spec.template.spec.volumes = volumes;
  const templates = (spec.dataVolumeTemplates ?? []).filter((t) => !replacedTemplates.has(t.metadata?.name ?? ''));
  if (templates.length) spec.dataVolumeTemplates = templates;
  else delete spec.dataVolumeTemplates;

  if (!existing) {
    if (spec.running !== undefined) spec.running = false;
    else spec.runStrategy = 'Halted';
    return {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachine',
      metadata: {
        name: restore.spec.target.name,
        namespace: restore.metadata.namespace,
        ...(snapshotVm.metadata.labels ? { labels: { ...snapshotVm.metadata.labels } } : {}),
        annotations: { ...(snapshotVm.metadata.annotations ?? {}), [ANN_LAST_RESTORE_UID]: lastRestoreValue(restore) },
      },
      spec,
    };
  }
  if (existing.spec.running !== undefined) {
    spec.running = false;
    delete spec.runStrategy;
  } else {
    spec.runStrategy = existing.spec.runStrategy ?? 'Halted';
    delete spec.running;
  }
  return { ...existing, metadata: { ...existing.metadata, annotations: { ...(existing.metadata.annotations ?? {}), [ANN_LAST_RESTORE_UID]: lastRestoreValue(restore) } }, spec };
}

/** patchVM: the restore's JSON patches (each one operation as JSON text) applied to a new VM. */
export function patchVm(vm: VirtualMachine, patches: string[] | undefined): VirtualMachine {
  if (!patches?.length) return vm;
  let ops: unknown[];
  try {
    ops = patches.map((p) => JSON.parse(p) as unknown);
  } catch (e) {
    throw new RestorePatchError(`cannot decode vm patches [${patches.join(' ')}]: ${(e as Error).message}`);
  }
  try {
    return applyJsonPatch(vm, ops);
  } catch (e) {
    throw new RestorePatchError(`failed to apply patch for VM [${patches.join(' ')}]: ${(e as Error).message}`);
  }
}

/** The DataVolumes of an existing target its restored spec no longer uses (status.deletedDataVolumes). */
export function obsoleteDataVolumes(existing: VirtualMachine, restored: VirtualMachine): string[] {
  const used = new Set(vmVolumes(restored.spec).flatMap((v) => (v.dataVolume ? [v.dataVolume.name] : [])));
  return vmVolumes(existing.spec).flatMap((v) => (v.dataVolume && !used.has(v.dataVolume.name) && (existing.spec.dataVolumeTemplates ?? []).some((t) => t.metadata?.name === v.dataVolume!.name) ? [v.dataVolume.name] : []));
}
