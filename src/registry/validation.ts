/**
 * Validation primitives shared by every kind, with upstream's messages
 * (k8s.io/apimachinery/pkg/util/validation and api/validation), and the generic ObjectMeta rules.
 */
import { type FieldError, FieldPath, fieldErr } from './field-errors.js';
import { isPlainObject, type KubeObject } from '../util/object.js';

const dns1123LabelFmt = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const dns1123LabelRe = new RegExp(`^${dns1123LabelFmt}$`);
const dns1123SubdomainFmt = `${dns1123LabelFmt}(\\.${dns1123LabelFmt})*`;
const dns1123SubdomainRe = new RegExp(`^${dns1123SubdomainFmt}$`);
const qualifiedNameFmt = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const qualifiedNameRe = new RegExp(`^${qualifiedNameFmt}$`);
const labelValueRe = new RegExp(`^(${qualifiedNameFmt})?$`);
const cIdentifierRe = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const DNS1123_LABEL_MAX = 63;
export const DNS1123_SUBDOMAIN_MAX = 253;
export const ANNOTATIONS_MAX_BYTES = 256 * 1024;

const maxLenMsg = (n: number) => `must be no more than ${n} characters`;

/** Each returns a list of problems (empty when valid), as upstream's Is* functions. */
export function isDNS1123Label(v: string): string[] {
  const errs: string[] = [];
  if (v.length > DNS1123_LABEL_MAX) errs.push(maxLenMsg(DNS1123_LABEL_MAX));
  if (!dns1123LabelRe.test(v))
    errs.push(
      `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '${dns1123LabelFmt}')`,
    );
  return errs;
}

export function isDNS1123Subdomain(v: string): string[] {
  const errs: string[] = [];
  if (v.length > DNS1123_SUBDOMAIN_MAX) errs.push(maxLenMsg(DNS1123_SUBDOMAIN_MAX));
  if (!dns1123SubdomainRe.test(v))
    errs.push(
      `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '${dns1123SubdomainFmt}')`,
    );
  return errs;
}

/** RBAC-style names: anything that is a valid path segment. */
export function isPathSegmentName(v: string): string[] {
  if (v === '.' || v === '..') return [`may not be '${v}'`];
  const errs: string[] = [];
  for (const bad of ['/', '%']) if (v.includes(bad)) errs.push(`may not contain '${bad}'`);
  return errs;
}

export function isQualifiedName(v: string): string[] {
  const parts = v.split('/');
  let name = v;
  const errs: string[] = [];
  if (parts.length === 2) {
    const [prefix, n] = parts;
    name = n;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else for (const e of isDNS1123Subdomain(prefix)) errs.push(`prefix part ${e}`);
  } else if (parts.length > 2) {
    return [
      `a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '${qualifiedNameFmt}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else {
    if (name.length > 63) errs.push(`name part ${maxLenMsg(63)}`);
    if (!qualifiedNameRe.test(name))
      errs.push(
        `name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '${qualifiedNameFmt}')`,
      );
  }
  return errs;
}

export function isValidLabelValue(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 63) errs.push(maxLenMsg(63));
  if (!labelValueRe.test(v))
    errs.push(
      `a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(${qualifiedNameFmt})?')`,
    );
  return errs;
}

export function isCIdentifier(v: string): string[] {
  return cIdentifierRe.test(v)
    ? []
    : [`a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName', regex used for validation is '[A-Za-z_][A-Za-z0-9_]*')`];
}

export function isValidPortNum(v: number): string[] {
  return Number.isInteger(v) && v >= 1 && v <= 65535 ? [] : ['must be between 1 and 65535, inclusive'];
}

export function isValidIP(v: string): boolean {
  return isIPv4(v) || isIPv6(v);
}

