/**
 * The ReplicaSet controller (upstream pkg/controller/replicaset): keeps spec.replicas active pods
 * that match the selector. It adopts matching orphans and releases owned pods that no longer
 * match (ControllerRefManager), creates missing pods from the template in slow-start batches
 * (1, 2, 4, ... so a failing create is tried once, not N times) and deletes surplus pods in
 * upstream's order (unscheduled, pending, not ready, ... newer first). Expectations stop it
 * acting twice on a cache that has not caught up with its own creates and deletes. Status
 * reports replicas, fullyLabeledReplicas, readyReplicas, availableReplicas (minReadySeconds),
 * observedGeneration and the ReplicaFailure condition; Events are SuccessfulCreate,
 * SuccessfulDelete, FailedCreate and FailedDelete with upstream's messages.
 */
import { finalStateOf, isConflict, isNotFound, type Informer, type ResourceClient } from '../client/index.js';
import { labelSelectorAsSelector } from '../kinds/label-selector.js';
import type { KubeObject } from '../util/object.js';
import { type ControllerContext, type ControllerSpec, objectKeyOf, simpleController } from './context.js';
import type { EventRecorder } from './events.js';
import {
  type Condition,
  REPLICASETS,
  type ReplicaSet,
  type ReplicaSetStatus,
  getCondition,
  newCondition,
  nowTime,
  removeCondition,
  setCondition,
  specReplicas,
} from './deployment/util.js';
import { claimObjects, CONTROLLER_UID_INDEX, controllerRefOf, newControllerRef, ORPHAN_NAMESPACE_INDEX } from './util/controller-ref.js';
import { Expectations } from './util/expectations.js';
import { isPodActive, isPodAvailable, isPodReady, podAvailableAt } from './util/pod-state.js';
import { rankPodsForDeletion } from './util/pod-ranking.js';
import { PODS, withControllerIndex } from './util/workload-refs.js';

/** Upstream BurstReplicas: the most pods created or deleted in one sync. */
export const BURST_REPLICAS = 500;
/** Upstream SlowStartInitialBatchSize. */
const SLOW_START_INITIAL_BATCH = 1;
/** While expectations are pending, look again after this long in case a watch event was lost. */
const EXPECTATIONS_RECHECK_MS = 31_000;
const NAMESPACE_TERMINATING_CAUSE = 'NamespaceTerminating';

/** Runs fn count times in batches of 1, 2, 4, ...; stops at the first batch with a failure. */
export async function slowStartBatch(count: number, initial: number, fn: () => Promise<void>): Promise<{ successes: number; error?: unknown }> {
  let remaining = count;
  let successes = 0;
  for (let batch = Math.min(remaining, initial); batch > 0; batch = Math.min(2 * batch, remaining)) {
    const results = await Promise.allSettled(Array.from({ length: batch }, () => fn()));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    successes += batch - failed.length;
    if (failed.length) return { successes, error: failed[0].reason };
    remaining -= batch;
  }
  return { successes };
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function hasNamespaceTerminatingCause(e: unknown): boolean {
  const details = (e as { status?: { details?: { causes?: { type?: string }[] } } })?.status?.details;
  return !!details?.causes?.some((c) => c.type === NAMESPACE_TERMINATING_CAUSE);
}

class PodGone extends Error {}

const podsPrefix = (name: string): string => (name.length + 1 > 253 ? name : `${name}-`);

/** GetPodFromTemplate: the pod a controller creates from its template. */
export function podFromTemplate(owner: ReplicaSet, ownerApiVersion: string, ownerKind: string): KubeObject {
  const t = owner.spec.template ?? {};
  const meta = (t.metadata ?? {}) as { labels?: Record<string, string>; annotations?: Record<string, string>; finalizers?: string[] };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: podsPrefix(owner.metadata.name!),
      namespace: owner.metadata.namespace,
      ...(meta.labels ? { labels: { ...meta.labels } } : {}),
      ...(meta.annotations ? { annotations: { ...meta.annotations } } : {}),
      ...(meta.finalizers ? { finalizers: [...meta.finalizers] } : {}),
      ownerReferences: [newControllerRef(owner, ownerApiVersion, ownerKind)],
    },
    spec: structuredClone(t.spec ?? {}),
  };
}

