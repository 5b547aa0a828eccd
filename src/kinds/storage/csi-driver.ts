/**
 * storage.k8s.io/v1 CSIDriver: what a CSI driver tells the cluster about itself. Cairn reads
 * `storageCapacity` (the scheduler then checks CSIStorageCapacity objects for the driver's
 * classes) and `fsGroupPolicy` (whether the node applies fsGroup to its volumes). Defaults,
 * validation and columns as upstream's; attachRequired and volumeLifecycleModes are immutable.
 */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { immutableField } from '../../registry/validation.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import { ageColumn, creationAge, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';

export interface CSIDriverSpec {
  attachRequired?: boolean;
  podInfoOnMount?: boolean;
  volumeLifecycleModes?: string[];
  storageCapacity?: boolean;
  fsGroupPolicy?: string;
  tokenRequests?: { audience?: string; expirationSeconds?: number }[];
  requiresRepublish?: boolean;
  seLinuxMount?: boolean;
  nodeAllocatableUpdatePeriodSeconds?: number;
}

export const FS_GROUP_POLICIES = ['File', 'None', 'ReadWriteOnceWithFSType'] as const;
const LIFECYCLE_MODES = ['Persistent', 'Ephemeral'];
const MIN_TOKEN_SECONDS = 600;

const specOf = (o: KubeObject) => (o.spec ?? {}) as CSIDriverSpec;
const specPath = FieldPath.root('spec');

function validateTokenRequests(list: NonNullable<CSIDriverSpec['tokenRequests']>, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  list.forEach((t, i) => {
    const audience = t.audience ?? '';
    if (seen.has(audience)) {
      errs.push(fieldErr.duplicate(path.index(i).child('audience'), audience));
      return;
    }
    seen.add(audience);
    const s = t.expirationSeconds;
    if (s === undefined) return;
    if (s < MIN_TOKEN_SECONDS) errs.push(fieldErr.invalid(path.index(i).child('expirationSeconds'), s, 'may not specify a duration less than 10 minutes'));
    if (s > 2 ** 32) errs.push(fieldErr.invalid(path.index(i).child('expirationSeconds'), s, 'may not specify a duration larger than 2^32 seconds'));
  });
  return errs;
}

function validate(obj: KubeObject): FieldError[] {
  const s = specOf(obj);
  const errs: FieldError[] = [];
  // Upstream reports the attach flag under its old spelling.
  if (s.attachRequired === undefined) errs.push(fieldErr.required(specPath.child('attachedRequired')));
  if (s.podInfoOnMount === undefined) errs.push(fieldErr.required(specPath.child('podInfoOnMount')));
  if (s.storageCapacity === undefined) errs.push(fieldErr.required(specPath.child('storageCapacity')));
  if (s.fsGroupPolicy !== undefined && !(FS_GROUP_POLICIES as readonly string[]).includes(s.fsGroupPolicy))
    errs.push(fieldErr.notSupported(specPath.child('fsGroupPolicy'), s.fsGroupPolicy, FS_GROUP_POLICIES));
  errs.push(...validateTokenRequests(s.tokenRequests ?? [], specPath.child('tokenRequests')));
  for (const m of s.volumeLifecycleModes ?? [])
    if (!LIFECYCLE_MODES.includes(m)) errs.push(fieldErr.notSupported(specPath.child('volumeLifecycleModes'), m, LIFECYCLE_MODES));
  const period = s.nodeAllocatableUpdatePeriodSeconds;
  if (period !== undefined && period < 10) errs.push(fieldErr.invalid(specPath.child('nodeAllocatableUpdatePeriodSeconds'), period, 'must be greater than or equal to 10 seconds'));
  return errs;
}

function validateUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const n = specOf(obj);
  const o = specOf(old);
  return [
    ...immutableField(n.attachRequired, o.attachRequired, specPath.child('attachedRequired'), deepEqual),
    ...immutableField(n.volumeLifecycleModes, o.volumeLifecycleModes, specPath.child('volumeLifecycleModes'), deepEqual),
  ];
}

const yesNo = (b: boolean | undefined) => (b ? 'true' : 'false');

export const csiDriverKind: KindDefinition = {
  group: 'storage.k8s.io',
  version: 'v1',
  kind: 'CSIDriver',
  listKind: 'CSIDriverList',
  plural: 'csidrivers',
  singular: 'csidriver',
  namespaced: false,
  nameFormat: 'subdomain',
  schemaName: 'io.k8s.api.storage.v1.CSIDriver',
  printer: {
    columns: [
      nameColumn,
      { name: 'AttachRequired', type: 'boolean', description: 'Whether the driver needs an attach operation.', priority: 0 },
      { name: 'PodInfoOnMount', type: 'boolean', description: 'Whether the driver gets pod information on mount.', priority: 0 },
      { name: 'StorageCapacity', type: 'boolean', description: 'Whether the scheduler considers the driver\'s storage capacity.', priority: 0 },
      { name: 'TokenRequests', type: 'string', description: 'Audiences of the service account tokens the driver receives.', priority: 0 },
      { name: 'RequiresRepublish', type: 'boolean', description: 'Whether NodePublishVolume is called periodically.', priority: 0 },
      { name: 'Modes', type: 'string', description: 'The volume lifecycle modes the driver supports.', priority: 0 },
      ageColumn,
    ],
    cells(obj, now) {
      const s = specOf(obj);
      const tokens = (s.tokenRequests ?? []).map((t) => t.audience ?? '').join(',') || '<unset>';
      return [obj.metadata.name, yesNo(s.attachRequired), yesNo(s.podInfoOnMount), yesNo(s.storageCapacity), tokens, yesNo(s.requiresRepublish), (s.volumeLifecycleModes ?? []).join(',') || '<none>', creationAge(obj, now)];
    },
  },
  strategy: {
    defaults(obj) {
      const s = (obj.spec ??= {}) as CSIDriverSpec;
      s.attachRequired ??= true;
      s.podInfoOnMount ??= false;
      s.storageCapacity ??= false;
      s.fsGroupPolicy ??= 'ReadWriteOnceWithFSType';
      s.requiresRepublish ??= false;
      s.seLinuxMount ??= false;
      if (!s.volumeLifecycleModes?.length) s.volumeLifecycleModes = ['Persistent'];
    },
    validate,
    validateUpdate,
  },
};
