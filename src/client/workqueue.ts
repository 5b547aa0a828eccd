/**
 * A rate-limited work queue with client-go's guarantees, which controllers rely on:
 *  - a key queued several times is processed once (dedup);
 *  - a key being processed is never handed to a second worker; if it is added meanwhile it is
 *    marked dirty and queued again when the first worker calls done(), so no change is lost;
 *  - failed keys come back after a per-key exponential backoff (addRateLimited) until forget().
 * Shutdown: shutDown() stops handing out keys at once (queued keys are dropped; the controller
 * is level-triggered and will relist on restart); shutDownWithDrain() lets workers finish every
 * queued and in-flight key first. Adds after either are ignored.
 */
import { WorkQueueMetrics } from './metrics.js';
import { type RateLimiter, defaultControllerRateLimiter } from './rate-limiter.js';

export interface WorkQueueOptions<K> {
  name?: string;
  rateLimiter?: RateLimiter<K>;
}

export class WorkQueue<K = string> {
  readonly metrics: WorkQueueMetrics;
  private readonly rateLimiter: RateLimiter<K>;
  /** FIFO of keys ready to hand out (each at most once; see dirty). */
  private queue: K[] = [];
  private head = 0;
  /** Keys that need processing: queued, or added again while being processed. */
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  /** When each dirty key was added, for the queue latency metric. */
  private readonly addedAt = new Map<K, number>();
  /** Delayed adds; an earlier deadline wins over a later one. */
  private readonly waiting = new Map<K, { readyAt: number; timer: NodeJS.Timeout }>();
  private getters: ((key: K | undefined) => void)[] = [];
  private drainWaiters: (() => void)[] = [];
  private shutdown = false;
  private draining = false;

  constructor(opts: WorkQueueOptions<K> = {}) {
    this.metrics = new WorkQueueMetrics(opts.name ?? 'workqueue');
    this.rateLimiter = opts.rateLimiter ?? defaultControllerRateLimiter<K>();
  }

  /** Number of keys waiting to be handed out (not counting in-flight or delayed ones). */
  len(): number {
    return this.queue.length - this.head;
  }

  get shuttingDown(): boolean {
    return this.shutdown;
  }

  add(key: K): void {
    if (this.shutdown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.addedAt.set(key, performance.now());
    this.metrics.adds++;
    if (this.processing.has(key)) return; // re-queued by done()
    this.push(key);
  }

  /**
   * The next key to process, waiting until one is ready; undefined once the queue is shut down
   * (immediately for shutDown, after the queue is empty for shutDownWithDrain). Every key
   * returned must be passed to done().
   */
  get(): Promise<K | undefined> {
    if (this.len() > 0 && (!this.shutdown || this.draining)) return Promise.resolve(this.take());
    if (this.shutdown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Processing of key finished; if it was added meanwhile it is queued again. */
  done(key: K): void {
    if (!this.processing.delete(key)) return;
    const since = this.metrics.processingSince.get(key);
    this.metrics.processingSince.delete(key);
    if (since !== undefined) this.metrics.workDurationSeconds.observe((performance.now() - since) / 1000);
    if (this.dirty.has(key) && (!this.shutdown || this.draining)) this.push(key);
    this.checkDrained();
  }

  /** Adds key once ms have passed (at once if ms <= 0). */
  addAfter(key: K, ms: number): void {
    if (this.shutdown) return;
    if (ms <= 0) return this.add(key);
    const readyAt = performance.now() + ms;
    const existing = this.waiting.get(key);
    if (existing && existing.readyAt <= readyAt) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, ms);
    this.waiting.set(key, { readyAt, timer });
  }

  /** Adds key after its rate limiter's delay (a failure: the delay grows until forget()). */
  addRateLimited(key: K): void {
    if (this.shutdown) return;
    this.metrics.retries++;
    this.addAfter(key, this.rateLimiter.when(key));
  }

  /** The key succeeded: reset its backoff. */
  forget(key: K): void {
    this.rateLimiter.forget(key);
  }

  numRequeues(key: K): number {
    return this.rateLimiter.numRequeues(key);
  }

  /** Stops at once: waiting getters get undefined, queued and delayed keys are dropped. */
  shutDown(): void {
    this.beginShutdown(false);
  }

  /** Stops accepting keys, hands out what is queued, and resolves when nothing is queued or in flight. */
  shutDownWithDrain(): Promise<void> {
    this.beginShutdown(true);
    return new Promise((resolve) => {
      this.drainWaiters.push(resolve);
      this.checkDrained();
    });
  }

  private beginShutdown(drain: boolean): void {
    if (!this.shutdown) this.draining = drain;
    this.shutdown = true;
    for (const { timer } of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
    if (!this.draining) {
      this.queue = [];
      this.head = 0;
      this.metrics.depth = 0;
    }
    this.checkDrained();
  }

  private push(key: K): void {
    this.queue.push(key);
    this.metrics.depth = this.len();
    const getter = this.getters.shift();
    if (getter) getter(this.take());
  }

  private take(): K {
    const key = this.queue[this.head++];
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.metrics.depth = this.len();
    this.dirty.delete(key);
    this.processing.add(key);
    const now = performance.now();
    const added = this.addedAt.get(key);
    this.addedAt.delete(key);
    if (added !== undefined) this.metrics.queueLatencySeconds.observe((now - added) / 1000);
    this.metrics.processingSince.set(key, now);
    return key;
  }

  private checkDrained(): void {
    if (!this.shutdown || this.len() > 0) return;
    // Nothing more will be handed out: release idle workers.
    for (const g of this.getters.splice(0)) g(undefined);
    if (this.processing.size === 0) for (const w of this.drainWaiters.splice(0)) w();
  }
}
