/**
 * The Deployment controller (upstream pkg/controller/deployment): rolls a pod template out over
 * ReplicaSets. Each template gets a ReplicaSet named `<deployment>-<pod-template-hash>` whose
 * selector and template carry the hash label; the revision annotation numbers them, so an old
 * ReplicaSet whose template comes back (`kubectl rollout undo`) is reused with the next revision.
 *  - RollingUpdate: the new ReplicaSet grows while the pod total stays within replicas+maxSurge,
 *    old ones shrink while availability stays at least replicas-maxUnavailable;
 *  - Recreate: old ReplicaSets go to zero, and only when their pods are gone does the new one grow;
 *  - a replicas change mid-rollout is spread over the active ReplicaSets in proportion
 *    (desired-replicas / max-replicas annotations), as is scaling a paused Deployment;
 *  - revisionHistoryLimit old, empty ReplicaSets are kept; older ones are deleted;
 *  - status: replicas, updated/ready/available/unavailable counts, observedGeneration,
 *    collisionCount, and the Progressing (progressDeadlineSeconds) and Available conditions.
 *
 * Counting for the surge and availability fences is deliberately conservative where the
 * ReplicaSet controller has not caught up yet: a ReplicaSet counts max(spec.replicas,
 * status.replicas) pods and min(status.availableReplicas, spec.replicas) available ones, so the
 * bounds hold for the pods that exist, not only for the specs.
 */
import { finalStateOf, isAlreadyExists, isConflict, isNotFound, type Informer, type ResourceClient } from '../client/index.js';
import { labelSelectorAsSelector, isEmptyLabelSelector, type Selector } from '../kinds/label-selector.js';
import type { KubeObject } from '../util/object.js';
import { type ControllerSpec, objectKeyOf, simpleController } from './context.js';
import {
  activeReplicaSets,
  byCreation,
  byRevision,
  bySizeNewer,
  bySizeOlder,
  type Deployment,
  DEPLOYMENTS,
  type DeploymentStatus,
  desiredReplicasAnnotation,
  equalIgnoreHash,
  getCondition,
  hasProgressDeadline,
  hasRevisionHistoryLimit,
  isRollingUpdate,
  maxReplicasAnnotation,
  maxRevision,
  maxSurge,
  maxUnavailable,
  newCondition,
  POD_TEMPLATE_HASH_LABEL,
  REASON_FAILED_RS_CREATE,
  REASON_FOUND_NEW_RS,
  REASON_MIN_AVAILABLE,
  REASON_MIN_UNAVAILABLE,
  REASON_NEW_RS_AVAILABLE,
  REASON_NEW_RS_CREATED,
  REASON_PAUSED,
  REASON_RESUMED,
  REASON_RS_UPDATED,
  REASON_TIMED_OUT,
  removeCondition,
  replicasAnnotationsNeedUpdate,
  REPLICASETS,
  type ReplicaSet,
  REVISION_ANNOTATION,
  setCondition,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
  specReplicas,
  sumSpecReplicas,
  sumStatus,
} from './deployment/util.js';
import { claimObjects, controllerRefOf, newControllerRef } from './util/controller-ref.js';
import { CONTROLLER_UID_INDEX } from './util/controller-ref.js';
import { podPhase } from './util/pod-state.js';
import { computeHash } from './util/template-hash.js';
import { PODS, withControllerIndex } from './util/workload-refs.js';

const NAMESPACE_TERMINATING_CAUSE = 'NamespaceTerminating';
/** How long a sync waits for the cache to show our own ReplicaSet writes before going ahead anyway. */
const UNOBSERVED_TTL_MS = 5_000;

/** a >= b for resourceVersions (decimal revisions here; otherwise only equality is known). */
function rvAtLeast(a: string, b: string): boolean {
  if (a === b) return true;
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return BigInt(a) >= BigInt(b);
  return false;
}

const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));
function hasNamespaceTerminatingCause(e: unknown): boolean {
  const details = (e as { status?: { details?: { causes?: { type?: string }[] } } })?.status?.details;
  return !!details?.causes?.some((c) => c.type === NAMESPACE_TERMINATING_CAUSE);
}

/** Pods a ReplicaSet may have now: its spec, or more while the ReplicaSet controller catches up. */
const podsOf = (rs: ReplicaSet) => Math.max(specReplicas(rs), rs.status?.replicas ?? 0);
/** Available pods a ReplicaSet can be counted on for, once it has scaled to its spec. */
const availableOf = (rs: ReplicaSet | undefined) => (rs ? Math.min(rs.status?.availableReplicas ?? 0, specReplicas(rs)) : 0);

/** FindNewReplicaSet: the oldest ReplicaSet whose template equals the deployment's (hash label aside). */
export function findNewReplicaSet(d: Deployment, rsList: ReplicaSet[]): ReplicaSet | undefined {
  return [...rsList].sort(byCreation).find((rs) => equalIgnoreHash(rs.spec.template, d.spec.template));
}

