/** batch/v1 CronJob: Jobs on a schedule. */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import type { KubeObject } from '../../util/object.js';
import { SPEC, containerCells, containersColumn, defaultPodTemplate, imagesColumn, selectorColumn, validateNonnegative } from '../apps/workload-common.js';
import { formatLabelSelector } from '../label-selector.js';
import { age, ageColumn, creationAge, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';
import { cronScheduleError, timeZoneErrors } from './cron-schedule.js';
import { type JobSpec, validateJobSpecCommon } from './job-spec.js';

/** batch/v1 CronJobSpec, as validation and the CronJob controller read it. */
export interface CronJobSpec {
  schedule?: string;
  timeZone?: string;
  startingDeadlineSeconds?: number;
  concurrencyPolicy?: string;
  suspend?: boolean;
  jobTemplate?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: JobSpec };
  successfulJobsHistoryLimit?: number;
  failedJobsHistoryLimit?: number;
}
interface CronJobStatus {
  active?: unknown[];
  lastScheduleTime?: string;
}

/** Job names are "<cronjob>-<minutes>" and must stay DNS-1035 labels (63 - 11). */
const MAX_NAME_LEN = 52;
const CONCURRENCY_POLICIES = ['Allow', 'Forbid', 'Replace'];

const cronSpec = (obj: KubeObject) => (obj.spec ?? {}) as CronJobSpec;

function validateSchedule(schedule: string, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const parseErr = cronScheduleError(schedule);
  if (parseErr) errs.push(fieldErr.invalid(path, schedule, parseErr));
  if (schedule.includes('TZ')) errs.push(fieldErr.invalid(path, schedule, 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead'));
  return errs;
}

/**
 * Upstream validateCronJobSpec. Upstream relaxes the TZ-in-schedule and time zone checks on update
 * for objects that already had them; Cairn never admits such objects, so the create rules suffice.
 */
function validateSpec(spec: CronJobSpec): FieldError[] {
  const errs: FieldError[] = [];
  if (!spec.schedule) errs.push(fieldErr.required(SPEC.child('schedule')));
  else errs.push(...validateSchedule(spec.schedule, SPEC.child('schedule')));
  errs.push(...validateNonnegative(spec.startingDeadlineSeconds, SPEC.child('startingDeadlineSeconds')));
  if (spec.timeZone !== undefined)
    for (const m of timeZoneErrors(spec.timeZone)) errs.push(fieldErr.invalid(SPEC.child('timeZone'), spec.timeZone, m));
  const cp = spec.concurrencyPolicy ?? '';
  if (!cp) errs.push(fieldErr.required(SPEC.child('concurrencyPolicy')));
  else if (!CONCURRENCY_POLICIES.includes(cp)) errs.push(fieldErr.notSupported(SPEC.child('concurrencyPolicy'), cp, CONCURRENCY_POLICIES));
  errs.push(...validateJobTemplate(spec.jobTemplate ?? {}, SPEC.child('jobTemplate')));
  errs.push(...validateNonnegative(spec.successfulJobsHistoryLimit, SPEC.child('successfulJobsHistoryLimit')));
  errs.push(...validateNonnegative(spec.failedJobsHistoryLimit, SPEC.child('failedJobsHistoryLimit')));
  return errs;
}

/** Upstream ValidateJobTemplateSpec: the Job spec rules, and the selector is always generated per Job. */
function validateJobTemplate(t: NonNullable<CronJobSpec['jobTemplate']>, path: FieldPath): FieldError[] {
  const spec = t.spec ?? {};
  const sp = path.child('spec');
  const errs = validateJobSpecCommon(spec, sp);
  if (spec.selector) errs.push(fieldErr.invalid(sp.child('selector'), spec.selector, '`selector` will be auto-generated'));
  if (spec.manualSelector === true) errs.push(fieldErr.notSupported(sp.child('manualSelector'), spec.manualSelector, ['nil', 'false']));
  return errs;
}

function validate(obj: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const name = obj.metadata.name ?? '';
  if (name.length > MAX_NAME_LEN) errs.push(fieldErr.invalid(FieldPath.root('metadata').child('name'), name, `must be no more than ${MAX_NAME_LEN} characters`));
  return [...errs, ...validateSpec(cronSpec(obj))];
}

export const cronJobKind: KindDefinition = {
  group: 'batch',
  version: 'v1',
  kind: 'CronJob',
  listKind: 'CronJobList',
  plural: 'cronjobs',
  singular: 'cronjob',
  namespaced: true,
  shortNames: ['cj'],
  categories: ['all'],
  nameFormat: 'subdomain',
  schemaName: 'io.k8s.api.batch.v1.CronJob',
  statusSubresource: true,
  tracksGeneration: true,
  printer: {
    columns: [
      nameColumn,
      { name: 'Schedule', type: 'string', description: 'The schedule in Cron format.', priority: 0 },
      { name: 'Timezone', type: 'string', description: 'The time zone name for the given schedule.', priority: 0 },
      { name: 'Suspend', type: 'boolean', description: 'Whether subsequent executions are suspended.', priority: 0 },
      { name: 'Active', type: 'integer', description: 'The number of currently running jobs.', priority: 0 },
      { name: 'Last Schedule', type: 'string', description: 'Information when was the last time the job was successfully scheduled.', priority: 0 },
      ageColumn,
      containersColumn,
      imagesColumn,
      selectorColumn,
    ],
    cells(obj, now) {
      const spec = cronSpec(obj);
      const st = (obj.status ?? {}) as CronJobStatus;
      const template = spec.jobTemplate?.spec?.template;
      return [
        obj.metadata.name,
        spec.schedule ?? '',
        spec.timeZone ?? '<none>',
        spec.suspend === undefined ? '<unset>' : spec.suspend ? 'True' : 'False',
        (st.active ?? []).length,
        st.lastScheduleTime ? age(st.lastScheduleTime, now) : '<none>',
        creationAge(obj, now),
        ...containerCells(template),
        formatLabelSelector(spec.jobTemplate?.spec?.selector),
      ];
    },
  },
  strategy: {
    defaults(obj) {
      const spec = (obj.spec ??= {}) as CronJobSpec;
      spec.concurrencyPolicy ??= 'Allow';
      spec.suspend ??= false;
      spec.successfulJobsHistoryLimit ??= 3;
      spec.failedJobsHistoryLimit ??= 1;
      const jt = (spec.jobTemplate ??= {});
      defaultPodTemplate((jt.spec ??= {}));
    },
    validate,
  },
};
