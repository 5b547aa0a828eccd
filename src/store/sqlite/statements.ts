import type { Statement } from 'better-sqlite3';
import type { Db } from './schema.js';

/** A log row as the read statements return it: already shaped as a KeyValue (no copy per row). */
export interface LogRow {
  key: string;
  value: Buffer;
  createRevision: number;
  modRevision: number;
}

/** A log row with the row it superseded, as watch replay needs it. */
export interface ReplayRow extends LogRow {
  deleted: number;
  prev_value: Buffer | null;
  prev_create_rev: number | null;
  prev_rev: number;
}

/**
 * Range bounds: `end` is the exclusive upper bound, or an empty BLOB for "no bound" (SQLite orders
 * every TEXT value before every BLOB, so `key < x''` holds for all keys and the index range
 * scan simply runs to the end).
 */
export type RangeEnd = string | Buffer;

/** Every statement the store runs, prepared once. */
export function prepareStatements(db: Db) {
  const kvColumns = `l.key, l.value, l.create_rev AS createRevision, l.rev AS modRevision`;
  const latestRows = `SELECT ${kvColumns} FROM current c JOIN log l ON l.rev = c.rev`;
  // For a read at an older revision: per key the newest row at or below it, unless a tombstone.
  const rowsAt = `
    SELECT ${kvColumns}
    FROM (SELECT key, max(rev) AS rev FROM log
          WHERE key >= @start AND key < @end AND rev <= @rev GROUP BY key) m
    JOIN log l ON l.rev = m.rev
    WHERE l.deleted = 0`;
  return {
    get: db.prepare(`${latestRows} WHERE c.key = ?`) as Statement<[string], LogRow>,
    listLatest: db.prepare(`${latestRows} WHERE c.key >= @start AND c.key < @end ORDER BY c.key LIMIT @limit`) as Statement<
      [{ start: string; end: RangeEnd; limit: number }],
      LogRow
    >,
    countLatest: db.prepare(`SELECT count(*) FROM current WHERE key >= @start AND key < @end`).pluck() as Statement<
      [{ start: string; end: RangeEnd }],
      number
    >,
    listAt: db.prepare(`${rowsAt} ORDER BY l.key LIMIT @limit`) as Statement<
      [{ start: string; end: RangeEnd; rev: number; limit: number }],
      LogRow
    >,
    countAt: db.prepare(`SELECT count(*) FROM (${rowsAt})`).pluck() as Statement<
      [{ start: string; end: RangeEnd; rev: number }],
      number
    >,
    replay: db.prepare(`
      SELECT ${kvColumns}, l.deleted,
             p.value AS prev_value, p.create_rev AS prev_create_rev, l.prev_rev
      FROM log l LEFT JOIN log p ON p.rev = l.prev_rev AND l.prev_rev > 0
      WHERE l.rev > @after AND l.key >= @start AND l.key < @end
      ORDER BY l.rev`) as Statement<[{ after: number; start: string; end: RangeEnd }], ReplayRow>,
    appendLog: db.prepare(
      `INSERT INTO log (rev, key, value, create_rev, prev_rev, deleted) VALUES (?, ?, ?, ?, ?, ?)`,
    ) as Statement<[number, string, Buffer, number, number, number]>,
    setCurrent: db.prepare(`INSERT OR REPLACE INTO current (key, rev) VALUES (?, ?)`) as Statement<[string, number]>,
    deleteCurrent: db.prepare(`DELETE FROM current WHERE key = ?`) as Statement<[string]>,
    maxRev: db.prepare(`SELECT coalesce(max(rev), 0) FROM log`).pluck() as Statement<[], number>,
    setMeta: db.prepare(`INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)`) as Statement<[string, number]>,
    // Compaction of one revision window (lo, hi]: drop the rows superseded inside the window
    // (they are exactly the prev_rev targets of the window's rows), then the tombstones in
    // [lo, hi). The half-open tombstone range keeps a tombstone at the compaction revision until
    // the next compaction, so the newest row, which the revision counter is recovered from on
    // open, is never removed.
    compactSuperseded: db.prepare(
      `DELETE FROM log WHERE rev IN (SELECT prev_rev FROM log WHERE rev > @lo AND rev <= @hi AND prev_rev > 0)`,
    ) as Statement<[{ lo: number; hi: number }]>,
    compactTombstones: db.prepare(`DELETE FROM log WHERE rev >= @lo AND rev < @hi AND deleted = 1`) as Statement<
      [{ lo: number; hi: number }]
    >,
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
