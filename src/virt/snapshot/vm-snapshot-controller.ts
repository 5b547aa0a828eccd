/**
 * The VirtualMachineSnapshot controller (KubeVirt's pkg/storage/snapshot snapshot.go and
 * source.go): a snapshot of a VM locks the VM (status.snapshotInProgress and the source
 * finalizer: an offline VM is not snapshotted while pods still use its claims, and the lock
 * keeps a second snapshot out), writes a VirtualMachineSnapshotContent holding the VM's spec and
 * one volume backup per claim whose StorageClass has a VolumeSnapshotClass, then — with the
 * guest's filesystems frozen through its agent when it runs one — creates the VolumeSnapshots,
 * thaws, and reports InProgress → Succeeded (or Failed past failureDeadline) with KubeVirt's
 * conditions, indications and snapshotVolumes. Deleting a snapshot deletes its content (unless
 * deletionPolicy Retain keeps a ready one), whose VolumeSnapshots the garbage collector takes.
 *
 * Both KubeVirt loops (snapshot and content) run here as one, keyed by the snapshot: the content
 * is the snapshot's own, and every change of it, its VolumeSnapshots or the VM requeues the
 * snapshot.
 */
import { finalStateOf, type Informer, isAlreadyExists, isConflict, isNotFound, runController, WorkQueue } from '../../client/index.js';
import type { ControllerSpec } from '../../controllers/context.js';
import { objectKeyOf } from '../../controllers/context.js';
import { controllerRefOf, newControllerRef } from '../../controllers/util/controller-ref.js';
import { PODS, rfc3339 } from '../../controllers/util/nodes.js';
import { PVCS, STORAGE_CLASSES } from '../../storage/api.js';
import { VOLUME_SNAPSHOT_CLASSES, VOLUME_SNAPSHOTS, type VolumeSnapshot } from '../../storage/snapshot-api.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import { type DataVolume, DATAVOLUMES } from '../cdi/datavolume-api.js';
import { conditionOf, type VirtualMachine, type VirtualMachineInstance, VIRTUAL_MACHINES, VMIS } from '../controllers/vm-api.js';
import { parseGoDuration } from './go-duration.js';
import { claimVolumes, snapshotClassFor, snapshotContentName, snapshotVolumeLists, volumeSnapshotName } from './snapshot-volumes.js';
import {
  DEFAULT_FAILURE_DEADLINE_MS,
  type Indication,
  LABEL_SNAPSHOT_SOURCE_NAME,
  LABEL_SNAPSHOT_SOURCE_NAMESPACE,
  setCondition,
  SNAPSHOT_API_VERSION,
  SNAPSHOT_SOURCE_FINALIZER,
  type SnapshotVm,
  VM_SNAPSHOT_CONTENT_FINALIZER,
  VM_SNAPSHOT_CONTENTS,
  VM_SNAPSHOT_FINALIZER,
  VM_SNAPSHOTS,
  type VirtualMachineSnapshot,
  type VirtualMachineSnapshotContent,
  type VolumeBackup,
} from './snapshot-types.js';
import { apiVmiFreezer, type VmiFreezer } from './vmi-freezer.js';

const EVENT = {
  contentCreated: 'SuccessfulVirtualMachineSnapshotContentCreate',
  volumeSnapshotCreated: 'SuccessfulVolumeSnapshotCreate',
  volumeSnapshotMissing: 'VolumeSnapshotMissing',
} as const;
const DEADLINE_EXCEEDED = 'snapshot deadline exceeded';
const RETRY_MS = 5_000;

/** snapshotIndicationMessages. */
export const INDICATION_MESSAGES: Record<Indication, string> = {
  Online: 'Snapshot taken while the VM was running. Consistency depends on guest-agent quiescing.',
  GuestAgent: 'Guest agent was active and attempted to quiesce the filesystem for application consistency.',
  NoGuestAgent: 'Guest agent was not available. Snapshot is crash-consistent and may not be application-consistent.',
  QuiesceTimeout:
    'Guest agent quiesced the filesystem, but the freeze window timed out before completion. Snapshot is crash-consistent and may not be application-consistent.',
  Paused: 'Snapshot taken while the VM was paused. Snapshot is crash-consistent and may not be application-consistent.',
  PartialSnapshot: 'Not all snapshotable volumes were included in the snapshot. Check status.snapshotVolumes for excluded volumes and VM VolumeSnapshotStatus for details.',
};

