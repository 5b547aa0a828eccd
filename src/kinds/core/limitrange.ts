/** core/v1 LimitRange: SetDefaults_LimitRangeItem, ValidateLimitRange; printed with the default Name/Created At table. */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import type { KubeObject } from '../../util/object.js';
import { defaultColumns } from '../printing.js';
import type { KindDefinition } from '../types.js';
import { asObj, asObjList, asStr, type Obj, validateQualifiedName } from './helpers.js';
import { isOvercommitAllowed, quantityText, resourceEntries, validateContainerResourceName, validateQuantityValue } from './quantity.js';

const LIMIT_TYPES = ['Pod', 'Container', 'PersistentVolumeClaim'];
const BOUNDS = ['max', 'min', 'default', 'defaultRequest', 'maxLimitRequestRatio'] as const;

/** Container limits fill each other in: default from max, defaultRequest from default, then from min. */
function defaultItem(item: Obj): void {
  if (item.type !== 'Container') return;
  const fill = (target: string, from: unknown) => {
    const src = asObj(from);
    if (!src || Object.keys(src).length === 0) return;
    const t = { ...(asObj(item[target]) ?? {}) };
    for (const [k, v] of Object.entries(src)) if (t[k] === undefined) t[k] = v;
    item[target] = t;
  };
  fill('default', item.max);
  fill('defaultRequest', item.default);
  fill('defaultRequest', item.min);
}

function validateItem(item: Obj, path: FieldPath): FieldError[] {
  const type = asStr(item.type);
  const errs = validateQualifiedName(type, path.child('type'));
  if (!type.includes('/') && !LIMIT_TYPES.includes(type)) errs.push(fieldErr.invalid(path.child('type'), type, 'must be a standard limit type or fully qualified'));
  const values: Record<string, Map<string, { raw: unknown; v: number }>> = {};
  for (const b of BOUNDS) {
    values[b] = new Map();
    if (type === 'Pod' && (b === 'default' || b === 'defaultRequest') && Object.keys(asObj(item[b]) ?? {}).length > 0) {
      errs.push(fieldErr.forbidden(path.child(b), "may not be specified when `type` is 'Pod'"));
      continue;
    }
    for (const [k, raw, v] of resourceEntries(item[b])) {
      const kp = path.child(b).key(k);
      if (type === 'Pod' || type === 'Container') errs.push(...validateContainerResourceName(k, kp));
      else errs.push(...validateQualifiedName(k, kp));
      errs.push(...validateQuantityValue(k, raw, kp));
      values[b].set(k, { raw, v });
    }
  }
  if (type === 'PersistentVolumeClaim' && !values.min.has('storage') && !values.max.has('storage'))
    errs.push(fieldErr.required(path.child('limits'), 'either minimum or maximum storage value is required, but neither was provided'));
  const keys = new Set(BOUNDS.flatMap((b) => [...values[b].keys()]));
  const t = (q: { raw: unknown }) => quantityText(q.raw);
  for (const k of keys) {
    const [max, min, def, defReq, ratio] = BOUNDS.map((b) => values[b].get(k));
    const kp = (b: string) => path.child(b).key(k);
    if (min && max && min.v > max.v) errs.push(fieldErr.invalid(kp('min'), t(min), `min value ${t(min)} is greater than max value ${t(max)}`));
    if (defReq && min && min.v > defReq.v) errs.push(fieldErr.invalid(kp('defaultRequest'), t(defReq), `min value ${t(min)} is greater than default request value ${t(defReq)}`));
    if (defReq && max && defReq.v > max.v) errs.push(fieldErr.invalid(kp('defaultRequest'), t(defReq), `default request value ${t(defReq)} is greater than max value ${t(max)}`));
    if (defReq && def && defReq.v > def.v) errs.push(fieldErr.invalid(kp('defaultRequest'), t(defReq), `default request value ${t(defReq)} is greater than default limit value ${t(def)}`));
    if (def && min && min.v > def.v) errs.push(fieldErr.invalid(kp('default'), t(min), `min value ${t(min)} is greater than default value ${t(def)}`));
    if (def && max && def.v > max.v) errs.push(fieldErr.invalid(kp('default'), t(max), `default value ${t(def)} is greater than max value ${t(max)}`));
    if (ratio && ratio.v < 1) errs.push(fieldErr.invalid(kp('maxLimitRequestRatio'), t(ratio), `ratio ${t(ratio)} is less than 1`));
    if (ratio && min && max && min.v > 0 && ratio.v > max.v / min.v)
      errs.push(fieldErr.invalid(kp('maxLimitRequestRatio'), t(ratio), `ratio ${t(ratio)} is greater than max/min = ${(max.v / min.v).toFixed(6)}`));
    if (!isOvercommitAllowed(k) && def && defReq && def.v !== defReq.v)
      errs.push(fieldErr.invalid(kp('defaultRequest'), t(defReq), `default value ${t(def)} must equal to defaultRequest value ${t(defReq)} in ${k}`));
  }
  return errs;
}

function validate(obj: KubeObject): FieldError[] {
  const path = FieldPath.root('spec').child('limits');
  const seen = new Set<string>();
  return asObjList(asObj(obj.spec)?.limits).flatMap((item, i) => {
    const errs = validateItem(item, path.index(i));
    const type = asStr(item.type);
    if (seen.has(type)) errs.push(fieldErr.duplicate(path.index(i).child('type'), type));
    seen.add(type);
    return errs;
  });
}

export const limitRange: KindDefinition = {
  group: '',
  version: 'v1',
  kind: 'LimitRange',
  listKind: 'LimitRangeList',
  plural: 'limitranges',
  singular: 'limitrange',
  namespaced: true,
  shortNames: ['limits'],
  schemaName: 'io.k8s.api.core.v1.LimitRange',
  nameFormat: 'subdomain',
  printer: {
    columns: defaultColumns,
    cells: (obj) => [obj.metadata.name, obj.metadata.creationTimestamp ?? '<unknown>'],
  },
  strategy: {
    defaults: (obj) => {
      for (const item of asObjList(asObj(obj.spec)?.limits)) defaultItem(item);
    },
    validate,
  },
};
