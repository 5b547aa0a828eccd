/**
 * The VMI fields the VMI controller owns, computed as KubeVirt's updateStatus does
 * (pkg/virt-controller/watch/vmi/lifecycle.go): the phase up to Scheduled and the final ones,
 * nodeName and the `kubevirt.io/nodeName` label, activePods, the PodScheduled, Ready,
 * Synchronized, DataVolumesReady and Provisioning conditions, qosClass,
 * launcherContainerImageVersion, phaseTransitionTimestamps and the finalizer. Everything else on
 * the VMI — Running, interfaces, the guest's conditions — is the VirtHandler's and passes through
 * untouched. Pure: the controller writes the result back with the resourceVersion it read.
 */
import { podCondition, podPhase, podStatusOf } from '../../controllers/util/pod-state.js';
import { podNodeName } from '../../controllers/util/nodes.js';
import type { KubeObject } from '../../util/object.js';
import { COMPUTE_CONTAINER } from '../launcher/layout.js';
import type { Vmi, VmiStatusTyped } from '../launcher/vmi-types.js';
import type { VmCondition } from './vm-api.js';
import { imageError, isLauncherStarted, isPodAlive, isPodDown, isPodDownOrGoingDown, isProvisioningPod, launcherTermination } from './vmi-pod-state.js';
import { hasFailedDataVolume, type VolumeCheck } from './vmi-volumes.js';
import { migrationStateOf } from '../migration/migration-state.js';

/** KubeVirt's VMI finalizer (its virt-api adds it on create): the VMI outlives its launcher pods. */
export const VMI_FINALIZER = 'kubevirt.io/foregroundDeleteVirtualMachine';
/** The VM controller's finalizer on its VMIs; dropped here once the owning VM is gone. */
export const VM_CONTROLLER_FINALIZER = 'kubevirt.io/virtualMachineControllerFinalize';
/** KubeVirt's label naming the VMI's node. */
export const LABEL_NODE_NAME = 'kubevirt.io/nodeName';

export const REASON_PVC_NOT_FOUND = 'FailedPvcNotFound';
/** KubeVirt's NodeUnresponsiveReason: the VMI's node stopped answering and no launcher of it is alive there. */
export const REASON_NODE_UNRESPONSIVE = 'NodeUnresponsive';

export interface SyncError {
  reason: string;
  message: string;
}

export interface StatusInput {
  /** The VMI's current pod: the newest it controls (a provisioning pod included). */
  pod?: KubeObject;
  /** Every pod the VMI controls. */
  ownedPods: KubeObject[];
  volumes: VolumeCheck;
  syncError?: SyncError;
  /** The VM controlling the VMI still exists. */
  hasOwnerVm: boolean;
  /**
   * The VMI's node is gone or its Ready condition Unknown. KubeVirt's node controller judges its
   * virt-handler's heartbeat; Cairn's handler lives in the node agent, whose heartbeat the node
   * lifecycle controller already judges (Unknown after its 40 s grace period).
   */
  nodeUnresponsive?: boolean;
  now: string;
}

type Phase = NonNullable<VmiStatusTyped['phase']>;

export const isFinalPhase = (phase: string | undefined) => phase === 'Succeeded' || phase === 'Failed';

/**
 * The VMI's current pod (KubeVirt's CurrentVMIPod): the newest it controls on its node (any node
 * before it has one). While a migration runs the source pod stays current, the target pod being
 * on another node. Once the source handed the guest over (migrationState completed, not failed),
 * the target pod is current even before nodeName follows it: the source launcher ending then is
 * not the guest ending.
 */
export function currentPod(vmi: Vmi, owned: KubeObject[]): KubeObject | undefined {
  // The target is current once it runs the guest (targetNodeDomainReadyTimestamp), not when the
  // source has sent everything: a target that then fails to load it must not end the VMI.
  const migration = migrationStateOf(vmi);
  const handedOver = migration?.completed && !migration.failed && migration.targetNodeDomainReadyTimestamp ? owned.find((p) => p.metadata.name === migration.targetPod) : undefined;
  if (handedOver) return handedOver;
  const node = vmi.status?.nodeName;
  const candidates = owned.filter((p) => !node || podNodeName(p) === node);
  const created = (p: KubeObject) => Date.parse(p.metadata.creationTimestamp ?? '') || 0;
  return candidates.reduce<KubeObject | undefined>((best, p) => (!best || created(p) >= created(best) ? p : best), undefined);
}

