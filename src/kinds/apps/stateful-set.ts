/** apps/v1 StatefulSet: pods with stable identities and per-pod volumes. */
import { type FieldError, type FieldPath, fieldErr } from '../../registry/field-errors.js';
import { deepClone, deepEqual, type KubeObject } from '../../util/object.js';
import { ageColumn, creationAge, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';
import {
  type IntOrString,
  type PodTemplate,
  type WorkloadSpec,
  SPEC,
  containerCells,
  containersColumn,
  defaultPodTemplate,
  imagesColumn,
  intOrPercentValue,
  notMoreThan100Percent,
  readyOfDesiredColumn,
  replicasScale,
  selectorImmutable,
  selectorMatchesTemplate,
  specOf,
  validateLongRunningPodSpec,
  validateNonnegative,
  validatePodTemplateSpec,
  validatePositiveIntOrPercent,
  validateWorkloadSelector,
} from './workload-common.js';

interface UpdateStrategy {
  type?: string;
  rollingUpdate?: { partition?: number; maxUnavailable?: IntOrString };
}
interface ClaimTemplate {
  metadata?: { name?: string };
  spec?: { volumeMode?: string; [k: string]: unknown };
  status?: { phase?: string; [k: string]: unknown };
}
interface StatefulSetSpec extends WorkloadSpec {
  serviceName?: string;
  podManagementPolicy?: string;
  updateStrategy?: UpdateStrategy;
  volumeClaimTemplates?: ClaimTemplate[];
  ordinals?: { start?: number };
  persistentVolumeClaimRetentionPolicy?: { whenDeleted?: string; whenScaled?: string };
}

/** Spec fields an update may change; everything else is fixed at creation. */
const MUTABLE_FIELDS = ['replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds'] as const;
const MUTABLE_MSG =
  "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

function validateUpdateStrategy(s: UpdateStrategy, path: FieldPath): FieldError[] {
  switch (s.type) {
    case undefined:
    case '':
      return [fieldErr.required(path)];
    case 'OnDelete':
      return s.rollingUpdate ? [fieldErr.invalid(path.child('rollingUpdate'), s.rollingUpdate, "only allowed for updateStrategy 'RollingUpdate'")] : [];
    case 'RollingUpdate': {
      const ru = s.rollingUpdate;
      if (!ru) return [];
      const rp = path.child('rollingUpdate');
      const errs = validateNonnegative(ru.partition, rp.child('partition'));
      if (ru.maxUnavailable != null) {
        const mp = rp.child('maxUnavailable');
        errs.push(...validatePositiveIntOrPercent(ru.maxUnavailable, mp));
        if (intOrPercentValue(ru.maxUnavailable) === 0) errs.push(fieldErr.invalid(mp, ru.maxUnavailable, 'cannot be 0'));
        errs.push(...notMoreThan100Percent(ru.maxUnavailable, mp));
      }
      return errs;
    }
    default:
      return [fieldErr.invalid(path, s, "must be 'RollingUpdate' or 'OnDelete'")];
  }
}

function validateRetentionPolicy(p: StatefulSetSpec['persistentVolumeClaimRetentionPolicy'], path: FieldPath): FieldError[] {
  if (!p) return [];
  const errs: FieldError[] = [];
  for (const f of ['whenDeleted', 'whenScaled'] as const)
    if (p[f] !== 'Retain' && p[f] !== 'Delete') errs.push(fieldErr.notSupported(path.child(f), p[f] ?? '', ['Retain', 'Delete']));
  return errs;
}

/**
 * The pod template as the controller will run it: each volumeClaimTemplate becomes a volume of the
 * same name, so mounts of claim templates validate (upstream skips pod-spec validation for this reason).
 */
function templateWithClaims(t: PodTemplate, claims: ClaimTemplate[]): PodTemplate {
  const copy = deepClone(t);
  const spec = (copy.spec ??= {});
  const volumes = ((spec.volumes as { name?: string }[] | undefined) ?? []).slice();
  for (const c of claims) {
    const name = c.metadata?.name;
    if (name && !volumes.some((v) => v.name === name)) volumes.push({ name, persistentVolumeClaim: { claimName: name } } as { name: string });
  }
  if (volumes.length) spec.volumes = volumes;
  return copy;
}

function validate(obj: KubeObject): FieldError[] {
  const spec = specOf<StatefulSetSpec>(obj);
  const errs: FieldError[] = [];
  const pmp = spec.podManagementPolicy;
  if (!pmp) errs.push(fieldErr.required(SPEC.child('podManagementPolicy')));
  else if (pmp !== 'OrderedReady' && pmp !== 'Parallel') errs.push(fieldErr.invalid(SPEC.child('podManagementPolicy'), pmp, "must be 'OrderedReady' or 'Parallel'"));
  errs.push(...validateUpdateStrategy(spec.updateStrategy ?? {}, SPEC.child('updateStrategy')));
  errs.push(...validateRetentionPolicy(spec.persistentVolumeClaimRetentionPolicy, SPEC.child('persistentVolumeClaimRetentionPolicy')));
  errs.push(...validateNonnegative(spec.replicas, SPEC.child('replicas')));
  errs.push(...validateNonnegative(spec.minReadySeconds, SPEC.child('minReadySeconds')));
  if (spec.ordinals) errs.push(...validateNonnegative(spec.ordinals.start, SPEC.child('ordinals.start')));
  const sel = validateWorkloadSelector(spec.selector, SPEC.child('selector'), 'statefulset');
  errs.push(...sel.errs);
  const tp = SPEC.child('template');
  if (!sel.selector) errs.push(fieldErr.invalid(SPEC.child('selector'), spec.selector, ''));
  else {
    errs.push(...selectorMatchesTemplate(sel.selector, spec.template, tp));
    errs.push(...validatePodTemplateSpec(templateWithClaims(spec.template ?? {}, spec.volumeClaimTemplates ?? []), tp));
  }
  errs.push(...validateLongRunningPodSpec(spec.template, tp, 'StatefulSet'));
  return errs;
}

function validateUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const errs = selectorImmutable(obj, old);
  const n = deepClone(specOf<Record<string, unknown>>(obj));
  const o = specOf<Record<string, unknown>>(old);
  for (const f of MUTABLE_FIELDS) n[f] = o[f];
  if (!deepEqual(n, o)) errs.push(fieldErr.forbidden(SPEC, MUTABLE_MSG));
  return errs;
}

