/**
 * migrations.kubevirt.io/v1alpha1 MigrationPolicy (cluster-scoped), as KubeVirt's virt-operator
 * installs it and its `migration-policy-validator.kubevirt.io` webhook checks it: a policy
 * selects VMIs by their labels and their namespace's labels and overrides the cluster's migration
 * configuration for them (src/virt/controllers/migration-policy-match.ts picks the policy).
 * KubeVirt's `experimental` options (stall detector, downtime tuning) are not served: Cairn's
 * migration has no use for them.
 */
import { bool, crd, int64, obj, quantity, stringMap } from '../../api/crd-builders.js';
import { quantityText } from '../../kinds/core/quantity.js';
import type { KubeObject } from '../../util/object.js';
import { MIGRATION_POLICIES } from '../migration/migration-state.js';
import { KUBEVIRT_CRD_LABELS } from './kubevirt.js';
import { type Cause, invalid } from './vmi-validation-causes.js';

/** KubeVirt's MigrationPolicySpec; an absent field leaves the cluster's value. */
export interface MigrationPolicySpec {
  selectors?: { namespaceSelector?: Record<string, string>; virtualMachineInstanceSelector?: Record<string, string> };
  allowAutoConverge?: boolean;
  bandwidthPerMigration?: string | number;
  completionTimeoutPerGiB?: number;
  maxDowntimeMs?: number;
  allowPostCopy?: boolean;
  allowWorkloadDisruption?: boolean;
}

export interface MigrationPolicy extends KubeObject {
  spec: MigrationPolicySpec;
}

export const MIGRATION_POLICY_CRD = crd({
  group: MIGRATION_POLICIES.group,
  version: MIGRATION_POLICIES.version,
  kind: MIGRATION_POLICIES.kind!,
  plural: MIGRATION_POLICIES.plural,
  singular: 'migrationpolicy',
  scope: 'Cluster',
  schema: {
    spec: obj(
      {
        allowAutoConverge: bool,
        allowPostCopy: bool,
        allowWorkloadDisruption: bool,
        bandwidthPerMigration: quantity,
        completionTimeoutPerGiB: int64,
        maxDowntimeMs: int64,
        selectors: obj({ namespaceSelector: stringMap, virtualMachineInstanceSelector: stringMap }),
      },
      ['selectors'],
    ),
    status: obj({}),
  },
  required: ['spec'],
  status: true,
  labels: KUBEVIRT_CRD_LABELS,
});

export const MIGRATION_POLICY_WEBHOOK = 'migration-policy-validator.kubevirt.io';

/**
 * KubeVirt's MigrationPolicyAdmitter: no negative completion timeout or bandwidth. (KubeVirt
 * also refuses maxDowntimeMs behind a feature gate; Cairn has no feature gates and honours it.)
 */
export function validateMigrationPolicy(policy: MigrationPolicy): Cause[] {
  const spec = policy.spec ?? {};
  const causes: Cause[] = [];
  if (typeof spec.completionTimeoutPerGiB === 'number' && spec.completionTimeoutPerGiB < 0) causes.push(invalid('spec.completionTimeoutPerGiB', 'must not be negative'));
  if (spec.bandwidthPerMigration !== undefined && /^-\s*[0-9.]*[1-9]/.test(quantityText(spec.bandwidthPerMigration).trim())) causes.push(invalid('spec.bandwidthPerMigration', 'must not be negative'));
  return causes;
}
