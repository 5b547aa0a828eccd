/** apps/v1 Deployment: declarative rollouts over ReplicaSets. */
import { type FieldError, type FieldPath, fieldErr } from '../../registry/field-errors.js';
import type { KubeObject } from '../../util/object.js';
import { labelSelectorAsSelector } from '../label-selector.js';
import { ageColumn, creationAge, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';
import {
  type IntOrString,
  type WorkloadSpec,
  SPEC,
  containerCells,
  containersColumn,
  defaultPodTemplate,
  imagesColumn,
  intColumn,
  intOrPercentValue,
  notMoreThan100Percent,
  readyOfDesiredColumn,
  replicasScale,
  selectorColumn,
  selectorImmutable,
  specOf,
  validateNonnegative,
  validatePositiveIntOrPercent,
  validateReplicaSetTemplate,
  validateWorkloadSelector,
} from './workload-common.js';

interface DeploymentStrategy {
  type?: string;
  rollingUpdate?: { maxUnavailable?: IntOrString; maxSurge?: IntOrString };
}
interface DeploymentSpec extends WorkloadSpec {
  strategy?: DeploymentStrategy;
  progressDeadlineSeconds?: number;
  paused?: boolean;
}

function validateStrategy(s: DeploymentStrategy, path: FieldPath): FieldError[] {
  switch (s.type) {
    case 'Recreate':
      return s.rollingUpdate ? [fieldErr.forbidden(path.child('rollingUpdate'), "may not be specified when strategy `type` is 'Recreate'")] : [];
    case 'RollingUpdate': {
      const ru = s.rollingUpdate;
      const rp = path.child('rollingUpdate');
      if (!ru) return [fieldErr.required(rp, 'this should be defaulted and never be nil')];
      const errs = [
        ...validatePositiveIntOrPercent(ru.maxUnavailable, rp.child('maxUnavailable')),
        ...validatePositiveIntOrPercent(ru.maxSurge, rp.child('maxSurge')),
      ];
      // With neither surge nor unavailability allowed a rollout could never make progress.
      if (intOrPercentValue(ru.maxUnavailable) === 0 && intOrPercentValue(ru.maxSurge) === 0)
        errs.push(fieldErr.invalid(rp.child('maxUnavailable'), ru.maxUnavailable ?? 0, 'may not be 0 when `maxSurge` is 0'));
      errs.push(...notMoreThan100Percent(ru.maxUnavailable, rp.child('maxUnavailable')));
      return errs;
    }
    default:
      return [fieldErr.notSupported(path, s, ['Recreate', 'RollingUpdate'])];
  }
}

function validate(obj: KubeObject): FieldError[] {
  const spec = specOf<DeploymentSpec>(obj);
  const errs = validateNonnegative(spec.replicas, SPEC.child('replicas'));
  const sel = validateWorkloadSelector(spec.selector, SPEC.child('selector'), 'deployment');
  errs.push(...sel.errs);
  if (!sel.selector) errs.push(fieldErr.invalid(SPEC.child('selector'), spec.selector, 'invalid label selector'));
  else errs.push(...validateReplicaSetTemplate(spec.template, sel.selector, SPEC.child('template')));
  errs.push(...validateStrategy(spec.strategy ?? {}, SPEC.child('strategy')));
  errs.push(...validateNonnegative(spec.minReadySeconds, SPEC.child('minReadySeconds')));
  errs.push(...validateNonnegative(spec.revisionHistoryLimit, SPEC.child('revisionHistoryLimit')));
  if (spec.progressDeadlineSeconds != null) {
    errs.push(...validateNonnegative(spec.progressDeadlineSeconds, SPEC.child('progressDeadlineSeconds')));
    if (spec.progressDeadlineSeconds <= (spec.minReadySeconds ?? 0))
      errs.push(fieldErr.invalid(SPEC.child('progressDeadlineSeconds'), spec.progressDeadlineSeconds, 'must be greater than minReadySeconds'));
  }
  return errs;
}

function defaults(obj: KubeObject): void {
  const spec = (obj.spec ??= {}) as DeploymentSpec;
  spec.replicas ??= 1;
  const strategy = (spec.strategy ??= {});
  if (!strategy.type) strategy.type = 'RollingUpdate';
  if (strategy.type === 'RollingUpdate') {
    const ru = (strategy.rollingUpdate ??= {});
    ru.maxUnavailable ??= '25%';
    ru.maxSurge ??= '25%';
  }
  spec.revisionHistoryLimit ??= 10;
  spec.progressDeadlineSeconds ??= 600;
  defaultPodTemplate(spec);
}

interface DeploymentStatus {
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
}

export const deploymentKind: KindDefinition = {
  group: 'apps',
  version: 'v1',
  kind: 'Deployment',
  listKind: 'DeploymentList',
  plural: 'deployments',
  singular: 'deployment',
  namespaced: true,
  shortNames: ['deploy'],
  categories: ['all'],
  nameFormat: 'subdomain',
  schemaName: 'io.k8s.api.apps.v1.Deployment',
  statusSubresource: true,
  scale: replicasScale,
  tracksGeneration: true,
  printer: {
    columns: [
      nameColumn,
      readyOfDesiredColumn,
      intColumn('Up-to-date', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
      intColumn('Available', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'),
      ageColumn,
      containersColumn,
      imagesColumn,
      selectorColumn,
    ],
    cells(obj, now) {
      const spec = specOf<DeploymentSpec>(obj);
      const status = (obj.status ?? {}) as DeploymentStatus;
      // Deployments print the raw selector string ("" when empty), unlike the other workloads.
      const sel = labelSelectorAsSelector(spec.selector);
      return [
        obj.metadata.name,
        `${status.readyReplicas ?? 0}/${spec.replicas ?? 0}`,
        status.updatedReplicas ?? 0,
        status.availableReplicas ?? 0,
        creationAge(obj, now),
        ...containerCells(spec.template),
        sel ? sel.toString() : '<invalid>',
      ];
    },
  },
  strategy: { defaults, validate, validateUpdate: selectorImmutable },
};