/** calculateStatus: counts over the active pods the ReplicaSet owns. */
export function calculateReplicaSetStatus(rs: ReplicaSet, pods: KubeObject[], manageErr: unknown, now = Date.now()): ReplicaSetStatus {
  const status: ReplicaSetStatus = structuredClone(rs.status ?? {});
  const templateLabels = rs.spec.template?.metadata?.labels ?? {};
  const minReady = rs.spec.minReadySeconds ?? 0;
  let fullyLabeled = 0;
  let ready = 0;
  let available = 0;
  for (const p of pods) {
    const labels = p.metadata.labels ?? {};
    if (Object.entries(templateLabels).every(([k, v]) => labels[k] === v)) fullyLabeled++;
    if (isPodReady(p)) {
      ready++;
      if (isPodAvailable(p, minReady, now)) available++;
    }
  }
  const failure = getCondition(status.conditions, 'ReplicaFailure');
  if (manageErr !== undefined && !failure) {
    const diff = pods.length - specReplicas(rs);
    const reason = diff < 0 ? 'FailedCreate' : diff > 0 ? 'FailedDelete' : '';
    setCondition(status, newCondition('ReplicaFailure', 'True', reason, errorMessage(manageErr), nowTime(now)) as Condition);
    // ReplicaSet conditions carry no lastUpdateTime.
    const c = getCondition(status.conditions, 'ReplicaFailure')!;
    delete c.lastUpdateTime;
  } else if (manageErr === undefined && failure) {
    removeCondition(status, 'ReplicaFailure');
  }
  status.replicas = pods.length;
  status.fullyLabeledReplicas = fullyLabeled;
  status.readyReplicas = ready;
  status.availableReplicas = available;
  return status;
}

function sameStatus(a: ReplicaSetStatus | undefined, b: ReplicaSetStatus): boolean {
  const x = a ?? {};
  return (
    (x.replicas ?? 0) === (b.replicas ?? 0) &&
    (x.fullyLabeledReplicas ?? 0) === (b.fullyLabeledReplicas ?? 0) &&
    (x.readyReplicas ?? 0) === (b.readyReplicas ?? 0) &&
    (x.availableReplicas ?? 0) === (b.availableReplicas ?? 0) &&
    JSON.stringify(x.conditions ?? []) === JSON.stringify(b.conditions ?? [])
  );
}

export interface PodOwnerControllerOptions {
  /** Name of the controller, its queue and metrics. */
  name: string;
  /** Event source component. */
  component: string;
  ref: typeof REPLICASETS;
  apiVersion: string;
  kind: string;
}

/**
 * The ReplicaSet reconcile loop, written over a ResourceRef so a ReplicationController loop
 * could reuse it (upstream shares this code between the two).
 */
