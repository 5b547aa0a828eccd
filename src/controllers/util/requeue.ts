/**
 * The wake-up times one reconcile finds (a pod becoming available, a deadline, a TTL), turned
 * into its result: requeue a little after the earliest of them, or not at all.
 */
export class RequeueAt {
  private afterMs: number | undefined;

  /** Look again 50 ms after `at` (epoch ms); the earliest time asked for wins. */
  readonly at = (at: number): void => {
    const ms = Math.max(0, at - Date.now()) + 50;
    this.afterMs = this.afterMs === undefined ? ms : Math.min(this.afterMs, ms);
  };

  /** What reconcile returns: `{ requeueAfterMs }` when a time was asked for. */
  result(): { requeueAfterMs: number } | undefined {
    return this.afterMs === undefined ? undefined : { requeueAfterMs: this.afterMs };
  }
}
