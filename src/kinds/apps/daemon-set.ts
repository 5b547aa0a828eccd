/** apps/v1 DaemonSet: one pod per eligible node. */
import { type FieldError, type FieldPath, fieldErr } from '../../registry/field-errors.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import { formatLabelSelector, isEmptyLabelSelector, labelSelectorAsSelector, validateLabelSelector } from '../label-selector.js';
import { ageColumn, creationAge, formatLabels, nameColumn } from '../printing.js';
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
  selectorColumn,
  selectorImmutable,
  selectorMatchesTemplate,
  specOf,
  validateLongRunningPodSpec,
  validateNonnegative,
  validatePodTemplateSpec,
  validatePositiveIntOrPercent,
} from './workload-common.js';

interface UpdateStrategy {
  type?: string;
  rollingUpdate?: { maxUnavailable?: IntOrString; maxSurge?: IntOrString };
}
interface DaemonSetSpec extends WorkloadSpec {
  updateStrategy?: UpdateStrategy;
}

/**
 * apps/v1 keeps the internal spec.templateGeneration in this annotation; the strategy sets it to 1
 * on create and bumps it whenever the pod template changes.
 */
export const TEMPLATE_GENERATION_ANNOTATION = 'deprecated.daemonset.template.generation';

function validateUpdateStrategy(s: UpdateStrategy, path: FieldPath): FieldError[] {
  if (s.type === 'OnDelete') return [];
  if (s.type !== 'RollingUpdate') return [fieldErr.notSupported(path, s, ['RollingUpdate', 'OnDelete'])];
  const ru = s.rollingUpdate;
  const rp = path.child('rollingUpdate');
  if (!ru) return [fieldErr.required(rp)];
  const errs = [
    ...validatePositiveIntOrPercent(ru.maxUnavailable, rp.child('maxUnavailable')),
    ...validatePositiveIntOrPercent(ru.maxSurge, rp.child('maxSurge')),
    ...notMoreThan100Percent(ru.maxUnavailable, rp.child('maxUnavailable')),
    ...notMoreThan100Percent(ru.maxSurge, rp.child('maxSurge')),
  ];
  // Exactly one of surge and unavailability drives a DaemonSet rollout.
  const unavailable = intOrPercentValue(ru.maxUnavailable) !== 0;
  const surge = intOrPercentValue(ru.maxSurge) !== 0;
  if (unavailable && surge) errs.push(fieldErr.invalid(rp.child('maxSurge'), ru.maxSurge, 'may not be set when maxUnavailable is non-zero'));
  else if (!unavailable && !surge) errs.push(fieldErr.required(rp.child('maxUnavailable'), 'cannot be 0 when maxSurge is 0'));
  return errs;
}

function validate(obj: KubeObject): FieldError[] {
  const spec = specOf<DaemonSetSpec>(obj);
  const errs = validateLabelSelector(spec.selector, SPEC.child('selector'));
  const selector = labelSelectorAsSelector(spec.selector);
  if (selector) errs.push(...selectorMatchesTemplate({ ...selector, empty: false }, spec.template, SPEC.child('template')));
  if (spec.selector && isEmptyLabelSelector(spec.selector)) errs.push(fieldErr.invalid(SPEC.child('selector'), spec.selector, 'empty selector is invalid for daemonset'));
  errs.push(...validatePodTemplateSpec(spec.template ?? {}, SPEC.child('template')));
  errs.push(...validateLongRunningPodSpec(spec.template, SPEC.child('template'), 'DaemonSet'));
  errs.push(...validateNonnegative(spec.minReadySeconds, SPEC.child('minReadySeconds')));
  errs.push(...validateUpdateStrategy(spec.updateStrategy ?? {}, SPEC.child('updateStrategy')));
  errs.push(...validateNonnegative(spec.revisionHistoryLimit, SPEC.child('revisionHistoryLimit')));
  return errs;
}

function defaults(obj: KubeObject): void {
  const spec = (obj.spec ??= {}) as DaemonSetSpec;
  const us = (spec.updateStrategy ??= {});
  if (!us.type) us.type = 'RollingUpdate';
  if (us.type === 'RollingUpdate') {
    const ru = (us.rollingUpdate ??= {});
    ru.maxUnavailable ??= 1;
    ru.maxSurge ??= 0;
  }
  spec.revisionHistoryLimit ??= 10;
  defaultPodTemplate(spec);
}

const templateGeneration = (obj: KubeObject) => Number(obj.metadata.annotations?.[TEMPLATE_GENERATION_ANNOTATION] ?? 0) || 0;
function setTemplateGeneration(obj: KubeObject, gen: number): void {
  obj.metadata.annotations = { ...(obj.metadata.annotations ?? {}), [TEMPLATE_GENERATION_ANNOTATION]: String(gen) };
}

interface DaemonSetStatus {
  desiredNumberScheduled?: number;
  currentNumberScheduled?: number;
  numberReady?: number;
  updatedNumberScheduled?: number;
  numberAvailable?: number;
}

export const daemonSetKind: KindDefinition = {
  group: 'apps',
  version: 'v1',
  kind: 'DaemonSet',
  listKind: 'DaemonSetList',
  plural: 'daemonsets',
  singular: 'daemonset',
  namespaced: true,
  shortNames: ['ds'],
  categories: ['all'],
  nameFormat: 'subdomain',
  schemaName: 'io.k8s.api.apps.v1.DaemonSet',
  statusSubresource: true,
  tracksGeneration: true,
  printer: {
    columns: [
      nameColumn,
      intColumn('Desired', 'The total number of nodes that should be running the daemon pod.'),
      intColumn('Current', 'The number of nodes that are running at least one daemon pod and are supposed to.'),
      intColumn('Ready', 'The number of nodes that should be running the daemon pod and have one or more running and ready.'),
      intColumn('Up-to-date', 'The total number of nodes that are running the updated daemon pod.'),
      intColumn('Available', 'The number of nodes that should be running the daemon pod and have one or more available.'),
      { name: 'Node Selector', type: 'string', description: 'The node labels a node must have to run the daemon pod.', priority: 0 },
      ageColumn,
      containersColumn,
      imagesColumn,
      selectorColumn,
    ],
    cells(obj, now) {
      const spec = specOf<DaemonSetSpec>(obj);
      const st = (obj.status ?? {}) as DaemonSetStatus;
      return [
        obj.metadata.name,
        st.desiredNumberScheduled ?? 0,
        st.currentNumberScheduled ?? 0,
        st.numberReady ?? 0,
        st.updatedNumberScheduled ?? 0,
        st.numberAvailable ?? 0,
        formatLabels(spec.template?.spec?.nodeSelector),
        creationAge(obj, now),
        ...containerCells(spec.template),
        formatLabelSelector(spec.selector),
      ];
    },
  },
  strategy: {
    defaults,
    prepareForCreate(obj) {
      if (templateGeneration(obj) < 1) setTemplateGeneration(obj, 1);
    },
    prepareForUpdate(obj, old) {
      // Clients may not set the template generation; it follows template changes.
      const oldGen = templateGeneration(old);
      const gen = deepEqual(specOf(obj).template, specOf(old).template) ? oldGen : oldGen + 1;
      if (gen > 0) setTemplateGeneration(obj, gen);
      else if (obj.metadata.annotations) delete obj.metadata.annotations[TEMPLATE_GENERATION_ANNOTATION];
    },
    validate,
    validateUpdate: selectorImmutable,
  },
};
