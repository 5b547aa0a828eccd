import { Etcd3, type IOptions, type IRangeRequest, type IRangeResponse, type ITxnRequest, type ITxnResponse } from 'etcd3';
import {
  CompactedError,
  ConflictError,
  FutureRevisionError,
  KeyExistsError,
  KeyNotFoundError,
  StoreClosedError,
  StoreUnavailableError,
} from '../errors.js';
import { normalizePrefix, rangeStart } from '../keys.js';
import type { KeyValue, ListOptions, ListResult, Store, WatchHandle, WatchOptions } from '../types.js';
import { DEFAULT_MAX_BUFFERED_EVENTS, WatchSink, watchStartError } from '../watch-sink.js';
import { isCompactedError, isFutureRevisionError, neverSent, translateEtcdError } from './etcd-errors.js';
import { openEtcdWatch, SharedEtcdWatch } from './etcd-watch.js';
import { KeyCodec } from './key-codec.js';

export interface EtcdStoreOptions {
  /** Client URLs, e.g. http://127.0.0.1:2379. */
  endpoints: string[];
  /** Namespace for every key, so several clusters can share one etcd (see KeyCodec). */
  prefix?: string;
  /** Deadline of each request. Default 10 s. */
  requestTimeoutMs?: number;
  /** Deadline of ping(), which readyz relies on. Default 2 s. */
  pingTimeoutMs?: number;
  /** Events buffered for one watcher before it is ended (see WatchSink). */
  maxWatchBuffer?: number;
  /** How often watchers with onProgress ask etcd for a progress notification. Default 5 s. */
  progressIntervalMs?: number;
}

/**
 * Where compactions are recorded, as kube-apiserver does (same key, outside any namespace,
 * because etcd's compaction is cluster-wide). etcd has no API reporting its compaction
 * revision, so compactedRevision() is the highest of this record and what this process learned
 * from compaction errors and cancelled watches. A compaction made with etcdctl is not recorded;
 * reads and watches still fail correctly then, because etcd itself enforces compaction.
 */
const COMPACT_REV_KEY = Buffer.from('compact_rev_key');

type CallOptions = NonNullable<Parameters<Etcd3['kv']['range']>[1]>;

/** A call is tried at most this often when etcd is unavailable (each try picks an endpoint at random). */
const MAX_ATTEMPTS = 3;
const RETRY_PAUSE_MS = 50;

/*
 * The etcd3 client's default fault handling retries every failed call (writes included, whose
 * outcome may be unknown) and opens a 5-second circuit breaker per endpoint after three
 * failures, which would hold ping() and recovery hostage. We pass calls straight through and
 * retry ourselves where that is safe (EtcdStore.call).
 */
const passThrough = {
  // Must be async like cockatiel's policies: etcd3 relies on .catch() of the returned promise.
  execute: async <T>(fn: (context: { signal: AbortSignal }) => T) => fn({ signal: new AbortController().signal }),
} as unknown as NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

/** The distributed backend, over etcd v3's KV and Watch APIs via the etcd3 package. */
export class EtcdStore implements Store {
  readonly backend = 'etcd' as const;
  private readonly client: Etcd3;
  private readonly codec: KeyCodec;
  private readonly sinks = new Set<WatchSink>();
  /** Per normalized prefix, the etcd watch stream that watches on it share (see SharedEtcdWatch). */
  private readonly sharedWatches = new Map<string, SharedEtcdWatch>();
  private readonly requestTimeoutMs: number;
  private knownCompacted = 0;
  private closed = false;

  private constructor(private readonly opts: EtcdStoreOptions) {
    this.codec = new KeyCodec(opts.prefix ?? '');
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.client = new Etcd3({
      hosts: opts.endpoints,
      faultHandling: { host: () => passThrough, global: passThrough },
      // Keepalive pings detect a dead connection under an idle watch. Responses may be as large
      // as etcd makes them: grpc-js caps received messages at 4 MiB by default, which fails an
      // unpaginated list of a few thousand objects; Go's clientv3 (kube-apiserver's) allows
      // math.MaxInt32, and so do we.
      grpcOptions: { 'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms': 10_000, 'grpc.max_receive_message_length': 2 ** 31 - 1 },
    });
  }

  /** Creates the client; no request is made until the store is used (see ping). */
  static connect(opts: EtcdStoreOptions): EtcdStore {
    if (opts.endpoints.length === 0) throw new Error('EtcdStore needs at least one endpoint');
    return new EtcdStore(opts);
  }

