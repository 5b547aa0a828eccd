/** apps/v1 ReplicaSet: keeps N identical pods running. */
import { type FieldError, fieldErr } from '../../registry/field-errors.js';
import type { KubeObject } from '../../util/object.js';
import { formatLabelSelector } from '../label-selector.js';
import { ageColumn, creationAge, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';
import {
  type WorkloadSpec,
  SPEC,
  containerCells,
  containersColumn,
  defaultPodTemplate,
  imagesColumn,
  intColumn,
  replicasScale,
  selectorColumn,
  selectorImmutable,
  specOf,
  validateNonnegative,
  validateReplicaSetTemplate,
  validateWorkloadSelector,
} from './workload-common.js';

function validate(obj: KubeObject): FieldError[] {
  const spec = specOf(obj);
  const errs = [...validateNonnegative(spec.replicas, SPEC.child('replicas')), ...validateNonnegative(spec.minReadySeconds, SPEC.child('minReadySeconds'))];
  // Upstream's ReplicaSet message says "deployment" too.
  const sel = validateWorkloadSelector(spec.selector, SPEC.child('selector'), 'deployment');
  errs.push(...sel.errs);
  if (!sel.selector) errs.push(fieldErr.invalid(SPEC.child('selector'), spec.selector, 'invalid label selector'));
  else errs.push(...validateReplicaSetTemplate(spec.template, sel.selector, SPEC.child('template')));
  return errs;
}

const status = (obj: KubeObject) => (obj.status ?? {}) as { replicas?: number; readyReplicas?: number };

export const replicaSetKind: KindDefinition = {
  group: 'apps',
  version: 'v1',
  kind: 'ReplicaSet',
  listKind: 'ReplicaSetList',
  plural: 'replicasets',
  singular: 'replicaset',
  namespaced: true,
  shortNames: ['rs'],
  categories: ['all'],
  nameFormat: 'subdomain',
  schemaName: 'io.k8s.api.apps.v1.ReplicaSet',
  statusSubresource: true,
  scale: replicasScale,
  tracksGeneration: true,
  // Upstream's ReplicaSetToSelectableFields adds status.replicas.
  fieldSelectors: { 'status.replicas': (obj) => String(status(obj).replicas ?? 0) },
  printer: {
    columns: [
      nameColumn,
      intColumn('Desired', 'Number of desired pods.'),
      intColumn('Current', 'The most recently observed number of replicas.'),
      intColumn('Ready', 'The number of ready replicas for this replica set.'),
      ageColumn,
      containersColumn,
      imagesColumn,
      selectorColumn,
    ],
    cells(obj, now) {
      const spec = specOf(obj);
      const st = status(obj);
      return [obj.metadata.name, spec.replicas ?? 0, st.replicas ?? 0, st.readyReplicas ?? 0, creationAge(obj, now), ...containerCells(spec.template), formatLabelSelector(spec.selector)];
    },
  },
  strategy: {
    defaults(obj) {
      const spec = (obj.spec ??= {}) as WorkloadSpec;
      spec.replicas ??= 1;
      defaultPodTemplate(spec);
    },
    validate,
    validateUpdate: selectorImmutable,
  },
};
