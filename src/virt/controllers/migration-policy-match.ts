/**
 * Which MigrationPolicy a VMI's migration runs under, and the configuration that results
 * (KubeVirt's matchPolicy and applyMigrationPolicySpec, pkg/virt-controller/watch/migration):
 * a policy matches when every label its selectors name is on the VMI (virtualMachineInstanceSelector)
 * and on the VMI's namespace (namespaceSelector); the match naming the most labels wins, VMI
 * labels breaking a tie, then the policy's name in lexicographic order. Pure.
 */
import type { KubeObject } from '../../util/object.js';
import type { MigrationPolicy } from '../api/migration-policy.js';
import { DEFAULT_MIGRATION_CONFIGURATION, type MigrationConfiguration } from '../migration/migration-state.js';

interface Score {
  vmi: number;
  ns: number;
}

const total = (s: Score) => s.vmi + s.ns;
const greater = (a: Score, b: Score) => (total(a) === total(b) ? a.vmi > b.vmi : total(a) > total(b));

/**
 * The policy's score for a VMI, undefined when it does not match. Kept as KubeVirt's
 * countMatchingLabels, quirks included: a policy without selectors matches nothing, an empty
 * selector matches everything, and a VMI without any label skips both selectors (KubeVirt tests
 * the VMI's labels before the namespace selector too).
 */
function scoreOf(policy: MigrationPolicy, vmiLabels: Record<string, string> | undefined, nsLabels: Record<string, string> | undefined): Score | undefined {
  const selectors = policy.spec?.selectors;
  if (!selectors) return undefined;
  const count = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): number | undefined => {
    if (!selector || !vmiLabels) return 0;
    const entries = Object.entries(selector);
    return entries.every(([k, v]) => labels?.[k] === v) ? entries.length : undefined;
  };
  const vmi = count(selectors.virtualMachineInstanceSelector, vmiLabels);
  if (vmi === undefined) return undefined;
  const ns = count(selectors.namespaceSelector, nsLabels);
  return ns === undefined ? undefined : { vmi, ns };
}

export function matchPolicy(policies: MigrationPolicy[], vmi: KubeObject, namespace: KubeObject | undefined): MigrationPolicy | undefined {
  let best: { policy: MigrationPolicy; score: Score } | undefined;
  for (const policy of policies) {
    const score = scoreOf(policy, vmi.metadata.labels, namespace?.metadata.labels);
    if (!score) continue;
    if (!best || greater(score, best.score) || (!greater(best.score, score) && policy.metadata.name! < best.policy.metadata.name!)) best = { policy, score };
  }
  return best?.policy;
}

/** The cluster's configuration with the policy's fields over it (the parallel limits are the cluster's alone). */
export function applyPolicy(base: MigrationConfiguration, policy: MigrationPolicy | undefined): MigrationConfiguration {
  const spec = policy?.spec ?? {};
  return {
    ...base,
    ...(spec.allowAutoConverge !== undefined ? { allowAutoConverge: spec.allowAutoConverge } : {}),
    ...(spec.bandwidthPerMigration !== undefined ? { bandwidthPerMigration: String(spec.bandwidthPerMigration) } : {}),
    ...(spec.completionTimeoutPerGiB !== undefined ? { completionTimeoutPerGiB: spec.completionTimeoutPerGiB } : {}),
    ...(spec.maxDowntimeMs !== undefined ? { maxDowntimeMs: spec.maxDowntimeMs } : {}),
    ...(spec.allowPostCopy !== undefined ? { allowPostCopy: spec.allowPostCopy } : {}),
  };
}

/**
 * The configuration a VMI's migration runs with and the policy's name when one matched: the
 * cluster's (the defaults under the KubeVirt CR's, kubevirt-cr.ts) with the policy's over it.
 */
export function resolveMigrationConfiguration(
  policies: MigrationPolicy[],
  vmi: KubeObject,
  namespace: KubeObject | undefined,
  cluster: MigrationConfiguration = DEFAULT_MIGRATION_CONFIGURATION,
): { configuration: MigrationConfiguration; policyName?: string } {
  const policy = matchPolicy(policies, vmi, namespace);
  return { configuration: applyPolicy(cluster, policy), ...(policy ? { policyName: policy.metadata.name } : {}) };
}
