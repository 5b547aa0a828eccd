/**
 * Controller and work-queue metrics in Prometheus text, named after controller-runtime's and
 * client-go's series, for the server's /metrics.
 */
import type { RunningController } from '../client/index.js';
import { histogramText } from '../util/prometheus.js';

const HELP: [string, string, string][] = [
  ['controller_runtime_reconcile_total', 'counter', 'Reconciles per controller and result.'],
  ['controller_runtime_reconcile_errors_total', 'counter', 'Reconciles that returned an error.'],
  ['controller_runtime_reconcile_time_seconds', 'histogram', 'Time per reconcile.'],
  ['controller_runtime_active_workers', 'gauge', 'Workers reconciling now.'],
  ['controller_runtime_max_concurrent_reconciles', 'gauge', 'Workers per controller.'],
  ['workqueue_depth', 'gauge', 'Keys waiting in the queue.'],
  ['workqueue_adds_total', 'counter', 'Keys added to the queue.'],
  ['workqueue_retries_total', 'counter', 'Rate-limited re-adds after errors.'],
  ['workqueue_queue_duration_seconds', 'histogram', 'Time a key waits before being processed.'],
  ['workqueue_work_duration_seconds', 'histogram', 'Time processing one key takes.'],
];

export function renderControllerMetrics(controllers: RunningController[]): string {
  const out = new Map<string, string>(HELP.map(([n, t, h]) => [n, `# HELP ${n} ${h}\n# TYPE ${n} ${t}\n`]));
  const add = (n: string, text: string) => out.set(n, out.get(n)! + text);
  for (const c of controllers) {
    const m = c.metrics;
    const l = `controller="${c.name}"`;
    for (const [result, v] of Object.entries(m.reconcileTotal)) add('controller_runtime_reconcile_total', `controller_runtime_reconcile_total{${l},result="${result}"} ${v}\n`);
    add('controller_runtime_reconcile_errors_total', `controller_runtime_reconcile_errors_total{${l}} ${m.reconcileErrors}\n`);
    add('controller_runtime_reconcile_time_seconds', histogramText('controller_runtime_reconcile_time_seconds', l, m.reconcileTimeSeconds));
    add('controller_runtime_active_workers', `controller_runtime_active_workers{${l}} ${m.activeWorkers}\n`);
    add('controller_runtime_max_concurrent_reconciles', `controller_runtime_max_concurrent_reconciles{${l}} ${m.workers}\n`);
    const q = m.queue;
    const ql = `name="${q.name}"`;
    add('workqueue_depth', `workqueue_depth{${ql}} ${q.depth}\n`);
    add('workqueue_adds_total', `workqueue_adds_total{${ql}} ${q.adds}\n`);
    add('workqueue_retries_total', `workqueue_retries_total{${ql}} ${q.retries}\n`);
    add('workqueue_queue_duration_seconds', histogramText('workqueue_queue_duration_seconds', ql, q.queueLatencySeconds));
    add('workqueue_work_duration_seconds', histogramText('workqueue_work_duration_seconds', ql, q.workDurationSeconds));
  }
  return [...out.values()].join('');
}
