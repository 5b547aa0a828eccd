/** batch/v1 Job: run pods to completion. */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { immutableField, isDNS1123Label } from '../../registry/validation.js';
import { deepClone, deepEqual, type KubeObject } from '../../util/object.js';
import {
  SPEC,
  containerCells,
  containersColumn,
  defaultPodTemplate,
  imagesColumn,
  selectorColumn,
  selectorMatchesTemplate,
  specOf,
} from '../apps/workload-common.js';
import { formatLabelSelector, labelSelectorAsSelector, validateLabelSelector } from '../label-selector.js';
import { ageColumn, creationAge, humanDuration, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';
import { type JobSpec, validateJobSpecCommon } from './job-spec.js';

/** Labels the generated selector uses: the legacy ones and their batch.kubernetes.io successors. */
export const JOB_NAME_LABELS = ['job-name', 'batch.kubernetes.io/job-name'];
export const CONTROLLER_UID_LABELS = ['controller-uid', 'batch.kubernetes.io/controller-uid'];
const SELECTOR_UID_LABEL = 'batch.kubernetes.io/controller-uid';

interface JobStatus {
  succeeded?: number;
  startTime?: string;
  completionTime?: string;
  conditions?: { type?: string; status?: string }[];
}

const jobSpec = (obj: KubeObject) => specOf<JobSpec>(obj);

/**
 * Upstream's generateSelector: unless manualSelector, label the template with the job's name and
 * uid and select on the uid. Needs both name and uid, so it runs at validation time, as upstream.
 */
export function generateSelector(obj: KubeObject): void {
  const spec = (obj.spec ??= {}) as JobSpec;
  if (spec.manualSelector === true || !obj.metadata.uid || !obj.metadata.name) return;
  const t = (spec.template ??= {});
  const labels = ((t.metadata ??= {}).labels ??= {});
  for (const l of JOB_NAME_LABELS) if (!(l in labels)) labels[l] = obj.metadata.name;
  for (const l of CONTROLLER_UID_LABELS) if (!(l in labels)) labels[l] = obj.metadata.uid;
  const match = ((spec.selector ??= {}).matchLabels ??= {});
  if (!(SELECTOR_UID_LABEL in match)) match[SELECTOR_UID_LABEL] = obj.metadata.uid;
}

/** Upstream validateGeneratedSelector: the generated labels must be present and select this job only. */
function validateGeneratedSelector(obj: KubeObject): FieldError[] {
  const spec = jobSpec(obj);
  if (spec.manualSelector === true) return [];
  const uid = obj.metadata.uid ?? '';
  const errs: FieldError[] = [];
  if (!uid) errs.push(fieldErr.required(FieldPath.root('metadata').child('uid')));
  const lp = SPEC.child('template', 'metadata').child('labels');
  const labels = spec.template?.metadata?.labels ?? {};
  const expect: [string, string][] = [
    ['controller-uid', uid],
    ['job-name', obj.metadata.name ?? ''],
    ['batch.kubernetes.io/controller-uid', uid],
    ['batch.kubernetes.io/job-name', obj.metadata.name ?? ''],
  ];
  for (const [k, v] of expect) {
    if (!(k in labels)) errs.push(fieldErr.required(lp.key(k), `must be '${v}'`));
    else if (labels[k] !== v) errs.push(fieldErr.invalid(lp.key(k), labels, `must be '${v}'`));
  }
  const sel = labelSelectorAsSelector(spec.selector);
  if (sel && !sel.matches({ 'controller-uid': uid, [SELECTOR_UID_LABEL]: uid }))
    errs.push(fieldErr.invalid(SPEC.child('selector'), spec.selector ?? null, '`selector` not auto-generated'));
  return errs;
}

function validate(obj: KubeObject): FieldError[] {
  generateSelector(obj);
  const spec = jobSpec(obj);
  const errs = [...validateGeneratedSelector(obj), ...validateJobSpecCommon(spec, SPEC)];
  if (!spec.selector) errs.push(fieldErr.required(SPEC.child('selector')));
  else errs.push(...validateLabelSelector(spec.selector, SPEC.child('selector')));
  const sel = labelSelectorAsSelector(spec.selector);
  if (sel) errs.push(...selectorMatchesTemplate({ ...sel, empty: false }, spec.template, SPEC.child('template')));
  // Indexed pods get "-<index>" hostnames, which must stay valid DNS labels.
  if (spec.completionMode === 'Indexed' && (spec.completions ?? 0) > 0) {
    const host = `${obj.metadata.name}-${spec.completions! - 1}`;
    if (isDNS1123Label(host).length)
      errs.push(fieldErr.invalid(FieldPath.root('metadata').child('name'), obj.metadata.name, `will not able to create pod with invalid DNS label: ${host}`));
  }
  return errs;
}

/** Indexed jobs may scale completions together with parallelism; otherwise completions is fixed. */
function validateCompletionsUpdate(n: JobSpec, o: JobSpec): FieldError[] {
  const path = SPEC.child('completions');
  if (n.completionMode !== 'Indexed') return immutableField(n.completions, o.completions, path, deepEqual);
  if (n.completions === o.completions || n.completions == null) return [];
  return n.completions !== n.parallelism ? [fieldErr.invalid(path, n.completions, 'can only be modified in tandem with spec.parallelism')] : [];
}

function validateUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const n = jobSpec(obj);
  const o = jobSpec(old);
  const errs = [...validateCompletionsUpdate(n, o), ...immutableField(n.selector, o.selector, SPEC.child('selector'), deepEqual)];
  // A suspended job that never started may still be re-targeted (scheduling directives, labels, annotations).
  const oldTemplate = deepClone(o.template ?? {});
  const oldStatus = (old.status ?? {}) as JobStatus;
  if (o.suspend === true && !oldStatus.startTime) {
    const nt = n.template ?? {};
    oldTemplate.metadata = { ...(oldTemplate.metadata ?? {}), labels: nt.metadata?.labels, annotations: nt.metadata?.annotations };
    const os = (oldTemplate.spec ??= {});
    for (const f of ['affinity', 'nodeSelector', 'tolerations', 'schedulingGates']) os[f] = nt.spec?.[f];
  }
  errs.push(...immutableField(n.template, oldTemplate, SPEC.child('template'), deepEqual));
  for (const f of ['completionMode', 'podFailurePolicy', 'backoffLimitPerIndex', 'managedBy', 'successPolicy'] as const)
    errs.push(...immutableField(n[f], o[f], SPEC.child(f), deepEqual));
  return errs;
}