const hasFinalizer = (o: KubeObject, f: string) => (o.metadata.finalizers ?? []).includes(f);
const isFailed = (s: VirtualMachineSnapshot) => s.status?.phase === 'Failed';
const isSucceeded = (s: VirtualMachineSnapshot) => s.status?.phase === 'Succeeded';
const isProgressing = (s: VirtualMachineSnapshot) => !isFailed(s) && !isSucceeded(s);
const isDeleting = (s: KubeObject) => !!s.metadata.deletionTimestamp;
const contentReady = (c: VirtualMachineSnapshotContent | undefined) => c?.status?.readyToUse === true;
/** deletionPolicy Delete (the default), or a content that never became ready. */
const shouldDeleteContent = (s: VirtualMachineSnapshot, c: VirtualMachineSnapshotContent) => (s.spec.deletionPolicy ?? 'Delete') === 'Delete' || !contentReady(c);

/** getFailureDeadline in ms (0: none); an unparseable value is the default. */
export function failureDeadlineMs(s: VirtualMachineSnapshot): number {
  if (s.spec.failureDeadline === undefined) return DEFAULT_FAILURE_DEADLINE_MS;
  try {
    return parseGoDuration(s.spec.failureDeadline);
  } catch {
    return DEFAULT_FAILURE_DEADLINE_MS;
  }
}

/** timeUntilDeadline: 0 when there is none. */
function msUntilDeadline(s: VirtualMachineSnapshot, now: Date): number {
  const d = failureDeadlineMs(s);
  if (d === 0) return 0;
  return Date.parse(s.metadata.creationTimestamp ?? now.toISOString()) + d - now.getTime();
}

function deadlineExceeded(s: VirtualMachineSnapshot, now: Date): boolean {
  if (isFailed(s)) return true;
  if (!isProgressing(s)) return false;
  return msUntilDeadline(s, now) < 0;
}

const isTerminating = (s: VirtualMachineSnapshot, now: Date) => isDeleting(s) || deadlineExceeded(s, now);

/** The source VM as the snapshot sees it (KubeVirt's sourceState). */
interface SourceState {
  vm: VirtualMachine;
  online: boolean;
  paused: boolean;
  guestAgent: boolean;
  locked: boolean;
  lockMsg: string;
}

export interface SnapshotControllerOptions {
  /** How guests are frozen (tests substitute their own); the VMI subresources by default. */
  freezer?: VmiFreezer;
}

