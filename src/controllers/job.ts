/**
 * Job controller (upstream pkg/controller/job, with the ttlafterfinished controller's work):
 * runs pods until `completions` succeed (NonIndexed) or every index in [0, completions) has
 * succeeded once (Indexed: the index is in the `batch.kubernetes.io/job-completion-index`
 * annotation and label, the JOB_COMPLETION_INDEX variable and the hostname `<job>-<index>`), at
 * most `parallelism` at a time, with an exponential delay after failures, until backoffLimit or
 * activeDeadlineSeconds fail it. Suspending deletes the active pods.
 *
 * Pods are tracked with the `batch.kubernetes.io/job-tracking` finalizer as upstream: a finished
 * pod's UID is first recorded in status.uncountedTerminatedPods, then its finalizer is removed,
 * then it is moved into status.succeeded/failed — so a restart neither loses nor double-counts one.
 * Finishing goes through SuccessCriteriaMet / FailureTarget; Complete / Failed follow once no pod
 * is left running. ttlSecondsAfterFinished deletes the finished Job (Background propagation).
 */
import { finalStateOf, isConflict, isNotFound } from '../client/index.js';
import type { JobSpec } from '../kinds/batch/job-spec.js';
import { deepClone, type KubeObject } from '../util/object.js';
import { type ControllerSpec, objectKeyOf, simpleController } from './context.js';
import { CONTROLLER_UID_INDEX, controllerRefOf, newControllerRef } from './util/controller-ref.js';
import { Expectations } from './util/expectations.js';
import { isPodReady, isPodTerminal, podCondition, podPhase, podStatusOf } from './util/pod-state.js';
import { RequeueAt } from './util/requeue.js';
import { semanticallyEqual } from './util/template-hash.js';
import { JOBS, PODS, withControllerIndex } from './util/workload-refs.js';

export const JOB_TRACKING_FINALIZER = 'batch.kubernetes.io/job-tracking';
export const COMPLETION_INDEX = 'batch.kubernetes.io/job-completion-index';
/** Upstream's backoff starts at 10 s and caps at 6 min; Cairn keeps the shape, shorter. */
export const JOB_BACKOFF_BASE_MS = 1000;
export const JOB_BACKOFF_MAX_MS = 60_000;

