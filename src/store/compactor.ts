import { CompactedError } from './errors.js';
import type { Store } from './types.js';

export interface CompactorOptions {
  /** Time between compactions; also the length of history always kept. Default 5 minutes (kube-apiserver's). */
  intervalMs?: number;
  /** Told about failed ticks (the next tick tries again). */
  onError?(err: unknown): void;
  /** Told about each compaction done. */
  onCompacted?(revision: number): void;
}

/**
 * Periodic compaction in the manner of kube-apiserver: each tick compacts to the revision that
 * was current at the previous tick, so at least one interval of history always stays available
 * for watches to resume and paginated lists to finish. Several API servers on one etcd may all
 * run one: compacting to an already compacted revision is a no-op.
 */
export class Compactor {
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private lastSeen = 0;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly opts: CompactorOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 5 * 60_000;
  }

  start(): this {
    this.schedule();
    return this;
  }

  /** Stops ticking and waits for a running compaction to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One tick; exposed so tests and shutdown paths can drive it. */
  async tick(): Promise<void> {
    try {
      const current = await this.store.currentRevision();
      if (this.lastSeen > 0) {
        await this.store.compact(this.lastSeen);
        this.opts.onCompacted?.(this.lastSeen);
      }
      this.lastSeen = current;
    } catch (err) {
      // Someone compacted further than us in between: nothing left to do this round.
      if (!(err instanceof CompactedError)) this.opts.onError?.(err);
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    // A timeout chain rather than setInterval: ticks never overlap, however slow a compaction.
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => this.schedule());
    }, this.intervalMs);
    this.timer.unref();
  }
}

/** Starts a compactor; call stop() on shutdown. */
export function startCompactor(store: Store, opts: CompactorOptions = {}): Compactor {
  return new Compactor(store, opts).start();
}
