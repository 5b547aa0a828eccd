/**
 * Exponential backoff with jitter for reconnect loops (client-go reflector: 800 ms doubling to
 * 30 s). Jitter keeps many informers that lost the same server from reconnecting in lockstep.
 */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  /** Fraction of random extra delay, 0..1. */
  jitter?: number;
}

export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly jitter: number;
  private attempt = 0;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 800;
    this.maxMs = opts.maxMs ?? 30_000;
    this.jitter = opts.jitter ?? 0.2;
  }

  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 40);
    return base * (1 + Math.random() * this.jitter);
  }

  reset(): void {
    this.attempt = 0;
  }
}
