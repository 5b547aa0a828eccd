/**
 * storage.k8s.io/v1 StorageClass: a provisioner plus its parameters. Everything that shapes
 * provisioning is immutable once created (upstream's ValidateStorageClassUpdate).
 */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { immutableField, isQualifiedName } from '../../registry/validation.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import { ageColumn, creationAge, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';

interface StorageClass extends KubeObject {
  provisioner?: string;
  parameters?: Record<string, string>;
  reclaimPolicy?: string;
  volumeBindingMode?: string;
  allowVolumeExpansion?: boolean;
  allowedTopologies?: { matchLabelExpressions?: { key: string; values?: string[] }[] }[];
}

const MAX_PARAMETERS = 512;
const MAX_PARAMETERS_BYTES = 256 * 1024;
const DEFAULT_ANNOTATIONS = ['storageclass.kubernetes.io/is-default-class', 'storageclass.beta.kubernetes.io/is-default-class'];

/** Whether the class is annotated as the cluster default (either the GA or the beta annotation). */
export function isDefaultStorageClass(obj: KubeObject): boolean {
  return DEFAULT_ANNOTATIONS.some((a) => obj.metadata.annotations?.[a] === 'true');
}

function validateParameters(params: Record<string, string> | undefined, path: FieldPath): FieldError[] {
  const entries = Object.entries(params ?? {});
  if (entries.length > MAX_PARAMETERS) return [fieldErr.tooLong(path, 'Provisioner Parameters exceeded max allowed', MAX_PARAMETERS)];
  const errs: FieldError[] = [];
  let total = 0;
  for (const [k, v] of entries) {
    if (k.length < 1) errs.push(fieldErr.invalid(path, k, 'field can not be empty.'));
    total += Buffer.byteLength(k) + Buffer.byteLength(String(v));
  }
  if (total > MAX_PARAMETERS_BYTES) errs.push(fieldErr.tooLong(path, '', MAX_PARAMETERS_BYTES));
  return errs;
}

/** Each term's label requirements need values, unique keys and values; terms may not repeat. */
function validateAllowedTopologies(terms: NonNullable<StorageClass['allowedTopologies']>, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const seen: Record<string, string[]>[] = [];
  terms.forEach((term, i) => {
    const ep = path.index(i).child('matchLabelExpressions');
    const exprs: Record<string, string[]> = {};
    (term.matchLabelExpressions ?? []).forEach((req, j) => {
      const rp = ep.index(j);
      const values = req.values ?? [];
      if (values.length === 0) errs.push(fieldErr.required(rp.child('values')));
      values.forEach((v, k) => {
        if (values.indexOf(v) < k) errs.push(fieldErr.duplicate(rp.child('values').index(k), v));
      });
      for (const m of isQualifiedName(req.key ?? '')) errs.push(fieldErr.invalid(rp.child('key'), req.key ?? '', m));
      if (req.key in exprs) errs.push(fieldErr.duplicate(rp.child('key'), req.key));
      exprs[req.key] = [...new Set(values)].sort();
    });
    if (seen.some((s) => deepEqual(s, exprs))) errs.push(fieldErr.duplicate(ep, ''));
    seen.push(exprs);
  });
  return errs;
}

function validate(obj: KubeObject): FieldError[] {
  const sc = obj as StorageClass;
  const errs: FieldError[] = [];
  const provisioner = sc.provisioner ?? '';
  if (!provisioner) errs.push(fieldErr.required('provisioner'));
  else for (const m of isQualifiedName(provisioner.toLowerCase())) errs.push(fieldErr.invalid('provisioner', provisioner, m));
  errs.push(...validateParameters(sc.parameters, FieldPath.root('parameters')));
  if (sc.reclaimPolicy && !['Delete', 'Retain'].includes(sc.reclaimPolicy))
    errs.push(fieldErr.notSupported('reclaimPolicy', sc.reclaimPolicy, ['Delete', 'Retain']));
  if (!sc.volumeBindingMode) errs.push(fieldErr.required('volumeBindingMode'));
  else if (!['Immediate', 'WaitForFirstConsumer'].includes(sc.volumeBindingMode))
    errs.push(fieldErr.notSupported('volumeBindingMode', sc.volumeBindingMode, ['Immediate', 'WaitForFirstConsumer']));
  errs.push(...validateAllowedTopologies(sc.allowedTopologies ?? [], FieldPath.root('allowedTopologies')));
  return errs;
}

function validateUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const n = obj as StorageClass;
  const o = old as StorageClass;
  const errs: FieldError[] = [];
  if (!deepEqual(n.parameters ?? {}, o.parameters ?? {})) errs.push(fieldErr.forbidden('parameters', 'updates to parameters are forbidden.'));
  if (n.provisioner !== o.provisioner) errs.push(fieldErr.forbidden('provisioner', 'updates to provisioner are forbidden.'));
  if (n.reclaimPolicy !== o.reclaimPolicy) errs.push(fieldErr.forbidden('reclaimPolicy', 'updates to reclaimPolicy are forbidden.'));
  errs.push(...immutableField(n.volumeBindingMode, o.volumeBindingMode, 'volumeBindingMode', deepEqual));
  return errs;
}

export const storageClassKind: KindDefinition = {
  group: 'storage.k8s.io',
  version: 'v1',
  kind: 'StorageClass',
  listKind: 'StorageClassList',
  plural: 'storageclasses',
  singular: 'storageclass',
  namespaced: false,
  shortNames: ['sc'],
  nameFormat: 'subdomain',
  schemaName: 'io.k8s.api.storage.v1.StorageClass',
  printer: {
    columns: [
      nameColumn,
      { name: 'Provisioner', type: 'string', description: 'Indicates the type of the provisioner.', priority: 0 },
      { name: 'ReclaimPolicy', type: 'string', description: 'Indicates the type of the reclaim policy.', priority: 0 },
      { name: 'VolumeBindingMode', type: 'string', description: 'Indicates how PersistentVolumeClaims should be provisioned and bound.', priority: 0 },
      { name: 'AllowVolumeExpansion', type: 'string', description: 'Indicates whether the storage class allow volume expand.', priority: 0 },
      ageColumn,
    ],
    cells(obj, now) {
      const sc = obj as StorageClass;
      const name = isDefaultStorageClass(obj) ? `${obj.metadata.name} (default)` : obj.metadata.name;
      return [name, sc.provisioner ?? '', sc.reclaimPolicy ?? 'Delete', sc.volumeBindingMode ?? 'Immediate', sc.allowVolumeExpansion ?? false, creationAge(obj, now)];
    },
  },
  strategy: {
    defaults(obj) {
      const sc = obj as StorageClass;
      sc.reclaimPolicy ??= 'Delete';
      sc.volumeBindingMode ??= 'Immediate';
    },
    validate,
    validateUpdate,
  },
};
