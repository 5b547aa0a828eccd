/**
 * Informer (client-go's reflector + indexer + shared informer in one): lists a resource in pages,
 * then watches from the list's resourceVersion, keeping an indexed cache and telling handlers
 * what changed. A watch that ends normally (server timeout, bookmarks seen) resumes from the
 * last resourceVersion; a 410 (compacted history) triggers a full relist that is diffed against
 * the cache, so objects deleted while we were not watching are reported as tombstones
 * (DeletedFinalStateUnknown). Errors back off exponentially; the loop never gives up until stop().
 */
import type { KubeObject } from '../util/object.js';
import { sleep } from './abortable.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { Cache, type CacheReader, type IndexFunc } from './cache.js';
import type { KubeList, ListOptions, WatchEvent, WatchOptions } from './client.js';
import { AbortedError, StatusError, isGone, statusFromResponse } from './errors.js';
import { type Logger, errorText, stderrLogger } from './log.js';
import { objectKey } from './resource.js';

/** What an informer needs from a resource; ResourceClient provides it. */
export interface ListerWatcher<T> {
  list(opts: ListOptions): Promise<KubeList<T>>;
  watch(opts: WatchOptions): AsyncIterable<WatchEvent<T>>;
}

/**
 * A delete the informer inferred on relist: the object vanished while no watch was open, so its
 * final state is unknown; `obj` is the last state the cache had.
 */
export class DeletedFinalStateUnknown<T> {
  constructor(
    readonly key: string,
    readonly obj: T,
  ) {}
}

/** The object of a delete notification, whether observed or inferred. */
export function finalStateOf<T>(o: T | DeletedFinalStateUnknown<T>): T {
  return o instanceof DeletedFinalStateUnknown ? o.obj : o;
}

export interface EventHandlers<T> {
  /** isInInitialList: the object came from the first list (or a replay to a late handler). */
  onAdd?(obj: T, isInInitialList: boolean): void;
  /** Also called with old === new on periodic resync and for every surviving object on relist. */
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T | DeletedFinalStateUnknown<T>): void;
}

export interface InformerScope {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface InformerOptions<T> extends InformerScope {
  /** Name used in logs (default: "informer"). */
  name?: string;
  /** Re-deliver every cached object as an update this often; 0 (default) disables. */
  resyncPeriodMs?: number;
  indexers?: Record<string, IndexFunc<T>>;
  /** List page size; default 500. */
  pageSize?: number;
  /** Server-side watch timeout per watch request; default random 300–600 s, as client-go. */
  watchTimeoutSeconds?: number | (() => number);
  backoff?: BackoffOptions;
  logger?: Logger;
}

/** Counters for tests and metrics. */
export interface InformerStats {
  lists: number;
  relists: number;
  watches: number;
  events: number;
  errors: number;
}

/** A watch that ends this fast without events is treated as a failure for backoff, not a hot loop. */
const IDLE_WATCH_MS = 1000;

export class Informer<T extends KubeObject = KubeObject> {
  readonly stats: InformerStats = { lists: 0, relists: 0, watches: 0, events: 0, errors: 0 };
  private readonly cache: Cache<T>;
  private readonly handlers = new Set<EventHandlers<T>>();
  private readonly backoff: Backoff;
  private readonly log: Logger;
  private readonly name: string;
  private readonly ac = new AbortController();
  private running?: Promise<void>;
  private resyncTimer?: NodeJS.Timeout;
  private synced = false;
  private syncWaiters: { resolve(): void; reject(e: Error): void }[] = [];
  private rv = '';

  constructor(
    private readonly lw: ListerWatcher<T>,
    private readonly opts: InformerOptions<T> = {},
  ) {
    this.cache = new Cache<T>(opts.indexers);
    this.backoff = new Backoff(opts.backoff);
    this.log = opts.logger ?? stderrLogger;
    this.name = opts.name ?? 'informer';
  }

  /** The cache; objects are frozen — copy before changing. */
  get store(): CacheReader<T> {
    return this.cache;
  }

