/** coordination.k8s.io/v1 Lease: leader election and node heartbeats. */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { isQualifiedName } from '../../registry/validation.js';
import type { KubeObject } from '../../util/object.js';
import { ageColumn, creationAge, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  leaseTransitions?: number;
  strategy?: string;
  preferredHolder?: string;
}

const STRATEGIES = ['OldestEmulationVersion'];
const specOf = (obj: KubeObject) => (obj.spec ?? {}) as LeaseSpec;

/** A strategy is either one Kubernetes defines or a domain-prefixed custom one. */
function validateStrategy(s: string, path: FieldPath): FieldError[] {
  if (!s.includes('/')) return STRATEGIES.includes(s) ? [] : [fieldErr.notSupported(path, s, STRATEGIES)];
  return isQualifiedName(s).map((m) => fieldErr.invalid(path, s, m));
}

function validate(obj: KubeObject): FieldError[] {
  const spec = specOf(obj);
  const path = FieldPath.root('spec');
  const errs: FieldError[] = [];
  if (spec.leaseDurationSeconds != null && spec.leaseDurationSeconds <= 0)
    errs.push(fieldErr.invalid(path.child('leaseDurationSeconds'), spec.leaseDurationSeconds, 'must be greater than 0'));
  if (spec.leaseTransitions != null && spec.leaseTransitions < 0)
    errs.push(fieldErr.invalid(path.child('leaseTransitions'), spec.leaseTransitions, 'must be greater than or equal to 0'));
  if (spec.strategy != null) errs.push(...validateStrategy(spec.strategy, path.child('strategy')));
  if (spec.preferredHolder && !spec.strategy)
    errs.push(fieldErr.forbidden(path.child('preferredHolder'), 'may only be specified if `strategy` is defined'));
  return errs;
}

export const leaseKind: KindDefinition = {
  group: 'coordination.k8s.io',
  version: 'v1',
  kind: 'Lease',
  listKind: 'LeaseList',
  plural: 'leases',
  singular: 'lease',
  namespaced: true,
  nameFormat: 'subdomain',
  schemaName: 'io.k8s.api.coordination.v1.Lease',
  printer: {
    columns: [nameColumn, { name: 'Holder', type: 'string', description: 'The identity of the current holder of the lease.', priority: 0 }, ageColumn],
    cells: (obj, now) => [obj.metadata.name, specOf(obj).holderIdentity ?? '', creationAge(obj, now)],
  },
  strategy: { validate },
};
