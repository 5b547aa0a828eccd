/** Small numeric helpers for the benchmarks. */

export interface Summary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending-sorted array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function summarize(values: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i];
  return {
    count: sorted.length,
    min: sorted[0] ?? NaN,
    mean: sorted.length ? sum / sorted.length : NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? NaN,
  };
}

export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** Rounds for display/JSON (milliseconds to 0.01, big numbers to integers). */
export function round(v: number, digits = 2): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export function roundSummary(s: Summary): Summary {
  return {
    count: s.count,
    min: round(s.min),
    mean: round(s.mean),
    p50: round(s.p50),
    p90: round(s.p90),
    p99: round(s.p99),
    max: round(s.max),
  };
}

/**
 * Runs `total` tasks with at most `concurrency` in flight. `task(i)` gets the task index; the
 * returned latencies (ms, from just before the call to its settlement) are indexed the same.
 * Failures are counted, not thrown; the first few are kept for the report.
 */
export async function runPool(
  total: number,
  concurrency: number,
  task: (i: number) => Promise<unknown>,
  pace?: { perSecond: number },
): Promise<{ latencies: Float64Array; elapsedMs: number; failures: number; errors: string[] }> {
  const latencies = new Float64Array(total);
  let next = 0;
  let failures = 0;
  const errors: string[] = [];
  const start = performance.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= total) return;
      if (pace) {
        const due = start + (i * 1000) / pace.perSecond;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const t0 = performance.now();
      try {
        await task(i);
      } catch (e) {
        failures++;
        if (errors.length < 5) errors.push(errorText(e));
      }
      latencies[i] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return { latencies, elapsedMs: performance.now() - start, failures, errors };
}

export function errorText(e: unknown): string {
  const err = e as { code?: number; body?: unknown; message?: string };
  if (err && typeof err === 'object' && 'code' in err && err.body !== undefined) return `HTTP ${err.code}: ${String(err.body).slice(0, 300)}`;
  return err?.message ?? String(e);
}