function defaults(obj: KubeObject): void {
  const spec = (obj.spec ??= {}) as JobSpec;
  // A non-parallel job leaves both unset; both then mean 1.
  if (spec.completions == null && spec.parallelism == null) spec.completions = 1;
  spec.parallelism ??= 1;
  spec.backoffLimit ??= spec.backoffLimitPerIndex != null ? 2147483647 : 6;
  const templateLabels = spec.template?.metadata?.labels;
  if (templateLabels && Object.keys(obj.metadata.labels ?? {}).length === 0) obj.metadata.labels = { ...templateLabels };
  spec.completionMode ??= 'NonIndexed';
  spec.suspend ??= false;
  for (const r of spec.podFailurePolicy?.rules ?? []) for (const c of r.onPodConditions ?? []) if (!c.status) c.status = 'True';
  spec.podReplacementPolicy ??= spec.podFailurePolicy ? 'Failed' : 'TerminatingOrFailed';
  defaultPodTemplate(spec);
}

const hasCondition = (st: JobStatus, type: string) => (st.conditions ?? []).some((c) => c.type === type && c.status === 'True');

function jobStatusCell(obj: KubeObject, st: JobStatus): string {
  if (hasCondition(st, 'Complete')) return 'Complete';
  if (hasCondition(st, 'Failed')) return 'Failed';
  if (obj.metadata.deletionTimestamp) return 'Terminating';
  if (hasCondition(st, 'Suspended')) return 'Suspended';
  if (hasCondition(st, 'FailureTarget')) return 'FailureTarget';
  return 'Running';
}

function completionsCell(spec: JobSpec, st: JobStatus): string {
  const done = st.succeeded ?? 0;
  if (spec.completions != null) return `${done}/${spec.completions}`;
  const par = spec.parallelism ?? 0;
  return par > 1 ? `${done}/1 of ${par}` : `${done}/1`;
}

function durationCell(st: JobStatus, now: Date): string {
  if (!st.startTime) return '';
  const end = st.completionTime ? Date.parse(st.completionTime) : now.getTime();
  return humanDuration(end - Date.parse(st.startTime));
}

export const jobKind: KindDefinition = {
  group: 'batch',
  version: 'v1',
  kind: 'Job',
  listKind: 'JobList',
  plural: 'jobs',
  singular: 'job',
  namespaced: true,
  categories: ['all'],
  nameFormat: 'subdomain',
  schemaName: 'io.k8s.api.batch.v1.Job',
  statusSubresource: true,
  tracksGeneration: true,
  fieldSelectors: { 'status.successful': (obj) => String(((obj.status ?? {}) as JobStatus).succeeded ?? 0) },
  printer: {
    columns: [
      nameColumn,
      { name: 'Status', type: 'string', description: 'Status of the job.', priority: 0 },
      { name: 'Completions', type: 'string', description: 'The desired number of successfully finished pods the job should be run with.', priority: 0 },
      { name: 'Duration', type: 'string', description: 'Time required to complete the job.', priority: 0 },
      ageColumn,
      containersColumn,
      imagesColumn,
      selectorColumn,
    ],
    cells(obj, now) {
      const spec = jobSpec(obj);
      const st = (obj.status ?? {}) as JobStatus;
      return [
        obj.metadata.name,
        jobStatusCell(obj, st),
        completionsCell(spec, st),
        durationCell(st, now),
        creationAge(obj, now),
        ...containerCells(spec.template),
        formatLabelSelector(spec.selector),
      ];
    },
  },
  strategy: {
    defaults,
    prepareForCreate: (obj) => generateSelector(obj),
    validate,
    validateUpdate,
  },
};
