/**
 * A DataVolume's status from what the controller observes, with CDI's phases, progress figures
 * and conditions (pkg/controller/datavolume/conditions.go and the import controller's pod
 * annotations): Bound follows the claim, Running the importer container (`Pod is running`, or the
 * reason and termination message of its last failed run — so an import that keeps failing
 * shows why while it backs off), Ready is True once the import Succeeded.
 */
import type { KubeObject } from '../../util/object.js';
import { phaseOf } from '../../storage/api.js';
import type { DataVolume, DataVolumeCondition, DataVolumePhase, DataVolumeStatus } from './datavolume-api.js';
import type { CloneStrategy } from './clone-plan.js';
import { CLONE_COMPLETE, IMPORT_COMPLETE, PROGRESS_DONE, PROGRESS_UNKNOWN } from './importer-protocol.js';
import { UPLOAD_COMPLETE } from './upload-api.js';

export interface Observed {
  claim?: KubeObject;
  pod?: KubeObject;
  /** The import finished (the claim carries the importer's Succeeded). */
  succeeded: boolean;
  /** A WaitForFirstConsumer claim nobody consumes yet. */
  waitingForConsumer: boolean;
  /** The latest progress figure the importer logged. */
  progress?: string;
  /** The pod is an upload server (upload-pod.ts): its phases are CDI's Upload* ones. */
  upload?: boolean;
  /** A clone (clone-plan.ts): its phases are CDI's Clone* ones; `pod` is then the target's upload server. */
  clone?: CloneStrategy;
  /** A host-assisted clone's source pod (clone-source-pod.ts), which reports the clone's progress and failures. */
  sourcePod?: KubeObject;
}

interface ContainerState {
  running?: object;
  waiting?: { reason?: string; message?: string };
  terminated?: { exitCode?: number; reason?: string; message?: string };
}
interface ContainerStatus {
  state?: ContainerState;
  lastState?: ContainerState;
  restartCount?: number;
}

const POD_RUNNING = 'Pod is running';
const TRANSFER_RUNNING = 'TransferRunning';

const IMAGE_PULL_FAILED = 'ImagePullFailed';
const PULL_ERRORS = ['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName'];

/** The message of a container of the pod waiting for an image that cannot be pulled. */
function pullFailure(pod: KubeObject | undefined): string | undefined {
  const st = pod?.status as { containerStatuses?: ContainerStatus[]; initContainerStatuses?: ContainerStatus[] } | undefined;
  const w = [...(st?.initContainerStatuses ?? []), ...(st?.containerStatuses ?? [])].map((c) => c.state?.waiting).find((x) => PULL_ERRORS.includes(x?.reason ?? ''));
  return w ? w.message || w.reason : undefined;
}

const importerStatus = (pod: KubeObject | undefined) => (pod?.status as { containerStatuses?: ContainerStatus[] } | undefined)?.containerStatuses?.[0];

