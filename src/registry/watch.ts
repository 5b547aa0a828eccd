/**
 * Watch, as kube-apiserver serves it: from a resourceVersion (events after it), or from "now"
 * with synthetic ADDED events for the current state first; label/field selectors turn an object
 * moving out of the selection into DELETED and into it into ADDED; BOOKMARKs carry progress; a
 * compacted resourceVersion ends the watch with an ERROR event carrying 410 Expired.
 */
import { ApiError } from '../api/errors.js';
import type { KindDefinition } from '../kinds/types.js';
import { CompactedError } from '../store/errors.js';
import type { Store, WatchEvent as StoreEvent, WatchHandle } from '../store/types.js';
import type { KubeObject } from '../util/object.js';
import { decodeObject } from './codec.js';
import type { GenericRegistry } from './generic-registry.js';
import { listPrefix } from './keys.js';
import { compileSelectors, type CompiledSelectors } from './object-filter.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
export interface WatchEvent {
  type: WatchEventType;
  object: KubeObject | Record<string, unknown>;
}

export interface WatchOptions {
  resourceVersion?: string;
  resourceVersionMatch?: string;
  labelSelector?: string;
  fieldSelector?: string;
  allowWatchBookmarks?: boolean;
  sendInitialEvents?: boolean;
  timeoutSeconds?: number;
  signal: AbortSignal;
}

export interface WatchSettings {
  bookmarkIntervalMs: number;
  /** A watcher that falls this many events behind is ended; the client re-lists. */
  maxBufferedEvents: number;
}

export const defaultWatchSettings: WatchSettings = { bookmarkIntervalMs: 60_000, maxBufferedEvents: 100_000 };

export class WatchService {
  constructor(
    private readonly store: Store,
    private readonly registry: GenericRegistry,
    private readonly settings: WatchSettings = defaultWatchSettings,
  ) {}

  /** Validates the request and starts the watch; errors before the first event are thrown as ApiErrors. */
  async watch(kind: KindDefinition, ns: string | undefined, opts: WatchOptions): Promise<AsyncIterable<WatchEvent>> {
    const selectors = compileSelectors(kind, opts.labelSelector, opts.fieldSelector);
    const rv = opts.resourceVersion ?? '';
    if (rv !== '' && !/^[0-9]+$/.test(rv)) throw ApiError.badRequest(`invalid resource version: ${JSON.stringify(rv)}`);
    if (opts.sendInitialEvents && opts.resourceVersionMatch !== 'NotOlderThan')
      throw ApiError.invalid('meta.k8s.io', 'ListOptions', '', [
        { type: 'FieldValueForbidden', field: 'resourceVersionMatch', detail: 'sendInitialEvents requires setting resourceVersionMatch to NotOlderThan' },
      ]);
    const initial = opts.sendInitialEvents ?? (rv === '' || rv === '0');
    let afterRevision = Number(rv || 0);
    const feed = new EventFeed(opts.signal, this.settings.maxBufferedEvents);
    if (initial) {
      const list = await this.registry.list(kind, ns, { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector });
      for (const obj of list.items) feed.push({ type: 'ADDED', object: obj });
      afterRevision = Number(list.resourceVersion);
      if (opts.sendInitialEvents) feed.push(bookmark(kind, afterRevision, true));
    }
    feed.lastRevision = afterRevision;
    let handle: WatchHandle | undefined;
    try {
      handle = this.store.watch(listPrefix(kind, ns), {
        afterRevision,
        onEvents: (events) => {
          for (const ev of events) {
            const out = translate(kind, ev, selectors);
            if (out) feed.push(out);
            feed.lastRevision = ev.kv.modRevision;
          }
        },
        onError: (err) => feed.fail(err),
        onProgress: (revision) => {
          if (revision > feed.lastRevision) feed.lastRevision = revision;
        },
      });
    } catch (e) {
      feed.fail(e as Error);
    }
    const timers: NodeJS.Timeout[] = [];
    if (opts.allowWatchBookmarks) {
      let lastBookmarked = feed.lastRevision;
      const t = setInterval(() => {
        if (feed.lastRevision !== lastBookmarked) {
          lastBookmarked = feed.lastRevision;
          feed.push(bookmark(kind, feed.lastRevision, false));
        }
      }, this.settings.bookmarkIntervalMs);
      timers.push(t);
    }
    if (opts.timeoutSeconds && opts.timeoutSeconds > 0) timers.push(setTimeout(() => feed.end(), opts.timeoutSeconds * 1000));
    feed.onClose(() => {
      handle?.stop();
      for (const t of timers) clearTimeout(t);
    });
    return feed;
  }
}

