/**
 * metav1.LabelSelector: validation (apimachinery's ValidateLabelSelector), conversion to a
 * matcher (LabelSelectorAsSelector) and the text form printers show (FormatLabelSelector).
 * Shared by every kind with a selector: workloads, NetworkPolicy, ClusterRole aggregation, PDBs...
 */
import { type FieldError, FieldPath, fieldErr } from '../registry/field-errors.js';
import { isQualifiedName, isValidLabelValue, validateLabels } from '../registry/validation.js';

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** Upstream ValidateLabelSelector with AllowInvalidLabelValueInSelector=false (the strict form workloads use). */
export function validateLabelSelector(sel: LabelSelector | undefined | null, path: FieldPath): FieldError[] {
  if (!sel) return [];
  const errs = validateLabels(sel.matchLabels, path.child('matchLabels'));
  (sel.matchExpressions ?? []).forEach((r, i) => {
    const rp = path.child('matchExpressions').index(i);
    const values = r.values ?? [];
    switch (r.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) errs.push(fieldErr.required(rp.child('values'), "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) errs.push(fieldErr.forbidden(rp.child('values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
        break;
      default:
        errs.push(fieldErr.invalid(rp.child('operator'), r.operator, 'not a valid selector operator'));
    }
    for (const m of isQualifiedName(r.key ?? '')) errs.push(fieldErr.invalid(rp.child('key'), r.key ?? '', m));
    values.forEach((v, j) => {
      for (const m of isValidLabelValue(v)) errs.push(fieldErr.invalid(rp.child('values').index(j), v, m));
    });
  });
  return errs;
}

/** A parsed selector (labels.Selector). */
export interface Selector {
  /** True for the selector that matches everything (an empty LabelSelector). */
  empty: boolean;
  matches(labels: Record<string, string> | undefined): boolean;
  /** labels.Selector.String(): requirements sorted by key, "" for everything and for nothing. */
  toString(): string;
}

interface Requirement {
  key: string;
  op: 'Equals' | 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: string[];
}

const nothing: Selector = { empty: false, matches: () => false, toString: () => '' };

/**
 * metav1.LabelSelectorAsSelector: nil selects nothing, an empty selector selects everything;
 * returns null where upstream returns an error (bad operator, In/NotIn without values, bad key/value).
 */
export function labelSelectorAsSelector(sel: LabelSelector | undefined | null): Selector | null {
  if (!sel) return nothing;
  const reqs: Requirement[] = [];
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) reqs.push({ key, op: 'Equals', values: [value] });
  for (const e of sel.matchExpressions ?? []) {
    const values = e.values ?? [];
    if (e.operator === 'In' || e.operator === 'NotIn') {
      if (values.length === 0) return null;
    } else if (e.operator === 'Exists' || e.operator === 'DoesNotExist') {
      if (values.length > 0) return null;
    } else return null;
    reqs.push({ key: e.key, op: e.operator, values });
  }
  for (const r of reqs) {
    if (isQualifiedName(r.key ?? '').length) return null;
    if (r.values.some((v) => isValidLabelValue(v).length)) return null;
  }
  if (reqs.length === 0) return { empty: true, matches: () => true, toString: () => '' };
  // Upstream sorts requirements by key (stable here, so duplicate keys keep their order).
  reqs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return {
    empty: false,
    matches(labels) {
      const l = labels ?? {};
      return reqs.every((r) => {
        const has = Object.prototype.hasOwnProperty.call(l, r.key);
        switch (r.op) {
          case 'Equals':
          case 'In':
            return has && r.values.includes(l[r.key]);
          case 'NotIn':
            return !has || !r.values.includes(l[r.key]);
          case 'Exists':
            return has;
          case 'DoesNotExist':
            return !has;
        }
      });
    },
    toString() {
      return reqs.map(requirementString).join(',');
    },
  };
}

function requirementString(r: Requirement): string {
  const vals = r.values.length === 1 ? r.values[0] : [...r.values].sort().join(',');
  switch (r.op) {
    case 'Exists':
      return r.key;
    case 'DoesNotExist':
      return `!${r.key}`;
    case 'Equals':
      return `${r.key}=${vals}`;
    case 'In':
      return `${r.key} in (${vals})`;
    case 'NotIn':
      return `${r.key} notin (${vals})`;
  }
}

/** metav1.FormatLabelSelector: "<none>" for nil/empty, "<error>" when it does not parse. */
export function formatLabelSelector(sel: LabelSelector | undefined | null): string {
  const s = labelSelectorAsSelector(sel);
  if (!s) return '<error>';
  return s.toString() || '<none>';
}

/** True when the selector has neither matchLabels nor matchExpressions (upstream's "empty selector" checks). */
export function isEmptyLabelSelector(sel: LabelSelector): boolean {
  return Object.keys(sel.matchLabels ?? {}).length + (sel.matchExpressions ?? []).length === 0;
}