export function startReplicaSetLike(ctx: ControllerContext, o: PodOwnerControllerOptions) {
  const rsInf = withControllerIndex(ctx.informers.forResource<ReplicaSet>(o.ref));
  const podInf = withControllerIndex(ctx.informers.forResource<KubeObject>(PODS));
  const rsClient = ctx.client.resource<ReplicaSet>(o.ref);
  const podClient = ctx.client.resource<KubeObject>(PODS);
  const recorder = ctx.recorder(o.component);
  const expectations = new Expectations();

  const resolveOwner = (pod: KubeObject): ReplicaSet | undefined => {
    const ref = controllerRefOf(pod);
    if (!ref || ref.kind !== o.kind || ref.apiVersion.split('/')[0] !== o.apiVersion.split('/')[0]) return undefined;
    const rs = rsInf.store.getByName(ref.name, pod.metadata.namespace);
    return rs && rs.metadata.uid === ref.uid ? rs : undefined;
  };
  /** ReplicaSets in the pod's namespace whose selector matches it (for orphans). */
  const matchingOwners = (pod: KubeObject): ReplicaSet[] =>
    rsInf.store.byNamespace(pod.metadata.namespace ?? '').filter((rs) => {
      const sel = labelSelectorAsSelector(rs.spec.selector);
      return !!sel && !sel.empty && sel.matches(pod.metadata.labels);
    });

  const { controller, queue } = simpleController(ctx, {
    name: o.name,
    primary: rsInf as unknown as Informer<KubeObject>,
    secondary: [podInf],
    workers: 4,
    // A conflict means a newer version exists; its watch event queues the key again.
    reconcile: (key) => reconcile(key).catch((e: unknown) => (isConflict(e) ? undefined : Promise.reject(e))),
  });
  const enqueue = (rs: ReplicaSet) => queue.add(objectKeyOf(rs));

  const podDeleted = (pod: KubeObject) => {
    const rs = resolveOwner(pod);
    if (!rs) return;
    const rsKey = objectKeyOf(rs);
    expectations.deletionObserved(rsKey, objectKeyOf(pod));
    enqueue(rs);
  };

  podInf.addEventHandler({
    onAdd(pod) {
      if (pod.metadata.deletionTimestamp) return podDeleted(pod);
      if (controllerRefOf(pod)) {
        const rs = resolveOwner(pod);
        if (!rs) return;
        expectations.creationObserved(objectKeyOf(rs));
        enqueue(rs);
        return;
      }
      for (const rs of matchingOwners(pod)) enqueue(rs);
    },
    onUpdate(old, cur) {
      if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
      const labelsChanged = JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(cur.metadata.labels ?? {});
      if (cur.metadata.deletionTimestamp) {
        podDeleted(cur);
        if (labelsChanged) podDeleted(old);
        return;
      }
      const curRef = controllerRefOf(cur);
      const oldRef = controllerRefOf(old);
      const refChanged = JSON.stringify(curRef ?? null) !== JSON.stringify(oldRef ?? null);
      if (refChanged && oldRef) {
        const rs = resolveOwner(old);
        if (rs) enqueue(rs);
      }
      if (curRef) {
        const rs = resolveOwner(cur);
        if (rs) enqueue(rs);
        return;
      }
      if (labelsChanged || refChanged) for (const rs of matchingOwners(cur)) enqueue(rs);
    },
    onDelete(obj) {
      podDeleted(finalStateOf(obj));
    },
  });

  async function reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
    const cached = rsInf.store.get(key);
    if (!cached) {
      expectations.forget(key);
      return;
    }
    const rs = structuredClone(cached) as ReplicaSet;
    const needsSync = expectations.satisfied(key);
    const selector = labelSelectorAsSelector(rs.spec.selector);
    if (!selector) {
      ctx.logger({ level: 'error', msg: 'invalid selector', controller: o.name, key });
      return;
    }
    const ns = rs.metadata.namespace!;
    // Only active pods count; candidates are those we control and orphans the selector matches
    // (from the indexes: scanning every pod of the namespace per sync was quadratic at scale).
    const candidates = [
      ...podInf.store.byIndex(CONTROLLER_UID_INDEX, rs.metadata.uid!).filter((p) => isPodActive(p) && p.metadata.namespace === ns),
      ...podInf.store.byIndex(ORPHAN_NAMESPACE_INDEX, ns).filter((p) => isPodActive(p) && selector.matches(p.metadata.labels)),
    ];
    const pods = await claim(rs, selector, candidates);

    let manageErr: unknown;
    let requeueAfterMs: number | undefined;
    if (needsSync && !rs.metadata.deletionTimestamp) {
      try {
        await manageReplicas(rs, pods, key);
      } catch (e) {
        manageErr = e;
      }
    } else if (!needsSync) requeueAfterMs = EXPECTATIONS_RECHECK_MS;

    const now = Date.now();
    const status = calculateReplicaSetStatus(rs, pods, manageErr, now);
    const updated = await updateStatus(rs, status);
    if (manageErr !== undefined) throw manageErr;
    // Pods that are ready but not yet available become available later: look again then.
    const minReady = updated.spec.minReadySeconds ?? 0;
    if (minReady > 0) {
      const pending = pods
        .filter((p) => isPodReady(p) && !isPodAvailable(p, minReady, now))
        .map((p) => podAvailableAt(p, minReady) ?? now);
      if (pending.length) {
        const wait = Math.max(0, Math.min(...pending) - now) + 100;
        requeueAfterMs = requeueAfterMs === undefined ? wait : Math.min(requeueAfterMs, wait);
      }
    }
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  }

  async function claim(rs: ReplicaSet, selector: NonNullable<ReturnType<typeof labelSelectorAsSelector>>, candidates: KubeObject[]): Promise<KubeObject[]> {
    const orphans = candidates.some((p) => !controllerRefOf(p));
    let canAdopt = false;
    if (orphans && !rs.metadata.deletionTimestamp) {
      // RecheckDeletionTimestamp: adopt only if a fresh read shows the owner alive and the same.
      try {
        const fresh = await rsClient.get(rs.metadata.name!, rs.metadata.namespace);
        canAdopt = fresh.metadata.uid === rs.metadata.uid && !fresh.metadata.deletionTimestamp;
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    return claimObjects(podClient as ResourceClient<KubeObject>, rs, selector, candidates, newControllerRef(rs, o.apiVersion, o.kind), () => canAdopt);
  }

  async function manageReplicas(rs: ReplicaSet, pods: KubeObject[], key: string): Promise<void> {
    let diff = pods.length - specReplicas(rs);
    if (diff < 0) {
      diff = Math.min(-diff, BURST_REPLICAS);
      expectations.expectCreations(key, diff);
      const template = podFromTemplate(rs, o.apiVersion, o.kind);
      const { successes, error } = await slowStartBatch(diff, SLOW_START_INITIAL_BATCH, () => createPod(rs, template, recorder));
      // Pods never attempted (or failed) will never be observed.
      for (let i = successes; i < diff; i++) expectations.creationObserved(key);
      if (error !== undefined) throw error;
    } else if (diff > 0) {
      diff = Math.min(diff, BURST_REPLICAS);
      const related = relatedPods(rs);
      const victims = diff < pods.length ? rankPodsForDeletion(pods, related).slice(0, diff) : pods;
      for (const p of victims) expectations.expectDeletion(key, objectKeyOf(p));
      const results = await Promise.allSettled(victims.map((p) => deletePod(rs, p, recorder)));
      let firstErr: unknown;
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') return;
        expectations.deletionObserved(key, objectKeyOf(victims[i]));
        if (!(r.reason instanceof PodGone) && firstErr === undefined) firstErr = r.reason;
      });
      if (firstErr !== undefined) throw firstErr;
    }
  }

  /** getIndirectlyRelatedPods: active pods of every ReplicaSet sharing this one's controller (or just its own). */
  function relatedPods(rs: ReplicaSet): KubeObject[] {
    const owner = controllerRefOf(rs);
    const family = owner ? rsInf.store.byIndex(CONTROLLER_UID_INDEX, owner.uid) : [rs];
    const out: KubeObject[] = [];
    for (const r of family.length ? family : [rs]) out.push(...podInf.store.byIndex(CONTROLLER_UID_INDEX, r.metadata.uid!).filter(isPodActive));
    return out;
  }

  async function createPod(rs: ReplicaSet, template: KubeObject, rec: EventRecorder): Promise<void> {
    if (Object.keys(template.metadata.labels ?? {}).length === 0) throw new Error('unable to create pods, no labels');
    try {
      const pod = await podClient.create(structuredClone(template), { namespace: rs.metadata.namespace });
      rec.event(rs, 'Normal', 'SuccessfulCreate', `Created pod: ${pod.metadata.name}`);
    } catch (e) {
      // A terminating namespace refuses every create: nothing to report, nothing to retry.
      if (hasNamespaceTerminatingCause(e)) return;
      rec.event(rs, 'Warning', 'FailedCreate', `Error creating: ${errorMessage(e)}`);
      throw e;
    }
  }

  async function deletePod(rs: ReplicaSet, pod: KubeObject, rec: EventRecorder): Promise<void> {
    try {
      await podClient.delete(pod.metadata.name!, { namespace: pod.metadata.namespace, preconditions: { uid: pod.metadata.uid } });
      rec.event(rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
    } catch (e) {
      // Not found, or a precondition failure (the name now belongs to another pod): it is gone.
      if (isNotFound(e) || isConflict(e)) throw new PodGone();
      rec.event(rs, 'Warning', 'FailedDelete', `Error deleting: ${errorMessage(e)}`);
      throw new Error(`unable to delete pods: ${errorMessage(e)}`);
    }
  }

  /** updateReplicaSetStatus: writes only on change; one retry on a fresh copy after a conflict. */
  async function updateStatus(rs: ReplicaSet, status: ReplicaSetStatus): Promise<ReplicaSet> {
    let cur = rs;
    for (let attempt = 0; ; attempt++) {
      if (sameStatus(cur.status, status) && cur.metadata.generation === cur.status?.observedGeneration) return cur;
      const next = { ...cur, status: { ...status, observedGeneration: cur.metadata.generation } } as ReplicaSet;
      try {
        return await rsClient.updateStatus(next);
      } catch (e) {
        if (attempt >= 1 || !isConflict(e)) throw e;
        try {
          cur = await rsClient.get(rs.metadata.name!, rs.metadata.namespace);
        } catch (g) {
          if (isNotFound(g)) return cur;
          throw g;
        }
      }
    }
  }

  return controller;
}

export const replicaSetController: ControllerSpec = {
  name: 'replicaset',
  start(ctx) {
    return startReplicaSetLike(ctx, { name: 'replicaset', component: 'replicaset-controller', ref: REPLICASETS, apiVersion: 'apps/v1', kind: 'ReplicaSet' });
  },
};