export function isIPv4(v: string): boolean {
  const parts = v.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

export function isIPv6(v: string): boolean {
  if (!v.includes(':') || !/^[0-9a-fA-F:.]+$/.test(v)) return false;
  const dbl = v.split('::');
  if (dbl.length > 2) return false;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(dbl[0]);
  const tail = dbl.length === 2 ? groups(dbl[1]) : [];
  const all = [...head, ...tail];
  let count = all.length;
  if (all.length && all[all.length - 1].includes('.')) {
    if (!isIPv4(all[all.length - 1])) return false;
    count += 1;
    all.pop();
  }
  if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return dbl.length === 2 ? count < 8 : count === 8;
}

export function isValidCIDR(v: string): boolean {
  const [ip, bits, ...rest] = v.split('/');
  if (rest.length || bits === undefined || !/^[0-9]{1,3}$/.test(bits)) return false;
  const n = Number(bits);
  if (isIPv4(ip)) return n <= 32;
  if (isIPv6(ip)) return n <= 128;
  return false;
}

/** Resource quantity syntax (k8s.io/apimachinery/pkg/api/resource). */
const quantityRe = /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]+))?$/;
export function isValidQuantity(v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v);
  return typeof v === 'string' && quantityRe.test(v);
}

/** Parses a quantity to a number (base units); NaN when it does not parse. */
export function parseQuantity(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string' || !quantityRe.test(v)) return NaN;
  const m = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$/.exec(v)!;
  const num = Number(m[1]);
  const suffix = m[2];
  const bin: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
  const dec: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
  if (suffix in bin) return num * bin[suffix];
  if (suffix in dec) return num * dec[suffix];
  return num * 10 ** Number(suffix.slice(1));
}

export type NameFormat = 'subdomain' | 'label' | 'path';
export function nameValidator(fmt: NameFormat): (v: string) => string[] {
  return fmt === 'label' ? isDNS1123Label : fmt === 'path' ? isPathSegmentName : isDNS1123Subdomain;
}

/** Validates a map of labels at `path`. */
export function validateLabels(labels: unknown, path: FieldPath): FieldError[] {
  if (labels === undefined || labels === null) return [];
  if (!isPlainObject(labels)) return [fieldErr.typeInvalid(path, labels, 'must be a map of strings')];
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels)) {
    for (const m of isQualifiedName(k)) errs.push(fieldErr.invalid(path, k, m));
    if (typeof v !== 'string') errs.push(fieldErr.typeInvalid(path.key(k), v, 'must be a string'));
    else for (const m of isValidLabelValue(v)) errs.push(fieldErr.invalid(path.key(k), v, m));
  }
  return errs;
}

export function validateAnnotations(annotations: unknown, path: FieldPath): FieldError[] {
  if (annotations === undefined || annotations === null) return [];
  if (!isPlainObject(annotations)) return [fieldErr.typeInvalid(path, annotations, 'must be a map of strings')];
  const errs: FieldError[] = [];
  let total = 0;
  for (const [k, v] of Object.entries(annotations)) {
    for (const m of isQualifiedName(k.toLowerCase())) errs.push(fieldErr.invalid(path, k, m));
    if (typeof v !== 'string') errs.push(fieldErr.typeInvalid(path.key(k), v, 'must be a string'));
    total += Buffer.byteLength(k) + (typeof v === 'string' ? Buffer.byteLength(v) : 0);
  }
  if (total > ANNOTATIONS_MAX_BYTES) errs.push(fieldErr.tooLong(path, '', ANNOTATIONS_MAX_BYTES));
  return errs;
}

