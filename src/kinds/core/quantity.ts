/**
 * Resource lists (maps of resource name to quantity) as used by containers, PVs, PVCs, quotas
 * and limit ranges: validation of names and values with upstream's messages, and comparison.
 */
import { type FieldError, type FieldPath, fieldErr } from '../../registry/field-errors.js';
import { isValidQuantity, parseQuantity } from '../../registry/validation.js';
import { asObj, NEGATIVE_MSG, validateQualifiedName } from './helpers.js';

/** Upstream's resource.ErrFormatWrong text, for values that do not parse as quantities. */
export const QUANTITY_FORMAT_MSG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/** Quantity as shown in messages and tables: the stored text, numbers as decimal text. */
export const quantityText = (q: unknown): string => (typeof q === 'number' ? String(q) : typeof q === 'string' ? q : '0');

/** A quantity that does not parse is reported once, with the format message; returns NaN then. */
export function checkQuantity(q: unknown, path: FieldPath, errs: FieldError[]): number {
  if (!isValidQuantity(q)) {
    errs.push(fieldErr.invalid(path, q ?? null, QUANTITY_FORMAT_MSG));
    return NaN;
  }
  return parseQuantity(q);
}

/** Kubernetes' native resource prefixes: names without a domain, or under *.kubernetes.io. */
export function isNativeResource(name: string): boolean {
  const slash = name.indexOf('/');
  if (slash < 0) return true;
  const domain = name.slice(0, slash);
  return domain === 'kubernetes.io' || domain.endsWith('.kubernetes.io');
}

/** Extended resources (device plugins): fully qualified, not native, not `requests.`-prefixed. */
export function isExtendedResourceName(name: string): boolean {
  return !isNativeResource(name) && !name.startsWith('requests.');
}

/** Counted (integer-valued) resources, where a fractional quantity is rejected. */
const integerResources = new Set(['pods', 'services', 'replicationcontrollers', 'resourcequotas', 'secrets', 'configmaps', 'persistentvolumeclaims', 'services.nodeports', 'services.loadbalancers']);
export const isIntegerResourceName = (name: string) => integerResources.has(name) || isExtendedResourceName(name) || name.startsWith('count/');

/** Hugepages and extended resources may not be overcommitted: requests must equal limits. */
export const isOvercommitAllowed = (name: string) => isNativeResource(name) && !name.startsWith('hugepages-');

/** Upstream ValidateResourceQuantityValue: non-negative, integral for counted resources. */
export function validateQuantityValue(resource: string, q: unknown, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const v = checkQuantity(q, path, errs);
  if (Number.isNaN(v)) return errs;
  if (v < 0) errs.push(fieldErr.invalid(path, q, NEGATIVE_MSG));
  if (isIntegerResourceName(resource) && !Number.isInteger(v)) errs.push(fieldErr.invalid(path, q, 'must be an integer'));
  return errs;
}

/** Upstream ValidatePositiveQuantityValue. */
export function validatePositiveQuantity(q: unknown, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const v = checkQuantity(q, path, errs);
  if (!Number.isNaN(v) && v <= 0) errs.push(fieldErr.invalid(path, q, 'must be greater than zero'));
  return errs;
}

/** Resource names valid in a container's requests/limits (upstream validateContainerResourceName). */
export function validateContainerResourceName(name: string, path: FieldPath): FieldError[] {
  const errs = validateQualifiedName(name, path);
  if (!name.includes('/')) {
    if (!['cpu', 'memory', 'ephemeral-storage'].includes(name) && !name.startsWith('hugepages-'))
      errs.push(fieldErr.invalid(path, name, 'must be a standard resource for containers'));
  } else if (!isNativeResource(name) && !isExtendedResourceName(name)) {
    errs.push(fieldErr.invalid(path, name, "doesn't follow extended resource name standard"));
  }
  return errs;
}

/** Entries of a resource list with parsed values (NaN for unparsable ones). */
export function resourceEntries(list: unknown): [string, unknown, number][] {
  const o = asObj(list) ?? {};
  return Object.entries(o).map(([k, v]) => [k, v, isValidQuantity(v) ? parseQuantity(v) : NaN]);
}

/** A parsed quantity from a resource list, or undefined when absent or unparsable. */
export function quantityOf(list: unknown, name: string): number | undefined {
  const v = asObj(list)?.[name];
  if (v === undefined || !isValidQuantity(v)) return undefined;
  return parseQuantity(v);
}
