/**
 * CronJob controller (upstream pkg/controller/cronjob, controller v2): at each scheduled time
 * (spec.schedule in spec.timeZone, UTC by default) it creates the Job `<cronjob>-<scheduled
 * minutes since the epoch>` from spec.jobTemplate, annotated with
 * `batch.kubernetes.io/cronjob-scheduled-timestamp`, honouring concurrencyPolicy (Allow, Forbid,
 * Replace), startingDeadlineSeconds and suspend; it keeps status.active / lastScheduleTime /
 * lastSuccessfulTime and deletes finished Jobs beyond the history limits. Between schedules the
 * key is requeued for exactly the next scheduled time — nothing polls.
 */
import { finalStateOf, isAlreadyExists, isConflict, isNotFound } from '../client/index.js';
import type { CronJobSpec } from '../kinds/batch/cron-job.js';
import { deepClone, type KubeObject } from '../util/object.js';
import { type ControllerSpec, simpleController } from './context.js';
import { conditionTrue, type JobStatus } from './job.js';
import { controllerRefOf, newControllerRef } from './util/controller-ref.js';
import { type CronSchedule, parseCronSchedule, ZoneClock } from './util/cron.js';
import { semanticallyEqual } from './util/template-hash.js';
import { CRONJOBS, JOBS } from './util/workload-refs.js';

export const SCHEDULED_TIMESTAMP_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp';
/** Upstream requeues a little after the scheduled time so the clock has surely passed it. */
const NEXT_SCHEDULE_DELTA_MS = 100;
const MAX_MISSED = 100;
/** Timers cannot wait longer than ~24.8 days; a far schedule is re-checked (and recomputed) after this. */
const MAX_REQUEUE_MS = 6 * 3600_000;

interface ObjectReference {
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiVersion?: string;
  resourceVersion?: string;
}
interface CronJobStatus {
  active?: ObjectReference[];
  lastScheduleTime?: string;
  lastSuccessfulTime?: string;
}

const rfc3339 = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** getJobName: the scheduled time in minutes since the epoch makes the name deterministic. */
export const jobNameFor = (cronJobName: string, scheduledMs: number) => `${cronJobName}-${Math.floor(scheduledMs / 60_000)}`;

/**
 * mostRecentScheduleTime: the latest schedule time in (earliest, now] and how many were missed.
 * `earliest` is the last schedule time (or creation), moved up to now - startingDeadlineSeconds.
 */
export function mostRecentScheduleTime(
  sched: CronSchedule,
  cj: { creationTimestamp?: string; lastScheduleTime?: string; startingDeadlineSeconds?: number },
  now: number,
): { earliest: number; mostRecent?: number; missed: number } {
  let earliest = Date.parse(cj.lastScheduleTime ?? cj.creationTimestamp ?? new Date(now).toISOString());
  if (cj.startingDeadlineSeconds != null) earliest = Math.max(earliest, now - cj.startingDeadlineSeconds * 1000);
  let t = sched.next(earliest);
  if (t === undefined || t > now) return { earliest, missed: 0 };
  let missed = 0;
  let mostRecent = t;
  const t1 = t;
  while (t !== undefined && t <= now) {
    mostRecent = t;
    missed++;
    t = sched.next(t);
    if (missed === 1000 && t !== undefined && t <= now) {
      // Far behind (a long outage): estimate as upstream does, from the interval of the first two times.
      const interval = Math.max(1000, Math.round((sched.next(t1)! - t1) / 1000) * 1000);
      missed = Math.floor((now - t1) / interval) + 1;
      let u = sched.next(t1 + (missed - 2) * interval);
      while (u !== undefined && u <= now) {
        mostRecent = u;
        u = sched.next(u);
      }
      break;
    }
  }
  return { earliest, mostRecent, missed };
}

/** nextScheduleTimeDuration: from now until just after the schedule time following the most recent one. */
export function nextRequeueMs(sched: CronSchedule, cj: { creationTimestamp?: string; lastScheduleTime?: string; startingDeadlineSeconds?: number }, now: number): number | undefined {
  const { earliest, mostRecent } = mostRecentScheduleTime(sched, cj, now);
  const next = sched.next(mostRecent ?? earliest);
  if (next === undefined) return undefined;
  return Math.min(MAX_REQUEUE_MS, Math.max(0, next + NEXT_SCHEDULE_DELTA_MS - now));
}

const jobStatusOf = (j: KubeObject) => (j.status ?? {}) as JobStatus;
const finishedType = (j: KubeObject) => (conditionTrue(jobStatusOf(j), 'Complete') ? 'Complete' : conditionTrue(jobStatusOf(j), 'Failed') ? 'Failed' : undefined);

