/**
 * The reconcile loop runner (controller-runtime's controller): waits for the informers'
 * caches, then runs N workers that take keys from the queue and call reconcile(key).
 *  - success → forget (reset the key's backoff);
 *  - {requeueAfterMs} → forget, then addAfter (a scheduled re-check, not a failure);
 *  - thrown error → addRateLimited (exponential per-key backoff) and a log line.
 * The queue guarantees one worker per key, so reconcile never races itself on one object.
 */
import { AbortedError } from './errors.js';
import { type Logger, errorText, stderrLogger } from './log.js';
import { ControllerMetrics } from './metrics.js';
import type { WorkQueue } from './workqueue.js';

export interface ReconcileResult {
  /** Reconcile this key again after this many ms, e.g. to re-check a timeout. */
  requeueAfterMs?: number;
}

export type Reconciler = (key: string, ctx: { signal: AbortSignal }) => Promise<ReconcileResult | void>;

/** Anything that can report its cache synced: informers, the shared factory. */
export interface Syncable {
  waitForSync(signal?: AbortSignal): Promise<void>;
}

export interface ControllerOptions {
  name: string;
  queue: WorkQueue<string>;
  reconcile: Reconciler;
  /** Concurrent reconciles (distinct keys); default 1. */
  workers?: number;
  /** Caches that must be synced before the first reconcile (reconciling from a partial cache would delete things). */
  informers?: Syncable[];
  /** Stops the controller; in-flight reconciles finish, queued keys are dropped. */
  signal?: AbortSignal;
  logger?: Logger;
}

export interface RunningController {
  readonly name: string;
  readonly metrics: ControllerMetrics;
  /** Settles when every worker has exited. */
  readonly done: Promise<void>;
  /** Stops (as the signal would) and waits for the workers. */
  stop(): Promise<void>;
}

export function runController(opts: ControllerOptions): RunningController {
  const { name, queue, reconcile } = opts;
  const log = opts.logger ?? stderrLogger;
  const workers = Math.max(1, opts.workers ?? 1);
  const metrics = new ControllerMetrics(name, queue.metrics);
  metrics.workers = workers;
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  if (opts.signal?.aborted) ac.abort();
  else opts.signal?.addEventListener('abort', onAbort, { once: true });
  // Stopping shuts the queue, which releases workers blocked in get().
  ac.signal.addEventListener('abort', () => queue.shutDown(), { once: true });

  async function worker(): Promise<void> {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      metrics.activeWorkers++;
      const started = performance.now();
      try {
        const result = await reconcile(key, { signal: ac.signal });
        queue.forget(key);
        if (result?.requeueAfterMs !== undefined && result.requeueAfterMs >= 0) {
          metrics.reconcileTotal.requeue_after++;
          queue.addAfter(key, result.requeueAfterMs);
        } else {
          metrics.reconcileTotal.success++;
        }
      } catch (err) {
        metrics.reconcileTotal.error++;
        metrics.reconcileErrors++;
        if (!ac.signal.aborted) {
          log({ level: 'error', msg: 'reconcile failed', controller: name, key, error: errorText(err), retries: queue.numRequeues(key) });
          queue.addRateLimited(key);
        }
      } finally {
        metrics.reconcileTimeSeconds.observe((performance.now() - started) / 1000);
        metrics.activeWorkers--;
        queue.done(key);
      }
      // Let I/O in between reconciles. In the server process a reconcile over the in-process
      // transport can complete without touching a macrotask (the store is synchronous), so with a
      // full queue the workers would otherwise run back to back in microtasks and starve the
      // HTTPS front: external requests waited tens of seconds under load (bench:control).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  async function run(): Promise<void> {
    // Race the abort too: a Syncable need not honour the signal, and stop() must not hang on it.
    const stopped = new Promise<void>((resolve) => {
      if (ac.signal.aborted) resolve();
      else ac.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    try {
      await Promise.race([Promise.all((opts.informers ?? []).map((i) => i.waitForSync(ac.signal))), stopped]);
    } catch (err) {
      if (ac.signal.aborted || err instanceof AbortedError) return;
      throw err;
    }
    if (ac.signal.aborted) return;
    log({ level: 'info', msg: 'controller started', controller: name, workers });
    await Promise.all(Array.from({ length: workers }, worker));
    log({ level: 'info', msg: 'controller stopped', controller: name });
  }

  const done = run().finally(() => {
    opts.signal?.removeEventListener('abort', onAbort);
    queue.shutDown();
  });
  return {
    name,
    metrics,
    done,
    async stop() {
      ac.abort();
      await done;
    },
  };
}
