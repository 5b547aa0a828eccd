/**
 * core/v1 Secret: v1 defaults (type Opaque; stringData folded into data, which upstream does in
 * conversion), ValidateSecret / ValidateSecretUpdate and printSecret. Values are never put in
 * error messages.
 */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import type { KubeObject } from '../../util/object.js';
import { age, ageColumn, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';
import { base64Size, MAX_DATA_SIZE, validateDataKeys, validateImmutableData } from './data-maps.js';
import { asObj, asStr } from './helpers.js';

const dataPath = FieldPath.root('data');

function defaults(obj: KubeObject): void {
  if (!obj.type) obj.type = 'Opaque';
  const stringData = asObj(obj.stringData);
  if (stringData) {
    // stringData is write-only: it overrides data key by key, then is dropped.
    const data = asObj(obj.data) ?? {};
    for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(asStr(v), 'utf8').toString('base64');
    obj.data = data;
    delete obj.stringData;
  }
}

const base64Re = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The bytes of a key, or undefined when absent. */
const dataValue = (data: Record<string, unknown>, k: string) => (k in data ? Buffer.from(asStr(data[k]), 'base64') : undefined);

/** Docker config keys must hold JSON; the detail names the problem but never the content. */
function requireJSON(data: Record<string, unknown>, key: string): FieldError[] {
  const v = dataValue(data, key);
  if (v === undefined) return [fieldErr.required(dataPath.key(key))];
  try {
    const parsed: unknown = JSON.parse(v.toString('utf8'));
    if (!asObj(parsed)) throw new Error('json: cannot unmarshal into Go value of type map[string]interface {}');
    return [];
  } catch (e) {
    return [fieldErr.invalid(dataPath.key(key), '<secret contents redacted>', (e as Error).message)];
  }
}

function validateType(obj: KubeObject, data: Record<string, unknown>): FieldError[] {
  switch (obj.type) {
    case 'kubernetes.io/service-account-token':
      return obj.metadata.annotations?.['kubernetes.io/service-account.name']
        ? []
        : [fieldErr.required(FieldPath.root('metadata').child('annotations').key('kubernetes.io/service-account.name'))];
    case 'kubernetes.io/dockercfg':
      return requireJSON(data, '.dockercfg');
    case 'kubernetes.io/dockerconfigjson':
      return requireJSON(data, '.dockerconfigjson');
    case 'kubernetes.io/basic-auth':
      // Either may be empty, but at least one must be present.
      return 'username' in data || 'password' in data ? [] : [fieldErr.required(dataPath.key('username')), fieldErr.required(dataPath.key('password'))];
    case 'kubernetes.io/ssh-auth':
      return dataValue(data, 'ssh-privatekey')?.length ? [] : [fieldErr.required(dataPath.key('ssh-privatekey'))];
    case 'kubernetes.io/tls':
      return ['tls.crt', 'tls.key'].filter((k) => !(k in data)).map((k) => fieldErr.required(dataPath.key(k)));
    default:
      return [];
  }
}

function validate(obj: KubeObject): FieldError[] {
  const data = asObj(obj.data) ?? {};
  const errs = validateDataKeys(data, 'data');
  let size = 0;
  for (const [k, v] of Object.entries(data)) {
    // Upstream rejects bad base64 while decoding the request; here it is a field error without the value.
    if (typeof v !== 'string' || !base64Re.test(v)) errs.push({ ...fieldErr.invalid(dataPath.key(k), undefined, 'must be base64-encoded bytes'), omitValue: true });
    else size += base64Size(v);
  }
  if (size > MAX_DATA_SIZE) errs.push(fieldErr.tooLong(dataPath, '', MAX_DATA_SIZE));
  errs.push(...validateType(obj, data));
  return errs;
}

function validateUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  if (obj.type !== old.type) errs.push(fieldErr.invalid(FieldPath.root('type'), obj.type ?? '', 'field is immutable'));
  return [...errs, ...validateImmutableData(obj, old, ['data'])];
}

export const secret: KindDefinition = {
  group: '',
  version: 'v1',
  kind: 'Secret',
  listKind: 'SecretList',
  plural: 'secrets',
  singular: 'secret',
  namespaced: true,
  schemaName: 'io.k8s.api.core.v1.Secret',
  nameFormat: 'subdomain',
  fieldSelectors: { type: (o) => asStr(o.type) },
  secretFields: ['data', 'stringData'],
  printer: {
    columns: [
      nameColumn,
      { name: 'Type', type: 'string', description: 'The kind of secret, which fixes the keys it must hold.', priority: 0 },
      { name: 'Data', type: 'string', description: 'Number of keys in data.', priority: 0 },
      ageColumn,
    ],
    cells: (obj, now) => [obj.metadata.name, asStr(obj.type), Object.keys(asObj(obj.data) ?? {}).length, age(obj.metadata.creationTimestamp, now)],
  },
  strategy: { defaults, validate, validateUpdate },
};
