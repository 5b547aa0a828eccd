import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Db } from './schema.js';
import type { Statements } from './statements.js';

export const META_COMPACTED_REV = 'compacted_rev';
export const META_COMPACT_PROGRESS = 'compact_progress';

/** Revisions cleaned per transaction; small enough that writers never wait long on one. */
const WINDOW = 5_000;

/**
 * Physically removes the history that compaction to `target` made unreachable, starting where
 * the last (possibly interrupted) compaction stopped. Works in small transactions and yields to
 * the event loop between them, because better-sqlite3 is synchronous and one big DELETE would
 * stall every request. Each window commits together with its progress marker, so a crash
 * leaves no garbage behind: the next compaction resumes from the marker.
 *
 * Only rows superseded at or below `target` and tombstones below it go, which is why reads at
 * revisions >= target and watch replays after it are unaffected while this runs.
 */
export async function cleanCompactedHistory(
  db: Db,
  stmts: Statements,
  from: number,
  target: number,
  isOpen: () => boolean,
): Promise<void> {
  const cleanWindow = db.transaction((lo: number, hi: number) => {
    stmts.compactSuperseded.run({ lo, hi });
    stmts.compactTombstones.run({ lo, hi });
    stmts.setMeta.run(META_COMPACT_PROGRESS, hi);
  });
  for (let lo = from; lo < target; lo += WINDOW) {
    if (!isOpen()) return;
    cleanWindow(lo, Math.min(lo + WINDOW, target));
    await yieldToEventLoop();
  }
}