export function makeVmSnapshotController(opts: SnapshotControllerOptions = {}): ControllerSpec {
  return {
    name: 'vmsnapshot',
    start(ctx) {
      const freezer = opts.freezer ?? apiVmiFreezer(ctx.client);
      const snapInf = ctx.informers.forResource<VirtualMachineSnapshot>(VM_SNAPSHOTS);
      const contentInf = ctx.informers.forResource<VirtualMachineSnapshotContent>(VM_SNAPSHOT_CONTENTS);
      const vmInf = ctx.informers.forResource<VirtualMachine>(VIRTUAL_MACHINES);
      const vmiInf = ctx.informers.forResource<VirtualMachineInstance>(VMIS);
      const pvcInf = ctx.informers.forResource<KubeObject>(PVCS);
      const dvInf = ctx.informers.forResource<DataVolume>(DATAVOLUMES);
      const podInf = ctx.informers.forResource<KubeObject>(PODS);
      const scInf = ctx.informers.forResource<KubeObject & { provisioner?: string }>(STORAGE_CLASSES);
      const vscInf = ctx.informers.forResource<KubeObject & { driver?: string }>(VOLUME_SNAPSHOT_CLASSES);
      const vsInf = ctx.informers.forResource<VolumeSnapshot>(VOLUME_SNAPSHOTS);
      const recorder = ctx.recorder('virtualmachinesnapshot-controller');
      const queue = new WorkQueue<string>({ name: 'vmsnapshot' });
      const snapshots = () => ctx.client.resource<VirtualMachineSnapshot>(VM_SNAPSHOTS);
      const contents = () => ctx.client.resource<VirtualMachineSnapshotContent>(VM_SNAPSHOT_CONTENTS);
      const vms = () => ctx.client.resource<VirtualMachine>(VIRTUAL_MACHINES);
      /** Guests this controller froze, by snapshot key: thawed once the VolumeSnapshots exist or the snapshot ends. */
      const frozen = new Set<string>();
      /** Snapshots whose guest this controller thawed: a pass on a stale cache does not thaw twice. */
      const thawed = new Set<string>();

      const controller = runController({
        name: 'vmsnapshot',
        queue,
        reconcile: (key) => reconcile(key),
        informers: [snapInf, contentInf, vmInf, vmiInf, pvcInf, dvInf, podInf, scInf, vscInf, vsInf],
        workers: 2,
        signal: ctx.signal,
        logger: ctx.logger,
      });
      const on = <T extends KubeObject>(inf: Informer<T>, keys: (o: T) => string[]) => {
        const add = (o: T) => keys(o).forEach((k) => queue.add(k));
        inf.addEventHandler({ onAdd: add, onUpdate: (_o, n) => add(n), onDelete: (o) => add(finalStateOf(o)) });
      };
      const ofSource = (ns: string | undefined, name: string | undefined) =>
        snapInf.store
          .byNamespace(ns ?? '')
          .filter((s) => s.spec.source?.name === name)
          .map(objectKeyOf);
      const contentSnapshot = (c: KubeObject & { spec?: { virtualMachineSnapshotName?: string } }) =>
        c.spec?.virtualMachineSnapshotName ? [`${c.metadata.namespace}/${c.spec.virtualMachineSnapshotName}`] : [];
      on(snapInf, (s) => [objectKeyOf(s)]);
      on(contentInf, contentSnapshot);
      on(vmInf, (vm) => ofSource(vm.metadata.namespace, vm.metadata.name));
      on(vmiInf, (vmi) => ofSource(vmi.metadata.namespace, vmi.metadata.name));
      on(vsInf, (vs) => {
        const owner = controllerRefOf(vs);
        const c = owner?.kind === 'VirtualMachineSnapshotContent' ? contentInf.store.getByName(owner.name, vs.metadata.namespace) : undefined;
        return c ? contentSnapshot(c) : [];
      });
      // Claims becoming bound and pods letting go of them unblock a lock.
      const ofNamespace = (o: KubeObject) => snapInf.store.byNamespace(o.metadata.namespace ?? '').filter(isProgressing).map(objectKeyOf);
      on(pvcInf, ofNamespace);
      on(podInf, ofNamespace);
      on(dvInf, ofNamespace);

      function sourceState(s: VirtualMachineSnapshot): SourceState | undefined {
        if (s.spec.source?.kind !== 'VirtualMachine') return undefined;
        const vm = vmInf.store.getByName(s.spec.source.name, s.metadata.namespace);
        if (!vm) return undefined;
        const vmi = vmiInf.store.getByName(vm.metadata.name!, vm.metadata.namespace);
        const locked = vm.status?.snapshotInProgress === s.metadata.name && hasFinalizer(vm, SNAPSHOT_SOURCE_FINALIZER);
        return {
          vm,
          online: !!vmi,
          paused: conditionOf(vmi, 'Paused')?.status === 'True',
          // A guest this controller froze through its agent had one, even if the condition dips
          // while the freeze holds the agent's channel (the VirtHandler's poller shares it).
          guestAgent: conditionOf(vmi, 'AgentConnected')?.status === 'True' || frozen.has(objectKeyOf(s)) || thawed.has(objectKeyOf(s)),
          locked,
          lockMsg: locked ? 'Source locked and operation in progress' : 'Source not locked',
        };
      }

      /** verifyVolumes: the message of the first claim not ready to be snapshotted. */
      function volumeProblem(vm: VirtualMachine): string | undefined {
        const ns = vm.metadata.namespace;
        for (const claim of new Set(claimVolumes(vm.spec).values())) {
          const pvc = pvcInf.store.getByName(claim, ns);
          if (!pvc) return `volume doesnt exist: ${claim}`;
          if (pvc.metadata.deletionTimestamp) return `volume is being deleted: ${claim}`;
          if ((pvc.status as { phase?: string } | undefined)?.phase !== 'Bound') return `volume not bound: ${claim}`;
          const dv = dvInf.store.getByName(claim, ns);
          if (dv && dv.status?.phase !== 'Succeeded') return `volume not populated: ${claim}`;
        }
        return undefined;
      }

      /** Lock(): status.snapshotInProgress, then the source finalizer; the reason when it cannot lock yet. */
      async function lock(s: VirtualMachineSnapshot, st: SourceState): Promise<string | undefined> {
        const vm = st.vm;
        const ns = vm.metadata.namespace!;
        const problem = volumeProblem(vm);
        if (problem) return `${st.lockMsg} source ${ns}/${vm.metadata.name} ${problem}`;
        if (!st.online) {
          const claims = new Set(claimVolumes(vm.spec).values());
          const users = podInf.store.byNamespace(ns).filter((p) => {
            const phase = (p.status as { phase?: string } | undefined)?.phase;
            if (phase === 'Succeeded' || phase === 'Failed') return false;
            const vols = ((p.spec as { volumes?: { persistentVolumeClaim?: { claimName?: string } }[] } | undefined)?.volumes ?? []).map((v) => v.persistentVolumeClaim?.claimName);
            return vols.some((c) => c && claims.has(c));
          });
          if (users.length) return `${st.lockMsg} source is offline but ${users.length} pods using PVCs [${[...claims].join(' ')}]`;
        }
        const holder = vm.status?.snapshotInProgress as string | undefined;
        if (holder && holder !== s.metadata.name) return `${st.lockMsg} snapshot "${holder}" in progress`;
        let current = vm;
        if (!holder) current = await vms().updateStatus({ ...vm, status: { ...vm.status, snapshotInProgress: s.metadata.name } }, { namespace: ns });
        if (!hasFinalizer(current, SNAPSHOT_SOURCE_FINALIZER)) {
          await vms().patch(vm.metadata.name!, { metadata: { resourceVersion: current.metadata.resourceVersion, finalizers: [...(current.metadata.finalizers ?? []), SNAPSHOT_SOURCE_FINALIZER] } }, 'merge', { namespace: ns });
        }
        return undefined;
      }

      async function unlock(s: VirtualMachineSnapshot, vm: VirtualMachine): Promise<void> {
        if (vm.status?.snapshotInProgress !== s.metadata.name) return;
        const ns = vm.metadata.namespace!;
        let current = vm;
        if (hasFinalizer(vm, SNAPSHOT_SOURCE_FINALIZER)) {
          const finalizers = (vm.metadata.finalizers ?? []).filter((f) => f !== SNAPSHOT_SOURCE_FINALIZER);
          current = await vms().patch(vm.metadata.name!, { metadata: { resourceVersion: vm.metadata.resourceVersion, finalizers } }, 'merge', { namespace: ns });
        }
        const { snapshotInProgress: _released, ...status } = current.status ?? {};
        await vms().updateStatus({ ...current, status }, { namespace: ns });
      }

      /** The claim a volume backup copies, or undefined when the volume is left out (unbound, no class). */
      function backupClaim(ns: string, claimName: string): KubeObject | undefined {
        const pvc = pvcInf.store.getByName(claimName, ns);
        if (!pvc || (pvc.status as { phase?: string } | undefined)?.phase !== 'Bound') return undefined;
        const scName = (pvc.spec as { storageClassName?: string } | undefined)?.storageClassName;
        const sc = scName ? scInf.store.getByName(scName) : undefined;
        if (!sc) return undefined;
        return snapshotClassFor(sc, vscInf.store.list()) ? pvc : undefined;
      }

      /** Source.Spec(): the VM with simplified metadata; a running VM's volumes as the VM declares them. */
      function sourceSpec(vm: VirtualMachine): SnapshotVm {
        const { managedFields: _m, ...metadata } = vm.metadata;
        return { metadata: metadata as SnapshotVm['metadata'], spec: structuredClone(vm.spec), status: {} };
      }

      async function createContent(s: VirtualMachineSnapshot, vm: VirtualMachine): Promise<void> {
        const ns = s.metadata.namespace!;
        const volumeBackups: VolumeBackup[] = [];
        for (const [volumeName, claimName] of claimVolumes(vm.spec)) {
          const pvc = backupClaim(ns, claimName);
          if (!pvc) continue;
          const { managedFields: _m, ...meta } = pvc.metadata;
          volumeBackups.push({
            volumeName,
            persistentVolumeClaim: { metadata: meta as VolumeBackup['persistentVolumeClaim']['metadata'], spec: structuredClone(pvc.spec as Record<string, unknown>) },
            volumeSnapshotName: volumeSnapshotName(s.metadata.uid!, volumeName),
          });
        }
        const content: VirtualMachineSnapshotContent = {
          apiVersion: SNAPSHOT_API_VERSION,
          kind: 'VirtualMachineSnapshotContent',
          metadata: { name: snapshotContentName(s), namespace: ns, finalizers: [VM_SNAPSHOT_CONTENT_FINALIZER] },
          spec: { virtualMachineSnapshotName: s.metadata.name, source: { virtualMachine: sourceSpec(vm) }, volumeBackups },
        };
        try {
          await contents().create(content, { namespace: ns });
        } catch (e) {
          if (!isAlreadyExists(e)) throw e;
        }
        recorder.event(s, 'Normal', EVENT.contentCreated, `Successfully created VirtualMachineSnapshotContent ${content.metadata.name}`);
      }

      async function freeze(s: VirtualMachineSnapshot, st: SourceState | undefined): Promise<void> {
        const key = objectKeyOf(s);
        // A paused guest cannot flush; one without an agent is snapshotted crash-consistent.
        if (!st?.locked || frozen.has(key) || st.paused || !st.guestAgent) return;
        await freezer.freeze(st.vm.metadata.namespace!, st.vm.metadata.name!, failureDeadlineMs(s));
        frozen.add(key);
        thawed.delete(key);
      }

      async function unfreeze(s: VirtualMachineSnapshot | undefined, st: SourceState | undefined): Promise<void> {
        if (!s) return;
        const key = objectKeyOf(s);
        // KubeVirt thaws whenever the source is locked and has an agent (a restarted controller forgot what it froze).
        if (!st?.locked || !st.guestAgent || st.paused || thawed.has(key)) return void frozen.delete(key);
        await freezer.unfreeze(st.vm.metadata.namespace!, st.vm.metadata.name!);
        frozen.delete(key);
        thawed.add(key);
      }

      /** updateVMSnapshotContent: the VolumeSnapshots created (frozen), their state gathered; a retry delay when it must come back. */
      async function syncContent(content: VirtualMachineSnapshotContent, s: VirtualMachineSnapshot | undefined, st: SourceState | undefined, now: Date): Promise<number | undefined> {
        const ns = content.metadata.namespace!;
        if (!s || isTerminating(s, now)) {
          await unfreeze(s, st).catch((e) => ctx.logger({ level: 'warn', msg: 'thawing the guest failed', content: content.metadata.name, error: (e as Error).message }));
          if (hasFinalizer(content, VM_SNAPSHOT_CONTENT_FINALIZER)) {
            const finalizers = (content.metadata.finalizers ?? []).filter((f) => f !== VM_SNAPSHOT_CONTENT_FINALIZER);
            content = await contents().patch(content.metadata.name!, { metadata: { resourceVersion: content.metadata.resourceVersion, finalizers } }, 'merge', { namespace: ns });
          }
          if (s && shouldDeleteContent(s, content)) return undefined;
        }
        if (content.metadata.deletionTimestamp) return RETRY_MS;
        const status = structuredClone(content.status ?? {});
        const created = !!content.status?.creationTime;
        const deleted: string[] = [];
        const skipped: string[] = [];
        const vsStatus: NonNullable<typeof status.volumeSnapshotStatus> = [];
        for (const backup of content.spec.volumeBackups ?? []) {
          const vsName = backup.volumeSnapshotName;
          if (!vsName) continue;
          let vs = vsInf.store.getByName(vsName, ns);
          if (!vs) {
            if (created) {
              recorder.event(content, 'Warning', EVENT.volumeSnapshotMissing, `VolumeSnapshot ${vsName} no longer exists`);
              deleted.push(vsName);
              continue;
            }
            if (!s || isDeleting(s)) {
              skipped.push(vsName);
              continue;
            }
            try {
              await freeze(s, st);
            } catch (e) {
              status.error = { time: rfc3339(now), message: (e as Error).message };
              status.readyToUse = false;
              await writeContentStatus(content, status);
              return RETRY_MS;
            }
            vs = await createVolumeSnapshot(content, backup, vsName);
            if (!vs) continue;
          }
          vsStatus.push({
            volumeSnapshotName: vs.metadata.name!,
            ...(vs.status?.creationTime ? { creationTime: vs.status.creationTime } : {}),
            ...(vs.status?.readyToUse !== undefined ? { readyToUse: vs.status.readyToUse } : {}),
            ...(vs.status?.error ? { error: { ...vs.status.error } } : {}),
          });
        }
        let isCreated = true;
        let ready = true;
        let errorMessage = '';
        if (deleted.length) {
          isCreated = ready = false;
          errorMessage = `VolumeSnapshots (${deleted.join(',')}) missing`;
        } else if (skipped.length) {
          isCreated = ready = false;
          errorMessage = `VolumeSnapshots (${skipped.join(',')}) skipped because vm snapshot is deleted`;
        } else {
          for (const v of vsStatus) {
            if (!v.creationTime) isCreated = false;
            if (!v.readyToUse) ready = false;
            if (v.error?.message) {
              errorMessage = `VolumeSnapshot ${v.volumeSnapshotName} error: ${v.error.message}`;
              break;
            }
          }
        }
        if (isCreated && !status.creationTime) {
          status.creationTime = rfc3339(now);
          // The VolumeSnapshots are cut: the guest may write again.
          await unfreeze(s, st);
        }
        if (errorMessage && !ready) {
          if (status.error?.message !== errorMessage) status.error = { time: rfc3339(now), message: errorMessage };
        } else if (!errorMessage) delete status.error;
        status.readyToUse = ready;
        status.volumeSnapshotStatus = vsStatus;
        await writeContentStatus(content, status);
        return undefined;
      }

      async function writeContentStatus(content: VirtualMachineSnapshotContent, status: NonNullable<VirtualMachineSnapshotContent['status']>): Promise<void> {
        if (deepEqual(status, content.status ?? {})) return;
        await contents().updateStatus({ ...content, status }, { namespace: content.metadata.namespace });
      }

      async function createVolumeSnapshot(content: VirtualMachineSnapshotContent, backup: VolumeBackup, name: string): Promise<VolumeSnapshot | undefined> {
        const ns = content.metadata.namespace!;
        const scName = backup.persistentVolumeClaim.spec.storageClassName as string | undefined;
        if (!scName) throw new Error(`${ns}/${backup.persistentVolumeClaim.metadata.name} VolumeSnapshot requested but no storage class`);
        const sc = scInf.store.getByName(scName);
        const cls = sc ? snapshotClassFor(sc, vscInf.store.list()) : undefined;
        if (!cls) {
          ctx.logger({ level: 'warn', msg: `Couldn't find VolumeSnapshotClass for ${scName}` });
          return undefined;
        }
        const vm = content.spec.source.virtualMachine;
        const vs: VolumeSnapshot = {
          apiVersion: `${VOLUME_SNAPSHOTS.group}/v1`,
          kind: 'VolumeSnapshot',
          metadata: {
            name,
            namespace: ns,
            labels: { [LABEL_SNAPSHOT_SOURCE_NAME]: vm?.metadata.name ?? '', [LABEL_SNAPSHOT_SOURCE_NAMESPACE]: vm?.metadata.namespace ?? ns },
            ownerReferences: [{ ...newControllerRef(content, SNAPSHOT_API_VERSION, 'VirtualMachineSnapshotContent'), blockOwnerDeletion: true }],
          },
          spec: { source: { persistentVolumeClaimName: backup.persistentVolumeClaim.metadata.name }, volumeSnapshotClassName: cls },
        };
        let made: VolumeSnapshot;
        try {
          made = await ctx.client.resource<VolumeSnapshot>(VOLUME_SNAPSHOTS).create(vs, { namespace: ns });
        } catch (e) {
          if (!isAlreadyExists(e)) throw e;
          return ctx.client.resource<VolumeSnapshot>(VOLUME_SNAPSHOTS).get(name, ns);
        }
        recorder.event(content, 'Normal', EVENT.volumeSnapshotCreated, `Successfully created VolumeSnapshot ${name}`);
        return made;
      }

      /** updateSnapshotStatus. */
      function nextStatus(s: VirtualMachineSnapshot, st: SourceState | undefined, content: VirtualMachineSnapshotContent | undefined, now: Date): NonNullable<VirtualMachineSnapshot['status']> {
        const t = rfc3339(now);
        const status = structuredClone(s.status ?? { readyToUse: false });
        if (st) status.sourceUID = st.vm.metadata.uid;
        if (content?.status) {
          status.virtualMachineSnapshotContentName = content.metadata.name;
          if (content.status.creationTime) status.creationTime = content.status.creationTime;
          else delete status.creationTime;
          status.readyToUse = content.status.readyToUse;
          if (content.status.error) status.error = content.status.error;
          else delete status.error;
        }
        const withStatus = { ...s, status };
        if (deadlineExceeded(withStatus, now)) {
          status.phase = 'Failed';
          status.conditions = setCondition(status.conditions, 'Failure', 'True', DEADLINE_EXCEEDED, t);
          status.conditions = setCondition(status.conditions, 'Progressing', 'False', 'Operation failed', t);
        } else if (isSucceeded(withStatus) || status.creationTime) {
          status.phase = 'Succeeded';
          status.conditions = setCondition(status.conditions, 'Progressing', 'False', 'Operation complete', t);
          const vm = content?.spec.source.virtualMachine;
          if (vm) {
            const lists = snapshotVolumeLists(vm.spec, (content?.spec.volumeBackups ?? []).map((b) => b.volumeName));
            status.snapshotVolumes = { ...(lists.includedVolumes ? { includedVolumes: lists.includedVolumes } : {}), ...(lists.excludedVolumes ? { excludedVolumes: lists.excludedVolumes } : {}) };
            if (lists.partial) addIndication(status, 'PartialSnapshot');
          }
        } else {
          status.phase = 'InProgress';
          if (st) {
            status.conditions = setCondition(status.conditions, 'Progressing', st.locked ? 'True' : 'False', st.lockMsg, t);
            setIndications(status, st);
          } else status.conditions = setCondition(status.conditions, 'Progressing', 'False', 'Source does not exist', t);
          if (isDeleting(s)) {
            status.phase = 'Deleting';
            status.conditions = setCondition(status.conditions, 'Progressing', 'False', 'VM snapshot is deleting', t);
          }
        }
        status.conditions = setCondition(status.conditions, 'Ready', status.readyToUse ? 'True' : 'False', status.readyToUse ? 'Ready' : 'Not ready', t);
        if (status.error) status.conditions = setCondition(status.conditions, 'Progressing', 'False', 'In error state', t);
        return status;
      }

      async function reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
        let s = snapInf.store.get(key);
        if (!s) {
          frozen.delete(key);
          thawed.delete(key);
          return;
        }
        const ns = s.metadata.namespace!;
        const now = new Date();
        try {
          if (!isTerminating(s, now) && !hasFinalizer(s, VM_SNAPSHOT_FINALIZER)) {
            s = await snapshots().patch(s.metadata.name!, { metadata: { resourceVersion: s.metadata.resourceVersion, finalizers: [...(s.metadata.finalizers ?? []), VM_SNAPSHOT_FINALIZER] } }, 'merge', { namespace: ns });
          }
          const st = sourceState(s);
          let content = contentInf.store.getByName(snapshotContentName(s), ns);
          let retryMs: number | undefined;
          let canRemoveFinalizer = true;
          if (s.status && st) {
            if (isProgressing(s) && !isTerminating(s, now)) {
              if (!st.locked) {
                const refused = await lock(s, st);
                if (refused) st.lockMsg = refused;
                retryMs = RETRY_MS;
              } else if (!content) {
                await createContent(s, st.vm);
              }
              canRemoveFinalizer = false;
            } else {
              // canUnlockSource: finished, or ending with its content gone where it has to go.
              const contentSettled = !content || !shouldDeleteContent(s, content);
              if (!isProgressing(s) || contentSettled) {
                // Ending before its VolumeSnapshots were cut (deadline, deletion): thaw what this controller froze.
                if (st.locked && frozen.has(objectKeyOf(s))) await unfreeze(s, st);
                await unlock(s, st.vm);
                st.locked = false;
              }
              canRemoveFinalizer = !st.locked;
            }
          }
          if (content) {
            const r = await syncContent(content, s, st, now);
            if (r) retryMs = Math.min(retryMs ?? r, r);
          }
          if (isTerminating(s, now) && content && shouldDeleteContent(s, content)) {
            try {
              await contents().delete(content.metadata.name!, { namespace: ns });
            } catch (e) {
              if (!isNotFound(e)) throw e;
            }
            content = undefined;
          }
          const status = nextStatus(s, st, contentInf.store.getByName(snapshotContentName(s), ns) ?? content, now);
          if (!deepEqual(status, s.status ?? {})) s = await snapshots().updateStatus({ ...s, status }, { namespace: ns });
          if (isDeleting(s) && canRemoveFinalizer && hasFinalizer(s, VM_SNAPSHOT_FINALIZER)) {
            const finalizers = (s.metadata.finalizers ?? []).filter((f) => f !== VM_SNAPSHOT_FINALIZER);
            await snapshots().patch(s.metadata.name!, { metadata: { resourceVersion: s.metadata.resourceVersion, finalizers } }, 'merge', { namespace: ns });
          }
          if (retryMs) return { requeueAfterMs: retryMs };
          const left = isProgressing(s) ? msUntilDeadline(s, new Date()) : 0;
          if (left > 0) return { requeueAfterMs: left + 10 };
        } catch (e) {
          if (isConflict(e)) return { requeueAfterMs: 100 };
          if (isNotFound(e)) return;
          throw e;
        }
      }

      return controller;
    },
  };
}

function addIndication(status: NonNullable<VirtualMachineSnapshot['status']>, i: Indication): void {
  if (!(status.sourceIndications ?? []).some((x) => x.indication === i)) status.sourceIndications = [...(status.sourceIndications ?? []), { indication: i, message: INDICATION_MESSAGES[i] }];
  if (!(status.indications ?? []).includes(i)) status.indications = [...(status.indications ?? []), i];
}

/** updateSnapshotSourceIndications: what the source was when the snapshot was taken. */
function setIndications(status: NonNullable<VirtualMachineSnapshot['status']>, st: SourceState): void {
  if (!st.online) {
    delete status.indications;
    delete status.sourceIndications;
    return;
  }
  const set = new Set<Indication>(status.indications ?? []);
  set.add('Online');
  if (st.paused) set.add('Paused');
  else if (st.guestAgent) set.add('GuestAgent');
  else set.add('NoGuestAgent');
  const list = [...set].sort();
  status.indications = list;
  status.sourceIndications = list.map((indication) => ({ indication, message: INDICATION_MESSAGES[indication] }));
}

export const vmSnapshotController: ControllerSpec = makeVmSnapshotController();
