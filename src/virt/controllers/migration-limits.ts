/**
 * The parallel migration limits (KubeVirt's handleTargetPodCreation): a migration creates its
 * target pod only while fewer than parallelMigrationsPerCluster migrations are in flight in the
 * cluster and fewer than parallelOutboundMigrationsPerNode leave its VMI's node. In flight, as
 * KubeVirt's findRunningMigrations counts: not final, and past Pending or with a target pod
 * (one just created counts before the cache shows it). The others stay Pending. Pure.
 */
import type { Vmi } from '../launcher/vmi-types.js';
import { type MigrationConfiguration, migrationStateOf, type VirtualMachineInstanceMigration } from '../migration/migration-state.js';

export const isFinalMigration = (m: VirtualMachineInstanceMigration) => m.status?.phase === 'Succeeded' || m.status?.phase === 'Failed';

export interface InFlightView {
  /** Every migration in the cluster. */
  migrations: VirtualMachineInstanceMigration[];
  vmiOf: (m: VirtualMachineInstanceMigration) => Vmi | undefined;
  /** The migration has a target pod (in the cache, or created and not yet seen there). */
  hasTargetPod: (m: VirtualMachineInstanceMigration) => boolean;
}

export function inFlightMigrations(v: InFlightView): VirtualMachineInstanceMigration[] {
  return v.migrations.filter((m) => !isFinalMigration(m) && ((m.status?.phase && m.status.phase !== 'Pending') || v.hasTargetPod(m)));
}

/** Why the migration must wait, or undefined when it may create its target pod now. */
export function parallelLimitReached(candidate: VirtualMachineInstanceMigration, sourceNode: string, v: InFlightView, config: MigrationConfiguration): string | undefined {
  const others = inFlightMigrations(v).filter((m) => m.metadata.uid !== candidate.metadata.uid);
  if (others.length >= config.parallelMigrationsPerCluster) return `total running parallel migration count [${others.length}] is currently at the global cluster limit`;
  const outbound = others.filter((m) => {
    const vmi = v.vmiOf(m);
    return vmi?.status?.nodeName === sourceNode || migrationStateOf(vmi)?.sourceNode === sourceNode;
  }).length;
  if (outbound >= config.parallelOutboundMigrationsPerNode) return `total running parallel outbound migrations on node [${outbound}] has hit outbound migrations per node limit`;
  return undefined;
}
