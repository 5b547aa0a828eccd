/** RBAC PolicyRule validation shared by Role and ClusterRole (upstream's ValidatePolicyRule). */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import type { KubeObject } from '../../util/object.js';
import { defaultColumns } from '../printing.js';
import type { Printer } from '../types.js';

export interface PolicyRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export function validatePolicyRule(rule: PolicyRule, namespaced: boolean, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (!rule.verbs?.length) errs.push(fieldErr.required(path.child('verbs'), 'verbs must contain at least one value'));
  if (rule.nonResourceURLs?.length) {
    if (namespaced) errs.push(fieldErr.invalid(path.child('nonResourceURLs'), rule.nonResourceURLs, 'namespaced rules cannot apply to non-resource URLs'));
    if (rule.apiGroups?.length || rule.resources?.length || rule.resourceNames?.length)
      errs.push(fieldErr.invalid(path.child('nonResourceURLs'), rule.nonResourceURLs, 'rules cannot apply to both regular resources and non-resource URLs'));
    return errs;
  }
  if (!rule.apiGroups?.length) errs.push(fieldErr.required(path.child('apiGroups'), 'resource rules must supply at least one api group'));
  if (!rule.resources?.length) errs.push(fieldErr.required(path.child('resources'), 'resource rules must supply at least one resource'));
  return errs;
}

export function validateRules(obj: KubeObject, namespaced: boolean): FieldError[] {
  const rules = (obj.rules ?? []) as PolicyRule[];
  return rules.flatMap((r, i) => validatePolicyRule(r, namespaced, FieldPath.root('rules').index(i)));
}

/** Roles print as upstream's default table: Name and Created At (RFC 3339, UTC, whole seconds). */
export const rolePrinter: Printer = {
  columns: defaultColumns,
  cells(obj) {
    const ts = obj.metadata.creationTimestamp;
    const t = ts ? Date.parse(ts) : NaN;
    return [obj.metadata.name, Number.isNaN(t) ? '<unknown>' : new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z')];
  },
};
