/**
 * Metrics as plain data: counters are numbers, histograms keep cumulative bucket counts as
 * Prometheus does, so the server's /metrics can render them without this library knowing about
 * Prometheus text (or any metrics package).
 */
import { Histogram } from '../util/histogram.js';

export { DEFAULT_SECONDS_BUCKETS, Histogram } from '../util/histogram.js';

/** Work queue metrics, named after client-go's workqueue_* series. */
export class WorkQueueMetrics {
  /** workqueue_depth */
  depth = 0;
  /** workqueue_adds_total */
  adds = 0;
  /** workqueue_retries_total */
  retries = 0;
  /** workqueue_queue_duration_seconds: time from add to get. */
  readonly queueLatencySeconds = new Histogram();
  /** workqueue_work_duration_seconds: time from get to done. */
  readonly workDurationSeconds = new Histogram();
  /** Start times (ms, performance.now) of items being processed. */
  readonly processingSince = new Map<unknown, number>();

  constructor(readonly name: string) {}

  /** workqueue_unfinished_work_seconds: summed age of in-flight items. */
  unfinishedWorkSeconds(now = performance.now()): number {
    let total = 0;
    for (const t of this.processingSince.values()) total += now - t;
    return total / 1000;
  }

  /** workqueue_longest_running_processor_seconds */
  longestRunningProcessorSeconds(now = performance.now()): number {
    let oldest = now;
    for (const t of this.processingSince.values()) oldest = Math.min(oldest, t);
    return (now - oldest) / 1000;
  }
}

/** Per-controller metrics, named after controller-runtime's controller_runtime_* series. */
export class ControllerMetrics {
  /** controller_runtime_reconcile_total by result */
  readonly reconcileTotal = { success: 0, error: 0, requeue_after: 0 };
  /** controller_runtime_reconcile_errors_total */
  reconcileErrors = 0;
  /** controller_runtime_reconcile_time_seconds */
  readonly reconcileTimeSeconds = new Histogram();
  /** controller_runtime_max_concurrent_reconciles */
  workers = 0;
  /** controller_runtime_active_workers */
  activeWorkers = 0;

  constructor(
    readonly name: string,
    /** The controller's queue (depth, adds, retries, latencies). */
    readonly queue: WorkQueueMetrics,
  ) {}
}
