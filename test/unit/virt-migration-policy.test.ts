// MigrationPolicy matching and the configuration it yields (KubeVirt's matchPolicy and
// applyMigrationPolicySpec), and the policy's admission checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/util/object.js';
import { type MigrationPolicy, type MigrationPolicySpec, validateMigrationPolicy } from '../../src/virt/api/migration-policy.js';
import { matchPolicy, resolveMigrationConfiguration } from '../../src/virt/controllers/migration-policy-match.js';
import { DEFAULT_MIGRATION_CONFIGURATION } from '../../src/virt/migration/migration-state.js';

const policy = (name: string, spec: MigrationPolicySpec): MigrationPolicy => ({ metadata: { name }, spec });
const vmi = (labels?: Record<string, string>): KubeObject => ({ metadata: { name: 'v', namespace: 'ns', ...(labels ? { labels } : {}) } });
const ns = (labels?: Record<string, string>): KubeObject => ({ metadata: { name: 'ns', ...(labels ? { labels } : {}) } });
const names = (p: MigrationPolicy | undefined) => p?.metadata.name;

test('a policy matches when every selected label is on the VMI and its namespace; the most labels win', () => {
  const policies = [
    policy('by-vmi', { selectors: { virtualMachineInstanceSelector: { app: 'db' } } }),
    policy('by-both', { selectors: { virtualMachineInstanceSelector: { app: 'db' }, namespaceSelector: { team: 'a' } } }),
    policy('wrong', { selectors: { virtualMachineInstanceSelector: { app: 'web' } } }),
  ];
  assert.equal(names(matchPolicy(policies, vmi({ app: 'db' }), ns({ team: 'a' }))), 'by-both');
  assert.equal(names(matchPolicy(policies, vmi({ app: 'db' }), ns({ team: 'b' }))), 'by-vmi');
  assert.equal(names(matchPolicy(policies, vmi({ app: 'other' }), ns({ team: 'a' }))), undefined);
});

test('ties: VMI labels beat namespace labels, then the name in lexicographic order; no selectors match nothing, empty ones everything', () => {
  const vmiOne = policy('z-vmi', { selectors: { virtualMachineInstanceSelector: { app: 'db' } } });
  const nsOne = policy('a-ns', { selectors: { namespaceSelector: { team: 'a' } } });
  assert.equal(names(matchPolicy([nsOne, vmiOne], vmi({ app: 'db' }), ns({ team: 'a' }))), 'z-vmi');
  const b = policy('b', { selectors: { virtualMachineInstanceSelector: { app: 'db' } } });
  assert.equal(names(matchPolicy([vmiOne, b], vmi({ app: 'db' }), ns())), 'b');
  assert.equal(names(matchPolicy([policy('none', {})], vmi({ app: 'db' }), ns())), undefined);
  assert.equal(names(matchPolicy([policy('all', { selectors: {} })], vmi({ app: 'db' }), ns())), 'all');
  // KubeVirt's quirk kept: a VMI without labels skips the selectors.
  assert.equal(names(matchPolicy([vmiOne], vmi(), ns())), 'z-vmi');
});

test('the configuration: cluster defaults with the matched policy\'s fields over them', () => {
  const p = policy('slow', { selectors: { virtualMachineInstanceSelector: { app: 'db' } }, bandwidthPerMigration: '64Mi', completionTimeoutPerGiB: 300, allowAutoConverge: true, allowPostCopy: true, maxDowntimeMs: 500 });
  assert.deepEqual(resolveMigrationConfiguration([p], vmi({ app: 'db' }), ns()), {
    configuration: { ...DEFAULT_MIGRATION_CONFIGURATION, bandwidthPerMigration: '64Mi', completionTimeoutPerGiB: 300, allowAutoConverge: true, allowPostCopy: true, maxDowntimeMs: 500 },
    policyName: 'slow',
  });
  assert.deepEqual(resolveMigrationConfiguration([p], vmi({ app: 'web' }), ns()), { configuration: DEFAULT_MIGRATION_CONFIGURATION });
});

test('admission: negative completion timeout or bandwidth refused with KubeVirt\'s causes', () => {
  assert.deepEqual(validateMigrationPolicy(policy('p', { selectors: {}, completionTimeoutPerGiB: -1, bandwidthPerMigration: '-1Mi' })), [
    { type: 'FieldValueInvalid', field: 'spec.completionTimeoutPerGiB', message: 'must not be negative' },
    { type: 'FieldValueInvalid', field: 'spec.bandwidthPerMigration', message: 'must not be negative' },
  ]);
  assert.deepEqual(validateMigrationPolicy(policy('p', { selectors: {}, completionTimeoutPerGiB: 0, bandwidthPerMigration: '0' })), []);
});
