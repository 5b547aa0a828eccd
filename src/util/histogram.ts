/**
 * A histogram as plain data: cumulative bucket counts as Prometheus keeps them, a sum and a
 * count. The client library's metrics and the server's labelled HistogramVec both count with it;
 * rendering it as Prometheus text is util/prometheus.ts's business.
 */

/** Seconds; spans a fast cache-only reconcile to a slow one that calls out to engines. */
export const DEFAULT_SECONDS_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class Histogram {
  /** cumulativeCounts[i] = observations <= buckets[i]; the +Inf bucket is `count`. */
  readonly cumulativeCounts: number[];
  sum = 0;
  count = 0;

  constructor(readonly buckets: readonly number[] = DEFAULT_SECONDS_BUCKETS) {
    this.cumulativeCounts = buckets.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) this.cumulativeCounts[i]++;
  }
}