/** Generic ObjectMeta validation (upstream ValidateObjectMeta). */
export function validateObjectMeta(obj: KubeObject, opts: { namespaced: boolean; nameFormat: NameFormat }): FieldError[] {
  const path = FieldPath.root('metadata');
  const meta = obj.metadata;
  const errs: FieldError[] = [];
  if (!isPlainObject(meta)) return [fieldErr.required(path)];
  const nameOk = nameValidator(opts.nameFormat);
  if (meta.generateName !== undefined && meta.generateName !== '') {
    const gn = String(meta.generateName);
    // generateName is checked with a random-suffix-sized stand-in, as upstream's ValidateNameFunc(prefix=true).
    const probe = opts.nameFormat === 'path' ? gn : gn.replace(/-$/, '') + (gn.endsWith('-') ? '-a' : 'a');
    for (const m of nameOk(probe)) errs.push(fieldErr.invalid(path.child('generateName'), gn, m));
  }
  if (!meta.name) {
    if (!meta.generateName) errs.push(fieldErr.required(path.child('name'), 'name or generateName is required'));
  } else if (typeof meta.name !== 'string') {
    errs.push(fieldErr.typeInvalid(path.child('name'), meta.name, 'must be a string'));
  } else {
    for (const m of nameOk(meta.name)) errs.push(fieldErr.invalid(path.child('name'), meta.name, m));
  }
  if (opts.namespaced) {
    if (!meta.namespace) errs.push(fieldErr.required(path.child('namespace')));
    else for (const m of isDNS1123Label(meta.namespace)) errs.push(fieldErr.invalid(path.child('namespace'), meta.namespace, m));
  } else if (meta.namespace) {
    errs.push(fieldErr.forbidden(path.child('namespace'), 'not allowed on this type'));
  }
  errs.push(...validateLabels(meta.labels, path.child('labels')));
  errs.push(...validateAnnotations(meta.annotations, path.child('annotations')));
  if (meta.finalizers !== undefined) {
    if (!Array.isArray(meta.finalizers)) errs.push(fieldErr.typeInvalid(path.child('finalizers'), meta.finalizers, 'must be a list of strings'));
    else
      meta.finalizers.forEach((f, i) => {
        if (typeof f !== 'string') errs.push(fieldErr.typeInvalid(path.child('finalizers').index(i), f, 'must be a string'));
        else for (const m of isQualifiedName(f)) errs.push(fieldErr.invalid(path.child('finalizers').index(i), f, m));
      });
  }
  if (meta.ownerReferences !== undefined) {
    const refs = meta.ownerReferences;
    const rp = path.child('ownerReferences');
    if (!Array.isArray(refs)) errs.push(fieldErr.typeInvalid(rp, refs, 'must be a list'));
    else {
      let controllers = 0;
      refs.forEach((r, i) => {
        const ip = rp.index(i);
        if (!isPlainObject(r)) return void errs.push(fieldErr.typeInvalid(ip, r, 'must be an object'));
        if (!r.apiVersion) errs.push(fieldErr.invalid(ip.child('apiVersion'), r.apiVersion ?? '', 'version must not be empty'));
        if (!r.kind) errs.push(fieldErr.invalid(ip.child('kind'), r.kind ?? '', 'kind must not be empty'));
        if (!r.name) errs.push(fieldErr.invalid(ip.child('name'), r.name ?? '', 'name must not be empty'));
        if (!r.uid) errs.push(fieldErr.invalid(ip.child('uid'), r.uid ?? '', 'uid must not be empty'));
        if (r.controller === true) controllers++;
      });
      if (controllers > 1)
        errs.push(fieldErr.invalid(rp, refs, 'Only one reference can have Controller set to true'));
    }
  }
  return errs;
}

/** Metadata fields that may not change on update (upstream ValidateObjectMetaUpdate). */
export function validateObjectMetaUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const path = FieldPath.root('metadata');
  const errs: FieldError[] = [];
  for (const f of ['name', 'namespace', 'uid', 'creationTimestamp'] as const) {
    if (obj.metadata[f] !== old.metadata[f]) errs.push(fieldErr.invalid(path.child(f), obj.metadata[f] ?? '', 'field is immutable'));
  }
  if (old.metadata.deletionTimestamp && obj.metadata.deletionTimestamp !== old.metadata.deletionTimestamp)
    errs.push(fieldErr.invalid(path.child('deletionTimestamp'), obj.metadata.deletionTimestamp ?? null, 'field is immutable; may only be changed via deletion'));
  return errs;
}

/** Helper for kinds: a field that may not change after creation. */
export function immutableField(newV: unknown, oldV: unknown, path: FieldPath | string, deepEq: (a: unknown, b: unknown) => boolean): FieldError[] {
  return deepEq(newV, oldV) ? [] : [fieldErr.invalid(path, newV ?? null, 'field is immutable')];
}
