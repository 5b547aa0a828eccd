import {
  CompactedError,
  ConflictError,
  FutureRevisionError,
  KeyExistsError,
  KeyNotFoundError,
  StoreClosedError,
} from '../errors.js';
import { normalizePrefix, prefixRangeEnd, rangeStart } from '../keys.js';
import type { KeyValue, ListOptions, ListResult, Store, WatchEvent, WatchHandle, WatchOptions } from '../types.js';
import { DEFAULT_MAX_BUFFERED_EVENTS, WatchSink, watchStartError } from '../watch-sink.js';
import { cleanCompactedHistory, META_COMPACTED_REV, META_COMPACT_PROGRESS } from './compaction.js';
import { openDatabase, readMeta, translateSqliteError, type Db } from './schema.js';
import { prepareStatements, type RangeEnd, type ReplayRow, type Statements } from './statements.js';
import { WatchHub } from './watch-hub.js';

export interface SqliteStoreOptions {
  /** Events buffered for one watcher before it is ended (see WatchSink). */
  maxWatchBuffer?: number;
  /** How often watchers with onProgress are told the current revision. Default 5 s. */
  progressIntervalMs?: number;
}

const NO_BOUND: RangeEnd = Buffer.alloc(0);
const EMPTY = Buffer.alloc(0);

/**
 * The embedded backend: a single-process MVCC log in SQLite (see schema.ts for the layout).
 *
 * better-sqlite3 is synchronous, and that is used on purpose: each write checks, appends and
 * publishes its watch event in one uninterrupted step, so revisions are handed out in commit
 * order from an in-memory counter, and a watch can replay the log and attach to the live
 * fan-out in the same tick with no gap and no duplicate. The async Store methods just wrap it.
 */
export class SqliteStore implements Store {
  readonly backend = 'sqlite' as const;
  private rev: number;
  private compacted: number;
  private closed = false;
  private compaction: Promise<void> = Promise.resolve();
  private readonly hub = new WatchHub();
  private readonly progressTimer: NodeJS.Timeout;
  private readonly maxWatchBuffer: number;
  private readonly writeTxn: (kv: KeyValue, prevRev: number, deleted: boolean) => void;

  private constructor(
    private readonly db: Db,
    private readonly stmts: Statements,
    opts: SqliteStoreOptions,
  ) {
    this.compacted = readMeta(db, META_COMPACTED_REV);
    this.rev = Math.max(stmts.maxRev.get() ?? 0, this.compacted);
    this.maxWatchBuffer = opts.maxWatchBuffer ?? DEFAULT_MAX_BUFFERED_EVENTS;
    this.progressTimer = setInterval(() => this.notifyProgress(), opts.progressIntervalMs ?? 5000);
    this.progressTimer.unref();
    this.writeTxn = db.transaction((kv: KeyValue, prevRev: number, deleted: boolean) => {
      const value = deleted ? EMPTY : (kv.value as Buffer);
      stmts.appendLog.run(kv.modRevision, kv.key, value, kv.createRevision, prevRev, deleted ? 1 : 0);
      if (deleted) stmts.deleteCurrent.run(kv.key);
      else stmts.setCurrent.run(kv.key, kv.modRevision);
    });
    // Finish a compaction that a crash or close interrupted.
    if (readMeta(db, META_COMPACT_PROGRESS) < this.compacted) this.scheduleCleanup(this.compacted);
  }

  static open(path: string, opts: SqliteStoreOptions = {}): SqliteStore {
    const db = openDatabase(path);
    try {
      return new SqliteStore(db, prepareStatements(db), opts);
    } catch (err) {
      db.close();
      throw translateSqliteError(err, `cannot open SQLite store at ${path}`);
    }
  }

  async get(key: string): Promise<KeyValue | null> {
    return this.run('get', () => {
      const row = this.stmts.get.get(key);
      return row ?? null;
    });
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    return this.run('list', () => {
      const revision = this.readRevision(opts.revision);
      const range = keyRange(prefix, opts.startKey);
      const latest = revision === this.rev;
      const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
      // One extra row tells whether the limit cut the result.
      const fetch = limit > 0 ? limit + 1 : -1;
      const rows = latest
        ? this.stmts.listLatest.all({ ...range, limit: fetch })
        : this.stmts.listAt.all({ ...range, rev: revision, limit: fetch });
      const more = limit > 0 && rows.length > limit;
      if (more) rows.length = limit;
      const result: ListResult = { items: rows, revision, more };
      if (more) {
        const total = latest ? this.stmts.countLatest.get(range) : this.stmts.countAt.get({ ...range, rev: revision });
        result.remaining = (total ?? 0) - rows.length;
      }
      return result;
    });
  }

  async count(prefix: string): Promise<number> {
    return this.run('count', () => this.stmts.countLatest.get(keyRange(prefix, undefined)) ?? 0);
  }

  async create(key: string, value: Uint8Array): Promise<KeyValue> {
    return this.run('create', () => {
      if (this.stmts.get.get(key)) throw new KeyExistsError(key);
      const rev = this.rev + 1;
      const kv: KeyValue = { key, value: Buffer.from(value), createRevision: rev, modRevision: rev };
      this.append(kv, 0, false);
      this.hub.publish({ type: 'put', kv });
      return kv;
    });
  }

  async update(key: string, value: Uint8Array, expectedModRevision: number): Promise<KeyValue> {
    return this.run('update', () => {
      const prevKv = this.currentOrThrow(key, expectedModRevision);
      const rev = this.rev + 1;
      const kv: KeyValue = { key, value: Buffer.from(value), createRevision: prevKv.createRevision, modRevision: rev };
      this.append(kv, prevKv.modRevision, false);
      this.hub.publish({ type: 'put', kv, prevKv });
      return kv;
    });
  }

