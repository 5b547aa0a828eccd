/**
 * Which pods a controller deletes first when it scales down: upstream's ActivePodsWithRanks
 * ordering (controller_utils.go) with PodDeletionCost and LogarithmicScaleDown on, as they are by
 * default. Smaller sorts first and is deleted first:
 *   unassigned < assigned; Pending < Unknown < Running; not ready < ready; lower
 *   controller.kubernetes.io/pod-deletion-cost first; more related pods on the same node first;
 *   ready for less time first (log2 buckets); more container restarts first; newer first.
 */
import type { KubeObject } from '../../util/object.js';
import { isPodActive, isPodReady, podCondition, podPhase, podStatusOf } from './pod-state.js';

export const POD_DELETION_COST_ANNOTATION = 'controller.kubernetes.io/pod-deletion-cost';

const PHASE_ORDINAL: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

interface PodSpecLike {
  nodeName?: string;
}
const nodeOf = (p: KubeObject) => (p.spec as PodSpecLike | undefined)?.nodeName ?? '';

/** GetDeletionCostFromPodAnnotations: an int32, 0 when absent or malformed. */
export function podDeletionCost(p: KubeObject): number {
  const v = p.metadata.annotations?.[POD_DELETION_COST_ANNOTATION];
  if (v === undefined || !/^[+-]?\d+$/.test(v.trim())) return 0;
  const n = Number(v);
  return n >= -2147483648 && n <= 2147483647 ? n : 0;
}

const time = (s: string | undefined): number | undefined => {
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
};

/** log2 of the age in nanoseconds, -1 for no age (logarithmicRankDiff's buckets). */
function logRank(t: number, now: number): number {
  const d = (now - t) * 1e6;
  return d > 0 ? Math.floor(Math.log2(d)) : -1;
}

function maxRestarts(p: KubeObject): number {
  return Math.max(0, ...(podStatusOf(p).containerStatuses ?? []).map((c) => c.restartCount ?? 0));
}

/** Compares two times: zero (undefined) first, then later first, in log2 buckets; 0 when tied. */
function compareAge(a: number | undefined, b: number | undefined, now: number): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  const diff = logRank(a, now) - logRank(b, now);
  return diff;
}

/**
 * Orders `pods` (a copy) for deletion; `related` are the active pods of the same owner family
 * (the pods of ReplicaSets sharing a controller), counted per node for the "doubled up" rule.
 */
export function rankPodsForDeletion<T extends KubeObject>(pods: T[], related: KubeObject[], now = Date.now()): T[] {
  const onNode = new Map<string, number>();
  for (const p of related) if (isPodActive(p)) onNode.set(nodeOf(p), (onNode.get(nodeOf(p)) ?? 0) + 1);
  const rank = new Map<T, number>(pods.map((p) => [p, onNode.get(nodeOf(p)) ?? 0]));
  const less = (a: T, b: T): number => {
    const na = nodeOf(a);
    const nb = nodeOf(b);
    if (na !== nb && (na === '' || nb === '')) return na === '' ? -1 : 1;
    const pa = PHASE_ORDINAL[podPhase(a)] ?? 0;
    const pb = PHASE_ORDINAL[podPhase(b)] ?? 0;
    if (pa !== pb) return pa - pb;
    const ra = isPodReady(a);
    const rb = isPodReady(b);
    if (ra !== rb) return ra ? 1 : -1;
    const ca = podDeletionCost(a);
    const cb = podDeletionCost(b);
    if (ca !== cb) return ca - cb;
    if (rank.get(a) !== rank.get(b)) return rank.get(b)! - rank.get(a)!;
    if (ra && rb) {
      const ta = time(podCondition(a, 'Ready')?.lastTransitionTime);
      const tb = time(podCondition(b, 'Ready')?.lastTransitionTime);
      if (ta !== tb) {
        if (ta === undefined || tb === undefined) return ta === undefined ? -1 : 1;
        const d = compareAge(ta, tb, now);
        if (d !== 0) return d;
        return (a.metadata.uid ?? '') < (b.metadata.uid ?? '') ? -1 : 1;
      }
    }
    const restarts = maxRestarts(b) - maxRestarts(a);
    if (restarts !== 0) return restarts;
    const ka = time(a.metadata.creationTimestamp);
    const kb = time(b.metadata.creationTimestamp);
    if (ka !== kb) {
      const d = compareAge(ka, kb, now);
      if (d !== 0) return d;
      return (a.metadata.uid ?? '') < (b.metadata.uid ?? '') ? -1 : 1;
    }
    return 0;
  };
  return [...pods].sort(less);
}