export interface CronJobControllerOptions {
  /** The clock (tests). */
  now?: () => number;
}

export function makeCronJobController(opts: CronJobControllerOptions = {}): ControllerSpec {
  const clock = opts.now ?? Date.now;
  return {
    name: 'cronjob',
    start(ctx) {
      const cjInformer = ctx.informers.forResource<KubeObject>(CRONJOBS);
      const jobInformer = ctx.informers.forResource<KubeObject>(JOBS);
      const jobs = ctx.client.resource(JOBS);
      const cronJobs = ctx.client.resource(CRONJOBS);
      const recorder = ctx.recorder('cronjob-controller');

      async function deleteJob(cj: KubeObject, job: KubeObject): Promise<void> {
        try {
          await jobs.delete(job.metadata.name!, { namespace: job.metadata.namespace, propagationPolicy: 'Background', preconditions: { uid: job.metadata.uid } });
          recorder.event(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${job.metadata.name}`);
        } catch (e) {
          if (isNotFound(e)) return;
          recorder.event(cj, 'Warning', 'FailedDelete', `Deleted job: ${(e as Error).message}`);
          throw e;
        }
      }

      const reconcile = async (key: string): Promise<{ requeueAfterMs?: number } | void> => {
        const cached = cjInformer.store.get(key);
        if (!cached) return;
        const cj = { ...cached, apiVersion: 'batch/v1', kind: 'CronJob' } as KubeObject;
        const spec = (cj.spec ?? {}) as CronJobSpec;
        const st = deepClone((cached.status ?? {}) as CronJobStatus);
        const now = clock();
        const children = jobInformer.store.byNamespace(cj.metadata.namespace!).filter((j) => controllerRefOf(j)?.uid === cj.metadata.uid);
        const childUids = new Set(children.map((j) => j.metadata.uid));
        const inActive = (uid?: string) => (st.active ?? []).some((a) => a.uid === uid);
        const dropActive = (uid?: string) => {
          st.active = (st.active ?? []).filter((a) => a.uid !== uid);
        };

        for (const j of children) {
          const finished = finishedType(j);
          if (!inActive(j.metadata.uid) && !finished) {
            recorder.event(cj, 'Warning', 'UnexpectedJob', `Saw a job that the controller did not create or forgot: ${j.metadata.name}`);
          } else if (inActive(j.metadata.uid) && finished) {
            dropActive(j.metadata.uid);
            recorder.event(cj, 'Normal', 'SawCompletedJob', `Saw completed job: ${j.metadata.name}, status: ${finished}`);
          }
          if (finished === 'Complete') {
            const ct = jobStatusOf(j).completionTime;
            if (ct && (!st.lastSuccessfulTime || Date.parse(ct) > Date.parse(st.lastSuccessfulTime))) st.lastSuccessfulTime = ct;
          }
        }
        for (const a of [...(st.active ?? [])]) {
          if (childUids.has(a.uid)) continue;
          try {
            await jobs.get(a.name!, a.namespace);
          } catch (e) {
            if (!isNotFound(e)) throw e;
            recorder.event(cj, 'Normal', 'MissingJob', `Active job went missing: ${a.name}`);
            dropActive(a.uid);
          }
        }

        let requeueAfterMs: number | undefined;
        let created: KubeObject | undefined;
        const plan = async (): Promise<void> => {
          if (cj.metadata.deletionTimestamp || spec.suspend) return;
          let sched: CronSchedule;
          try {
            sched = parseCronSchedule(spec.schedule ?? '', spec.timeZone ?? 'UTC');
          } catch (e) {
            recorder.event(cj, 'Warning', 'UnparseableSchedule', `unparseable schedule: ${JSON.stringify(spec.schedule)} : ${(e as Error).message}`);
            return;
          }
          const timing = { creationTimestamp: cj.metadata.creationTimestamp, lastScheduleTime: st.lastScheduleTime, startingDeadlineSeconds: spec.startingDeadlineSeconds };
          requeueAfterMs = nextRequeueMs(sched, timing, now);
          const { mostRecent, missed } = mostRecentScheduleTime(sched, timing, now);
          if (mostRecent === undefined) return;
          if (missed > MAX_MISSED)
            recorder.event(cj, 'Warning', 'TooManyMissedTimes', `too many missed start times: ${missed}. Set or decrease .spec.startingDeadlineSeconds or check clock skew`);
          if (spec.startingDeadlineSeconds != null && mostRecent + spec.startingDeadlineSeconds * 1000 < now) {
            recorder.event(cj, 'Warning', 'MissSchedule', `Missed scheduled time to start a job: ${new Date(mostRecent).toUTCString().replace('GMT', '+0000')}`);
            return;
          }
          const name = jobNameFor(cj.metadata.name!, mostRecent);
          if ((st.active ?? []).some((a) => a.name === name) || (st.lastScheduleTime && Date.parse(st.lastScheduleTime) === mostRecent)) return;
          if (spec.concurrencyPolicy === 'Forbid' && (st.active ?? []).length > 0) {
            recorder.event(cj, 'Normal', 'JobAlreadyActive', 'Not starting job because prior execution is running and concurrency policy is Forbid');
            return;
          }
          if (spec.concurrencyPolicy === 'Replace') {
            for (const a of [...(st.active ?? [])]) {
              const j = children.find((c) => c.metadata.uid === a.uid) ?? (await jobs.get(a.name!, a.namespace).catch(() => undefined));
              if (j) await deleteJob(cj, j);
              dropActive(a.uid);
            }
          }
          const template = deepClone(spec.jobTemplate ?? {});
          const job: KubeObject = {
            apiVersion: 'batch/v1',
            kind: 'Job',
            metadata: {
              name,
              namespace: cj.metadata.namespace,
              labels: { ...(template.metadata?.labels ?? {}) },
              annotations: { ...(template.metadata?.annotations ?? {}), [SCHEDULED_TIMESTAMP_ANNOTATION]: new ZoneClock(spec.timeZone ?? 'UTC').rfc3339(mostRecent) },
              ownerReferences: [newControllerRef(cj)],
            },
            spec: template.spec ?? {},
          };
          try {
            created = await jobs.create(job);
            recorder.event(cj, 'Normal', 'SuccessfulCreate', `Created job ${created.metadata.name}`);
          } catch (e) {
            if (!isAlreadyExists(e)) {
              recorder.event(cj, 'Warning', 'FailedCreate', `Error creating job: ${(e as Error).message}`);
              throw e;
            }
            const existing = await jobs.get(name, cj.metadata.namespace);
            if (controllerRefOf(existing)?.uid !== cj.metadata.uid || inActive(existing.metadata.uid)) return;
            created = existing;
          }
          (st.active ??= []).push({
            kind: 'Job',
            namespace: created.metadata.namespace,
            name: created.metadata.name,
            uid: created.metadata.uid,
            apiVersion: 'batch/v1',
            resourceVersion: created.metadata.resourceVersion,
          });
          st.lastScheduleTime = rfc3339(mostRecent);
          requeueAfterMs = nextRequeueMs(sched, { ...timing, lastScheduleTime: st.lastScheduleTime }, now);
        };
        await plan();

        if (!semanticallyEqual(st, cached.status ?? {})) {
          try {
            await cronJobs.updateStatus({ ...deepClone(cached), status: st } as KubeObject);
          } catch (e) {
            if (isNotFound(e)) return;
            if (!isConflict(e)) throw e;
            // A stale cache: our view of status (active jobs, times) is what matters; write it over the fresh object.
            const fresh = await cronJobs.get(cj.metadata.name!, cj.metadata.namespace);
            await cronJobs.updateStatus({ ...fresh, status: st } as KubeObject);
          }
        }

        // History limits: the oldest finished Jobs beyond them go (upstream cleanupFinishedJobs).
        if (!cj.metadata.deletionTimestamp) {
          const byStart = (a: KubeObject, b: KubeObject) => {
            const sa = jobStatusOf(a).startTime;
            const sb = jobStatusOf(b).startTime;
            if (!sa && sb) return -1;
            if (sa && !sb) return 1;
            if (sa && sb && sa !== sb) return sa < sb ? -1 : 1;
            return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1;
          };
          for (const [type, limit] of [
            ['Complete', spec.successfulJobsHistoryLimit],
            ['Failed', spec.failedJobsHistoryLimit],
          ] as const) {
            if (limit == null) continue;
            const done = children.filter((j) => finishedType(j) === type && !j.metadata.deletionTimestamp).sort(byStart);
            for (const j of done.slice(0, Math.max(0, done.length - limit))) await deleteJob(cj, j);
          }
        }
        return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
      };

      const { controller, queue } = simpleController(ctx, { name: 'cronjob', primary: cjInformer, secondary: [jobInformer], reconcile });
      const enqueueOwner = (j: KubeObject) => {
        const ref = controllerRefOf(j);
        if (ref?.kind === 'CronJob') queue.add(`${j.metadata.namespace}/${ref.name}`);
      };
      jobInformer.addEventHandler({
        onAdd: enqueueOwner,
        onUpdate: (old, j) => {
          if (old.metadata.resourceVersion !== j.metadata.resourceVersion) enqueueOwner(j);
        },
        onDelete: (o) => enqueueOwner(finalStateOf(o)),
      });
      return controller;
    },
  };
}

export const cronJobController: ControllerSpec = makeCronJobController();
