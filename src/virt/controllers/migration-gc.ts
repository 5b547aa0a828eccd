/**
 * KubeVirt's garbageCollectFinalizedMigrations: a VMI keeps its 5 newest ended migrations; older
 * ones are deleted together with the launcher pod each left behind (a failed migration's target
 * pod, a successful one's source pod). Pure: the controller deletes what this returns.
 */
import type { VirtualMachineInstanceMigration } from '../migration/migration-state.js';
import { isFinalMigration } from './migration-limits.js';

export const FINALIZED_MIGRATIONS_KEPT = 5;

export interface Collectable {
  migration: VirtualMachineInstanceMigration;
  /** The name of the launcher pod the migration left behind, if any. */
  defunctPod?: string;
}

const created = (m: VirtualMachineInstanceMigration) => Date.parse(m.metadata.creationTimestamp ?? '') || 0;

/** The ended migrations of one VMI to delete, oldest first. */
export function migrationsToCollect(migrationsOfVmi: VirtualMachineInstanceMigration[]): Collectable[] {
  const ended = migrationsOfVmi.filter((m) => isFinalMigration(m) && !m.metadata.deletionTimestamp).sort((a, b) => created(a) - created(b));
  return ended.slice(0, Math.max(0, ended.length - FINALIZED_MIGRATIONS_KEPT)).map((migration) => {
    const state = migration.status?.migrationState;
    const defunctPod = state?.failed ? state.targetPod : state?.completed ? state.sourcePod : undefined;
    return { migration, ...(defunctPod ? { defunctPod } : {}) };
  });
}
