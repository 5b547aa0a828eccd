/**
 * What the apps and batch workloads share: selector + pod template validation in upstream's
 * shape (ValidatePodTemplateSpecForReplicaSet and friends), int-or-percent rollout knobs,
 * pod-template defaulting, selector immutability, the scale subresource and the shared
 * Ready/Containers/Images/Selector columns.
 */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { immutableField } from '../../registry/validation.js';
import { deepEqual, isPlainObject, type KubeObject } from '../../util/object.js';
import { defaultPodSpec, validatePodTemplateSpec } from '../core/pod-spec.js';
import { type LabelSelector, type Selector, isEmptyLabelSelector, labelSelectorAsSelector, validateLabelSelector } from '../label-selector.js';
import type { ScaleSubresource, TableColumn } from '../types.js';

export { validateNonnegative } from '../core/helpers.js';

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: {
    containers?: { name?: string; image?: string }[];
    restartPolicy?: string;
    activeDeadlineSeconds?: number;
    nodeSelector?: Record<string, string>;
    [k: string]: unknown;
  };
}

export interface WorkloadSpec {
  replicas?: number;
  selector?: LabelSelector;
  template?: PodTemplate;
  minReadySeconds?: number;
  revisionHistoryLimit?: number;
}

export const SPEC = FieldPath.root('spec');
export const specOf = <T = WorkloadSpec>(obj: KubeObject): T => (obj.spec ?? {}) as T;

/** Pod template defaults (SetDefaults_PodSpec via the core helper); the template always exists, as a Go struct would. */
export function defaultPodTemplate(parent: { template?: PodTemplate }): void {
  const t = (parent.template ??= {});
  if (!isPlainObject(t.spec)) t.spec = {};
  defaultPodSpec(t.spec as Record<string, unknown>);
}

/**
 * The selector of a workload: required, valid, and not empty ("empty selector is invalid for
 * <kind>" — upstream's ReplicaSet check says "deployment" too). Also returns the parsed selector
 * (null when it does not parse) for the template check.
 */
export function validateWorkloadSelector(sel: LabelSelector | undefined, path: FieldPath, kindWord: string): { errs: FieldError[]; selector: Selector | null } {
  const errs: FieldError[] = [];
  if (!sel) errs.push(fieldErr.required(path));
  else {
    errs.push(...validateLabelSelector(sel, path));
    if (isEmptyLabelSelector(sel)) errs.push(fieldErr.invalid(path, sel, `empty selector is invalid for ${kindWord}`));
  }
  return { errs, selector: labelSelectorAsSelector(sel) };
}

/** A non-empty selector must select the template's own labels, or the controller would orphan its pods. */
export function selectorMatchesTemplate(selector: Selector, template: PodTemplate | undefined, templatePath: FieldPath): FieldError[] {
  const labels = template?.metadata?.labels ?? {};
  if (selector.empty || selector.matches(labels)) return [];
  return [fieldErr.invalid(templatePath.child('metadata', 'labels'), labels, '`selector` does not match template `labels`')];
}

/** Long-running pods: restartPolicy Always and no activeDeadlineSeconds (`what` names the kind in the message). */
export function validateLongRunningPodSpec(template: PodTemplate | undefined, templatePath: FieldPath, what: string): FieldError[] {
  const errs: FieldError[] = [];
  const spec = template?.spec ?? {};
  const sp = templatePath.child('spec');
  if (spec.restartPolicy !== 'Always') errs.push(fieldErr.notSupported(sp.child('restartPolicy'), spec.restartPolicy ?? '', ['Always']));
  if (spec.activeDeadlineSeconds != null) errs.push(fieldErr.forbidden(sp.child('activeDeadlineSeconds'), `activeDeadlineSeconds in ${what} is not Supported`));
  return errs;
}

/** Upstream ValidatePodTemplateSpecForReplicaSet (Deployments use it too). */
export function validateReplicaSetTemplate(template: PodTemplate | undefined, selector: Selector, path: FieldPath): FieldError[] {
  if (!template) return [fieldErr.required(path)];
  return [...selectorMatchesTemplate(selector, template, path), ...validatePodTemplateSpec(template, path), ...validateLongRunningPodSpec(template, path, 'ReplicaSet')];
}

/** Validates the template with the core helper (exported for kinds that wrap it differently). */
export { validatePodTemplateSpec };

/** apps/v1 made spec.selector immutable for every workload. */
export function selectorImmutable(obj: KubeObject, old: KubeObject): FieldError[] {
  return immutableField(specOf(obj).selector, specOf(old).selector, SPEC.child('selector'), deepEqual);
}

// ---- int-or-percent (maxSurge, maxUnavailable) ----

export type IntOrString = number | string;
const percentRe = /^[0-9]+%$/;
const PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";

/** Upstream ValidatePositiveIntOrPercent. */
export function validatePositiveIntOrPercent(v: IntOrString | undefined, path: FieldPath): FieldError[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return percentRe.test(v) ? [] : [fieldErr.invalid(path, v, PERCENT_MSG)];
  return v < 0 ? [fieldErr.invalid(path, v, 'must be greater than or equal to 0')] : [];
}

/** Upstream getIntOrPercentValue: the number, or the percentage's number; 0 for anything else. */
export function intOrPercentValue(v: IntOrString | undefined): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && percentRe.test(v)) return Number(v.slice(0, -1));
  return 0;
}

export function notMoreThan100Percent(v: IntOrString | undefined, path: FieldPath): FieldError[] {
  return typeof v === 'string' && percentRe.test(v) && intOrPercentValue(v) > 100 ? [fieldErr.invalid(path, v, 'must not be greater than 100%')] : [];
}

// ---- printing ----

/** Upstream layoutContainerCells: container names and images, comma-separated. */
export function containerCells(template: PodTemplate | undefined): [string, string] {
  const cs = template?.spec?.containers ?? [];
  return [cs.map((c) => c.name ?? '').join(','), cs.map((c) => c.image ?? '').join(',')];
}

export const containersColumn: TableColumn = { name: 'Containers', type: 'string', description: 'Names of each container in the template.', priority: 1 };
export const imagesColumn: TableColumn = { name: 'Images', type: 'string', description: 'Images referenced by each container in the template.', priority: 1 };
export const selectorColumn: TableColumn = { name: 'Selector', type: 'string', description: 'The label selector of the pods this object manages.', priority: 1 };
export const intColumn = (name: string, description: string): TableColumn => ({ name, type: 'integer', description, priority: 0 });
/** Deployment's and StatefulSet's READY column, printed as `ready/desired`. */
export const readyOfDesiredColumn: TableColumn = { name: 'Ready', type: 'string', description: 'Number of the pod with ready state', priority: 0 };

/** The scale subresource of the replicated workloads (Deployment, ReplicaSet, StatefulSet). */
export const replicasScale: ScaleSubresource = { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' };
