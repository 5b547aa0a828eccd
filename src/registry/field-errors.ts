/**
 * Field errors in the shape of k8s.io/apimachinery/pkg/util/validation/field: each has a type
 * (which becomes the Status cause reason), a field path and a detail, and renders to the same
 * message text upstream prints, e.g. `spec.replicas: Invalid value: -1: must be greater than or equal to 0`.
 */

export type FieldErrorType =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueForbidden'
  | 'FieldValueDuplicate'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'FieldValueTypeInvalid'
  | 'FieldValueNotFound';

export interface FieldError {
  type: FieldErrorType;
  /** Path in upstream's notation: `spec.template.spec.containers[0].image`, `metadata.labels[app]`. */
  field: string;
  /** The offending value, when it is shown in the message. */
  value?: unknown;
  /** The value was given, but must not be shown (for example a Secret's data). */
  omitValue?: boolean;
  detail?: string;
}

/** A field path builder, as upstream's field.Path: child names and [index]/[key] parts. */
export class FieldPath {
  private constructor(private readonly text: string) {}
  static root(name: string): FieldPath {
    return new FieldPath(name);
  }
  child(name: string, ...more: string[]): FieldPath {
    let t = this.text ? `${this.text}.${name}` : name;
    for (const m of more) t = `${t}.${m}`;
    return new FieldPath(t);
  }
  index(i: number): FieldPath {
    return new FieldPath(`${this.text}[${i}]`);
  }
  key(k: string): FieldPath {
    return new FieldPath(`${this.text}[${k}]`);
  }
  toString(): string {
    return this.text;
  }
}

type PathLike = FieldPath | string;
const p = (f: PathLike) => f.toString();

export const fieldErr = {
  required: (f: PathLike, detail?: string): FieldError => ({ type: 'FieldValueRequired', field: p(f), detail }),
  invalid: (f: PathLike, value: unknown, detail?: string): FieldError => ({ type: 'FieldValueInvalid', field: p(f), value, detail }),
  notSupported: (f: PathLike, value: unknown, supported: readonly string[]): FieldError => ({
    type: 'FieldValueNotSupported',
    field: p(f),
    value,
    detail: supported.length ? `supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}` : undefined,
  }),
  forbidden: (f: PathLike, detail: string): FieldError => ({ type: 'FieldValueForbidden', field: p(f), detail }),
  duplicate: (f: PathLike, value: unknown): FieldError => ({ type: 'FieldValueDuplicate', field: p(f), value }),
  tooLong: (f: PathLike, value: unknown, max: number): FieldError => ({
    type: 'FieldValueTooLong',
    field: p(f),
    value,
    omitValue: true,
    detail: `must have at most ${max} bytes`,
  }),
  tooMany: (f: PathLike, actual: number, max: number): FieldError => ({
    type: 'FieldValueTooMany',
    field: p(f),
    value: actual,
    omitValue: true,
    detail: `must have at most ${max} items`,
  }),
  typeInvalid: (f: PathLike, value: unknown, detail: string): FieldError => ({ type: 'FieldValueTypeInvalid', field: p(f), value, detail }),
  notFound: (f: PathLike, value: unknown): FieldError => ({ type: 'FieldValueNotFound', field: p(f), value }),
};

const typeText: Record<FieldErrorType, string> = {
  FieldValueRequired: 'Required value',
  FieldValueInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueForbidden: 'Forbidden',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueTooLong: 'Too long',
  FieldValueTooMany: 'Too many',
  FieldValueTypeInvalid: 'Invalid value',
  FieldValueNotFound: 'Not found',
};

function renderValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = JSON.stringify(v);
  return s.length > 256 ? `${s.slice(0, 256)}...` : s;
}

/** The error's text without the field path, as in a Status cause's message. */
export function fieldErrorBody(e: FieldError): string {
  const withValue =
    !e.omitValue &&
    e.type !== 'FieldValueRequired' &&
    e.type !== 'FieldValueForbidden' &&
    e.type !== 'FieldValueTooLong' &&
    e.type !== 'FieldValueTooMany' &&
    e.value !== undefined;
  let s = typeText[e.type];
  if (withValue) s += `: ${renderValue(e.value)}`;
  if (e.detail) s += `: ${e.detail}`;
  return s;
}

export function fieldErrorText(e: FieldError): string {
  return e.field ? `${e.field}: ${fieldErrorBody(e)}` : fieldErrorBody(e);
}