  async delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    return this.run('delete', () => {
      const prevKv = this.currentOrThrow(key, expectedModRevision);
      const rev = this.rev + 1;
      const kv: KeyValue = { ...prevKv, modRevision: rev };
      this.append(kv, prevKv.modRevision, true);
      this.hub.publish({ type: 'delete', kv, prevKv });
      return kv;
    });
  }

  watch(prefix: string, opts: WatchOptions): WatchHandle {
    const normalized = normalizePrefix(prefix);
    const sink: WatchSink = new WatchSink(opts, this.maxWatchBuffer, () => this.hub.remove(normalized, sink));
    const refused = watchStartError(this.closed, opts.afterRevision, this.compacted);
    if (refused) {
      sink.fail(refused);
      return sink;
    }
    try {
      // Replay and attach run in the same tick: no write can slip in between.
      if (opts.afterRevision < this.rev) {
        const range = keyRange(normalized, undefined);
        sink.push(this.stmts.replay.all({ ...range, after: opts.afterRevision }).map(toWatchEvent));
      }
      if (sink.active) this.hub.add(normalized, sink);
    } catch (err) {
      sink.fail(translateSqliteError(err, 'watch'));
    }
    return sink;
  }

  async currentRevision(): Promise<number> {
    return this.run('currentRevision', () => this.rev);
  }

  async compactedRevision(): Promise<number> {
    return this.run('compactedRevision', () => this.compacted);
  }

  /**
   * The new compacted revision is recorded (and enforced for reads) at once; the rows it made
   * unreachable are removed in the background, and the returned promise waits for that.
   */
  async compact(revision: number): Promise<void> {
    this.run('compact', () => {
      if (revision > this.rev) throw new FutureRevisionError(revision, this.rev);
      if (revision <= this.compacted) return;
      this.stmts.setMeta.run(META_COMPACTED_REV, revision);
      this.compacted = revision;
      this.scheduleCleanup(revision);
    });
    await this.compaction;
  }

  async ping(): Promise<void> {
    this.run('ping', () => this.stmts.maxRev.get());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.progressTimer);
    this.hub.forEach((sink) => sink.fail(new StoreClosedError()));
    // Let a background cleanup window finish its transaction before the handle goes away.
    await this.compaction.catch(() => {});
    this.db.close();
  }

  /** Runs a synchronous store step with the closed check and engine-error translation. */
  private run<T>(op: string, fn: () => T): T {
    if (this.closed) throw new StoreClosedError();
    try {
      return fn();
    } catch (err) {
      throw translateSqliteError(err, op);
    }
  }

  /**
   * Appends the write as a log row and moves the key's `current` entry, in one transaction; the
   * in-memory revision advances only once that committed.
   */
  private append(kv: KeyValue, prevRev: number, deleted: boolean): void {
    this.writeTxn(kv, prevRev, deleted);
    this.rev = kv.modRevision;
  }

  /** The key's live value, checked against the caller's expectation. */
  private currentOrThrow(key: string, expectedModRevision: number | undefined): KeyValue {
    const row: KeyValue | undefined = this.stmts.get.get(key);
    if (!row) throw new KeyNotFoundError(key);
    if (expectedModRevision !== undefined && row.modRevision !== expectedModRevision) {
      throw new ConflictError(key, row);
    }
    return row;
  }

  /** Validates a read revision; 0/absent means the current one. */
  private readRevision(requested: number | undefined): number {
    if (!requested) return this.rev;
    if (requested > this.rev) throw new FutureRevisionError(requested, this.rev);
    if (requested < this.compacted) throw new CompactedError(requested, this.compacted);
    return requested;
  }

  /** Queues the physical cleanup behind any running one; compact() and close() await the chain. */
  private scheduleCleanup(target: number): void {
    const cleanup = this.compaction
      .catch(() => {}) // an earlier failure belongs to its own compact() call
      .then(() => {
        const from = readMeta(this.db, META_COMPACT_PROGRESS);
        return cleanCompactedHistory(this.db, this.stmts, from, target, () => !this.closed);
      })
      .catch((err) => {
        // The logical compaction already holds; leftover rows are picked up by the next one.
        throw translateSqliteError(err, 'compact');
      });
    cleanup.catch(() => {}); // handled by whoever awaits it; never an unhandled rejection
    this.compaction = cleanup;
  }

  private notifyProgress(): void {
    this.hub.forEach((sink) => sink.progress(this.rev));
  }
}

function keyRange(prefix: string, startKey: string | undefined): { start: string; end: RangeEnd } {
  const normalized = normalizePrefix(prefix);
  const end = prefixRangeEnd(Buffer.from(normalized));
  return { start: rangeStart(normalized, startKey), end: end ? end.toString() : NO_BOUND };
}

function toWatchEvent(row: ReplayRow): WatchEvent {
  const kv: KeyValue = { key: row.key, value: row.value, createRevision: row.createRevision, modRevision: row.modRevision };
  const prevKv: KeyValue | undefined =
    row.prev_value !== null
      ? { key: row.key, value: row.prev_value, createRevision: row.prev_create_rev ?? 0, modRevision: row.prev_rev }
      : undefined;
  if (row.deleted) {
    // A tombstone stores no value: the event carries the value the key held before deletion.
    return { type: 'delete', kv: { ...kv, value: prevKv?.value ?? EMPTY }, prevKv };
  }
  return { type: 'put', kv, prevKv };
}
