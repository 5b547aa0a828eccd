/**
 * What the node benchmark's phases share: the cluster, an API client, the pod watch, the pod
 * template (busybox `sleep`, small requests) and helpers to create pods, wait on them and
 * delete them.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { until } from '../../test/support/until.js';
import type { AgentProfiler } from './agent-profiler.js';
import type { BenchCluster } from './bench-cluster.js';
import type { BenchClient } from './kube.js';
import { wallNow, type PodTimeline } from './pod-timeline.js';
import { roundSummary, runPool, summarize, type Summary } from './stats.js';

export interface NodeBenchContext {
  cluster: BenchCluster;
  client: BenchClient;
  timeline: PodTimeline;
  namespace: string;
  /** The offline image every node carries (cairn.local/busybox:<version>). */
  image: string;
  /** Bound on every wait (ms). */
  timeoutMs: number;
  /** Set with BENCH_AGENT_PROF: CPU profiles of the agents during the measured stretches. */
  profiler?: AgentProfiler;
  /** Paths of the profiles written. */
  profiles: string[];
  log: (msg: string) => void;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const podNames = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);

/**
 * A pod that only sleeps: busybox, a 10m CPU / 16Mi request, no probes. A grace period of 1 s
 * because `sleep` as pid 1 ignores SIGTERM and would otherwise hold each deletion for 30 s.
 */
export function sleepPod(ctx: NodeBenchContext, name: string, label: string, nodeName?: string): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ctx.namespace, labels: { bench: label } },
    spec: {
      nodeName,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'c', image: ctx.image, command: ['sleep', '86400'], resources: { requests: { cpu: '10m', memory: '16Mi' } } }],
    },
  };
}

export interface CreateResult {
  elapsedMs: number;
  latencyMs: Summary;
  failures: number;
  errors: string[];
}

/** Creates the pods, `concurrency` in flight, optionally paced; each response time goes to the watch. */
export async function createPods(ctx: NodeBenchContext, pods: V1Pod[], concurrency: number, perSecond = 0): Promise<CreateResult> {
  const r = await runPool(
    pods.length,
    concurrency,
    async (i) => {
      await ctx.client.api.createNamespacedPod({ namespace: ctx.namespace, body: pods[i]! });
      ctx.timeline.markCreated(pods[i]!.metadata!.name!, wallNow());
    },
    perSecond > 0 ? { perSecond } : undefined,
  );
  return { elapsedMs: r.elapsedMs, latencyMs: roundSummary(summarize(r.latencies)), failures: r.failures, errors: r.errors };
}

/** Waits until `done` holds for the named pods, logging progress every 10 s. */
export async function waitForPods(ctx: NodeBenchContext, what: string, names: string[], done: (c: ReturnType<PodTimeline['counts']>) => boolean): Promise<void> {
  const progress = setInterval(() => ctx.log(`waiting for ${what}: ${JSON.stringify(ctx.timeline.counts(names))}`), 10_000);
  try {
    await until(what, () => done(ctx.timeline.counts(names)), ctx.timeoutMs, 100);
  } finally {
    clearInterval(progress);
  }
}

/** Deletes the pods labelled `bench=<label>` and waits until the watch has seen every one go. */
export async function deletePods(ctx: NodeBenchContext, label: string, names: string[]): Promise<number> {
  const t0 = performance.now();
  await ctx.client.api.deleteCollectionNamespacedPod({ namespace: ctx.namespace, labelSelector: `bench=${label}` });
  await waitForPods(ctx, `deletion of ${names.length} ${label} pods`, names, (c) => c.gone === names.length);
  return performance.now() - t0;
}
