import { CompactedError, StoreClosedError, StoreError, StoreUnavailableError } from './errors.js';
import type { WatchEvent, WatchHandle, WatchOptions } from './types.js';

/** Default bound on events buffered for one watcher before it is ended (see WatchSink). */
export const DEFAULT_MAX_BUFFERED_EVENTS = 100_000;

/**
 * Why a new watch cannot start, the same contract for every backend: the store is closed, or the
 * revision the watch starts after has been compacted away.
 */
export function watchStartError(closed: boolean, afterRevision: number, compacted: number): Error | undefined {
  if (closed) return new StoreClosedError();
  if (afterRevision < compacted) return new CompactedError(afterRevision, compacted);
  return undefined;
}

type Item = { events: WatchEvent[] } | { progress: number };

/**
 * The delivery end of one watch, shared by both backends. It gives every watch the same
 * guarantees whatever produces the events:
 *  - delivery is asynchronous (on a later turn of the event loop, batched), so a producer (the
 *    SQLite write path) never runs consumer code and a slow consumer never blocks it;
 *  - order is the push order (the producers push in revision order), and nothing at or below
 *    the watch's afterRevision is delivered (a watch from a future revision attaches at once);
 *  - after stop() or the single onError, nothing more is delivered;
 *  - a watcher whose buffer passes `maxBufferedEvents` is ended with StoreUnavailableError, as
 *    the apiserver drops a watcher that cannot keep up: the client re-watches from the last
 *    revision it saw, or re-lists.
 */
export class WatchSink implements WatchHandle {
  private queue: Item[] = [];
  private buffered = 0;
  private scheduled = false;
  private done = false;
  private error: Error | null = null;

  constructor(
    private readonly opts: WatchOptions,
    private readonly maxBufferedEvents: number = DEFAULT_MAX_BUFFERED_EVENTS,
    /** Called once when the sink ends (stop or error) so the producer can detach. */
    private readonly onEnd: () => void = () => {},
  ) {}

  /** Events at or below this revision are never delivered. */
  get afterRevision(): number {
    return this.opts.afterRevision;
  }

  get active(): boolean {
    return !this.done;
  }

  /** Whether everything pushed so far has been handed to the consumer. */
  get idle(): boolean {
    return this.queue.length === 0;
  }

  push(events: WatchEvent[]): void {
    if (this.done || events.length === 0) return;
    if (events[0].kv.modRevision <= this.opts.afterRevision) {
      events = events.filter((ev) => ev.kv.modRevision > this.opts.afterRevision);
      if (events.length === 0) return;
    }
    this.queue.push({ events });
    this.buffered += events.length;
    if (this.buffered > this.maxBufferedEvents) {
      this.fail(new StoreUnavailableError(`watch fell more than ${this.maxBufferedEvents} events behind; re-watch`));
      return;
    }
    this.schedule();
  }

  /** Queues a progress notification behind the events already queued. */
  progress(revision: number): void {
    if (this.done || !this.opts.onProgress) return;
    this.queue.push({ progress: revision });
    this.schedule();
  }

  /** Ends the watch with an error; events still queued are dropped (the client resumes from what it saw). */
  fail(err: Error): void {
    if (this.done) return;
    this.end();
    this.error = err;
    this.schedule();
  }

  stop(): void {
    if (this.done) return;
    this.end();
  }

  private end(): void {
    this.done = true;
    this.queue = [];
    this.buffered = 0;
    this.onEnd();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const items = this.queue;
    this.queue = [];
    this.buffered = 0;
    let batch: WatchEvent[] = [];
    try {
      for (const item of items) {
        if (this.done) break;
        if ('events' in item) {
          for (const ev of item.events) batch.push(ev);
          continue;
        }
        if (batch.length > 0) this.opts.onEvents(batch);
        batch = [];
        if (!this.done) this.opts.onProgress?.(item.progress);
      }
      if (batch.length > 0 && !this.done) this.opts.onEvents(batch);
    } catch (err) {
      // A throwing consumer is a bug in the consumer; end its watch instead of letting the
      // exception escape into the producer's timer.
      this.fail(new StoreError('watch consumer threw', { cause: err }));
    }
    if (this.error) {
      const err = this.error;
      this.error = null;
      this.opts.onError(err);
    }
  }
}
