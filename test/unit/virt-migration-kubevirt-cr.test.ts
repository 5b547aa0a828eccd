// The KubeVirt CR as the cluster's migration configuration: precedence (defaults < the CR's
// spec.configuration.migrations < the matching MigrationPolicy, the parallel limits the
// cluster's alone), which CR is honoured, and the update webhook's checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/util/object.js';
import { clusterMigrationConfiguration, honouredKubeVirt, type KubeVirt, type KubeVirtMigrations, validateKubeVirt } from '../../src/virt/api/kubevirt-cr.js';
import type { MigrationPolicy } from '../../src/virt/api/migration-policy.js';
import { resolveMigrationConfiguration } from '../../src/virt/controllers/migration-policy-match.js';
import { DEFAULT_MIGRATION_CONFIGURATION } from '../../src/virt/migration/migration-state.js';

const kv = (migrations: KubeVirtMigrations | undefined, name = 'kubevirt', created = '2026-01-01T00:00:00Z'): KubeVirt => ({
  metadata: { name, namespace: 'kubevirt', creationTimestamp: created },
  spec: { configuration: migrations ? { migrations } : {} },
});
const vmi: KubeObject = { metadata: { name: 'v', namespace: 'ns', labels: { app: 'db' } } };

test('no CR, or a CR without migrations: KubeVirt\'s defaults', () => {
  assert.deepEqual(clusterMigrationConfiguration(undefined), DEFAULT_MIGRATION_CONFIGURATION);
  assert.deepEqual(clusterMigrationConfiguration(kv(undefined)), DEFAULT_MIGRATION_CONFIGURATION);
  assert.deepEqual(DEFAULT_MIGRATION_CONFIGURATION, {
    bandwidthPerMigration: '0',
    completionTimeoutPerGiB: 150,
    progressTimeout: 150,
    allowAutoConverge: false,
    allowPostCopy: false,
    maxDowntimeMs: 100,
    parallelMigrationsPerCluster: 5,
    parallelOutboundMigrationsPerNode: 2,
    disableTLS: false,
  });
});

test('defaults < CR < policy; the parallel limits, progressTimeout and disableTLS come from the CR only', () => {
  const cr = kv({ parallelMigrationsPerCluster: 3, parallelOutboundMigrationsPerNode: 1, bandwidthPerMigration: 67108864, completionTimeoutPerGiB: 800, progressTimeout: 300, allowAutoConverge: true, allowPostCopy: true, disableTLS: true, network: 'migration-net' });
  const cluster = clusterMigrationConfiguration(cr);
  assert.deepEqual(cluster, {
    ...DEFAULT_MIGRATION_CONFIGURATION,
    parallelMigrationsPerCluster: 3,
    parallelOutboundMigrationsPerNode: 1,
    bandwidthPerMigration: '67108864',
    completionTimeoutPerGiB: 800,
    progressTimeout: 300,
    allowAutoConverge: true,
    allowPostCopy: true,
    disableTLS: true,
  });
  const policy: MigrationPolicy = { metadata: { name: 'db' }, spec: { selectors: { virtualMachineInstanceSelector: { app: 'db' } }, bandwidthPerMigration: '1Gi', allowPostCopy: false } };
  assert.deepEqual(resolveMigrationConfiguration([policy], vmi, undefined, cluster), {
    configuration: { ...cluster, bandwidthPerMigration: '1Gi', allowPostCopy: false },
    policyName: 'db',
  });
  assert.deepEqual(resolveMigrationConfiguration([], vmi, undefined, cluster), { configuration: cluster });
});

test('only one CR is honoured: the oldest, never one being deleted', () => {
  const first = kv({ parallelOutboundMigrationsPerNode: 1 }, 'kubevirt', '2026-01-01T00:00:00Z');
  const second = kv({ parallelOutboundMigrationsPerNode: 4 }, 'another', '2026-01-02T00:00:00Z');
  assert.equal(honouredKubeVirt([second, first])?.metadata.name, 'kubevirt');
  assert.equal(honouredKubeVirt([second, { ...first, metadata: { ...first.metadata, deletionTimestamp: '2026-01-03T00:00:00Z' } }])?.metadata.name, 'another');
  assert.equal(honouredKubeVirt([]), undefined);
});

test('validation: negative numbers, a negative or malformed bandwidth and a zero downtime limit, with field paths', () => {
  assert.deepEqual(validateKubeVirt(kv({ parallelMigrationsPerCluster: 5, bandwidthPerMigration: '64Mi', progressTimeout: 0 })), []);
  assert.deepEqual(validateKubeVirt(kv({ parallelOutboundMigrationsPerNode: -1, progressTimeout: -5, bandwidthPerMigration: '-1Mi', maxDowntimeMs: 0 })), [
    { type: 'FieldValueInvalid', field: 'spec.configuration.migrations.parallelOutboundMigrationsPerNode', message: 'must not be negative' },
    { type: 'FieldValueInvalid', field: 'spec.configuration.migrations.progressTimeout', message: 'must not be negative' },
    { type: 'FieldValueInvalid', field: 'spec.configuration.migrations.maxDowntimeMs', message: 'must be greater than 0' },
    { type: 'FieldValueInvalid', field: 'spec.configuration.migrations.bandwidthPerMigration', message: 'must not be negative' },
  ]);
  assert.deepEqual(validateKubeVirt(kv({ bandwidthPerMigration: 'fast' })), [{ type: 'FieldValueInvalid', field: 'spec.configuration.migrations.bandwidthPerMigration', message: 'invalid quantity "fast"' }]);
});
