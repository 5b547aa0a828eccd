import Database from 'better-sqlite3';
import { StoreError, StoreUnavailableError } from '../errors.js';

/**
 * The on-disk layout, an MVCC log in the style of kine:
 *
 *  log      one row per write, rev = the store-wide revision it was given. A delete appends a
 *           tombstone (deleted = 1, empty value) whose prev_rev is the row it deleted. prev_rev
 *           points at the key's previous *live* row (0 after a tombstone or for a new key), which
 *           is what a watch event's prevKv needs and what compaction removes.
 *  current  live keys -> the log row holding their latest value; makes get/list/count at the
 *           latest revision a plain index range, independent of how much history is kept.
 *  meta     compacted_rev (reads below it fail) and compact_progress (log rows up to it have
 *           been physically cleaned; it trails compacted_rev while a compaction is running).
 *
 * Keys are TEXT compared with the BINARY collation, i.e. by UTF-8 bytes, the same order as etcd.
 */
const DDL = `
CREATE TABLE IF NOT EXISTS log (
  rev        INTEGER PRIMARY KEY,
  key        TEXT    NOT NULL,
  value      BLOB    NOT NULL,
  create_rev INTEGER NOT NULL,
  prev_rev   INTEGER NOT NULL,
  deleted    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS log_key_rev ON log (key, rev);
CREATE TABLE IF NOT EXISTS current (
  key TEXT    PRIMARY KEY,
  rev INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
  name  TEXT    PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
`;

export type Db = Database.Database;

/**
 * Opens (creating when missing) the database file.
 *
 * Durability: WAL with synchronous=NORMAL. A commit is in the WAL (the OS page cache) when it
 * returns, so it survives the process being killed; only an OS crash or power loss can lose the
 * last commits, which is the guarantee we give.
 *
 * locking_mode=EXCLUSIVE: the store keeps the revision counter in memory and fans watch events
 * out from its own write path, so a second process writing the same file would silently break
 * both. The exclusive lock, taken right away by an immediate transaction, makes a second opener
 * fail instead. (It also lets SQLite skip the WAL shared-memory index.)
 */
export function openDatabase(path: string): Db {
  let db: Db | undefined;
  try {
    db = new Database(path, { timeout: 1000 });
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('BEGIN IMMEDIATE');
    db.exec(DDL);
    db.exec('COMMIT');
    return db;
  } catch (err) {
    db?.close();
    throw translateSqliteError(err, `cannot open SQLite store at ${path}`);
  }
}

export function readMeta(db: Db, name: string): number {
  const row = db.prepare('SELECT value FROM meta WHERE name = ?').get(name) as { value: number } | undefined;
  return row?.value ?? 0;
}

/** SQLite error codes that mean "cannot reach / use the file right now" rather than a bug. */
const UNAVAILABLE_CODES = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|CORRUPT|NOTADB|PROTOCOL)/;

/** Engine errors become StoreErrors; errors that already are StoreErrors pass through. */
export function translateSqliteError(err: unknown, context: string): Error {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown }).code;
  const detail = err instanceof Error ? err.message : String(err);
  if (typeof code === 'string' && UNAVAILABLE_CODES.test(code)) {
    return new StoreUnavailableError(`${context}: ${detail} (${code})`, { cause: err });
  }
  return new StoreError(`${context}: ${detail}`, { cause: err });
}
