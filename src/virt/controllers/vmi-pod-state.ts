/**
 * How KubeVirt's VMI controller reads its launcher pod (pkg/controller IsPodReady,
 * IsPodDownOrGoingDown, checkForContainerImageError): the pod is handed to the node once its
 * `compute` container runs — not once it is Ready, since the VMI's readiness probe sits on that
 * container and only passes when the guest answers.
 */
import { podPhase, podStatusOf } from '../../controllers/util/pod-state.js';
import type { KubeObject } from '../../util/object.js';
import { ANN_EPHEMERAL_PROVISIONING } from '../launcher/launcher-pod.js';
import { COMPUTE_CONTAINER } from '../launcher/layout.js';

interface ContainerState {
  running?: Record<string, unknown>;
  waiting?: { reason?: string; message?: string };
  terminated?: { exitCode?: number; reason?: string; message?: string };
}
interface ContainerStatus {
  name?: string;
  state?: ContainerState;
}

const statuses = (pod: KubeObject) => (podStatusOf(pod).containerStatuses ?? []) as ContainerStatus[];
const computeState = (pod: KubeObject) => statuses(pod).find((c) => c.name === COMPUTE_CONTAINER)?.state;

export const isProvisioningPod = (pod: KubeObject) => pod.metadata.annotations?.[ANN_EPHEMERAL_PROVISIONING] !== undefined;
export const isPodDown = (pod: KubeObject) => ['Succeeded', 'Failed'].includes(podPhase(pod));
export const isPodDownOrGoingDown = (pod: KubeObject) => isPodDown(pod) || !!computeState(pod)?.terminated || !!pod.metadata.deletionTimestamp;

/**
 * KubeVirt's node controller's alive pod (alivePodsOnNode): not Succeeded or Failed, and not
 * every container terminated — a pod stuck terminating on a dead node still counts, as its
 * containers may run on.
 */
export function isPodAlive(pod: KubeObject): boolean {
  const all = statuses(pod);
  return !isPodDown(pod) && !(all.length > 0 && all.every((c) => !!c.state?.terminated));
}

/** The launcher runs: its pod is Running and its compute container started. */
export function isLauncherStarted(pod: KubeObject): boolean {
  if (isPodDownOrGoingDown(pod)) return false;
  return !!computeState(pod)?.running && podPhase(pod) === 'Running';
}

/** ErrImagePull / ImagePullBackOff of any container: KubeVirt's Synchronized=False reason. */
export function imageError(pod: KubeObject): { reason: string; message: string } | undefined {
  for (const c of statuses(pod)) {
    const w = c.state?.waiting;
    if (w && (w.reason === 'ErrImagePull' || w.reason === 'ImagePullBackOff')) return { reason: w.reason, message: w.message ?? '' };
  }
  return undefined;
}

/** Why the compute container ended: its reason (Error, OOMKilled, ...) and termination message (QEMU's error). */
export function launcherTermination(pod: KubeObject): { reason: string; message: string; exitCode?: number } | undefined {
  const t = computeState(pod)?.terminated;
  return t ? { reason: t.reason ?? (t.exitCode ? 'Error' : 'Completed'), message: (t.message ?? '').trim(), ...(t.exitCode !== undefined ? { exitCode: t.exitCode } : {}) } : undefined;
}