/** NewRSNewReplicas: how big the new ReplicaSet may be now. */
export function newRSNewReplicas(d: Deployment, allRSs: ReplicaSet[], newRS: ReplicaSet): number {
  const replicas = specReplicas(d);
  if (!isRollingUpdate(d)) return replicas;
  const current = allRSs.reduce((n, rs) => n + podsOf(rs), 0);
  const maxTotal = replicas + maxSurge(d);
  if (current >= maxTotal) return specReplicas(newRS);
  const scaleUp = Math.min(maxTotal - current, replicas - specReplicas(newRS));
  return specReplicas(newRS) + scaleUp;
}

/** IsSaturated: the new ReplicaSet has every desired replica, available. */
function isSaturated(d: Deployment, rs: ReplicaSet | undefined): boolean {
  if (!rs) return false;
  const desired = desiredReplicasAnnotation(rs);
  if (desired === undefined) return false;
  return specReplicas(rs) === specReplicas(d) && desired === specReplicas(d) && (rs.status?.availableReplicas ?? 0) === specReplicas(d);
}

/** FindActiveOrLatest: the only active ReplicaSet, or the newest when none is active. */
function findActiveOrLatest(newRS: ReplicaSet | undefined, oldRSs: ReplicaSet[]): ReplicaSet | undefined {
  if (!newRS && oldRSs.length === 0) return undefined;
  const olds = [...oldRSs].sort((a, b) => byCreation(b, a));
  const active = activeReplicaSets([...olds, newRS]);
  if (active.length === 0) return newRS ?? olds[0];
  if (active.length === 1) return active[0];
  return undefined;
}