  /** The resourceVersion the next watch resumes from. */
  get lastSyncResourceVersion(): string {
    return this.rv;
  }

  addIndexers(indexers: Record<string, IndexFunc<T>>): void {
    this.cache.addIndexers(indexers);
  }

  hasIndexer(name: string): boolean {
    return this.cache.hasIndexer(name);
  }

  /** Registers handlers; objects already cached are replayed to them as adds. Returns an unsubscribe. */
  addEventHandler(h: EventHandlers<T>): () => void {
    this.handlers.add(h);
    for (const obj of this.cache.list()) this.safely(() => h.onAdd?.(obj, true));
    return () => this.handlers.delete(h);
  }

  onAdd(fn: NonNullable<EventHandlers<T>['onAdd']>): () => void {
    return this.addEventHandler({ onAdd: fn });
  }

  onUpdate(fn: NonNullable<EventHandlers<T>['onUpdate']>): () => void {
    return this.addEventHandler({ onUpdate: fn });
  }

  onDelete(fn: NonNullable<EventHandlers<T>['onDelete']>): () => void {
    return this.addEventHandler({ onDelete: fn });
  }

  /** Starts listing and watching in the background; idempotent. */
  start(): void {
    if (this.running || this.ac.signal.aborted) return;
    this.running = this.run();
    const period = this.opts.resyncPeriodMs ?? 0;
    if (period > 0) {
      this.resyncTimer = setInterval(() => this.resync(), period);
    }
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once the first list is in the cache and handlers have seen it. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    if (this.ac.signal.aborted) return Promise.reject(new AbortedError(`${this.name}: stopped before sync`));
    if (signal?.aborted) return Promise.reject(new AbortedError(`${this.name}: wait for sync aborted`));
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.syncWaiters = this.syncWaiters.filter((w) => w !== waiter);
        reject(new AbortedError(`${this.name}: wait for sync aborted`));
      };
      const waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (e: Error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(waiter);
    });
  }

  async stop(): Promise<void> {
    this.ac.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    for (const w of this.syncWaiters.splice(0)) w.reject(new AbortedError(`${this.name}: stopped before sync`));
    await this.running;
  }

  private async run(): Promise<void> {
    const signal = this.ac.signal;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.listAndReplace(signal);
          needList = false;
        }
        const outcome = await this.watchOnce(signal);
        if (outcome === 'expired') {
          this.log({ level: 'info', msg: 'watch history expired; relisting', informer: this.name, resourceVersion: this.rv });
          needList = true;
        } else if (outcome === 'idle') {
          await sleep(this.backoff.next(), signal);
        } else {
          this.backoff.reset();
        }
      } catch (err) {
        if (signal.aborted) break;
        this.stats.errors++;
        if (isGone(err) && !needList) {
          // The watch could not resume (compacted resourceVersion): relist right away.
          this.log({ level: 'info', msg: 'watch history expired; relisting', informer: this.name, resourceVersion: this.rv });
          needList = true;
          continue;
        }
        const delayMs = this.backoff.next();
        this.log({ level: 'warn', msg: needList ? 'list failed' : 'watch failed', informer: this.name, error: errorText(err), retryInMs: Math.round(delayMs) });
        await sleep(delayMs, signal);
      }
    }
  }

  /** Lists every page, then swaps the result into the cache, emitting the difference. */
  private async listAndReplace(signal: AbortSignal): Promise<void> {
    const items: T[] = [];
    let rv = '';
    let cont: string | undefined;
    let restarted = false;
    this.stats.lists++;
    if (this.synced) this.stats.relists++;
    for (;;) {
      let page: KubeList<T>;
      try {
        page = await this.lw.list({ ...this.scope(), limit: this.opts.pageSize ?? 500, continue: cont, signal });
      } catch (err) {
        // The continue token outlived the server's history: start the paged list over once.
        if (cont && isGone(err) && !restarted) {
          restarted = true;
          cont = undefined;
          items.length = 0;
          continue;
        }
        throw err;
      }
      for (const item of page.items ?? []) items.push(withTypeMeta(item, page));
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?.continue || undefined;
      if (!cont) break;
    }
    if (signal.aborted) return;
    this.replace(items, rv);
  }

  private replace(items: T[], rv: string): void {
    const initial = !this.synced;
    const seen = new Set<string>();
    for (const obj of items) {
      seen.add(objectKey(obj));
      const old = this.cache.upsert(obj);
      if (old) this.emitUpdate(old, obj);
      else this.emitAdd(obj, initial);
    }
    for (const key of this.cache.listKeys()) {
      if (seen.has(key)) continue;
      const old = this.cache.delete(key)!;
      this.emitDelete(new DeletedFinalStateUnknown(key, old));
    }
    this.rv = rv;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w.resolve();
    }
  }

  private async watchOnce(signal: AbortSignal): Promise<'ended' | 'idle' | 'expired'> {
    const started = Date.now();
    let events = 0;
    this.stats.watches++;
    const t = this.opts.watchTimeoutSeconds;
    const timeoutSeconds = typeof t === 'function' ? t() : (t ?? Math.floor(300 * (1 + Math.random())));
    const stream = this.lw.watch({ ...this.scope(), resourceVersion: this.rv, allowWatchBookmarks: true, timeoutSeconds, signal });
    for await (const ev of stream) {
      if (signal.aborted) break;
      events++;
      this.stats.events++;
      if (ev.type === 'ERROR') {
        const err = new StatusError(statusFromResponse(ev.object.code ?? 500, ev.object));
        if (isGone(err)) return 'expired';
        throw err;
      }
      const obj = ev.object;
      switch (ev.type) {
        case 'ADDED':
        case 'MODIFIED': {
          const old = this.cache.upsert(obj);
          if (old) this.emitUpdate(old, obj);
          else this.emitAdd(obj, false);
          break;
        }
        case 'DELETED': {
          this.cache.delete(objectKey(obj));
          this.emitDelete(obj);
          break;
        }
        case 'BOOKMARK':
          break;
        default:
          this.log({ level: 'warn', msg: 'unknown watch event type', informer: this.name, type: (ev as { type: string }).type });
          continue;
      }
      const rv = obj.metadata?.resourceVersion;
      if (rv) this.rv = rv;
    }
    return events === 0 && Date.now() - started < IDLE_WATCH_MS ? 'idle' : 'ended';
  }

  private resync(): void {
    if (!this.synced || this.ac.signal.aborted) return;
    for (const obj of this.cache.list()) this.emitUpdate(obj, obj);
  }

  private scope(): InformerScope {
    const { namespace, labelSelector, fieldSelector } = this.opts;
    return { namespace, labelSelector, fieldSelector };
  }

  private emitAdd(obj: T, initial: boolean): void {
    for (const h of this.handlers) this.safely(() => h.onAdd?.(obj, initial));
  }

  private emitUpdate(oldObj: T, newObj: T): void {
    for (const h of this.handlers) this.safely(() => h.onUpdate?.(oldObj, newObj));
  }

  private emitDelete(obj: T | DeletedFinalStateUnknown<T>): void {
    for (const h of this.handlers) this.safely(() => h.onDelete?.(obj));
  }

  /** A failing handler must not stop the informer or starve the other handlers. */
  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log({ level: 'error', msg: 'event handler failed', informer: this.name, error: errorText(err) });
    }
  }
}

/** List items carry no apiVersion/kind on the wire; fill them from the list so cached objects are whole. */
function withTypeMeta<T extends KubeObject>(item: T, list: KubeList<T>): T {
  if (item.apiVersion && item.kind) return item;
  const apiVersion = item.apiVersion ?? list.apiVersion;
  const kind = item.kind ?? (list.kind?.endsWith('List') ? list.kind.slice(0, -4) : undefined);
  return { ...item, ...(apiVersion ? { apiVersion } : {}), ...(kind ? { kind } : {}) };
}
