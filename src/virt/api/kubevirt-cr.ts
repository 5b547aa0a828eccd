/**
 * kubevirt.io/v1 KubeVirt: the cluster's KubeVirt configuration, as virt-operator installs the
 * CRD (namespaced, short names kv/kvs, printer columns Age and Phase). `cairn up` makes
 * `kubevirt/kubevirt`; there is no operator to deploy, so Cairn only reads
 * `spec.configuration.migrations` (the cluster's migration configuration, below every
 * MigrationPolicy) and reports the CR `Deployed`. Every other field is kept as written: KubeVirt's
 * schema has big structs there Cairn ignores, so they are preserved rather than pruned.
 *
 * As virt-operator's `kubevirt-create-validator.kubevirt.io`, a second KubeVirt CR is refused
 * ("Kubevirt is already created"); one that got in anyway (made before the webhook saw the first)
 * is ignored: the oldest is honoured.
 */
import { ageColumn, bool, crd, int64, obj, quantity, type Schema, str } from '../../api/crd-builders.js';
import type { ResourceRef } from '../../client/index.js';
import { parseQuantity } from '../../registry/validation.js';
import type { KubeObject } from '../../util/object.js';
import { DEFAULT_MIGRATION_CONFIGURATION, type MigrationConfiguration } from '../migration/migration-state.js';
import { KUBEVIRT_CRD_LABELS, KUBEVIRT_GROUP } from './kubevirt.js';
import { type Cause, invalid } from './vmi-validation-causes.js';

export const KUBEVIRTS: ResourceRef = { group: KUBEVIRT_GROUP, version: 'v1', plural: 'kubevirts', namespaced: true, kind: 'KubeVirt' };
/** Where KubeVirt's docs (and `cairn up`) put the CR. */
export const KUBEVIRT_NAMESPACE = 'kubevirt';
export const KUBEVIRT_NAME = 'kubevirt';
/** status.phase of a CR whose configuration is in force (KubeVirt's KubeVirtPhaseDeployed). */
export const PHASE_DEPLOYED = 'Deployed';

export const KUBEVIRT_CREATE_WEBHOOK = 'kubevirt-create-validator.kubevirt.io';
export const KUBEVIRT_UPDATE_WEBHOOK = 'kubevirt-update-validator.kubevirt.io';
export const ALREADY_CREATED = 'Kubevirt is already created';

/** KubeVirt's MigrationConfiguration as the CR carries it: every field optional. */
export interface KubeVirtMigrations {
  parallelMigrationsPerCluster?: number;
  parallelOutboundMigrationsPerNode?: number;
  bandwidthPerMigration?: string | number;
  completionTimeoutPerGiB?: number;
  progressTimeout?: number;
  unsafeMigrationOverride?: boolean;
  allowAutoConverge?: boolean;
  allowPostCopy?: boolean;
  allowWorkloadDisruption?: boolean;
  disableTLS?: boolean;
  maxDowntimeMs?: number;
  network?: string;
  nodeDrainTaintKey?: string;
  matchSELinuxLevelOnMigration?: boolean;
  utilityVolumesTimeout?: number;
}

export interface KubeVirt extends KubeObject {
  spec?: { configuration?: { migrations?: KubeVirtMigrations } & Record<string, unknown> } & Record<string, unknown>;
  status?: { phase?: string } & Record<string, unknown>;
}

const preserving = (s: Schema): Schema => ({ ...s, 'x-kubernetes-preserve-unknown-fields': true });

const migrations = obj({
  allowAutoConverge: bool,
  allowPostCopy: bool,
  allowWorkloadDisruption: bool,
  bandwidthPerMigration: quantity,
  completionTimeoutPerGiB: int64,
  disableTLS: bool,
  matchSELinuxLevelOnMigration: bool,
  maxDowntimeMs: int64,
  network: str,
  nodeDrainTaintKey: str,
  parallelMigrationsPerCluster: int64,
  parallelOutboundMigrationsPerNode: int64,
  progressTimeout: int64,
  unsafeMigrationOverride: bool,
  utilityVolumesTimeout: int64,
});

