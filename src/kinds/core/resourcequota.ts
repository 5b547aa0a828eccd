/** core/v1 ResourceQuota: ValidateResourceQuota (hard limits, scopes) and printResourceQuota. */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import type { KubeObject } from '../../util/object.js';
import { age, nameColumn, ageColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';
import { asList, asObj, asStr, validateQualifiedName } from './helpers.js';
import { quantityText, validateQuantityValue } from './quantity.js';

/** Resources a quota may count without a domain prefix (upstream standardQuotaResources). */
const QUOTA_RESOURCES = new Set([
  'cpu', 'memory', 'requests.cpu', 'requests.memory', 'requests.storage', 'requests.ephemeral-storage', 'limits.cpu', 'limits.memory',
  'limits.ephemeral-storage', 'ephemeral-storage', 'pods', 'services', 'replicationcontrollers', 'resourcequotas', 'secrets', 'configmaps',
  'persistentvolumeclaims', 'services.nodeports', 'services.loadbalancers',
]);
const isQuotaResource = (n: string) => QUOTA_RESOURCES.has(n) || /^(requests\.|limits\.)?hugepages-/.test(n);
const SCOPES = ['BestEffort', 'CrossNamespacePodAffinity', 'NotBestEffort', 'NotTerminating', 'PriorityClass', 'Terminating', 'VolumeAttributesClass'];

/** Quota resource names and values, for spec.hard, status.hard and status.used. */
export function validateQuotaList(list: unknown, path: FieldPath): FieldError[] {
  return Object.entries(asObj(list) ?? {}).flatMap(([k, q]) => {
    const errs = validateQualifiedName(k, path.key(k));
    if (!k.includes('/') && !isQuotaResource(k)) errs.push(fieldErr.invalid(path.key(k), k, 'must be a standard resource for quota'));
    return [...errs, ...validateQuantityValue(k, q, path.key(k))];
  });
}

function validate(obj: KubeObject): FieldError[] {
  const spec = asObj(obj.spec) ?? {};
  const path = FieldPath.root('spec');
  const errs = validateQuotaList(spec.hard, path.child('hard'));
  const scopes = asList(spec.scopes);
  scopes.forEach((s) => {
    if (!SCOPES.includes(asStr(s))) errs.push(fieldErr.notSupported(path.child('scopes'), s, SCOPES));
  });
  // Opposite scopes would match nothing.
  for (const [a, b] of [['BestEffort', 'NotBestEffort'], ['Terminating', 'NotTerminating']])
    if (scopes.includes(a) && scopes.includes(b)) errs.push(fieldErr.invalid(path.child('scopes'), scopes, 'conflicting scopes'));
  return errs;
}

/** "resource: used/hard, ..." for either the request-side or the `limits.`-prefixed resources. */
function usageText(obj: KubeObject, limits: boolean): string {
  const st = asObj(obj.status) ?? {};
  const hard = asObj(st.hard) ?? {};
  const used = asObj(st.used) ?? {};
  return Object.keys(hard)
    .sort()
    .filter((r) => (r.split('.').length > 1 && r.split('.')[0] === 'limits') === limits)
    .map((r) => `${r}: ${quantityText(used[r])}/${quantityText(hard[r])}`)
    .join(', ');
}

export const resourceQuota: KindDefinition = {
  group: '',
  version: 'v1',
  kind: 'ResourceQuota',
  listKind: 'ResourceQuotaList',
  plural: 'resourcequotas',
  singular: 'resourcequota',
  namespaced: true,
  shortNames: ['quota'],
  schemaName: 'io.k8s.api.core.v1.ResourceQuota',
  nameFormat: 'subdomain',
  statusSubresource: true,
  tracksGeneration: false,
  printer: {
    columns: [
      nameColumn,
      ageColumn,
      { name: 'Request', type: 'string', description: 'Used and hard amounts of the request-side resources.', priority: 0 },
      { name: 'Limit', type: 'string', description: 'Used and hard amounts of the limits.* resources.', priority: 0 },
    ],
    cells: (obj, now) => [obj.metadata.name, age(obj.metadata.creationTimestamp, now), usageText(obj, false), usageText(obj, true)],
  },
  strategy: {
    prepareForCreate: (obj) => {
      obj.status = {};
    },
    validate,
    validateStatusUpdate: (obj) => {
      const st = asObj(obj.status) ?? {};
      const path = FieldPath.root('status');
      return [...validateQuotaList(st.hard, path.child('hard')), ...validateQuotaList(st.used, path.child('used'))];
    },
  },
};
