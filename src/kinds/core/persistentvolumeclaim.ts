/** core/v1 PersistentVolumeClaim: v1 defaults, the PVC strategy, ValidatePersistentVolumeClaim(Update) and printPersistentVolumeClaim. */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { validateLabels } from '../../registry/validation.js';
import { deepClone, deepEqual, type KubeObject } from '../../util/object.js';
import { age, ageColumn, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';
import { asObj, asStr, ensureObj, type Obj, setDefault } from './helpers.js';
import { quantityOf, quantityText, validatePositiveQuantity } from './quantity.js';
import { addFinalizer, PVC_PROTECTION_FINALIZER, storageClassOf } from './persistentvolume.js';
import { accessModesText, validateAccessModes, validateClassName, validateVolumeMode } from './volume-common.js';

const specPath = FieldPath.root('spec');
const spec = (o: KubeObject) => asObj(o.spec) ?? {};
const storageRequest = (s: Obj) => asObj(asObj(s.resources)?.requests)?.storage;

function validate(obj: KubeObject): FieldError[] {
  const s = spec(obj);
  const errs = validateAccessModes(s.accessModes, specPath.child('accessModes'), 'at least 1 access mode is required');
  const selector = asObj(s.selector);
  if (selector) errs.push(...validateLabels(selector.matchLabels, specPath.child('selector', 'matchLabels')));
  // Upstream reports the storage request at spec.resources[storage].
  const storagePath = specPath.child('resources').key('storage');
  const storage = storageRequest(s);
  if (storage === undefined) errs.push(fieldErr.required(storagePath));
  else errs.push(...validatePositiveQuantity(storage, storagePath));
  errs.push(...validateClassName(s.storageClassName, specPath.child('storageClassName')));
  errs.push(...validateVolumeMode(s.volumeMode, specPath.child('volumeMode')));
  errs.push(...validateDataSources(s));
  return errs;
}

/** A data source reference: a name and a kind; in the core group only a claim (upstream's rule). */
function validateSourceRef(ref: Obj | undefined, path: FieldPath): FieldError[] {
  if (!ref) return [];
  const errs: FieldError[] = [];
  if (!asStr(ref.name)) errs.push(fieldErr.required(path.child('name')));
  const kind = asStr(ref.kind);
  if (!kind) errs.push(fieldErr.required(path.child('kind')));
  else if (!asStr(ref.apiGroup) && kind !== 'PersistentVolumeClaim') errs.push(fieldErr.invalid(path.child('kind'), kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"));
  return errs;
}

const sameRef = (a: Obj, b: Obj) => asStr(a.apiGroup) === asStr(b.apiGroup) && asStr(a.kind) === asStr(b.kind) && asStr(a.name) === asStr(b.name);

function validateDataSources(s: Obj): FieldError[] {
  const source = asObj(s.dataSource);
  const ref = asObj(s.dataSourceRef);
  const errs = [...validateSourceRef(source, specPath.child('dataSource')), ...validateSourceRef(ref, specPath.child('dataSourceRef'))];
  if (source && ref && !sameRef(source, ref)) errs.push(fieldErr.invalid(specPath.child('dataSource'), null, 'must match dataSourceRef'));
  return errs;
}

/**
 * Upstream's NormalizeDataSources: a claim written with only dataSource gets the same
 * dataSourceRef, and one written with only a (same-namespace) dataSourceRef gets the same
 * dataSource, so old and new clients read the one source.
 */
function normalizeDataSources(s: Obj): void {
  const source = asObj(s.dataSource);
  const ref = asObj(s.dataSourceRef);
  const copy = (r: Obj) => ({ ...(r.apiGroup !== undefined ? { apiGroup: r.apiGroup } : {}), kind: r.kind, name: r.name });
  if (source && !ref) s.dataSourceRef = copy(source);
  else if (ref && !source && !asStr(ref.namespace)) s.dataSource = copy(ref);
}

/**
 * A claim is fixed once created so quotas and limits cannot be gamed; the binder may set
 * volumeName once, a bound claim may grow, and the volume attributes class may change.
 */
function validateUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const newSpec = deepClone(spec(obj));
  const oldSpec = deepClone(spec(old));
  if (!oldSpec.volumeName) oldSpec.volumeName = newSpec.volumeName;
  // A class may be set where there was none (the beta annotation predates the field).
  if (oldSpec.storageClassName === undefined) oldSpec.storageClassName = newSpec.storageClassName;
  const bound = asObj(obj.status)?.phase === 'Bound';
  if (bound && asObj(asObj(newSpec.resources)?.requests)) ensureObj(ensureObj(newSpec, 'resources'), 'requests').storage = storageRequest(oldSpec);
  oldSpec.volumeAttributesClassName = newSpec.volumeAttributesClassName;
  for (const x of [oldSpec, newSpec]) for (const k of Object.keys(x)) if (x[k] === undefined) delete x[k];
  if (!deepEqual(newSpec, oldSpec))
    errs.push(fieldErr.forbidden(specPath, 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims'));
  const newSize = quantityOf(asObj(spec(obj).resources)?.requests, 'storage');
  const oldSize = quantityOf(asObj(spec(old).resources)?.requests, 'storage');
  const statusSize = quantityOf(asObj(asObj(old.status)?.capacity), 'storage') ?? 0;
  // Shrinking is only a way back from a failed expansion: never below what the volume already has.
  if (newSize !== undefined && oldSize !== undefined && newSize < oldSize && newSize <= statusSize)
    errs.push(fieldErr.forbidden(specPath.child('resources', 'requests', 'storage'), 'field can not be less than status.capacity'));
  if (!deepEqual(spec(obj).volumeMode, spec(old).volumeMode)) errs.push(fieldErr.invalid(FieldPath.root('volumeMode'), spec(obj).volumeMode ?? null, 'field is immutable'));
  return errs;
}

export const persistentVolumeClaim: KindDefinition = {
  group: '',
  version: 'v1',
  kind: 'PersistentVolumeClaim',
  listKind: 'PersistentVolumeClaimList',
  plural: 'persistentvolumeclaims',
  singular: 'persistentvolumeclaim',
  namespaced: true,
  shortNames: ['pvc'],
  schemaName: 'io.k8s.api.core.v1.PersistentVolumeClaim',
  nameFormat: 'subdomain',
  statusSubresource: true,
  tracksGeneration: false,
  printer: {
    columns: [
      nameColumn,
      { name: 'Status', type: 'string', description: 'The phase of the claim: Pending, Bound or Lost.', priority: 0 },
      { name: 'Volume', type: 'string', description: 'The volume bound to the claim.', priority: 0 },
      { name: 'Capacity', type: 'string', description: 'The storage size of the bound volume.', priority: 0 },
      { name: 'Access Modes', type: 'string', description: 'How the bound volume can be mounted (RWO, ROX, RWX, RWOP).', priority: 0 },
      { name: 'StorageClass', type: 'string', description: 'The storage class the claim asks for.', priority: 0 },
      { name: 'VolumeAttributesClass', type: 'string', description: 'The volume attributes class the claim asks for.', priority: 0 },
      ageColumn,
      { name: 'VolumeMode', type: 'string', description: 'Filesystem or Block.', priority: 1 },
    ],
    cells(obj, now) {
      const s = spec(obj);
      const st = asObj(obj.status) ?? {};
      const bound = asStr(s.volumeName) !== '';
      return [
        obj.metadata.name,
        obj.metadata.deletionTimestamp ? 'Terminating' : asStr(st.phase),
        asStr(s.volumeName),
        bound ? quantityText(asObj(st.capacity)?.storage) : '',
        bound ? accessModesText(st.accessModes) : '',
        storageClassOf(obj, s.storageClassName),
        asStr(s.volumeAttributesClassName) || '<unset>',
        age(obj.metadata.creationTimestamp, now),
        asStr(s.volumeMode) || '<unset>',
      ];
    },
  },
  strategy: {
    defaults: (obj) => setDefault(ensureObj(obj, 'spec'), 'volumeMode', 'Filesystem'),
    prepareForCreate: (obj) => {
      normalizeDataSources(ensureObj(obj, 'spec'));
      obj.status = { phase: 'Pending' };
      addFinalizer(obj, PVC_PROTECTION_FINALIZER);
    },
    validate,
    validateUpdate,
  },
};
