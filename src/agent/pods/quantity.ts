/**
 * Integer readings of resource quantities as the kubelet takes them from resource.Quantity:
 * `Value()` (whole units, rounded up) and `MilliValue()` (thousandths, rounded up). Parsing is
 * the API server's parseQuantity; its result is a float, so a product that lands a hair above a
 * whole number only through binary rounding (1.1 × 1000 = 1100.0000000000002) counts as that
 * whole number rather than being rounded up past it.
 */
import { parseQuantity } from '../../registry/validation.js';
import type { Quantity } from './api-types.js';

export class InvalidQuantityError extends Error {
  constructor(readonly quantity: unknown) {
    super(`invalid quantity ${JSON.stringify(quantity)}`);
    this.name = 'InvalidQuantityError';
  }
}

function ceilExact(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - r) <= 1e-9 * Math.max(1, Math.abs(x)) ? r : Math.ceil(x);
}

function parsed(q: Quantity): number {
  const v = parseQuantity(q);
  if (!Number.isFinite(v)) throw new InvalidQuantityError(q);
  return v;
}

/** resource.Quantity.Value(): whole units, rounded up. */
export function quantityValue(q: Quantity): number {
  return ceilExact(parsed(q));
}

/** resource.Quantity.MilliValue(): thousandths, rounded up. */
export function quantityMilliValue(q: Quantity): number {
  return ceilExact(parsed(q) * 1000);
}