/** Sets a condition; an unchanged one keeps its timestamps, so a pass that changes nothing writes nothing. */
function setCondition(status: VmiStatusTyped, c: VmCondition): void {
  const list = (status.conditions ??= []);
  const i = list.findIndex((x) => x.type === c.type);
  if (i < 0) list.push(c);
  else if (list[i]!.status !== c.status || list[i]!.reason !== c.reason || list[i]!.message !== c.message) list[i] = c;
}

function removeCondition(status: VmiStatusTyped, type: string): void {
  if (status.conditions?.some((c) => c.type === type)) status.conditions = status.conditions.filter((c) => c.type !== type);
}

/** The pod's PodScheduled=False as is (the scheduler's reason and message), or none once it is scheduled. */
function mirrorPodScheduled(status: VmiStatusTyped, pod: KubeObject): void {
  const c = podCondition(pod, 'PodScheduled');
  if (c?.status === 'False') {
    setCondition(status, { type: 'PodScheduled', status: 'False', reason: c.reason, message: c.message, lastProbeTime: null, lastTransitionTime: c.lastTransitionTime ?? null });
  } else removeCondition(status, 'PodScheduled');
}

/** KubeVirt's syncReadyConditionFromPod. */
function readyCondition(vmi: Vmi, pod: KubeObject | undefined, now: string): VmCondition {
  const not = (reason: string, message: string): VmCondition => ({ type: 'Ready', status: 'False', reason, message, lastProbeTime: now, lastTransitionTime: now });
  if (!pod || isProvisioningPod(pod)) return not('PodNotExists', 'virt-launcher pod has not yet been scheduled');
  if (isPodDownOrGoingDown(pod)) return not('PodTerminating', 'virt-launcher pod is terminating');
  if (vmi.status?.phase !== 'Running') return not('GuestNotRunning', 'Guest VM is not reported as running');
  const ready = podCondition(pod, 'Ready');
  if (!ready) return not('PodConditionMissing', 'virt-launcher pod is missing the Ready condition');
  return { type: 'Ready', status: ready.status as VmCondition['status'], reason: ready.reason, message: ready.message, lastProbeTime: null, lastTransitionTime: ready.lastTransitionTime ?? now };
}

/** KubeVirt's aggregateDataVolumesConditions: True once every DataVolume is Ready. */
function dataVolumesReady(volumes: VolumeCheck): VmCondition | undefined {
  if (!volumes.dataVolumes.length) return undefined;
  const states = volumes.dataVolumes.map((dv) => dv.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'Unknown');
  if (states.every((s) => s === 'True')) return { type: 'DataVolumesReady', status: 'True', reason: 'AllDVsReady', message: "All of the VMI's DVs are bound and ready" };
  return { type: 'DataVolumesReady', status: states.includes('False') ? 'False' : 'Unknown', reason: 'NotAllDVsReady', message: "Not all of the VMI's DVs are ready" };
}

/** A launcher that ended or is going: the guest's end (Succeeded) or a failure, with the container's or pod's reason when it has one. */
function endedPhase(status: VmiStatusTyped, pod: KubeObject): Phase {
  if (podPhase(pod) === 'Succeeded') return 'Succeeded';
  const reason = launcherTermination(pod)?.reason ?? (podStatusOf(pod) as { reason?: string }).reason;
  if (reason) status.reason = reason;
  return 'Failed';
}

