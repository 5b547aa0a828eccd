/**
 * The Store: a revisioned key-value store, the only persistence the API server uses.
 *
 * Semantics follow etcd v3 (and kine): every successful write gets a store-wide, strictly
 * increasing revision; each key remembers the revision it was created at and last modified at;
 * watches deliver every change after a given revision in revision order; compaction forgets
 * history before a revision. Values are opaque bytes (the API server stores JSON).
 */

export interface KeyValue {
  key: string;
  value: Uint8Array;
  /** Revision of the write that created this key (0 when unknown, e.g. a deleted key's tombstone). */
  createRevision: number;
  /** Revision of the last write to this key; becomes the object's resourceVersion. */
  modRevision: number;
}

export interface ListOptions {
  /**
   * Read as of this revision (0 or absent: latest). Older than compactedRevision(): CompactedError;
   * newer than the current revision: FutureRevisionError.
   */
  revision?: number;
  /** Return at most this many keys; `more` tells whether any were left. */
  limit?: number;
  /** Start at this key (inclusive), used for pagination. Must lie under the prefix. */
  startKey?: string;
}

export interface ListResult {
  items: KeyValue[];
  /** The revision the list was read at (the store's current revision for a latest read). */
  revision: number;
  /** True when `limit` cut the result. */
  more: boolean;
  /** Number of keys under the prefix at that revision, from startKey on, that were not returned (when more). */
  remaining?: number;
}

export type WatchEventType = 'put' | 'delete';

export interface WatchEvent {
  type: WatchEventType;
  /** For put: the new value. For delete: the key with the last value it held, modRevision = the delete's revision. */
  kv: KeyValue;
  /** The value before this event, when there was one. Always present on delete. */
  prevKv?: KeyValue;
}

export interface WatchHandle {
  /** Stops delivery; idempotent. */
  stop(): void;
}

export interface WatchOptions {
  /**
   * Deliver events with revision > afterRevision. Guaranteed to work for afterRevision >=
   * compactedRevision(); older: CompactedError, always reported through onError (never thrown).
   */
  afterRevision: number;
  /**
   * Called with events in revision order, asynchronously (never from inside the call that caused
   * them). One call may carry events of several revisions; the events of one revision are never
   * split across calls (a single event today, since every write is one key).
   */
  onEvents(events: WatchEvent[]): void;
  /** Called once when the watch cannot go on (compacted, store closed, connection lost). No more events after it. */
  onError(err: Error): void;
  /**
   * Periodic notification that every event up to `revision` has been delivered, sent even
   * without events (for bookmarks).
   */
  onProgress?(revision: number): void;
}

/**
 * Prefixes passed to list, count and watch name a key directory: "/a/b" and "/a/b/" both mean
 * the keys under "/a/b/", so "/a/bc" never matches. The empty prefix means every key.
 */
export interface Store {
  readonly backend: 'sqlite' | 'etcd';
  get(key: string): Promise<KeyValue | null>;
  list(prefix: string, opts?: ListOptions): Promise<ListResult>;
  /** Number of live keys under the prefix. */
  count(prefix: string): Promise<number>;
  /** Fails with KeyExistsError when the key exists. */
  create(key: string, value: Uint8Array): Promise<KeyValue>;
  /**
   * Replaces the value when the key's modRevision equals expectedModRevision.
   * NotFoundError when the key is gone, ConflictError (carrying the current value) when it changed.
   */
  update(key: string, value: Uint8Array, expectedModRevision: number): Promise<KeyValue>;
  /**
   * Deletes the key (when expectedModRevision is given, only if unchanged). Returns the deleted
   * value with modRevision set to the revision of the deletion.
   */
  delete(key: string, expectedModRevision?: number): Promise<KeyValue>;
  watch(prefix: string, opts: WatchOptions): WatchHandle;
  currentRevision(): Promise<number>;
  /**
   * The revision of the last compaction (0 when never compacted): lists at revisions >= it and
   * watches with afterRevision >= it still work.
   */
  compactedRevision(): Promise<number>;
  /**
   * Forgets history before `revision` (the state at `revision` stays readable), like etcd's
   * compact. Compacting at or below the compacted revision is a no-op; above the current
   * revision: FutureRevisionError.
   */
  compact(revision: number): Promise<void>;
  /** Resolves when the store answers; rejects with StoreUnavailableError otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