  async get(key: string): Promise<KeyValue | null> {
    const res = await this.range({ key: this.codec.encode(key) }, 'get');
    return res.kvs.length > 0 ? this.codec.decode(res.kvs[0]) : null;
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    const normalized = normalizePrefix(prefix);
    const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
    let res: IRangeResponse;
    try {
      res = await this.range(
        {
          key: this.codec.rangeStart(rangeStart(normalized, opts.startKey)),
          range_end: this.codec.rangeEnd(normalized),
          revision: opts.revision ?? 0,
          limit,
        },
        'list',
      );
    } catch (err) {
      throw await this.revisionError(err, opts.revision ?? 0);
    }
    const items = res.kvs.map((kv) => this.codec.decode(kv));
    const result: ListResult = { items, revision: opts.revision || Number(res.header.revision), more: res.more };
    // etcd's count covers the whole requested range, not just the returned page.
    if (res.more) result.remaining = Number(res.count) - items.length;
    return result;
  }

  async count(prefix: string): Promise<number> {
    const normalized = normalizePrefix(prefix);
    const res = await this.range(
      { key: this.codec.rangeStart(normalized), range_end: this.codec.rangeEnd(normalized), count_only: true },
      'count',
    );
    return Number(res.count);
  }

  async create(key: string, value: Uint8Array): Promise<KeyValue> {
    const k = this.codec.encode(key);
    const v = Buffer.from(value);
    const res = await this.txn(
      {
        compare: [{ key: k, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key: k, value: v } }],
      },
      'create',
    );
    if (!res.succeeded) throw new KeyExistsError(key);
    const rev = Number(res.header.revision);
    return { key, value: v, createRevision: rev, modRevision: rev };
  }

  async update(key: string, value: Uint8Array, expectedModRevision: number): Promise<KeyValue> {
    const k = this.codec.encode(key);
    const v = Buffer.from(value);
    const res = await this.txn(
      {
        // "Exists" is compared too: a missing key has mod_revision 0, which must never match.
        compare: [
          { key: k, target: 'Create', result: 'Greater', create_revision: 0 },
          { key: k, target: 'Mod', result: 'Equal', mod_revision: expectedModRevision },
        ],
        success: [{ request_put: { key: k, value: v, prev_kv: true } }],
        failure: [{ request_range: { key: k } }],
      },
      'update',
    );
    if (!res.succeeded) throw this.mismatch(key, res);
    const prev = res.responses[0].response_put.prev_kv;
    return { key, value: v, createRevision: Number(prev.create_revision), modRevision: Number(res.header.revision) };
  }

  async delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    const k = this.codec.encode(key);
    const compare: ITxnRequest['compare'] = [{ key: k, target: 'Create', result: 'Greater', create_revision: 0 }];
    if (expectedModRevision !== undefined) {
      compare.push({ key: k, target: 'Mod', result: 'Equal', mod_revision: expectedModRevision });
    }
    const res = await this.txn(
      {
        compare,
        success: [{ request_delete_range: { key: k, prev_kv: true } }],
        failure: [{ request_range: { key: k } }],
      },
      'delete',
    );
    if (!res.succeeded) throw this.mismatch(key, res);
    const prev = this.codec.decode(res.responses[0].response_delete_range.prev_kvs[0]);
    return { ...prev, modRevision: Number(res.header.revision) };
  }

  watch(prefix: string, opts: WatchOptions): WatchHandle {
    let teardown = () => {};
    const sink: WatchSink = new WatchSink(opts, this.opts.maxWatchBuffer ?? DEFAULT_MAX_BUFFERED_EVENTS, () => {
      this.sinks.delete(sink);
      teardown();
    });
    // etcd itself accepts one revision more (it keeps the events *at* its compaction revision),
    // but the contract is the same for both backends.
    const refused = watchStartError(this.closed, opts.afterRevision, this.knownCompacted);
    if (refused) {
      sink.fail(refused);
      return sink;
    }
    this.sinks.add(sink);
    const normalized = normalizePrefix(prefix);
    const params = {
      watchClient: this.client.watchClient,
      codec: this.codec,
      prefix: normalized,
      afterRevision: opts.afterRevision,
      onCompacted: (rev: number) => this.noteCompacted(rev),
    };
    let shared = this.sharedWatches.get(normalized);
    if (!shared) {
      // The first watch of a prefix opens the shared stream (from its own revision).
      const created: SharedEtcdWatch = new SharedEtcdWatch(
        // Progress is asked for on every shared stream: it also lets later watchers attach.
        { ...params, progressIntervalMs: this.opts.progressIntervalMs ?? 5000 },
        () => {
          if (this.sharedWatches.get(normalized) === created) this.sharedWatches.delete(normalized);
        },
      );
      this.sharedWatches.set(normalized, created);
      shared = created;
    }
    if (shared.canServe(opts.afterRevision)) {
      const s = shared;
      s.add(sink);
      teardown = () => s.remove(sink);
    } else {
      // Needs history the shared stream has passed: a stream of its own.
      teardown = openEtcdWatch({ ...params, sink, progressIntervalMs: opts.onProgress ? (this.opts.progressIntervalMs ?? 5000) : undefined });
    }
    return sink;
  }

  async currentRevision(): Promise<number> {
    const res = await this.range({ key: COMPACT_REV_KEY, count_only: true }, 'currentRevision');
    return Number(res.header.revision);
  }

  async compactedRevision(): Promise<number> {
    const res = await this.range({ key: COMPACT_REV_KEY }, 'compactedRevision');
    const recorded = res.kvs.length > 0 ? Number(res.kvs[0].value.toString()) || 0 : 0;
    this.noteCompacted(recorded);
    return this.knownCompacted;
  }

  async compact(revision: number): Promise<void> {
    try {
      await this.call('compact', (o) => this.client.kv.compact({ revision }, o), false);
    } catch (err) {
      if (isFutureRevisionError(err)) throw new FutureRevisionError(revision, await this.currentRevision());
      // Compacting at or below etcd's compaction revision (e.g. another API server was first) is a no-op.
      if (!isCompactedError(err)) throw translateEtcdError(err, 'compact');
    }
    this.noteCompacted(revision);
    await this.recordCompaction(revision);
  }

  async ping(): Promise<void> {
    await this.call('ping', (o) => this.client.kv.range({ key: COMPACT_REV_KEY, count_only: true }, o), false, this.opts.pingTimeoutMs ?? 2000);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const sink of [...this.sinks]) sink.fail(new StoreClosedError());
    this.client.close();
  }

  /**
   * Runs one etcd call with error translation, all attempts within one deadline (streams, i.e.
   * watches, have none). `retry`: whether the call may be repeated when etcd was unavailable
   * (reads: always; writes: 'unsent', only when the request certainly never left, see
   * neverSent). Compaction and future-revision errors are passed on untranslated: only the
   * caller knows the revisions that the typed errors carry.
   */
  private async call<T>(
    op: string,
    fn: (o: CallOptions) => Promise<T>,
    retry: boolean | 'unsent',
    timeoutMs = this.requestTimeoutMs,
  ): Promise<T> {
    if (this.closed) throw new StoreClosedError();
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn({ deadline });
      } catch (err) {
        const again = retry === 'unsent' ? neverSent(err) : retry && translateEtcdError(err, op) instanceof StoreUnavailableError;
        const pause = RETRY_PAUSE_MS * attempt;
        if (!again || attempt >= MAX_ATTEMPTS || Date.now() + pause >= deadline || this.closed) {
          throw isCompactedError(err) || isFutureRevisionError(err) ? err : translateEtcdError(err, op);
        }
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  }

  private range(req: IRangeRequest, op: string): Promise<IRangeResponse> {
    return this.call(op, (o) => this.client.kv.range(req, o), true);
  }

  private txn(req: ITxnRequest, op: string): Promise<ITxnResponse> {
    return this.call(op, (o) => this.client.kv.txn(req, o), 'unsent');
  }

  /** The failure branch of update/delete: gone, or changed (with the current value). */
  private mismatch(key: string, res: ITxnResponse): Error {
    const kvs = res.responses[0].response_range.kvs;
    return kvs.length === 0 ? new KeyNotFoundError(key) : new ConflictError(key, this.codec.decode(kvs[0]));
  }

  /** Turns etcd's revision errors of a read at `requested` into CompactedError / FutureRevisionError. */
  private async revisionError(err: unknown, requested: number): Promise<Error> {
    if (isCompactedError(err)) {
      const compacted = await this.compactedRevision().catch(() => this.knownCompacted);
      return new CompactedError(requested, Math.max(compacted, requested + 1));
    }
    if (isFutureRevisionError(err)) {
      return new FutureRevisionError(requested, await this.currentRevision().catch(() => -1));
    }
    return translateEtcdError(err, 'list');
  }

  private noteCompacted(revision: number): void {
    if (revision > this.knownCompacted) this.knownCompacted = revision;
  }

  /** Raises the shared compaction record to `revision` (never lowers it; racing servers retry). */
  private async recordCompaction(revision: number): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const res = await this.range({ key: COMPACT_REV_KEY }, 'compact');
      const current = res.kvs[0];
      if (current && Number(current.value.toString()) >= revision) return;
      const written = await this.txn(
        {
          compare: [{ key: COMPACT_REV_KEY, target: 'Mod', result: 'Equal', mod_revision: current ? current.mod_revision : 0 }],
          success: [{ request_put: { key: COMPACT_REV_KEY, value: Buffer.from(String(revision)) } }],
        },
        'compact',
      );
      if (written.succeeded) return;
    }
  }
}
