/**
 * The pod garbage collector (upstream's pkg/controller/podgc). Every 20 s it sweeps all pods and
 * force-deletes (grace period 0) those no kubelet will ever finish:
 *  - terminated pods (Succeeded/Failed) beyond --terminated-pod-gc-threshold (12500; 0 turns
 *    this off), evicted ones first, then the oldest;
 *  - terminating pods on a node that is not Ready and carries the non-graceful node shutdown
 *    taint `node.kubernetes.io/out-of-service` (an admin or fencing agent declared it powered
 *    off, so nothing runs there any more);
 *  - orphaned pods, bound to a node that no longer exists: a node missing from the cache is
 *    quarantined for 40 s, then asked of the API, so a node merely late in the cache is spared;
 *    they get the DisruptionTarget condition (DeletionByPodGC);
 *  - terminating pods that were never scheduled.
 * A pod not yet Succeeded or Failed is marked Failed before its deletion: with no kubelet to
 * report its end, owners (Jobs, VMIs) would otherwise never see one.
 */
import { isConflict, isNotFound, runController, WorkQueue } from '../client/index.js';
import type { KubeObject } from '../util/object.js';
import type { ControllerSpec } from './context.js';
import { type Condition, isNodeReady, isPodTerminal, NODES, nodeSpec, podNodeName, podPhase, PODS, rfc3339 } from './util/nodes.js';

/** The non-graceful node shutdown taint (upstream's v1.TaintNodeOutOfService). */
export const TAINT_OUT_OF_SERVICE = 'node.kubernetes.io/out-of-service';

export interface PodGcSettings {
  /** How often the sweep runs (upstream's gcCheckPeriod, 20 s). */
  podGcPeriodMs?: number;
  /** How long a node missing from the cache waits before the API is asked (upstream's quarantineTime, 40 s). */
  podGcQuarantineMs?: number;
  /** Terminated pods kept before the oldest go (kube-controller-manager's default 12500; 0 keeps them all). */
  terminatedPodGcThreshold?: number;
}

const SWEEP_KEY = 'sweep';

/** kubelet's eviction.PodIsEvicted. */
const isEvicted = (p: KubeObject) => podPhase(p) === 'Failed' && (p.status as { reason?: string } | undefined)?.reason === 'Evicted';
const created = (p: KubeObject) => Date.parse(p.metadata.creationTimestamp ?? '') || 0;

/** Upstream's byEvictionAndCreationTimestamp: evicted pods first, then the oldest, names breaking ties. */
export function byEvictionAndCreation(a: KubeObject, b: KubeObject): number {
  if (isEvicted(a) !== isEvicted(b)) return isEvicted(a) ? -1 : 1;
  if (created(a) !== created(b)) return created(a) - created(b);
  return (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
}

export const podGcController: ControllerSpec = {
  name: 'pod-garbage-collector',
  start(ctx) {
    const s = ctx.settings as typeof ctx.settings & PodGcSettings;
    const period = s.podGcPeriodMs ?? 20_000;
    const quarantine = s.podGcQuarantineMs ?? 40_000;
    const threshold = s.terminatedPodGcThreshold ?? 12_500;
    const podsInf = ctx.informers.forResource<KubeObject>(PODS);
    const nodesInf = ctx.informers.forResource<KubeObject>(NODES);
    const pods = ctx.client.resource(PODS);
    const nodes = ctx.client.resource(NODES);
    /** Node name → when its quarantine ends (upstream's delaying nodeQueue). */
    const quarantined = new Map<string, number>();
    const logError = (msg: string, pod: KubeObject, e: unknown) =>
      ctx.logger({ level: 'error', msg, controller: 'pod-garbage-collector', pod: `${pod.metadata.namespace}/${pod.metadata.name}`, error: (e as Error).message });

    /** markFailedAndDeletePodWithCondition: Failed (with the condition) unless already ended, then a deletion with grace period 0. */
    async function markFailedAndDelete(pod: KubeObject, condition?: Condition): Promise<void> {
      const ns = pod.metadata.namespace;
      ctx.logger({ level: 'info', msg: 'PodGC is force deleting Pod', pod: `${ns}/${pod.metadata.name}` });
      try {
        if (!isPodTerminal(pod)) {
          const next = structuredClone(pod);
          const st = (next.status ??= {}) as { phase?: string; conditions?: Condition[] };
          st.phase = 'Failed';
          if (condition) st.conditions = [...(st.conditions ?? []).filter((c) => c.type !== condition.type), condition];
          await pods.updateStatus(next);
        }
        await pods.delete(pod.metadata.name!, { namespace: ns, gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
      } catch (e) {
        // Gone already, or changed since the cache saw it: the next sweep looks again.
        if (isNotFound(e) || isConflict(e)) return;
        logError('PodGC could not delete the pod', pod, e);
      }
    }

    async function gcTerminated(all: KubeObject[]): Promise<void> {
      const terminated = all.filter(isPodTerminal);
      const excess = terminated.length - threshold;
      if (excess <= 0) return;
      await Promise.all(terminated.sort(byEvictionAndCreation).slice(0, excess).map((p) => markFailedAndDelete(p)));
    }

    async function gcTerminating(all: KubeObject[]): Promise<void> {
      const outOfService = (name: string) => {
        const node = nodesInf.store.get(name);
        return !!node && !isNodeReady(node) && (nodeSpec(node).taints ?? []).some((t) => t.key === TAINT_OUT_OF_SERVICE);
      };
      const doomed = all.filter((p) => p.metadata.deletionTimestamp && podNodeName(p) && outOfService(podNodeName(p)));
      await Promise.all(doomed.sort(byEvictionAndCreation).map((p) => markFailedAndDelete(p)));
    }

    async function gcOrphaned(all: KubeObject[]): Promise<void> {
      const now = Date.now();
      for (const p of all) {
        const node = podNodeName(p);
        if (node && !nodesInf.store.get(node) && !quarantined.has(node)) quarantined.set(node, now + quarantine);
      }
      const deleted = new Set<string>();
      for (const [node, until] of quarantined) {
        if (until > now) continue;
        quarantined.delete(node);
        if (nodesInf.store.get(node)) continue;
        try {
          await nodes.get(node);
        } catch (e) {
          if (isNotFound(e)) deleted.add(node);
          // Any other error: the node comes back into quarantine on the next sweep if still needed.
        }
      }
      const condition: Condition = { type: 'DisruptionTarget', status: 'True', reason: 'DeletionByPodGC', message: 'PodGC: node no longer exists', lastTransitionTime: rfc3339() };
      for (const p of all) if (deleted.has(podNodeName(p))) await markFailedAndDelete(p, condition);
    }

    async function gcUnscheduledTerminating(all: KubeObject[]): Promise<void> {
      for (const p of all) if (p.metadata.deletionTimestamp && !podNodeName(p)) await markFailedAndDelete(p);
    }

    const queue = new WorkQueue<string>({ name: 'pod-garbage-collector' });
    queue.add(SWEEP_KEY);
    const controller = runController({
      name: 'pod-garbage-collector',
      queue,
      informers: [podsInf, nodesInf],
      workers: 1,
      signal: ctx.signal,
      logger: ctx.logger,
      reconcile: async () => {
        if (threshold > 0) await gcTerminated(podsInf.store.list());
        await gcTerminating(podsInf.store.list());
        await gcOrphaned(podsInf.store.list());
        await gcUnscheduledTerminating(podsInf.store.list());
        return { requeueAfterMs: period };
      },
    });
    return controller;
  },
};
