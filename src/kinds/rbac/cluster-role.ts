/** rbac.authorization.k8s.io/v1 ClusterRole: cluster-wide permissions, optionally aggregated from other ClusterRoles. */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import type { KubeObject } from '../../util/object.js';
import { type LabelSelector, labelSelectorAsSelector, validateLabelSelector } from '../label-selector.js';
import type { KindDefinition } from '../types.js';
import { rolePrinter, validateRules } from './policy-rule.js';

function validateAggregationRule(obj: KubeObject): FieldError[] {
  const rule = obj.aggregationRule as { clusterRoleSelectors?: LabelSelector[] } | undefined;
  if (!rule) return [];
  const path = FieldPath.root('aggregationRule').child('clusterRoleSelectors');
  const selectors = rule.clusterRoleSelectors ?? [];
  const errs: FieldError[] = [];
  if (selectors.length === 0) errs.push(fieldErr.required(path, 'at least one clusterRoleSelector required if aggregationRule is non-nil'));
  selectors.forEach((s, i) => {
    errs.push(...validateLabelSelector(s, path.index(i)));
    if (!labelSelectorAsSelector(s)) errs.push(fieldErr.invalid(path.index(i), s, 'invalid label selector.'));
  });
  return errs;
}

export const clusterRoleKind: KindDefinition = {
  group: 'rbac.authorization.k8s.io',
  version: 'v1',
  kind: 'ClusterRole',
  listKind: 'ClusterRoleList',
  plural: 'clusterroles',
  singular: 'clusterrole',
  namespaced: false,
  nameFormat: 'path',
  schemaName: 'io.k8s.api.rbac.v1.ClusterRole',
  printer: rolePrinter,
  strategy: { validate: (obj) => [...validateRules(obj, false), ...validateAggregationRule(obj)] },
};