export function nextVmi(vmi: Vmi, f: StatusInput): Vmi {
  const next = structuredClone(vmi);
  const status: VmiStatusTyped = (next.status ??= {});
  const meta = next.metadata;
  const oldPhase = vmi.status?.phase;
  const deleting = !!vmi.metadata.deletionTimestamp;
  const pod = f.pod;
  const launcher = pod && !isProvisioningPod(pod) ? pod : undefined;
  let phase: Phase = oldPhase ?? 'Pending';
  let syncError = f.syncError;

  if (!isFinalPhase(oldPhase) && !deleting && !meta.finalizers?.includes(VMI_FINALIZER)) meta.finalizers = [...(meta.finalizers ?? []), VMI_FINALIZER];
  if (f.ownedPods.length || status.activePods) status.activePods = Object.fromEntries(f.ownedPods.map((p) => [p.metadata.uid!, podNodeName(p)]));
  setCondition(status, readyCondition(vmi, pod, f.now));
  if (launcher) status.launcherContainerImageVersion = (launcher.spec as { containers?: { name: string; image?: string }[] }).containers?.find((c) => c.name === COMPUTE_CONTAINER)?.image;
  const dvReady = dataVolumesReady(f.volumes);
  if (dvReady) setCondition(status, dvReady);

  switch (oldPhase ?? 'Pending') {
    case 'Pending':
      if (launcher) phase = 'Scheduling';
      else if (deleting || hasFailedDataVolume(f.volumes)) phase = 'Failed';
      else {
        if (f.volumes.waitForFirstConsumer) {
          setCondition(status, { type: 'Provisioning', status: 'True' });
          if (pod) {
            mirrorPodScheduled(status, pod);
            if (podPhase(pod) === 'Failed' || pod.metadata.deletionTimestamp) phase = 'Failed';
          }
        }
        if (syncError?.reason === REASON_PVC_NOT_FOUND) {
          setCondition(status, { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: syncError.message });
        }
      }
      break;
    case 'Scheduling': {
      removeCondition(status, 'Provisioning');
      if (!launcher) {
        phase = 'Failed';
        break;
      }
      const qos = (launcher.status as { qosClass?: string } | undefined)?.qosClass;
      if (qos) status.qosClass = qos;
      else delete status.qosClass;
      mirrorPodScheduled(status, launcher);
      syncError = imageError(launcher) ?? syncError;
      if (isLauncherStarted(launcher) && !deleting) {
        // The handler of the pod's node takes the VMI from here (KubeVirt hands it over the same way).
        phase = 'Scheduled';
        status.nodeName = podNodeName(launcher);
        meta.labels = { ...meta.labels, [LABEL_NODE_NAME]: podNodeName(launcher) };
      } else if (isPodDownOrGoingDown(launcher)) phase = endedPhase(status, launcher);
      break;
    }
    case 'Scheduled':
    case 'Running':
      if (f.nodeUnresponsive && !(launcher && isPodAlive(launcher))) {
        // KubeVirt's node controller: nothing runs the guest any more, and no handler will say so.
        phase = 'Failed';
        status.reason = REASON_NODE_UNRESPONSIVE;
      } else if (!launcher) phase = 'Failed';
      else if (isPodDown(launcher)) {
        // A launcher deleted under a VMI nobody deleted was killed: the guest did not end on its own, whatever QEMU's exit code.
        phase = launcher.metadata.deletionTimestamp && !deleting ? 'Failed' : endedPhase(status, launcher);
      }
      break;
    case 'Succeeded':
    case 'Failed':
      if (!f.ownedPods.length) {
        meta.finalizers = meta.finalizers?.filter((x) => x !== VMI_FINALIZER);
        delete status.launcherContainerImageVersion;
      }
      if (!f.hasOwnerVm) meta.finalizers = meta.finalizers?.filter((x) => x !== VM_CONTROLLER_FINALIZER);
      break;
  }

  // KubeVirt records sync errors only while it still owns the phase (the handler owns Scheduled and Running).
  if (oldPhase !== 'Scheduled' && oldPhase !== 'Running') {
    if (syncError) {
      const c = status.conditions?.find((x) => x.type === 'Synchronized');
      if (!(c?.status === 'False' && c.reason === syncError.reason)) {
        removeCondition(status, 'Synchronized');
        setCondition(status, { type: 'Synchronized', status: 'False', reason: syncError.reason, message: syncError.message, lastProbeTime: null, lastTransitionTime: f.now });
      }
    } else removeCondition(status, 'Synchronized');
  }
  if (phase !== oldPhase) status.phase = phase;
  // Every phase is recorded, the handler's Running too: the VM controller tells a start that never ran from these.
  if (status.phaseTransitionTimestamps?.at(-1)?.phase !== status.phase) {
    status.phaseTransitionTimestamps = [...(status.phaseTransitionTimestamps ?? []), { phase: status.phase!, phaseTransitionTimestamp: f.now }];
  }
  if (meta.finalizers?.length === 0) delete meta.finalizers;
  return next;
}
