/**
 * JobSpec rules shared by Job and CronJob's jobTemplate: upstream's validateJobSpec (everything
 * but the selector), defaults of the pod template, and the printer's wide cells.
 */
import { type FieldError, type FieldPath, fieldErr } from '../../registry/field-errors.js';
import { type PodTemplate, validateNonnegative, validatePodTemplateSpec } from '../apps/workload-common.js';
import type { LabelSelector } from '../label-selector.js';

export interface PodFailurePolicyRule {
  action?: string;
  onExitCodes?: unknown;
  onPodConditions?: { type?: string; status?: string }[];
}

export interface JobSpec {
  parallelism?: number;
  completions?: number;
  activeDeadlineSeconds?: number;
  backoffLimit?: number;
  backoffLimitPerIndex?: number;
  maxFailedIndexes?: number;
  ttlSecondsAfterFinished?: number;
  completionMode?: string;
  suspend?: boolean;
  manualSelector?: boolean;
  selector?: LabelSelector;
  template?: PodTemplate;
  podFailurePolicy?: { rules?: PodFailurePolicyRule[] };
  podReplacementPolicy?: string;
  successPolicy?: unknown;
  managedBy?: string;
}

const MAX_INDEXED_PARALLELISM = 100000;
const MAX_POD_FAILURE_RULES = 20;
const FAILURE_ACTIONS = ['Count', 'FailIndex', 'FailJob', 'Ignore'];
const REPLACEMENT_POLICIES = ['Failed', 'TerminatingOrFailed'];

function validatePodFailurePolicy(spec: JobSpec, path: FieldPath): FieldError[] {
  const rules = spec.podFailurePolicy?.rules ?? [];
  const rp = path.child('rules');
  const errs: FieldError[] = [];
  if (rules.length > MAX_POD_FAILURE_RULES) errs.push(fieldErr.tooMany(rp, rules.length, MAX_POD_FAILURE_RULES));
  rules.forEach((r, i) => {
    const p = rp.index(i);
    if (!r.action) errs.push(fieldErr.required(p.child('action'), `valid values: [${FAILURE_ACTIONS.map((a) => JSON.stringify(a)).join(' ')}]`));
    else if (r.action === 'FailIndex') {
      if (spec.backoffLimitPerIndex == null) errs.push(fieldErr.invalid(p.child('action'), r.action, 'requires the backoffLimitPerIndex to be set'));
    } else if (!FAILURE_ACTIONS.includes(r.action)) errs.push(fieldErr.notSupported(p.child('action'), r.action, FAILURE_ACTIONS));
    const hasCodes = r.onExitCodes != null;
    const hasConds = (r.onPodConditions ?? []).length > 0;
    if (hasCodes && hasConds) errs.push({ ...fieldErr.invalid(p, undefined, 'specifying both OnExitCodes and OnPodConditions is not supported'), omitValue: true });
    if (!hasCodes && !hasConds) errs.push({ ...fieldErr.invalid(p, undefined, 'specifying one of OnExitCodes and OnPodConditions is required'), omitValue: true });
  });
  return errs;
}

/** Upstream validateJobSpec: counts, completion mode, failure/replacement policies, the template and its restartPolicy. */
export function validateJobSpecCommon(spec: JobSpec, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  for (const f of ['parallelism', 'completions', 'activeDeadlineSeconds', 'backoffLimit', 'ttlSecondsAfterFinished'] as const)
    errs.push(...validateNonnegative(spec[f], path.child(f)));
  const indexed = spec.completionMode === 'Indexed';
  if (spec.backoffLimitPerIndex != null) {
    errs.push(...validateNonnegative(spec.backoffLimitPerIndex, path.child('backoffLimitPerIndex')));
    if (!indexed) errs.push(fieldErr.forbidden(path.child('backoffLimitPerIndex'), 'requires indexed completion mode'));
  }
  if (spec.maxFailedIndexes != null) {
    errs.push(...validateNonnegative(spec.maxFailedIndexes, path.child('maxFailedIndexes')));
    if (spec.backoffLimitPerIndex == null) errs.push(fieldErr.required(path.child('backoffLimitPerIndex'), 'when maxFailedIndexes is specified'));
    else if (spec.completions != null && spec.maxFailedIndexes > spec.completions)
      errs.push(fieldErr.invalid(path.child('maxFailedIndexes'), spec.maxFailedIndexes, 'must be less than or equal to completions'));
  }
  if (spec.completionMode != null) {
    if (spec.completionMode !== 'NonIndexed' && !indexed) errs.push(fieldErr.notSupported(path.child('completionMode'), spec.completionMode, ['NonIndexed', 'Indexed']));
    if (indexed) {
      if (spec.completions == null) errs.push(fieldErr.required(path.child('completions'), 'when completion mode is Indexed'));
      if (spec.parallelism != null && spec.parallelism > MAX_INDEXED_PARALLELISM)
        errs.push(fieldErr.invalid(path.child('parallelism'), spec.parallelism, `must be less than or equal to ${MAX_INDEXED_PARALLELISM} when completion mode is Indexed`));
    }
  }
  if (spec.podFailurePolicy) errs.push(...validatePodFailurePolicy(spec, path.child('podFailurePolicy')));
  if (spec.podReplacementPolicy != null) {
    const rp = path.child('podReplacementPolicy');
    if (spec.podFailurePolicy) {
      if (spec.podReplacementPolicy !== 'Failed') errs.push(fieldErr.notSupported(rp, spec.podReplacementPolicy, ['Failed']));
    } else if (!REPLACEMENT_POLICIES.includes(spec.podReplacementPolicy)) errs.push(fieldErr.notSupported(rp, spec.podReplacementPolicy, REPLACEMENT_POLICIES));
  }
  const tp = path.child('template');
  errs.push(...validatePodTemplateSpec(spec.template ?? {}, tp));
  // The pod defaults make an unset restartPolicy "Always", so both read as "not chosen" here.
  const restart = spec.template?.spec?.restartPolicy ?? '';
  const rp = tp.child('spec', 'restartPolicy');
  if (restart === 'Always' || restart === '') errs.push(fieldErr.required(rp, 'valid values: "OnFailure", "Never"'));
  else if (restart !== 'OnFailure' && restart !== 'Never') errs.push(fieldErr.notSupported(rp, restart, ['OnFailure', 'Never']));
  else if (spec.podFailurePolicy && restart !== 'Never') errs.push(fieldErr.invalid(rp, restart, 'only "Never" is supported when podFailurePolicy is specified'));
  return errs;
}
