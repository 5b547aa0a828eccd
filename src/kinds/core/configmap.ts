/** core/v1 ConfigMap: upstream ValidateConfigMap / ValidateConfigMapUpdate and printConfigMap. */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import type { KubeObject } from '../../util/object.js';
import { age, ageColumn, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';
import { base64Size, MAX_DATA_SIZE, validateDataKeys, validateImmutableData } from './data-maps.js';
import { asObj, asStr } from './helpers.js';

function validate(obj: KubeObject): FieldError[] {
  const data = asObj(obj.data) ?? {};
  const binary = asObj(obj.binaryData) ?? {};
  const errs = [...validateDataKeys(data, 'data'), ...validateDataKeys(binary, 'binaryData')];
  // A key may live in one of the two maps only: both are projected into the same files.
  for (const k of Object.keys(data)) if (k in binary) errs.push(fieldErr.invalid(FieldPath.root('data').key(k), k, 'duplicate of key present in binaryData'));
  for (const k of Object.keys(binary)) if (k in data) errs.push(fieldErr.invalid(FieldPath.root('binaryData').key(k), k, 'duplicate of key present in data'));
  let size = 0;
  for (const v of Object.values(data)) size += Buffer.byteLength(asStr(v));
  for (const v of Object.values(binary)) size += base64Size(asStr(v));
  // The whole object is too big, so the error names no field (as upstream).
  if (size > MAX_DATA_SIZE) errs.push(fieldErr.tooLong('', '', MAX_DATA_SIZE));
  return errs;
}

export const configMap: KindDefinition = {
  group: '',
  version: 'v1',
  kind: 'ConfigMap',
  listKind: 'ConfigMapList',
  plural: 'configmaps',
  singular: 'configmap',
  namespaced: true,
  shortNames: ['cm'],
  schemaName: 'io.k8s.api.core.v1.ConfigMap',
  nameFormat: 'subdomain',
  printer: {
    columns: [nameColumn, { name: 'Data', type: 'string', description: 'Number of entries in data and binaryData.', priority: 0 }, ageColumn],
    cells: (obj, now) => [
      obj.metadata.name,
      Object.keys(asObj(obj.data) ?? {}).length + Object.keys(asObj(obj.binaryData) ?? {}).length,
      age(obj.metadata.creationTimestamp, now),
    ],
  },
  strategy: {
    validate,
    validateUpdate: (obj, old) => validateImmutableData(obj, old, ['data', 'binaryData']),
  },
};