export const KUBEVIRT_CR_CRD = crd({
  group: KUBEVIRTS.group,
  version: KUBEVIRTS.version,
  kind: KUBEVIRTS.kind!,
  plural: KUBEVIRTS.plural,
  singular: 'kubevirt',
  scope: 'Namespaced',
  shortNames: ['kv', 'kvs'],
  categories: ['all'],
  columns: [ageColumn, { name: 'Phase', type: 'string', jsonPath: '.status.phase' }],
  schema: {
    spec: preserving(obj({ configuration: preserving(obj({ migrations })) })),
    status: preserving(obj({ phase: str })),
  },
  required: ['spec'],
  status: true,
  labels: KUBEVIRT_CRD_LABELS,
});

/** The CR `cairn up` makes when there is none: KubeVirt's defaults, nothing set. */
export function defaultKubeVirt(): KubeVirt {
  return { apiVersion: `${KUBEVIRTS.group}/${KUBEVIRTS.version}`, kind: KUBEVIRTS.kind!, metadata: { name: KUBEVIRT_NAME, namespace: KUBEVIRT_NAMESPACE }, spec: { configuration: {} } };
}

/** The CR in force among all there are: the oldest (name breaking a tie), none when there is none. Pure. */
export function honouredKubeVirt(all: KubeVirt[]): KubeVirt | undefined {
  const live = all.filter((kv) => !kv.metadata.deletionTimestamp);
  const key = (kv: KubeVirt) => `${kv.metadata.creationTimestamp ?? ''}\u0000${kv.metadata.namespace ?? ''}/${kv.metadata.name ?? ''}`;
  return live.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))[0];
}

const INTEGER_FIELDS = ['parallelMigrationsPerCluster', 'parallelOutboundMigrationsPerNode', 'completionTimeoutPerGiB', 'progressTimeout', 'maxDowntimeMs', 'utilityVolumesTimeout'] as const;

/**
 * What the update webhook refuses in spec.configuration.migrations (the schema already refused
 * non-integers and strings that are no quantity): negative counts and timeouts, a negative
 * bandwidth, a zero downtime limit (QEMU takes none).
 */
export function validateKubeVirt(kv: KubeVirt): Cause[] {
  const m = kv.spec?.configuration?.migrations ?? {};
  const path = (f: string) => `spec.configuration.migrations.${f}`;
  const causes: Cause[] = [];
  for (const f of INTEGER_FIELDS) {
    const v = m[f];
    if (typeof v === 'number' && v < 0) causes.push(invalid(path(f), 'must not be negative'));
  }
  if (m.maxDowntimeMs === 0) causes.push(invalid(path('maxDowntimeMs'), 'must be greater than 0'));
  if (m.bandwidthPerMigration !== undefined) {
    const v = parseQuantity(m.bandwidthPerMigration);
    if (Number.isNaN(v)) causes.push(invalid(path('bandwidthPerMigration'), `invalid quantity ${JSON.stringify(m.bandwidthPerMigration)}`));
    else if (v < 0) causes.push(invalid(path('bandwidthPerMigration'), 'must not be negative'));
  }
  return causes;
}

/** The cluster's migration configuration: the defaults with the CR's fields over them. Pure. */
export function clusterMigrationConfiguration(kv: KubeVirt | undefined): MigrationConfiguration {
  const m = kv?.spec?.configuration?.migrations ?? {};
  const pick = <K extends keyof MigrationConfiguration>(k: K, v: MigrationConfiguration[K] | undefined) => (v !== undefined ? { [k]: v } : {});
  return {
    ...DEFAULT_MIGRATION_CONFIGURATION,
    ...pick('parallelMigrationsPerCluster', m.parallelMigrationsPerCluster),
    ...pick('parallelOutboundMigrationsPerNode', m.parallelOutboundMigrationsPerNode),
    ...pick('bandwidthPerMigration', m.bandwidthPerMigration !== undefined ? String(m.bandwidthPerMigration) : undefined),
    ...pick('completionTimeoutPerGiB', m.completionTimeoutPerGiB),
    ...pick('progressTimeout', m.progressTimeout),
    ...pick('allowAutoConverge', m.allowAutoConverge),
    ...pick('allowPostCopy', m.allowPostCopy),
    ...pick('maxDowntimeMs', m.maxDowntimeMs),
    ...pick('disableTLS', m.disableTLS),
  };
}

export const isKubeVirtCr = (group: string, plural: string) => group === KUBEVIRTS.group && plural === KUBEVIRTS.plural;