/** getReplicaSetFraction / GetProportion: this ReplicaSet's share of a scaling event. */
function proportion(rs: ReplicaSet, d: Deployment, toAdd: number, added: number): number {
  if (specReplicas(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
  let fraction: number;
  if (specReplicas(d) === 0) fraction = -specReplicas(rs);
  else {
    const deploymentReplicas = specReplicas(d) + maxSurge(d);
    const annotated = maxReplicasAnnotation(rs) ?? d.status?.replicas ?? 0;
    // Go's RoundToInt32 rounds half away from zero.
    const size = annotated ? (specReplicas(rs) * deploymentReplicas) / annotated : specReplicas(rs);
    fraction = Math.sign(size) * Math.round(Math.abs(size)) - specReplicas(rs);
  }
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

/** DeploymentComplete. */
function deploymentComplete(d: Deployment, s: DeploymentStatus): boolean {
  const r = specReplicas(d);
  return (s.updatedReplicas ?? 0) === r && (s.replicas ?? 0) === r && (s.availableReplicas ?? 0) === r && (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
}

/** DeploymentProgressing: any sign of progress between the old status and the new. */
function deploymentProgressing(d: Deployment, s: DeploymentStatus): boolean {
  const o = d.status ?? {};
  const oldOld = (o.replicas ?? 0) - (o.updatedReplicas ?? 0);
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (
    (s.updatedReplicas ?? 0) > (o.updatedReplicas ?? 0) ||
    newOld < oldOld ||
    (s.readyReplicas ?? 0) > (o.readyReplicas ?? 0) ||
    (s.availableReplicas ?? 0) > (o.availableReplicas ?? 0)
  );
}

/** DeploymentTimedOut. */
function deploymentTimedOut(d: Deployment, s: DeploymentStatus, now: number): boolean {
  if (!hasProgressDeadline(d)) return false;
  const c = getCondition(s.conditions, 'Progressing');
  if (!c) return false;
  if (c.reason === REASON_NEW_RS_AVAILABLE) return false;
  if (c.reason === REASON_TIMED_OUT) return true;
  const from = Date.parse(c.lastUpdateTime ?? '');
  if (Number.isNaN(from)) return false;
  return from + d.spec.progressDeadlineSeconds! * 1000 < now;
}

/** calculateStatus: counts from the ReplicaSets and the Available condition. */
function calculateStatus(allRSs: ReplicaSet[], newRS: ReplicaSet | undefined, d: Deployment): DeploymentStatus {
  const available = sumStatus(allRSs, 'availableReplicas');
  const total = sumSpecReplicas(allRSs);
  const status: DeploymentStatus = {
    observedGeneration: d.metadata.generation,
    replicas: sumStatus(allRSs, 'replicas'),
    updatedReplicas: sumStatus([newRS], 'replicas'),
    readyReplicas: sumStatus(allRSs, 'readyReplicas'),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, total - available),
    ...(d.status?.collisionCount !== undefined ? { collisionCount: d.status.collisionCount } : {}),
  };
  if (d.status?.conditions?.length) status.conditions = structuredClone(d.status.conditions);
  if (available >= specReplicas(d) - maxUnavailable(d)) setCondition(status, newCondition('Available', 'True', REASON_MIN_AVAILABLE, 'Deployment has minimum availability.'));
  else setCondition(status, newCondition('Available', 'False', REASON_MIN_UNAVAILABLE, 'Deployment does not have minimum availability.'));
  return status;
}

function statusEqual(a: DeploymentStatus | undefined, b: DeploymentStatus): boolean {
  const norm = (s: DeploymentStatus | undefined) => {
    const x = s ?? {};
    return JSON.stringify([
      x.observedGeneration ?? 0,
      x.replicas ?? 0,
      x.updatedReplicas ?? 0,
      x.readyReplicas ?? 0,
      x.availableReplicas ?? 0,
      x.unavailableReplicas ?? 0,
      x.collisionCount ?? null,
      (x.conditions ?? []).map((c) => [c.type, c.status, c.reason, c.message, c.lastUpdateTime, c.lastTransitionTime]),
    ]);
  };
  return norm(a) === norm(b);
}

type Result = { requeueAfterMs?: number } | void;

export const deploymentController: ControllerSpec = {
  name: 'deployment',
  start(ctx) {
    const dInf = ctx.informers.forResource<Deployment>(DEPLOYMENTS);
    const rsInf = withControllerIndex(ctx.informers.forResource<ReplicaSet>(REPLICASETS));
    const podInf = withControllerIndex(ctx.informers.forResource<KubeObject>(PODS));
    const dClient = ctx.client.resource<Deployment>(DEPLOYMENTS);
    const rsClient = ctx.client.resource<ReplicaSet>(REPLICASETS);
    const recorder = ctx.recorder('deployment-controller');

    const { controller, queue } = simpleController(ctx, {
      name: 'deployment',
      primary: dInf as unknown as Informer<KubeObject>,
      secondary: [rsInf as unknown as Informer<KubeObject>, podInf],
      workers: 4,
      // A conflict means a newer version exists; its watch event queues the key again.
      reconcile: (key) => syncDeployment(key).catch((e: unknown) => (isConflict(e) ? undefined : Promise.reject(e))),
    });

    /**
     * ReplicaSet writes not yet seen in the cache, per Deployment key (uid -> resourceVersion).
     * A sync waits for them: deciding from a cache that lacks our own last write would size
     * ReplicaSets from stale numbers (upstream has that window; here writes are fast enough to hit it).
     */
    const unobserved = new Map<string, Map<string, { rv: string; at: number }>>();
    const recordWrite = (dKey: string, rs: ReplicaSet) => {
      let m = unobserved.get(dKey);
      if (!m) unobserved.set(dKey, (m = new Map()));
      m.set(rs.metadata.uid!, { rv: rs.metadata.resourceVersion!, at: Date.now() });
    };
    const observe = (rs: KubeObject, gone = false) => {
      const d = ownerOf(rs);
      const m = d && unobserved.get(objectKeyOf(d));
      const w = m?.get(rs.metadata.uid!);
      if (!m || !w) return;
      if (gone || rvAtLeast(rs.metadata.resourceVersion ?? '', w.rv)) m.delete(rs.metadata.uid!);
      if (m.size === 0) unobserved.delete(objectKeyOf(d!));
    };
    /** True while a write of ours to this Deployment's ReplicaSets is not in the cache yet. */
    const awaitingCache = (dKey: string): boolean => {
      const m = unobserved.get(dKey);
      if (!m) return false;
      for (const [uid, w] of m) if (Date.now() - w.at > UNOBSERVED_TTL_MS) m.delete(uid);
      if (m.size === 0) unobserved.delete(dKey);
      return m.size > 0;
    };

    const ownerOf = (rs: KubeObject): Deployment | undefined => {
      const ref = controllerRefOf(rs);
      if (!ref || ref.kind !== 'Deployment') return undefined;
      const d = dInf.store.getByName(ref.name, rs.metadata.namespace);
      return d && d.metadata.uid === ref.uid ? d : undefined;
    };
    const enqueue = (d: Deployment | undefined) => d && queue.add(objectKeyOf(d));
    const matchingDeployments = (rs: KubeObject) =>
      dInf.store.byNamespace(rs.metadata.namespace ?? '').filter((d) => {
        const sel = labelSelectorAsSelector(d.spec.selector);
        return !!sel && !sel.empty && sel.matches(rs.metadata.labels);
      });

    rsInf.addEventHandler({
      onAdd(rs) {
        observe(rs);
        if (controllerRefOf(rs)) return void enqueue(ownerOf(rs));
        if (rs.metadata.deletionTimestamp) return;
        for (const d of matchingDeployments(rs)) enqueue(d);
      },
      onUpdate(old, cur) {
        if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
        observe(cur);
        const curRef = controllerRefOf(cur);
        const oldRef = controllerRefOf(old);
        const refChanged = JSON.stringify(curRef ?? null) !== JSON.stringify(oldRef ?? null);
        if (refChanged && oldRef) enqueue(ownerOf(old));
        if (curRef) return void enqueue(ownerOf(cur));
        const labelsChanged = JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(cur.metadata.labels ?? {});
        if (labelsChanged || refChanged) for (const d of matchingDeployments(cur)) enqueue(d);
      },
      onDelete(obj) {
        observe(finalStateOf(obj), true);
        enqueue(ownerOf(finalStateOf(obj)));
      },
    });
    // Recreate waits for old pods to be gone: a pod going away may unblock it.
    podInf.addEventHandler({
      onDelete(obj) {
        const pod = finalStateOf(obj);
        const ref = controllerRefOf(pod);
        if (!ref || ref.kind !== 'ReplicaSet') return;
        const rs = rsInf.store.getByName(ref.name, pod.metadata.namespace);
        if (!rs || rs.metadata.uid !== ref.uid) return;
        const d = ownerOf(rs);
        if (d && !isRollingUpdate(d)) enqueue(d);
      },
    });

    /** One reconcile of one Deployment; `d` is a private copy whose resourceVersion follows our writes. */
    async function syncDeployment(key: string): Promise<Result> {
      const cached = dInf.store.get(key);
      if (!cached) return;
      const d = structuredClone(cached) as Deployment;
      d.status ??= {};
      if (!d.spec.selector || isEmptyLabelSelector(d.spec.selector)) {
        recorder.event(d, 'Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.');
        if ((d.status.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) {
          d.status.observedGeneration = d.metadata.generation;
          await updateStatus(d);
        }
        return;
      }
      const selector = labelSelectorAsSelector(d.spec.selector);
      if (!selector) return;
      // Our last ReplicaSet writes are on their way to the cache; their events queue us again.
      if (awaitingCache(key)) return { requeueAfterMs: UNOBSERVED_TTL_MS };
      const rsList = await getReplicaSetsForDeployment(d, selector);

      if (d.metadata.deletionTimestamp) {
        const { newRS, oldRSs } = await getAllReplicaSetsAndSyncRevision(d, rsList);
        return syncDeploymentStatus([...oldRSs, ...(newRS ? [newRS] : [])], newRS, d);
      }
      await checkPausedConditions(d);
      if (d.spec.paused) return sync(d, rsList);

      const all = await getAllReplicaSetsAndSyncRevision(d, rsList);
      if (isScalingEvent(d, all.newRS, all.oldRSs)) return sync(d, rsList, all);
      return isRollingUpdate(d) ? rolloutRolling(d, rsList, all) : rolloutRecreate(d, rsList, all);
    }

    async function updateStatus(d: Deployment): Promise<void> {
      const res = await dClient.updateStatus(d);
      d.metadata.resourceVersion = res.metadata.resourceVersion;
    }

    /** SetDeploymentRevision (upstream writes it with the status; /status here keeps metadata, so it is a patch). */
    async function setDeploymentRevision(d: Deployment, revision: string): Promise<void> {
      if (d.metadata.annotations?.[REVISION_ANNOTATION] === revision) return;
      const res = await dClient.patch(d.metadata.name!, { metadata: { annotations: { [REVISION_ANNOTATION]: revision } } }, 'merge', { namespace: d.metadata.namespace });
      (d.metadata.annotations ??= {})[REVISION_ANNOTATION] = revision;
      d.metadata.resourceVersion = res.metadata.resourceVersion;
    }

    /** ReplicaSets this Deployment controls, after adopting matching orphans and releasing mismatches. */
    async function getReplicaSetsForDeployment(d: Deployment, selector: Selector): Promise<ReplicaSet[]> {
      const candidates = rsInf.store.byNamespace(d.metadata.namespace!).filter((rs) => {
        const ref = controllerRefOf(rs);
        return ref ? ref.uid === d.metadata.uid : !rs.metadata.deletionTimestamp && selector.matches(rs.metadata.labels);
      });
      let canAdopt = false;
      if (candidates.some((rs) => !controllerRefOf(rs)) && !d.metadata.deletionTimestamp) {
        try {
          const fresh = await dClient.get(d.metadata.name!, d.metadata.namespace);
          canAdopt = fresh.metadata.uid === d.metadata.uid && !fresh.metadata.deletionTimestamp;
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
      const claimed = await claimObjects(rsClient as ResourceClient<ReplicaSet>, d, selector, candidates as ReplicaSet[], newControllerRef(d, 'apps/v1', 'Deployment'), () => canAdopt);
      return claimed.map((rs) => structuredClone(rs) as ReplicaSet);
    }

    /** getAllReplicaSetsAndSyncRevision without creating: the new ReplicaSet (if any, annotations synced) and the old ones. */
    async function getAllReplicaSetsAndSyncRevision(d: Deployment, rsList: ReplicaSet[]): Promise<{ newRS?: ReplicaSet; oldRSs: ReplicaSet[] }> {
      const existing = findNewReplicaSet(d, rsList);
      const oldRSs = rsList.filter((rs) => rs !== existing);
      const newRS = existing ? await syncExistingNewReplicaSet(d, existing, oldRSs) : undefined;
      return { newRS, oldRSs };
    }

    async function syncExistingNewReplicaSet(d: Deployment, existing: ReplicaSet, oldRSs: ReplicaSet[]): Promise<ReplicaSet> {
      const newRevision = maxRevision(oldRSs) + 1;
      const rsCopy = structuredClone(existing);
      const annotationsUpdated = setNewReplicaSetAnnotations(d, rsCopy, newRevision, true);
      const minReadyNeedsUpdate = (rsCopy.spec.minReadySeconds ?? 0) !== (d.spec.minReadySeconds ?? 0);
      if (annotationsUpdated || minReadyNeedsUpdate) {
        rsCopy.spec.minReadySeconds = d.spec.minReadySeconds ?? 0;
        const updated = await rsClient.update(rsCopy);
        recordWrite(objectKeyOf(d), updated);
        return updated;
      }
      await setDeploymentRevision(d, rsCopy.metadata.annotations?.[REVISION_ANNOTATION] ?? '');
      if (hasProgressDeadline(d) && !getCondition(d.status!.conditions, 'Progressing')) {
        setCondition(d.status!, newCondition('Progressing', 'True', REASON_FOUND_NEW_RS, `Found new replica set "${rsCopy.metadata.name}"`));
        await updateStatus(d);
      }
      return rsCopy;
    }

    /** The create half of getNewReplicaSet. */
    async function createNewReplicaSet(d: Deployment, oldRSs: ReplicaSet[]): Promise<ReplicaSet> {
      const newRevision = maxRevision(oldRSs) + 1;
      const template = structuredClone(d.spec.template ?? {});
      const hash = computeHash(template, d.status?.collisionCount);
      template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash } };
      const selector = structuredClone(d.spec.selector!);
      selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash };
      const newRS: ReplicaSet = {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: `${d.metadata.name}-${hash}`,
          namespace: d.metadata.namespace,
          ownerReferences: [newControllerRef(d, 'apps/v1', 'Deployment')],
          labels: { ...template.metadata.labels },
        },
        spec: { replicas: 0, minReadySeconds: d.spec.minReadySeconds ?? 0, selector, template },
      };
      const replicas = newRSNewReplicas(d, [...oldRSs, newRS], newRS);
      newRS.spec.replicas = replicas;
      setNewReplicaSetAnnotations(d, newRS, newRevision, false);
      let created: ReplicaSet;
      let alreadyExists = false;
      try {
        created = await rsClient.create(newRS);
        recordWrite(objectKeyOf(d), created);
      } catch (e) {
        if (isAlreadyExists(e)) {
          const rs = rsInf.store.getByName(newRS.metadata.name!, d.metadata.namespace) ?? (await rsClient.get(newRS.metadata.name!, d.metadata.namespace));
          if (controllerRefOf(rs)?.uid === d.metadata.uid && equalIgnoreHash(d.spec.template, rs.spec.template)) {
            created = structuredClone(rs) as ReplicaSet;
            alreadyExists = true;
          } else {
            // A hash collision: bump collisionCount and try again with the next hash.
            d.status!.collisionCount = (d.status!.collisionCount ?? 0) + 1;
            await updateStatus(d);
            throw e;
          }
        } else if (hasNamespaceTerminatingCause(e)) {
          throw e;
        } else {
          const msg = `Failed to create new replica set "${newRS.metadata.name}": ${errorMessage(e)}`;
          if (hasProgressDeadline(d)) {
            setCondition(d.status!, newCondition('Progressing', 'False', REASON_FAILED_RS_CREATE, msg));
            await updateStatus(d).catch(() => {});
          }
          recorder.event(d, 'Warning', REASON_FAILED_RS_CREATE, msg);
          throw e;
        }
      }
      if (!alreadyExists && replicas > 0) recorder.event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${created.metadata.name} from 0 to ${replicas}`);
      await setDeploymentRevision(d, String(newRevision));
      if (!alreadyExists && hasProgressDeadline(d)) {
        setCondition(d.status!, newCondition('Progressing', 'True', REASON_NEW_RS_CREATED, `Created new replica set "${created.metadata.name}"`));
        await updateStatus(d);
      }
      return created;
    }

    /** checkPausedConditions: an Unknown Progressing condition marks a pause or resume (so a resume does not time out at once). */
    async function checkPausedConditions(d: Deployment): Promise<void> {
      if (!hasProgressDeadline(d)) return;
      const cond = getCondition(d.status!.conditions, 'Progressing');
      if (cond?.reason === REASON_TIMED_OUT) return;
      const pausedCondExists = cond?.reason === REASON_PAUSED;
      if (d.spec.paused && !pausedCondExists) setCondition(d.status!, newCondition('Progressing', 'Unknown', REASON_PAUSED, 'Deployment is paused'));
      else if (!d.spec.paused && pausedCondExists) setCondition(d.status!, newCondition('Progressing', 'Unknown', REASON_RESUMED, 'Deployment is resumed'));
      else return;
      await updateStatus(d);
    }

    /** isScalingEvent: an active ReplicaSet was sized for a different replicas count. */
    function isScalingEvent(d: Deployment, newRS: ReplicaSet | undefined, oldRSs: ReplicaSet[]): boolean {
      for (const rs of activeReplicaSets([...oldRSs, newRS])) {
        const desired = desiredReplicasAnnotation(rs);
        if (desired !== undefined && desired !== specReplicas(d)) return true;
      }
      return false;
    }

    /** sync: scaling (and paused) without rolling anything out. */
    async function sync(d: Deployment, rsList: ReplicaSet[], all?: { newRS?: ReplicaSet; oldRSs: ReplicaSet[] }): Promise<Result> {
      const { newRS, oldRSs } = all ?? (await getAllReplicaSetsAndSyncRevision(d, rsList));
      await scale(d, newRS, oldRSs);
      if (d.spec.paused) await cleanupDeployment(oldRSs, d);
      return syncDeploymentStatus([...oldRSs, ...(newRS ? [newRS] : [])], newRS, d);
    }

    async function scale(d: Deployment, newRS: ReplicaSet | undefined, oldRSs: ReplicaSet[]): Promise<void> {
      const activeOrLatest = findActiveOrLatest(newRS, oldRSs);
      if (activeOrLatest) {
        if (specReplicas(activeOrLatest) === specReplicas(d)) return;
        await scaleReplicaSetAndRecordEvent(activeOrLatest, specReplicas(d), d);
        return;
      }
      if (isSaturated(d, newRS)) {
        for (const old of activeReplicaSets(oldRSs)) await scaleReplicaSetAndRecordEvent(old, 0, d);
        return;
      }
      if (!isRollingUpdate(d)) return;
      const allRSs = activeReplicaSets([...oldRSs, newRS]);
      const allowedSize = specReplicas(d) > 0 ? specReplicas(d) + maxSurge(d) : 0;
      const toAdd = allowedSize - sumSpecReplicas(allRSs);
      let op = '';
      if (toAdd > 0) {
        allRSs.sort(bySizeNewer);
        op = 'up';
      } else if (toAdd < 0) {
        allRSs.sort(bySizeOlder);
        op = 'down';
      }
      let added = 0;
      const sizes = new Map<ReplicaSet, number>();
      for (const rs of allRSs) {
        if (toAdd !== 0) {
          const p = proportion(rs, d, toAdd, added);
          sizes.set(rs, specReplicas(rs) + p);
          added += p;
        } else sizes.set(rs, specReplicas(rs));
      }
      for (let i = 0; i < allRSs.length; i++) {
        const rs = allRSs[i];
        if (i === 0 && toAdd !== 0) sizes.set(rs, Math.max(0, sizes.get(rs)! + toAdd - added));
        await scaleReplicaSet(rs, sizes.get(rs)!, d, op);
      }
    }

    async function scaleReplicaSetAndRecordEvent(rs: ReplicaSet, newScale: number, d: Deployment): Promise<{ scaled: boolean; rs: ReplicaSet }> {
      if (specReplicas(rs) === newScale) return { scaled: false, rs };
      return scaleReplicaSet(rs, newScale, d, specReplicas(rs) < newScale ? 'up' : 'down');
    }

    async function scaleReplicaSet(rs: ReplicaSet, newScale: number, d: Deployment, op: string): Promise<{ scaled: boolean; rs: ReplicaSet }> {
      const sizeNeedsUpdate = specReplicas(rs) !== newScale;
      const max = specReplicas(d) + maxSurge(d);
      if (!sizeNeedsUpdate && !replicasAnnotationsNeedUpdate(rs, specReplicas(d), max)) return { scaled: false, rs };
      const oldScale = specReplicas(rs);
      const copy = structuredClone(rs);
      copy.spec.replicas = newScale;
      setReplicasAnnotations(copy, specReplicas(d), max);
      const updated = await rsClient.update(copy);
      recordWrite(objectKeyOf(d), updated);
      if (sizeNeedsUpdate) {
        const verb = op === 'up' ? 'Scaled up' : 'Scaled down';
        recorder.event(d, 'Normal', 'ScalingReplicaSet', `${verb} replica set ${updated.metadata.name} from ${oldScale} to ${newScale}`);
      }
      return { scaled: sizeNeedsUpdate, rs: updated };
    }

    async function rolloutRolling(d: Deployment, _rsList: ReplicaSet[], all: { newRS?: ReplicaSet; oldRSs: ReplicaSet[] }): Promise<Result> {
      const { oldRSs } = all;
      const newRS = all.newRS ?? (await createNewReplicaSet(d, oldRSs));
      const allRSs = [...oldRSs, newRS];
      if (await reconcileNewReplicaSet(allRSs, newRS, d)) return syncRolloutStatus(allRSs, newRS, d);
      if (await reconcileOldReplicaSets(allRSs, activeReplicaSets(oldRSs), newRS, d)) return syncRolloutStatus(allRSs, newRS, d);
      if (deploymentComplete(d, d.status!)) await cleanupDeployment(oldRSs, d);
      return syncRolloutStatus(allRSs, newRS, d);
    }

    async function reconcileNewReplicaSet(allRSs: ReplicaSet[], newRS: ReplicaSet, d: Deployment): Promise<boolean> {
      if (specReplicas(newRS) === specReplicas(d)) return false;
      if (specReplicas(newRS) > specReplicas(d)) return (await scaleReplicaSetAndRecordEvent(newRS, specReplicas(d), d)).scaled;
      return (await scaleReplicaSetAndRecordEvent(newRS, newRSNewReplicas(d, allRSs, newRS), d)).scaled;
    }

    async function reconcileOldReplicaSets(allRSs: ReplicaSet[], oldRSs: ReplicaSet[], newRS: ReplicaSet, d: Deployment): Promise<boolean> {
      if (sumSpecReplicas(oldRSs) === 0) return false;
      const allPods = sumSpecReplicas(allRSs);
      const minAvailable = specReplicas(d) - maxUnavailable(d);
      const newRSUnavailable = specReplicas(newRS) - availableOf(newRS);
      const maxScaledDown = allPods - minAvailable - newRSUnavailable;
      if (maxScaledDown <= 0) return false;
      const { olds, cleaned } = await cleanupUnhealthyReplicas(oldRSs, d, maxScaledDown);
      const scaledDown = await scaleDownOldReplicaSetsForRollingUpdate([...olds, newRS], olds, d);
      return cleaned + scaledDown > 0;
    }

    /** Old ReplicaSets' unavailable pods go first: they would block the rollout. */
    async function cleanupUnhealthyReplicas(oldRSs: ReplicaSet[], d: Deployment, maxCleanup: number): Promise<{ olds: ReplicaSet[]; cleaned: number }> {
      const olds = [...oldRSs].sort(byCreation);
      let total = 0;
      for (let i = 0; i < olds.length; i++) {
        if (total >= maxCleanup) break;
        const rs = olds[i];
        if (specReplicas(rs) === 0 || specReplicas(rs) === availableOf(rs)) continue;
        const count = Math.min(maxCleanup - total, specReplicas(rs) - availableOf(rs));
        olds[i] = (await scaleReplicaSetAndRecordEvent(rs, specReplicas(rs) - count, d)).rs;
        total += count;
      }
      return { olds, cleaned: total };
    }

    async function scaleDownOldReplicaSetsForRollingUpdate(allRSs: ReplicaSet[], oldRSs: ReplicaSet[], d: Deployment): Promise<number> {
      const minAvailable = specReplicas(d) - maxUnavailable(d);
      const available = allRSs.reduce((n, rs) => n + availableOf(rs), 0);
      if (available <= minAvailable) return 0;
      const toScaleDown = available - minAvailable;
      let total = 0;
      for (const rs of [...oldRSs].sort(byCreation)) {
        if (total >= toScaleDown) break;
        if (specReplicas(rs) === 0) continue;
        const count = Math.min(specReplicas(rs), toScaleDown - total);
        await scaleReplicaSetAndRecordEvent(rs, specReplicas(rs) - count, d);
        total += count;
      }
      return total;
    }

    async function rolloutRecreate(d: Deployment, rsList: ReplicaSet[], all: { newRS?: ReplicaSet; oldRSs: ReplicaSet[] }): Promise<Result> {
      let { newRS } = all;
      const { oldRSs } = all;
      let scaledDown = false;
      for (const rs of activeReplicaSets(oldRSs)) if ((await scaleReplicaSetAndRecordEvent(rs, 0, d)).scaled) scaledDown = true;
      const allRSs = () => [...oldRSs, ...(newRS ? [newRS] : [])];
      if (scaledDown) return syncRolloutStatus(allRSs(), newRS, d);
      if (oldPodsRunning(newRS, oldRSs, rsList)) return syncRolloutStatus(allRSs(), newRS, d);
      newRS ??= await createNewReplicaSet(d, oldRSs);
      await scaleReplicaSetAndRecordEvent(newRS, specReplicas(d), d);
      if (deploymentComplete(d, d.status!)) await cleanupDeployment(oldRSs, d);
      return syncRolloutStatus(allRSs(), newRS, d);
    }

    /** oldPodsRunning: any old ReplicaSet still reports pods, or any of their pods is not finished. */
    function oldPodsRunning(newRS: ReplicaSet | undefined, oldRSs: ReplicaSet[], rsList: ReplicaSet[]): boolean {
      if (sumStatus(oldRSs, 'replicas') > 0) return true;
      for (const rs of rsList) {
        if (newRS && rs.metadata.uid === newRS.metadata.uid) continue;
        for (const pod of podInf.store.byIndex(CONTROLLER_UID_INDEX, rs.metadata.uid!)) {
          const phase = podPhase(pod);
          if (phase !== 'Failed' && phase !== 'Succeeded') return true;
        }
      }
      return false;
    }

    /** cleanupDeployment: keep revisionHistoryLimit old ReplicaSets; delete older empty ones. */
    async function cleanupDeployment(oldRSs: ReplicaSet[], d: Deployment): Promise<void> {
      if (!hasRevisionHistoryLimit(d)) return;
      const cleanable = oldRSs.filter((rs) => !rs.metadata.deletionTimestamp);
      const diff = cleanable.length - d.spec.revisionHistoryLimit!;
      if (diff <= 0) return;
      cleanable.sort(byRevision);
      for (let i = 0; i < diff; i++) {
        const rs = cleanable[i];
        if ((rs.status?.replicas ?? 0) !== 0 || specReplicas(rs) !== 0 || (rs.metadata.generation ?? 0) > (rs.status?.observedGeneration ?? 0)) continue;
        try {
          await rsClient.delete(rs.metadata.name!, { namespace: rs.metadata.namespace, preconditions: { uid: rs.metadata.uid } });
          recordWrite(objectKeyOf(d), rs);
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
    }

    async function syncDeploymentStatus(allRSs: ReplicaSet[], newRS: ReplicaSet | undefined, d: Deployment): Promise<Result> {
      const status = calculateStatus(allRSs, newRS, d);
      if (statusEqual(d.status, status)) return;
      d.status = status;
      await updateStatus(d);
    }

    /** syncRolloutStatus: the counts plus the Progressing condition and its deadline. */
    async function syncRolloutStatus(allRSs: ReplicaSet[], newRS: ReplicaSet | undefined, d: Deployment): Promise<Result> {
      const status = calculateStatus(allRSs, newRS, d);
      const now = Date.now();
      if (!hasProgressDeadline(d)) removeCondition(status, 'Progressing');
      const current = getCondition(d.status!.conditions, 'Progressing');
      const isComplete = status.replicas === status.updatedReplicas && current?.reason === REASON_NEW_RS_AVAILABLE;
      if (hasProgressDeadline(d) && !isComplete) {
        if (deploymentComplete(d, status)) {
          const msg = newRS ? `ReplicaSet "${newRS.metadata.name}" has successfully progressed.` : `Deployment "${d.metadata.name}" has successfully progressed.`;
          setCondition(status, newCondition('Progressing', 'True', REASON_NEW_RS_AVAILABLE, msg));
        } else if (deploymentProgressing(d, status)) {
          const msg = newRS ? `ReplicaSet "${newRS.metadata.name}" is progressing.` : `Deployment "${d.metadata.name}" is progressing.`;
          const cond = newCondition('Progressing', 'True', REASON_RS_UPDATED, msg);
          if (current) {
            if (current.status === 'True') cond.lastTransitionTime = current.lastTransitionTime;
            removeCondition(status, 'Progressing');
          }
          setCondition(status, cond);
        } else if (deploymentTimedOut(d, status, now)) {
          const msg = newRS ? `ReplicaSet "${newRS.metadata.name}" has timed out progressing.` : `Deployment "${d.metadata.name}" has timed out progressing.`;
          setCondition(status, newCondition('Progressing', 'False', REASON_TIMED_OUT, msg));
        }
      }
      // ReplicaFailure of the ReplicaSets surfaces on the Deployment.
      const failure = replicaFailure(allRSs, newRS);
      if (failure) setCondition(status, failure);
      else removeCondition(status, 'ReplicaFailure');

      if (statusEqual(d.status, status)) return requeueStuckDeployment(d, status, now);
      d.status = status;
      await updateStatus(d);
    }

    /** getReplicaFailures: the new ReplicaSet's failure first, else an old one's. */
    function replicaFailure(allRSs: ReplicaSet[], newRS: ReplicaSet | undefined) {
      const pick = (rs: ReplicaSet | undefined) => getCondition(rs?.status?.conditions, 'ReplicaFailure');
      const c = pick(newRS) ?? allRSs.map(pick).find((x) => x);
      return c ? { type: c.type, status: c.status, lastUpdateTime: c.lastTransitionTime, lastTransitionTime: c.lastTransitionTime, reason: c.reason, message: c.message } : undefined;
    }

    /** requeueStuckDeployment: check again when the deadline would pass. */
    function requeueStuckDeployment(d: Deployment, status: DeploymentStatus, now: number): Result {
      const current = getCondition(d.status!.conditions, 'Progressing');
      if (!hasProgressDeadline(d) || !current) return;
      if (deploymentComplete(d, status) || current.reason === REASON_TIMED_OUT) return;
      const last = Date.parse(current.lastUpdateTime ?? '');
      if (Number.isNaN(last)) return;
      const after = last + d.spec.progressDeadlineSeconds! * 1000 - now;
      // A second more so that the deadline has surely passed (lastUpdateTime has second precision).
      return { requeueAfterMs: Math.max(after, 0) + 1000 };
    }

    return controller;
  },
};
