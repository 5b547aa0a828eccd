/**
 * The kubelet's container restart back-off (its flowcontrol.Backoff keyed per container, used by
 * doBackOff): the first restart after an exit is immediate, then each further exit waits 10 s,
 * 20 s, 40 s … up to 300 s, counted from the exit (finishedAt). A container that ran longer than
 * twice the cap (10 min) since it was started is stable again: its next exit restarts at once and
 * the doubling starts over. Entries untouched for that long are dropped (upstream's GC).
 *
 * Keys are the caller's (upstream: pod name, namespace, uid, container name and spec hash, so a
 * changed container spec starts afresh).
 */
import { goDuration } from '../probes/go-format.js';

export interface CrashBackoffOptions {
  /** First wait. Default 10 s (kubelet backOffPeriod). */
  initialMs?: number;
  /** Cap. Default 300 s (kubelet MaxContainerBackOff). */
  maxMs?: number;
  /** A run at least this long (from start to exit) resets the back-off. Default 2 × maxMs. */
  resetAfterRunMs?: number;
  now?: () => number;
}

interface Entry {
  /** The wait that the next exit will get (0 before the first restart). */
  backoffMs: number;
  /** The wait applied to the latest exit (the message's "back-off 20s"). */
  delayMs: number;
  /** When the latest exit may be restarted. */
  retryAt: number;
  /** When the container was last (re)started, or is expected to be: the reference for "stable". */
  restartAt: number;
}

export class CrashBackoff {
  private readonly entries = new Map<string, Entry>();
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly resetAfterRunMs: number;
  private readonly now: () => number;

  constructor(opts: CrashBackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 10_000;
    this.maxMs = opts.maxMs ?? 300_000;
    this.resetAfterRunMs = opts.resetAfterRunMs ?? 2 * this.maxMs;
    this.now = opts.now ?? Date.now;
  }

  /** Called once when a container instance ended. */
  recordExit(key: string, startedAt: Date | undefined, finishedAt: Date): void {
    this.gc(key);
    const e = this.entries.get(key);
    const finished = finishedAt.getTime();
    const ranFrom = startedAt?.getTime() ?? e?.restartAt;
    const stable = !e || (ranFrom !== undefined && finished - ranFrom > this.resetAfterRunMs);
    const delayMs = stable ? 0 : e.backoffMs;
    const retryAt = finished + delayMs;
    this.entries.set(key, {
      backoffMs: stable ? this.initialMs : Math.min(2 * e.backoffMs, this.maxMs),
      delayMs,
      retryAt,
      restartAt: Math.max(retryAt, this.now()),
    });
  }

  /** ms until a restart is allowed (0 = now). */
  remaining(key: string): number {
    const e = this.entries.get(key);
    return e ? Math.max(0, e.retryAt - this.now()) : 0;
  }

  /** The waiting message, e.g. `back-off 20s restarting failed container=app pod=web-1_default(uid)`. */
  message(key: string, container: string, podDesc: string): string {
    const delay = this.entries.get(key)?.delayMs ?? 0;
    return `back-off ${goDuration(delay)} restarting failed container=${container} pod=${podDesc}`;
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  /**
   * Rebuilds the entry after an agent restart from what the runtime recorded about the newest
   * instance that ended: its restart count (how many restarts came before it — its attempt
   * number) and its start and end. If that instance is the latest, the wait for its restart
   * follows (remaining()); if a newer instance runs, the entry is what that one's exit will use.
   */
  restore(key: string, restartCount: number, lastFinishedAt: Date | undefined, lastStartedAt?: Date): void {
    this.entries.delete(key);
    if (restartCount > 0) {
      // After n restarts in a row the next exit waits initial × 2^(n-1), capped.
      const backoffMs = Math.min(this.initialMs * 2 ** Math.min(restartCount - 1, 52), this.maxMs);
      const ref = lastStartedAt?.getTime() ?? lastFinishedAt?.getTime() ?? this.now();
      this.entries.set(key, { backoffMs, delayMs: 0, retryAt: ref, restartAt: ref });
    }
    if (lastFinishedAt) this.recordExit(key, lastStartedAt, lastFinishedAt);
  }

  /** Drops entries whose container has been up (or waiting to be restarted has been over) long enough to be stable. */
  private gc(keep: string): void {
    const now = this.now();
    for (const [k, e] of this.entries) {
      if (k !== keep && now - e.restartAt > this.resetAfterRunMs) this.entries.delete(k);
    }
  }
}