function bookmark(kind: KindDefinition, revision: number, initialEventsEnd: boolean): WatchEvent {
  const metadata: Record<string, unknown> = { resourceVersion: String(revision) };
  if (initialEventsEnd) metadata.annotations = { 'k8s.io/initial-events-end': 'true' };
  return { type: 'BOOKMARK', object: { kind: kind.kind, apiVersion: kind.group ? `${kind.group}/${kind.version}` : kind.version, metadata } };
}

/**
 * What all watchers of one kind share for one store event. A store that fans one event object
 * out to many watchers (SQLite's hub hands every watcher of a prefix the same object) then has
 * each event decoded once, not once per watcher, and every watcher that emits it gets the same
 * WatchEvent object, which lets the HTTP writer serialize it once too (see https-front).
 * Consequently WatchEvents and their objects are shared and read-only: consumers serialize or
 * copy them (the in-process transport copies), never mutate them.
 */
interface SharedDecode {
  kind: KindDefinition;
  obj?: KubeObject;
  prev?: KubeObject;
  events: Partial<Record<WatchEventType, WatchEvent>>;
}
const sharedDecodes = new WeakMap<StoreEvent, SharedDecode>();

function shared(kind: KindDefinition, ev: StoreEvent): SharedDecode {
  let d = sharedDecodes.get(ev);
  // Two kinds over one key range (a CRD served at several versions) decode differently.
  if (!d || d.kind !== kind) sharedDecodes.set(ev, (d = { kind, events: {} }));
  return d;
}

function sharedEvent(d: SharedDecode, type: WatchEventType, object: KubeObject): WatchEvent {
  return (d.events[type] ??= { type, object });
}

function translate(kind: KindDefinition, ev: StoreEvent, selectors: CompiledSelectors): WatchEvent | undefined {
  const d = shared(kind, ev);
  if (ev.type === 'delete') {
    const old = (d.obj ??= decodeObject(kind, { ...(ev.prevKv ?? ev.kv), modRevision: ev.kv.modRevision }));
    return selectors.matches(old) ? sharedEvent(d, 'DELETED', old) : undefined;
  }
  const obj = (d.obj ??= decodeObject(kind, ev.kv));
  const now = selectors.matches(obj);
  if (!ev.prevKv) return now ? sharedEvent(d, 'ADDED', obj) : undefined;
  if (selectors.empty) return sharedEvent(d, 'MODIFIED', obj);
  const before = selectors.matches((d.prev ??= decodeObject(kind, ev.prevKv)));
  if (now && before) return sharedEvent(d, 'MODIFIED', obj);
  if (now) return sharedEvent(d, 'ADDED', obj);
  if (before) return sharedEvent(d, 'DELETED', obj);
  return undefined;
}

/** An async-iterable buffer between store callbacks and the HTTP writer. */
class EventFeed implements AsyncIterable<WatchEvent> {
  lastRevision = 0;
  private buffer: WatchEvent[] = [];
  private waiting: (() => void) | undefined;
  private done = false;
  private closeHooks: (() => void)[] = [];

  constructor(
    signal: AbortSignal,
    private readonly maxBuffered: number,
  ) {
    if (signal.aborted) this.done = true;
    else signal.addEventListener('abort', () => this.end(), { once: true });
  }

  push(ev: WatchEvent) {
    if (this.done) return;
    if (this.buffer.length >= this.maxBuffered) {
      this.fail(new Error('watcher fell too far behind'));
      return;
    }
    this.buffer.push(ev);
    this.wake();
  }

  fail(err: Error) {
    if (this.done) return;
    const status =
      err instanceof CompactedError
        ? ApiError.expired(`too old resource version: ${err.requested} (${err.compacted})`).toStatus()
        : ApiError.gone(`watch ended: ${err.message}`).toStatus();
    this.buffer.push({ type: 'ERROR', object: status as unknown as Record<string, unknown> });
    this.end();
  }

  end() {
    if (this.done) return;
    this.done = true;
    for (const h of this.closeHooks) h();
    this.closeHooks = [];
    this.wake();
  }

  onClose(fn: () => void) {
    if (this.done) fn();
    else this.closeHooks.push(fn);
  }

  private wake() {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    try {
      for (;;) {
        if (this.buffer.length) {
          const batch = this.buffer;
          this.buffer = [];
          yield* batch;
          continue;
        }
        if (this.done) return;
        await new Promise<void>((r) => (this.waiting = r));
      }
    } finally {
      this.end();
    }
  }
}