export interface JobCondition {
  type: string;
  status: string;
  lastProbeTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface JobStatus {
  conditions?: JobCondition[];
  startTime?: string;
  completionTime?: string;
  active?: number;
  succeeded?: number;
  failed?: number;
  terminating?: number;
  ready?: number;
  completedIndexes?: string;
  uncountedTerminatedPods?: { succeeded?: string[]; failed?: string[] };
}

const rfc3339 = (t = Date.now()) => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');

export const conditionTrue = (st: JobStatus, type: string) => (st.conditions ?? []).some((c) => c.type === type && c.status === 'True');
export const isJobFinished = (job: KubeObject) => {
  const st = (job.status ?? {}) as JobStatus;
  return conditionTrue(st, 'Complete') || conditionTrue(st, 'Failed');
};

/** Sets a condition; returns true when its status changed (or it was added). An absent condition is not added as False. */
function ensureCondition(st: JobStatus, type: string, status: string, reason: string, message: string, now: string): boolean {
  const conds = (st.conditions ??= []);
  const c = conds.find((x) => x.type === type);
  if (!c) {
    if (status === 'False') return false;
    conds.push({ type, status, lastProbeTime: now, lastTransitionTime: now, reason, message });
    return true;
  }
  if (c.status === status && c.reason === reason && c.message === message) return false;
  const transitioned = c.status !== status;
  Object.assign(c, { status, reason, message, lastProbeTime: now, ...(transitioned ? { lastTransitionTime: now } : {}) });
  return transitioned;
}

// ---- completed index sets, "1,3-5" as upstream prints them ----

export function parseIndexes(s: string | undefined): Set<number> {
  const out = new Set<number>();
  for (const part of (s ?? '').split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-').map(Number);
    for (let i = a; i <= (b ?? a); i++) out.add(i);
  }
  return out;
}

export function formatIndexes(set: Set<number>): string {
  const xs = [...set].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < xs.length; ) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    parts.push(i === j ? String(xs[i]) : `${xs[i]}-${xs[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export const completionIndexOf = (p: KubeObject): number | undefined => {
  const v = p.metadata.annotations?.[COMPLETION_INDEX] ?? p.metadata.labels?.[COMPLETION_INDEX];
  return v !== undefined && /^[0-9]+$/.test(v) ? Number(v) : undefined;
};

/** isPodFailed: phase Failed, or deleted before it succeeded (an orphan that never reaches Failed). */
function isPodFailed(p: KubeObject, spec: JobSpec): boolean {
  if (podPhase(p) === 'Failed') return true;
  if (spec.podReplacementPolicy === 'Failed' || spec.podFailurePolicy) return false;
  return !!p.metadata.deletionTimestamp && podPhase(p) !== 'Succeeded';
}

/** When a pod finished: its containers' finishedAt, else its Ready condition's last change. */
function finishedAt(p: KubeObject): number {
  let t = 0;
  for (const cs of podStatusOf(p).containerStatuses ?? []) {
    const f = cs.state?.terminated?.finishedAt;
    if (f) t = Math.max(t, Date.parse(f));
  }
  if (!t) {
    const c = podCondition(p, 'Ready');
    if (c?.lastTransitionTime) t = Date.parse(c.lastTransitionTime);
  }
  return t || Date.now();
}

export const jobController: ControllerSpec = {
  name: 'job',
  start(ctx) {
    const jobInformer = ctx.informers.forResource<KubeObject>(JOBS);
    const podInformer = withControllerIndex(ctx.informers.forResource<KubeObject>(PODS));
    const pods = ctx.client.resource(PODS);
    const jobs = ctx.client.resource(JOBS);
    const recorder = ctx.recorder('job-controller');
    const expectations = new Expectations();
    /** UIDs of pods whose finalizer this controller removed, until the cache shows it (upstream finalizerExpectations). */
    const finalizerRemoved = new Set<string>();
    /** Job resourceVersions this controller's own status writes replaced: a cache still showing one is stale. */
    const superseded = new Map<string, Set<string>>();
    /** When this controller first saw each failed pod: finish times have one-second resolution, the backoff finer. */
    const failedSeenAt = new Map<string, number>();
    const hasFinalizer = (p: KubeObject) => (p.metadata.finalizers ?? []).includes(JOB_TRACKING_FINALIZER) && !finalizerRemoved.has(p.metadata.uid!);

    async function removeFinalizer(p: KubeObject): Promise<void> {
      let pod = p;
      for (let attempt = 0; attempt < 3; attempt++) {
        if (!(pod.metadata.finalizers ?? []).includes(JOB_TRACKING_FINALIZER)) return;
        const finalizers = (pod.metadata.finalizers ?? []).filter((f) => f !== JOB_TRACKING_FINALIZER);
        try {
          await pods.patch(pod.metadata.name!, { metadata: { finalizers: finalizers.length ? finalizers : null, resourceVersion: pod.metadata.resourceVersion } }, 'merge', {
            namespace: pod.metadata.namespace,
          });
          finalizerRemoved.add(pod.metadata.uid!);
          return;
        } catch (e) {
          if (isNotFound(e)) return;
          if (!isConflict(e)) throw e;
          pod = await pods.get(pod.metadata.name!, pod.metadata.namespace);
        }
      }
      throw new Error(`could not remove the job-tracking finalizer from pod ${p.metadata.namespace}/${p.metadata.name}`);
    }

    /** deleteJobPods: the finalizer goes first, so pods the controller removes are never counted. */
    async function deletePods(job: KubeObject, key: string, list: KubeObject[]): Promise<void> {
      await Promise.all(
        list.map(async (p) => {
          await removeFinalizer(p);
          expectations.expectDeletion(key, objectKeyOf(p));
          try {
            await pods.delete(p.metadata.name!, { namespace: p.metadata.namespace, preconditions: { uid: p.metadata.uid } });
            recorder.event(job, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`);
          } catch (e) {
            expectations.deletionObserved(key, objectKeyOf(p));
            if (!isNotFound(e) && !isConflict(e)) throw e;
          }
        }),
      );
    }

    async function createPods(job: KubeObject, key: string, indexes: (number | undefined)[]): Promise<void> {
      const spec = (job.spec ?? {}) as JobSpec;
      expectations.expectCreations(key, indexes.length);
      let firstError: unknown;
      await Promise.all(
        indexes.map(async (index) => {
          const t = deepClone(spec.template ?? {});
          const podSpec = (t.spec ??= {}) as Record<string, unknown> & { containers?: { env?: unknown[] }[]; initContainers?: { env?: unknown[] }[] };
          const labels = { ...(t.metadata?.labels ?? {}) };
          const annotations = { ...(t.metadata?.annotations ?? {}) };
          if (index !== undefined) {
            annotations[COMPLETION_INDEX] = String(index);
            labels[COMPLETION_INDEX] = String(index);
            const env = { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: `metadata.labels['${COMPLETION_INDEX}']` } } };
            for (const c of [...(podSpec.containers ?? []), ...(podSpec.initContainers ?? [])]) c.env = [...(c.env ?? []), env];
            podSpec.hostname = `${job.metadata.name}-${index}`;
          }
          const pod: KubeObject = {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: {
              generateName: index !== undefined ? `${job.metadata.name}-${index}-` : `${job.metadata.name}-`,
              namespace: job.metadata.namespace,
              labels,
              ...(Object.keys(annotations).length ? { annotations } : {}),
              finalizers: [JOB_TRACKING_FINALIZER],
              ownerReferences: [newControllerRef(job)],
            },
            spec: podSpec,
          };
          try {
            const created = await pods.create(pod);
            recorder.event(job, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`);
          } catch (e) {
            expectations.creationObserved(key);
            recorder.event(job, 'Warning', 'FailedCreate', `Error creating: ${(e as Error).message}`);
            firstError ??= e;
          }
        }),
      );
      if (firstError) throw firstError;
    }

    /** Pods whose Job is gone keep no finalizer (upstream's orphan pod cleanup). */
    async function releaseOrphans(namespace: string, name: string): Promise<void> {
      const orphans = podInformer.store.byNamespace(namespace).filter((p) => {
        const ref = controllerRefOf(p);
        return ref?.kind === 'Job' && ref.name === name && hasFinalizer(p) && !jobInformer.store.getByName(name, namespace);
      });
      await Promise.all(orphans.map(removeFinalizer));
    }

    const reconcile = async (key: string): Promise<{ requeueAfterMs?: number } | void> => {
      const cached = jobInformer.store.get(key);
      const [namespace, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
      if (!cached) {
        expectations.forget(key);
        superseded.delete(key);
        await releaseOrphans(namespace, name);
        return;
      }
      // Our last status write has not reached the cache yet: its watch event brings us back.
      if (superseded.get(key)?.has(cached.metadata.resourceVersion!)) return;
      superseded.delete(key);
      const job = { ...cached, apiVersion: 'batch/v1', kind: 'Job' } as KubeObject;
      const spec = (job.spec ?? {}) as JobSpec;
      const jobPods = podInformer.store.byIndex(CONTROLLER_UID_INDEX, job.metadata.uid!);
      if (job.metadata.deletionTimestamp) {
        await Promise.all(jobPods.filter(hasFinalizer).map(removeFinalizer));
        return;
      }
      let base: KubeObject = cached;
      const st = deepClone((cached.status ?? {}) as JobStatus);
      const nowMs = Date.now();
      const now = rfc3339(nowMs);
      const indexed = spec.completionMode === 'Indexed';
      const requeue = new RequeueAt();
      const requeueAt = requeue.at;

      if (isJobFinished(job)) {
        await Promise.all(jobPods.filter(hasFinalizer).map(removeFinalizer));
        await ttl(job, st, requeueAt);
        return requeue.result();
      }

      // ---- accounting: uncounted -> finalizer removed -> counted ----
      const byUid = new Map(jobPods.map((p) => [p.metadata.uid!, p]));
      const uncounted = { succeeded: [...(st.uncountedTerminatedPods?.succeeded ?? [])], failed: [...(st.uncountedTerminatedPods?.failed ?? [])] };
      const settle = () => {
        let moved = false;
        for (const kind of ['succeeded', 'failed'] as const) {
          uncounted[kind] = uncounted[kind].filter((uid) => {
            const p = byUid.get(uid);
            if (p && hasFinalizer(p)) return true;
            st[kind] = (st[kind] ?? 0) + 1;
            moved = true;
            return false;
          });
        }
        return moved;
      };
      settle();
      const completed = parseIndexes(st.completedIndexes);
      const failing = conditionTrue(st, 'FailureTarget');
      const newlyFinished: KubeObject[] = [];
      for (const p of jobPods) if (podPhase(p) === 'Failed' && !failedSeenAt.has(p.metadata.uid!)) failedSeenAt.set(p.metadata.uid!, nowMs);
      for (const p of jobPods) {
        if (!hasFinalizer(p)) continue;
        const uid = p.metadata.uid!;
        if (uncounted.succeeded.includes(uid) || uncounted.failed.includes(uid)) continue;
        if (podPhase(p) === 'Succeeded') {
          const idx = completionIndexOf(p);
          if (indexed) {
            if (idx === undefined || idx >= (spec.completions ?? 0)) {
              // Not a valid index: counted nowhere, just released.
              newlyFinished.push(p);
              continue;
            }
            completed.add(idx);
          }
          uncounted.succeeded.push(uid);
          newlyFinished.push(p);
        } else if (isPodFailed(p, spec) || (failing && p.metadata.deletionTimestamp)) {
          uncounted.failed.push(uid);
          newlyFinished.push(p);
        }
      }
      if (indexed) st.completedIndexes = formatIndexes(completed);
      if (newlyFinished.length) {
        st.uncountedTerminatedPods = uncounted;
        const written = await writeStatus(base, st);
        if (!written) return;
        base = written;
        await Promise.all(newlyFinished.map(removeFinalizer));
        for (const p of newlyFinished) byUid.set(p.metadata.uid!, { ...p, metadata: { ...p.metadata, finalizers: [] } });
        settle();
        // The finalizer removals bring the pods back through the informer; settle from there.
      }
      st.uncountedTerminatedPods = { ...(uncounted.succeeded.length ? { succeeded: uncounted.succeeded } : {}), ...(uncounted.failed.length ? { failed: uncounted.failed } : {}) };

      const active = jobPods.filter((p) => !isPodTerminal(p) && !p.metadata.deletionTimestamp);
      const terminating = jobPods.filter((p) => !isPodTerminal(p) && p.metadata.deletionTimestamp);
      const succeeded = indexed ? completed.size : (st.succeeded ?? 0) + uncounted.succeeded.length;
      const failed = (st.failed ?? 0) + uncounted.failed.length;
      if (indexed) st.succeeded = completed.size;

      // ---- suspend / resume, start time ----
      const suspended = spec.suspend === true;
      if (suspended) {
        if (ensureCondition(st, 'Suspended', 'True', 'JobSuspended', 'Job suspended', now)) recorder.event(job, 'Normal', 'Suspended', 'Job suspended');
      } else if (ensureCondition(st, 'Suspended', 'False', 'JobResumed', 'Job resumed', now)) {
        recorder.event(job, 'Normal', 'Resumed', 'Job resumed');
        st.startTime = now;
      }
      if (!st.startTime && !suspended) st.startTime = now;

      // ---- failure and success criteria ----
      if (!conditionTrue(st, 'FailureTarget') && !conditionTrue(st, 'SuccessCriteriaMet')) {
        const backoffLimit = spec.backoffLimit ?? 6;
        let restarts = 0;
        if (spec.template?.spec?.restartPolicy === 'OnFailure')
          for (const p of active) for (const cs of podStatusOf(p).containerStatuses ?? []) restarts += cs.restartCount ?? 0;
        const onFailure = spec.template?.spec?.restartPolicy === 'OnFailure';
        const pastBackoff = failed > backoffLimit || (onFailure && (backoffLimit === 0 ? restarts > 0 : restarts >= backoffLimit));
        const deadlineAt = !suspended && spec.activeDeadlineSeconds != null && st.startTime ? Date.parse(st.startTime) + spec.activeDeadlineSeconds * 1000 : undefined;
        if (pastBackoff) {
          ensureCondition(st, 'FailureTarget', 'True', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', now);
          recorder.event(job, 'Warning', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit');
        } else if (deadlineAt !== undefined && nowMs >= deadlineAt) {
          ensureCondition(st, 'FailureTarget', 'True', 'DeadlineExceeded', 'Job was active longer than specified deadline', now);
          recorder.event(job, 'Warning', 'DeadlineExceeded', 'Job was active longer than specified deadline');
        } else {
          if (deadlineAt !== undefined) requeueAt(deadlineAt);
          const done = indexed
            ? completed.size >= (spec.completions ?? 0)
            : spec.completions != null
              ? succeeded >= spec.completions
              : succeeded > 0 && active.length === 0;
          if (done) ensureCondition(st, 'SuccessCriteriaMet', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods', now);
        }
      }

      const failure = (st.conditions ?? []).find((c) => c.type === 'FailureTarget' && c.status === 'True');
      const success = conditionTrue(st, 'SuccessCriteriaMet');
      if (failure || success) {
        // Finishing: nothing runs any more; the terminal condition waits for the pods to be gone.
        if (active.length) await deletePods(job, key, active);
        const allCounted = !uncounted.succeeded.length && !uncounted.failed.length;
        if (active.length === 0 && terminating.length === 0 && allCounted) {
          if (failure) {
            ensureCondition(st, 'Failed', 'True', failure.reason!, failure.message!, now);
          } else {
            ensureCondition(st, 'Complete', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods', now);
            st.completionTime = now;
            recorder.event(job, 'Normal', 'Completed', 'Job completed');
          }
        }
      } else if (suspended) {
        if (active.length) await deletePods(job, key, active);
      } else if (expectations.satisfied(key)) {
        // ---- manage: the number of pods running ----
        const parallelism = spec.parallelism ?? 1;
        let toCreate: (number | undefined)[] = [];
        let toDelete: KubeObject[] = [];
        if (indexed) {
          const running = new Map<number, KubeObject[]>();
          for (const p of active) {
            const i = completionIndexOf(p);
            if (i === undefined || i >= (spec.completions ?? 0) || completed.has(i)) toDelete.push(p);
            else running.set(i, [...(running.get(i) ?? []), p]);
          }
          for (const list of running.values()) toDelete.push(...list.slice(1));
          const pending: number[] = [];
          for (let i = 0; i < (spec.completions ?? 0); i++) if (!completed.has(i) && !running.has(i)) pending.push(i);
          const free = Math.max(0, parallelism - running.size);
          toCreate = pending.slice(0, free);
          if (running.size > parallelism) toDelete.push(...[...running.values()].map((l) => l[0]).sort((a, b) => completionIndexOf(b)! - completionIndexOf(a)!).slice(0, running.size - parallelism));
        } else {
          let want: number;
          if (spec.completions == null) want = succeeded > 0 ? Math.min(active.length, parallelism) : parallelism;
          else want = Math.max(0, Math.min(spec.completions - succeeded, parallelism));
          if (active.length > want) {
            // Not-ready and younger pods go first.
            const sorted = [...active].sort((a, b) => Number(isPodReady(a)) - Number(isPodReady(b)) || ((b.metadata.creationTimestamp ?? '') < (a.metadata.creationTimestamp ?? '') ? -1 : 1));
            toDelete = sorted.slice(0, active.length - want);
          } else if (active.length + terminating.length < want || (spec.podReplacementPolicy !== 'Failed' && active.length < want)) {
            toCreate = new Array(want - active.length).fill(undefined);
          }
        }
        if (toDelete.length) await deletePods(job, key, toDelete);
        if (toCreate.length) {
          // Exponential backoff after failures (upstream getRemainingTime over the last failure).
          let delayUntil = 0;
          if (failed > 0) {
            const last = Math.max(
              0,
              ...jobPods.filter((p) => podPhase(p) === 'Failed' || (p.metadata.deletionTimestamp && podPhase(p) !== 'Succeeded')).map((p) => Math.max(finishedAt(p), failedSeenAt.get(p.metadata.uid!) ?? 0)),
            );
            if (last > 0) delayUntil = last + Math.min(JOB_BACKOFF_BASE_MS * 2 ** Math.min(failed - 1, 20), JOB_BACKOFF_MAX_MS);
          }
          if (delayUntil > Date.now()) requeueAt(delayUntil);
          else await createPods(job, key, toCreate);
        }
      }

      // ---- status ----
      st.active = active.length;
      st.ready = active.filter(isPodReady).length;
      st.terminating = terminating.length;
      st.succeeded = indexed ? completed.size : (st.succeeded ?? 0);
      st.failed = st.failed ?? 0;
      if (!(await writeStatus(base, st))) return;
      if (conditionTrue(st, 'Complete') || conditionTrue(st, 'Failed')) await ttl(job, st, requeueAt);
      return requeue.result();
    };

    /** Writes status when it changed; false when the Job is gone. Conflicts retry the reconcile. */
    async function writeStatus(base: KubeObject, st: JobStatus): Promise<KubeObject | undefined> {
      if (semanticallyEqual(st, base.status ?? {})) return base;
      try {
        const updated = await jobs.updateStatus({ ...deepClone(base), status: st } as KubeObject);
        const key = objectKeyOf(base);
        let set = superseded.get(key);
        if (!set) superseded.set(key, (set = new Set()));
        set.add(base.metadata.resourceVersion!);
        return updated;
      } catch (e) {
        // Gone, or the cache is behind (the informer brings the newer Job back to us).
        if (isNotFound(e) || isConflict(e)) return undefined;
        throw e;
      }
    }

    /** ttlSecondsAfterFinished: delete the Job (its pods go with it) once the TTL has passed. */
    async function ttl(job: KubeObject, st: JobStatus, requeueAt: (t: number) => void): Promise<void> {
      const seconds = ((job.spec ?? {}) as JobSpec).ttlSecondsAfterFinished;
      if (seconds == null) return;
      const finish = st.completionTime ?? (st.conditions ?? []).find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')?.lastTransitionTime;
      if (!finish) return;
      const expireAt = Date.parse(finish) + seconds * 1000;
      if (Date.now() < expireAt) return requeueAt(expireAt);
      try {
        await jobs.delete(job.metadata.name!, { namespace: job.metadata.namespace, propagationPolicy: 'Background', preconditions: { uid: job.metadata.uid } });
      } catch (e) {
        if (!isNotFound(e) && !isConflict(e)) throw e;
      }
    }

    const { controller, queue } = simpleController(ctx, { name: 'job', primary: jobInformer, secondary: [podInformer], reconcile });

    const ownerKey = (p: KubeObject) => {
      const ref = controllerRefOf(p);
      return ref && ref.kind === 'Job' ? `${p.metadata.namespace}/${ref.name}` : undefined;
    };
    podInformer.addEventHandler({
      onAdd(p) {
        const k = ownerKey(p);
        if (!k) return;
        expectations.creationObserved(k);
        queue.add(k);
      },
      onUpdate(old, p) {
        if (!(p.metadata.finalizers ?? []).includes(JOB_TRACKING_FINALIZER)) finalizerRemoved.delete(p.metadata.uid!);
        const k = ownerKey(p);
        if (!k) return;
        if (p.metadata.deletionTimestamp) expectations.deletionObserved(k, objectKeyOf(p));
        if (old.metadata.resourceVersion !== p.metadata.resourceVersion) queue.add(k);
      },
      onDelete(o) {
        const p = finalStateOf(o);
        finalizerRemoved.delete(p.metadata.uid!);
        failedSeenAt.delete(p.metadata.uid!);
        const k = ownerKey(p);
        if (!k) return;
        expectations.deletionObserved(k, objectKeyOf(p));
        queue.add(k);
      },
    });
    return controller;
  },
};
