/** core/v1 PersistentVolume: v1 defaults, the PV strategy, ValidatePersistentVolume(Update) and printPersistentVolume. */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import { age, ageColumn, nameColumn } from '../printing.js';
import type { KindDefinition, StrategyContext } from '../types.js';
import { asObj, asStr, ensureObj, type Obj, setDefault, validateEnum } from './helpers.js';
import { quantityText, validatePositiveQuantity, validateQuantityValue } from './quantity.js';
import { accessModesText, validateAccessModes, validateClassName, validateVolumeMode } from './volume-common.js';

/** PersistentVolumeSource fields, in upstream's validation order (the second one found is reported). */
const PV_SOURCES = [
  'gcePersistentDisk', 'awsElasticBlockStore', 'hostPath', 'glusterfs', 'nfs', 'rbd', 'quobyte', 'cinder', 'cephfs', 'iscsi', 'flexVolume',
  'fc', 'azureFile', 'vsphereVolume', 'azureDisk', 'photonPersistentDisk', 'portworxVolume', 'scaleIO', 'local', 'storageos', 'csi',
] as const;

const specPath = FieldPath.root('spec');
const spec = (o: KubeObject) => asObj(o.spec) ?? {};

function defaults(obj: KubeObject): void {
  const s = ensureObj(obj, 'spec');
  setDefault(s, 'persistentVolumeReclaimPolicy', 'Retain');
  setDefault(s, 'volumeMode', 'Filesystem');
}

/**
 * Upstream's StorageObjectInUseProtection admission: every new volume and claim carries its
 * protection finalizer, which the pv-/pvc-protection controllers lift once nothing uses it.
 */
export const PV_PROTECTION_FINALIZER = 'kubernetes.io/pv-protection';
export const PVC_PROTECTION_FINALIZER = 'kubernetes.io/pvc-protection';

export function addFinalizer(obj: KubeObject, finalizer: string): void {
  const list = obj.metadata.finalizers ?? [];
  if (!list.includes(finalizer)) obj.metadata.finalizers = [...list, finalizer];
}

/** Status starts over on create; the phase transition time is kept at whole seconds, as metav1.Time is. */
function prepareForCreate(obj: KubeObject, ctx: StrategyContext): void {
  obj.status = { phase: 'Pending', lastPhaseTransitionTime: ctx.now.toISOString().replace(/\.\d{3}Z$/, 'Z') };
  addFinalizer(obj, PV_PROTECTION_FINALIZER);
}

/** Which source fields are set: only one may be. */
const sourcesOf = (s: Obj) => PV_SOURCES.filter((k) => asObj(s[k]));

function validateSource(kind: string, src: Obj, path: FieldPath): FieldError[] {
  const req = (f: string) => (asStr(src[f]) ? [] : [fieldErr.required(path.child(f))]);
  switch (kind) {
    case 'hostPath':
    case 'local':
      return req('path');
    case 'nfs':
      return [...req('server'), ...req('path')];
    case 'csi':
      return [...req('driver'), ...req('volumeHandle')];
    default:
      return [];
  }
}

function validate(obj: KubeObject): FieldError[] {
  const s = spec(obj);
  const errs = validateAccessModes(s.accessModes, specPath.child('accessModes'));
  const capacity = asObj(s.capacity) ?? {};
  const capPath = specPath.child('capacity');
  if (Object.keys(capacity).length === 0) errs.push(fieldErr.required(capPath));
  // Storage is the only capacity a volume has.
  if (!('storage' in capacity) || Object.keys(capacity).length > 1) errs.push(fieldErr.notSupported(capPath, capacity, ['storage']));
  for (const [k, q] of Object.entries(capacity)) errs.push(...validateQuantityValue(k, q, capPath.key(k)), ...validatePositiveQuantity(q, capPath.key(k)));
  errs.push(...validateEnum(s.persistentVolumeReclaimPolicy, specPath.child('persistentVolumeReclaimPolicy'), ['Delete', 'Recycle', 'Retain'], false));
  errs.push(...validateClassName(s.storageClassName, specPath.child('storageClassName')));
  errs.push(...validateVolumeMode(s.volumeMode, specPath.child('volumeMode')));
  const sources = sourcesOf(s);
  if (sources.length === 0) errs.push(fieldErr.required(specPath, 'must specify a volume type'));
  sources.forEach((k, i) => {
    if (i > 0) errs.push(fieldErr.forbidden(specPath.child(k), 'may not specify more than 1 volume type'));
    else errs.push(...validateSource(k, asObj(s[k])!, specPath.child(k)));
  });
  // Local volumes live on one node, so they must say which.
  if (sources[0] === 'local' && !asObj(s.nodeAffinity)) errs.push(fieldErr.required(specPath.child('nodeAffinity'), 'Local volume requires node affinity'));
  return errs;
}

function validateUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const s = spec(obj);
  const o = spec(old);
  const errs: FieldError[] = [];
  const pick = (x: Obj) => Object.fromEntries(PV_SOURCES.filter((k) => x[k] !== undefined).map((k) => [k, x[k]]));
  if (!deepEqual(pick(s), pick(o))) errs.push(fieldErr.forbidden(specPath.child('persistentvolumesource'), 'spec.persistentvolumesource is immutable after creation'));
  if (!deepEqual(s.volumeMode, o.volumeMode)) errs.push(fieldErr.invalid(FieldPath.root('volumeMode'), s.volumeMode ?? null, 'field is immutable'));
  // Node affinity may be added once, never changed.
  if (o.nodeAffinity !== undefined && !deepEqual(s.nodeAffinity, o.nodeAffinity)) errs.push(fieldErr.invalid(FieldPath.root('nodeAffinity'), s.nodeAffinity ?? null, 'field is immutable'));
  return errs;
}

/** The class from the beta annotation, which still wins over the field when present. */
export const storageClassOf = (o: KubeObject, field: unknown) => o.metadata.annotations?.['volume.beta.kubernetes.io/storage-class'] ?? asStr(field);

export const persistentVolume: KindDefinition = {
  group: '',
  version: 'v1',
  kind: 'PersistentVolume',
  listKind: 'PersistentVolumeList',
  plural: 'persistentvolumes',
  singular: 'persistentvolume',
  namespaced: false,
  shortNames: ['pv'],
  schemaName: 'io.k8s.api.core.v1.PersistentVolume',
  nameFormat: 'subdomain',
  statusSubresource: true,
  tracksGeneration: false,
  printer: {
    columns: [
      nameColumn,
      { name: 'Capacity', type: 'string', description: 'The storage size of the volume.', priority: 0 },
      { name: 'Access Modes', type: 'string', description: 'How the volume can be mounted (RWO, ROX, RWX, RWOP).', priority: 0 },
      { name: 'Reclaim Policy', type: 'string', description: 'What happens to the volume when its claim is released.', priority: 0 },
      { name: 'Status', type: 'string', description: 'The phase of the volume: Pending, Available, Bound, Released or Failed.', priority: 0 },
      { name: 'Claim', type: 'string', description: 'The claim bound to the volume, as namespace/name.', priority: 0 },
      { name: 'StorageClass', type: 'string', description: 'The storage class the volume belongs to.', priority: 0 },
      { name: 'VolumeAttributesClass', type: 'string', description: 'The volume attributes class applied to the volume.', priority: 0 },
      { name: 'Reason', type: 'string', description: 'Why the volume is in its phase, when there is a reason.', priority: 0 },
      ageColumn,
      { name: 'VolumeMode', type: 'string', description: 'Filesystem or Block.', priority: 1 },
    ],
    cells(obj, now) {
      const s = spec(obj);
      const claim = asObj(s.claimRef);
      const phase = obj.metadata.deletionTimestamp ? 'Terminating' : asStr(asObj(obj.status)?.phase);
      return [
        obj.metadata.name,
        quantityText(asObj(s.capacity)?.storage),
        accessModesText(s.accessModes),
        asStr(s.persistentVolumeReclaimPolicy),
        phase,
        claim ? `${asStr(claim.namespace)}/${asStr(claim.name)}` : '',
        storageClassOf(obj, s.storageClassName),
        asStr(s.volumeAttributesClassName) || '<unset>',
        asStr(asObj(obj.status)?.reason),
        age(obj.metadata.creationTimestamp, now),
        asStr(s.volumeMode) || '<unset>',
      ];
    },
  },
  strategy: { defaults, prepareForCreate, validate, validateUpdate },
};
