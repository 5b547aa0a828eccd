/** Pod condition helpers (upstream podutil): readiness, availability, activity. */
import type { KubeObject } from '../../util/object.js';

export interface PodCondition {
  type: string;
  status: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface PodStatus {
  phase?: string;
  conditions?: PodCondition[];
  containerStatuses?: { name?: string; restartCount?: number; state?: { terminated?: { exitCode?: number; finishedAt?: string; reason?: string } } }[];
  startTime?: string;
}

export const podStatusOf = (p: KubeObject): PodStatus => (p.status ?? {}) as PodStatus;
export const podPhase = (p: KubeObject): string => podStatusOf(p).phase ?? 'Pending';

export function podCondition(p: KubeObject, type: string): PodCondition | undefined {
  return podStatusOf(p).conditions?.find((c) => c.type === type);
}

/** Ready condition True (podutil.IsPodReady). */
export const isPodReady = (p: KubeObject): boolean => podCondition(p, 'Ready')?.status === 'True';

/** Ready for at least minReadySeconds at `now` (podutil.IsPodAvailable). */
export function isPodAvailable(p: KubeObject, minReadySeconds: number, now = Date.now()): boolean {
  const c = podCondition(p, 'Ready');
  if (c?.status !== 'True') return false;
  if (!minReadySeconds) return true;
  const since = c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : NaN;
  return !Number.isNaN(since) && since + minReadySeconds * 1000 <= now;
}

/** When a ready pod becomes available (for a requeue), or undefined if it is not ready. */
export function podAvailableAt(p: KubeObject, minReadySeconds: number): number | undefined {
  const c = podCondition(p, 'Ready');
  if (c?.status !== 'True') return undefined;
  const since = c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : Date.now();
  return since + minReadySeconds * 1000;
}

export const isPodTerminal = (p: KubeObject): boolean => {
  const ph = podPhase(p);
  return ph === 'Succeeded' || ph === 'Failed';
};

export const isPodTerminating = (p: KubeObject): boolean => !!p.metadata.deletionTimestamp;

/** Not terminal and not being deleted (controller.IsPodActive). */
export const isPodActive = (p: KubeObject): boolean => !isPodTerminal(p) && !isPodTerminating(p);

export const isRunningAndReady = (p: KubeObject): boolean => podPhase(p) === 'Running' && isPodReady(p);