function defaults(obj: KubeObject): void {
  const spec = (obj.spec ??= {}) as StatefulSetSpec;
  if (!spec.podManagementPolicy) spec.podManagementPolicy = 'OrderedReady';
  const us = (spec.updateStrategy ??= {});
  if (!us.type) {
    us.type = 'RollingUpdate';
    us.rollingUpdate ??= {};
  }
  if (us.type === 'RollingUpdate' && us.rollingUpdate) us.rollingUpdate.partition ??= 0;
  const policy = (spec.persistentVolumeClaimRetentionPolicy ??= {});
  if (!policy.whenDeleted) policy.whenDeleted = 'Retain';
  if (!policy.whenScaled) policy.whenScaled = 'Retain';
  spec.replicas ??= 1;
  spec.revisionHistoryLimit ??= 10;
  // Claim templates get PersistentVolumeClaim defaults, as nested defaulting does upstream.
  for (const c of spec.volumeClaimTemplates ?? []) {
    const cs = (c.spec ??= {});
    cs.volumeMode ??= 'Filesystem';
    const st = (c.status ??= {});
    st.phase ??= 'Pending';
  }
  defaultPodTemplate(spec);
}

export const statefulSetKind: KindDefinition = {
  group: 'apps',
  version: 'v1',
  kind: 'StatefulSet',
  listKind: 'StatefulSetList',
  plural: 'statefulsets',
  singular: 'statefulset',
  namespaced: true,
  shortNames: ['sts'],
  categories: ['all'],
  // Upstream validates StatefulSet names as DNS labels: pod names and hostnames derive from them.
  nameFormat: 'label',
  schemaName: 'io.k8s.api.apps.v1.StatefulSet',
  statusSubresource: true,
  scale: replicasScale,
  tracksGeneration: true,
  printer: {
    columns: [
      nameColumn,
      readyOfDesiredColumn,
      ageColumn,
      containersColumn,
      imagesColumn,
    ],
    cells(obj, now) {
      const spec = specOf<StatefulSetSpec>(obj);
      const ready = ((obj.status ?? {}) as { readyReplicas?: number }).readyReplicas ?? 0;
      return [obj.metadata.name, `${ready}/${spec.replicas ?? 0}`, creationAge(obj, now), ...containerCells(spec.template)];
    },
  },
  strategy: { defaults, validate, validateUpdate },
};

