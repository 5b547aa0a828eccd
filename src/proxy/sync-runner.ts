/**
 * Runs the proxy's sync on request, one run at a time, coalescing bursts (upstream's
 * BoundedFrequencyRunner): a request while idle runs at once unless the last run started less
 * than `minIntervalMs` ago; requests during a run make exactly one more run after it; after a
 * failure, no run starts before the retry time the caller set.
 */
export class SyncRunner {
  private timer?: NodeJS.Timeout;
  private timerAt = 0;
  private running?: Promise<void>;
  private pending = false;
  private lastStart = 0;
  private notBefore = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly fn: () => Promise<void>,
    private readonly minIntervalMs: number,
  ) {}

  /** Asks for a run as soon as the minimum interval allows. */
  run(): void {
    if (this.stopped) return;
    this.pending = true;
    this.schedule();
  }

  /** Asks for a run, but not before `ms` from now (a failed run's back-off). */
  retryAfter(ms: number): void {
    this.notBefore = Math.max(this.notBefore, Date.now() + ms);
    this.run();
  }

  /** Resolves once nothing is pending or running (tests and benchmarks wait for a sync). */
  whenIdle(): Promise<void> {
    if (!this.pending && !this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = false;
    await this.running;
    this.wakeIdle();
  }

  private schedule(): void {
    if (this.running || this.stopped || !this.pending) return;
    const now = Date.now();
    const at = Math.max(now, this.lastStart + this.minIntervalMs, this.notBefore);
    if (this.timer && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.tick(), at - now);
  }

  private tick(): void {
    this.timer = undefined;
    if (this.running || this.stopped || !this.pending) return;
    this.pending = false;
    this.lastStart = Date.now();
    // fn reports and retries its own failures; a rejection here only ends this run.
    this.running = this.fn()
      .catch(() => undefined)
      .finally(() => {
        this.running = undefined;
        if (this.pending) this.schedule();
        else this.wakeIdle();
      });
  }

  private wakeIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
}
