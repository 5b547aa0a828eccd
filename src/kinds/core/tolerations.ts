/** Pod tolerations and node taints share their effect names and key/value rules (upstream validation.go). */
import { type FieldError, type FieldPath, fieldErr } from '../../registry/field-errors.js';
import { asObjList, asStr, validateEnum, validateLabelValue, validateQualifiedName } from './helpers.js';

export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

/** Upstream ValidateTolerations. */
export function validateTolerations(tolerations: unknown, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  asObjList(tolerations).forEach((t, i) => {
    const ip = path.index(i);
    const key = asStr(t.key);
    const op = asStr(t.operator);
    if (key !== '') errs.push(...validateQualifiedName(key, ip.child('key')));
    // An empty key with Exists matches every taint; with any other operator it matches nothing.
    if (key === '' && op !== 'Exists')
      errs.push(fieldErr.invalid(ip.child('operator'), op, 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    if (t.tolerationSeconds !== undefined && t.tolerationSeconds !== null && t.effect !== 'NoExecute')
      errs.push(fieldErr.invalid(ip.child('effect'), t.effect ?? '', "effect must be 'NoExecute' when `tolerationSeconds` is set"));
    switch (op) {
      case '':
      case 'Equal':
        errs.push(...validateLabelValue(asStr(t.value), ip.child('value')));
        break;
      case 'Exists':
        if (asStr(t.value) !== '') errs.push(fieldErr.invalid(ip.child('operator'), t.value, "value must be empty when `operator` is 'Exists'"));
        break;
      default:
        errs.push(fieldErr.notSupported(ip.child('operator'), op, ['Equal', 'Exists']));
    }
    if (t.effect) errs.push(...validateEnum(t.effect, ip.child('effect'), TAINT_EFFECTS));
  });
  return errs;
}

/** Upstream validateNodeTaints: key required and qualified, value a label value, effect required; unique by key+effect. */
export function validateTaints(taints: unknown, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  asObjList(taints).forEach((t, i) => {
    const ip = path.index(i);
    errs.push(...validateQualifiedName(asStr(t.key), ip.child('key')));
    if (t.value !== undefined) errs.push(...validateLabelValue(asStr(t.value), ip.child('value')));
    errs.push(...validateEnum(t.effect, ip.child('effect'), TAINT_EFFECTS));
    const k = `${asStr(t.key)}\u0000${asStr(t.effect)}`;
    if (seen.has(k)) errs.push({ ...fieldErr.duplicate(ip, { key: t.key, effect: t.effect }), detail: 'taints must be unique by key and effect pair' });
    seen.add(k);
  });
  return errs;
}