/** Whether the pod's Ready condition is True. */
export const podReady = (pod: KubeObject) =>
  ((pod.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

function clonePhase(o: Observed): DataVolumePhase {
  if (o.clone === 'csi-clone') return 'CSICloneInProgress';
  return o.pod && podReady(o.pod) && o.sourcePod && phaseOf(o.sourcePod) === 'Running' ? 'CloneInProgress' : 'CloneScheduled';
}

function phase(o: Observed): DataVolumePhase {
  if (o.succeeded) return 'Succeeded';
  if (!o.claim) return 'Pending';
  if (o.waitingForConsumer) return 'WaitForFirstConsumer';
  if (o.clone) return clonePhase(o);
  if (!o.pod) return phaseOf(o.claim) === 'Bound' ? 'PVCBound' : 'Pending';
  switch (phaseOf(o.pod)) {
    case 'Running':
      // CDI's upload controller: UploadReady once the server's pod is ready (it listens).
      if (o.upload) return podReady(o.pod) ? 'UploadReady' : 'UploadScheduled';
      return 'ImportInProgress';
    case 'Failed':
      return 'Failed';
    default:
      return o.upload ? 'UploadScheduled' : 'ImportScheduled';
  }
}

type Wanted = Pick<DataVolumeCondition, 'type' | 'status' | 'reason' | 'message'>;

function boundCondition(claim: KubeObject | undefined): Wanted {
  if (!claim) return { type: 'Bound', status: 'False', reason: 'NotFound', message: 'No PVC found' };
  const name = claim.metadata.name;
  switch (phaseOf(claim)) {
    case 'Bound':
      return { type: 'Bound', status: 'True', reason: 'Bound', message: `PVC ${name} Bound` };
    case 'Lost':
      return { type: 'Bound', status: 'False', reason: 'ClaimLost', message: 'Claim Lost' };
    default:
      return { type: 'Bound', status: 'False', reason: 'Pending', message: `PVC ${name} Pending` };
  }
}

function runningCondition(o: Observed): Wanted {
  if (o.succeeded) return { type: 'Running', status: 'False', reason: 'Completed', message: o.clone ? CLONE_COMPLETE : o.upload ? UPLOAD_COMPLETE : IMPORT_COMPLETE };
  // A clone's failures (a refused disk, a source without one) surface in its source pod.
  const cs = importerStatus(o.sourcePod ?? o.pod);
  // An image the node cannot pull (a registry source pulled by the node) is CDI's ImagePullFailed,
  // even while the importer beside it runs: it waits for that image's container.
  const pull = pullFailure(o.pod);
  if (pull) return { type: 'Running', status: 'False', reason: IMAGE_PULL_FAILED, message: pull };
  if (cs?.state?.running) return { type: 'Running', status: 'True', reason: POD_RUNNING, message: '' };
  const t = cs?.state?.terminated;
  if (t) return { type: 'Running', status: 'False', reason: t.reason ?? '', message: t.message ?? '' };
  const last = cs?.lastState?.terminated;
  if (last && (last.exitCode ?? 0) > 0) return { type: 'Running', status: 'False', reason: last.reason ?? 'Error', message: last.message ?? '' };
  const w = cs?.state?.waiting;
  return { type: 'Running', status: 'False', reason: w?.reason ?? '', message: w?.message ?? '' };
}

/** CDI's updateCondition: times move only when the status (transition) or reason/message (heartbeat) change. */
function merge(old: DataVolumeCondition[], wanted: Wanted[], now: string): DataVolumeCondition[] {
  return wanted.map((w) => {
    const prev = old.find((c) => c.type === w.type);
    if (!prev || prev.status !== w.status) return { ...w, lastTransitionTime: now, lastHeartbeatTime: now };
    if (prev.reason !== w.reason || prev.message !== w.message) return { ...prev, ...w, lastHeartbeatTime: now };
    return prev;
  });
}

export function dataVolumeStatus(dv: DataVolume, o: Observed, now: string): DataVolumeStatus {
  const prev = dv.status ?? {};
  const p = phase(o);
  const running = runningCondition(o);
  const ready: Wanted =
    p === 'Succeeded'
      ? { type: 'Ready', status: 'True', reason: '', message: '' }
      : { type: 'Ready', status: 'False', reason: running.status === 'True' ? TRANSFER_RUNNING : '', message: '' };
  const restarts = importerStatus(o.sourcePod ?? o.pod)?.restartCount;
  const progress =
    p === 'Succeeded' ? PROGRESS_DONE : p === 'ImportInProgress' || p === 'CloneInProgress' ? (o.progress ?? prev.progress ?? PROGRESS_UNKNOWN) : (prev.progress ?? PROGRESS_UNKNOWN);
  return {
    phase: p,
    progress,
    restartCount: Math.max(restarts ?? 0, prev.restartCount ?? 0),
    ...(o.claim ? { claimName: o.claim.metadata.name } : {}),
    conditions: merge(prev.conditions ?? [], [boundCondition(o.claim), ready, running], now),
  };
}
