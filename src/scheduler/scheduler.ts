/**
 * The scheduler (kube-scheduler's default profile, in one loop): pending pods for
 * `default-scheduler` are taken from an active queue one at a time, a node is chosen against
 * the in-memory cache (the pod is "assumed" there at once, so the next decision sees it), and
 * the bind is sent through pods/binding with bounded concurrency while the loop goes on.
 * Pods that fit nowhere get PodScheduled=False (Unschedulable) and a FailedScheduling event, and
 * wait in the unschedulable pool until the cluster changes (a node added or changed, a pod
 * removed) — then they return after a per-pod backoff (1 s doubling to 10 s) — or a minute has
 * passed. Runs under the controller manager's leader election.
 */
import { setMaxListeners } from 'node:events';
import { finalStateOf, type Informer, isConflict, isNotFound, type RunningController } from '../client/index.js';
import { ControllerMetrics, WorkQueueMetrics } from '../client/metrics.js';
import type { ControllerContext, ControllerSpec } from '../controllers/context.js';
import { type Condition, conditionOf, isPodTerminal, NODES, podNodeName, PODS, rfc3339 } from '../controllers/util/nodes.js';
import type { ResourceRef } from '../client/index.js';
import type { KubeObject } from '../util/object.js';
import { Algorithm, fitErrorMessage } from './algorithm.js';
import { SchedulerCache } from './cache.js';
import { podInfoOf } from './pod-info.js';
import { VolumeBinding, type VolumeInformers } from './volume-binding.js';
import { CSI_DRIVERS, CSI_STORAGE_CAPACITIES, PVCS, PVS, type StorageClass, STORAGE_CLASSES } from '../storage/api.js';
import { VOLUME_SNAPSHOT_CONTENTS, VOLUME_SNAPSHOTS, type VolumeSnapshot, type VolumeSnapshotContent } from '../storage/snapshot-api.js';

export const DEFAULT_SCHEDULER_NAME = 'default-scheduler';
const NAMESPACES: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', namespaced: false, kind: 'Namespace' };

export interface SchedulerSettings {
  /** Concurrent binds in flight (default 64). */
  schedulerBindConcurrency?: number;
  /** Initial / max backoff of a pod that did not fit (default 1 s / 10 s). */
  schedulerInitialBackoffMs?: number;
  schedulerMaxBackoffMs?: number;
  /** Unschedulable pods are retried at least this often (default 60 s). */
  schedulerUnschedulableRetryMs?: number;
  /** 0: adaptive, as upstream. */
  percentageOfNodesToScore?: number;
}

interface PodSpecLite {
  schedulerName?: string;
  nodeName?: string;
  schedulingGates?: unknown[];
  preemptionPolicy?: string;
}

const specOf = (p: KubeObject) => (p.spec ?? {}) as PodSpecLite;
const keyOf = (p: KubeObject) => `${p.metadata.namespace}/${p.metadata.name}`;

export function needsScheduling(p: KubeObject, schedulerName = DEFAULT_SCHEDULER_NAME): boolean {
  const s = specOf(p);
  return !s.nodeName && (s.schedulerName ?? DEFAULT_SCHEDULER_NAME) === schedulerName && !p.metadata.deletionTimestamp && !(s.schedulingGates?.length) && !isPodTerminal(p);
}

export class Scheduler {
  readonly cache = new SchedulerCache();
  readonly metrics = new ControllerMetrics('scheduler', new WorkQueueMetrics('scheduler'));
  private readonly algorithm: Algorithm;
  private readonly active = new Set<string>();
  /** pod key → when it was found unschedulable, and whether pod affinity/spread was among the reasons. */
  private readonly unschedulable = new Map<string, { since: number; podSensitive: boolean }>();
  private readonly backoff = new Map<string, number>();
  private readonly attempts = new Map<string, number>();
  private wake?: () => void;
  private bindsInFlight = 0;
  private bindSlot?: () => void;
  private readonly pods: Informer<KubeObject>;
  private readonly nodes: Informer<KubeObject>;
  private readonly namespaces: Informer<KubeObject>;
  private readonly storage: VolumeInformers;
  private readonly volumes: VolumeBinding;
  private readonly o: Required<SchedulerSettings>;
  private timer?: NodeJS.Timeout;
  private lastFlush = Date.now();
  readonly done: Promise<void>;
  private readonly ac = new AbortController();

  constructor(private readonly ctx: ControllerContext) {
    // Every informer's sync wait listens on it.
    setMaxListeners(0, this.ac.signal);
    if (ctx.signal.aborted) this.ac.abort();
    else ctx.signal.addEventListener('abort', () => this.ac.abort(), { once: true });
    const s = ctx.settings as typeof ctx.settings & SchedulerSettings;
    this.o = {
      schedulerBindConcurrency: s.schedulerBindConcurrency ?? 64,
      schedulerInitialBackoffMs: s.schedulerInitialBackoffMs ?? 1000,
      schedulerMaxBackoffMs: s.schedulerMaxBackoffMs ?? 10_000,
      schedulerUnschedulableRetryMs: s.schedulerUnschedulableRetryMs ?? 60_000,
      percentageOfNodesToScore: s.percentageOfNodesToScore ?? 0,
    };
    this.metrics.workers = this.o.schedulerBindConcurrency;
    this.pods = ctx.informers.forResource<KubeObject>(PODS);
    this.nodes = ctx.informers.forResource<KubeObject>(NODES);
    this.namespaces = ctx.informers.forResource<KubeObject>(NAMESPACES);
    this.storage = {
      pvcs: ctx.informers.forResource<KubeObject>(PVCS),
      pvs: ctx.informers.forResource<KubeObject>(PVS),
      classes: ctx.informers.forResource<StorageClass>(STORAGE_CLASSES),
      csiDrivers: ctx.informers.forResource<KubeObject>(CSI_DRIVERS),
      capacities: ctx.informers.forResource<KubeObject>(CSI_STORAGE_CAPACITIES),
      snapshots: ctx.informers.forResource<VolumeSnapshot>(VOLUME_SNAPSHOTS),
      contents: ctx.informers.forResource<VolumeSnapshotContent>(VOLUME_SNAPSHOT_CONTENTS),
    };
    this.volumes = new VolumeBinding(this.storage, this.cache);
    this.algorithm = new Algorithm(this.cache, {
      percentageOfNodesToScore: this.o.percentageOfNodesToScore,
      nsLabels: (ns) => this.namespaces.store.get(ns)?.metadata.labels,
      volumes: this.volumes,
    });
    // Claims, volumes, classes and capacities decide where pods with claims fit (upstream's
    // VolumeBinding cluster events): a change sends the unschedulable pods to another try.
    for (const inf of Object.values(this.storage) as Informer<KubeObject>[]) inf.addEventHandler({ onAdd: () => this.clusterChanged(), onUpdate: () => this.clusterChanged() });
    this.nodes.addEventHandler({
      onAdd: (n) => {
        this.cache.upsertNode(n);
        this.clusterChanged();
      },
      onUpdate: (o, n) => {
        this.cache.upsertNode(n);
        if (nodeSchedulingChanged(o, n)) this.clusterChanged();
      },
      onDelete: (d) => this.cache.removeNode(finalStateOf(d).metadata.name!),
    });
    this.pods.addEventHandler({
      onAdd: (p) => this.podEvent(undefined, p),
      onUpdate: (o, p) => this.podEvent(o, p),
      onDelete: (d) => {
        const p = finalStateOf(d);
        const k = keyOf(p);
        const wasCounted = this.cache.nodeOfPod(k) !== undefined;
        this.cache.removePod(k);
        this.dropFromQueues(k);
        if (wasCounted) this.clusterChanged('podGone');
      },
    });
    this.done = this.run();
  }

  stop(): void {
    this.ac.abort();
  }

  private podEvent(old: KubeObject | undefined, p: KubeObject): void {
    const k = keyOf(p);
    const node = podNodeName(p);
    if (node) {
      this.dropFromQueues(k);
      if (isPodTerminal(p)) {
        if (this.cache.nodeOfPod(k) !== undefined) {
          this.cache.removePod(k);
          this.clusterChanged('podGone');
        }
        return;
      }
      this.cache.assumed.delete(k);
      this.cache.addPod(podInfoOf(p), node);
      // A newly bound pod (or one whose labels changed) may satisfy another pod's affinity.
      if (!old || !podNodeName(old) || labelsChanged(old, p)) this.clusterChanged('podAdd');
      return;
    }
    if (!needsScheduling(p)) {
      this.dropFromQueues(k);
      if (this.cache.nodeOfPod(k) !== undefined && !this.cache.assumed.has(k)) this.cache.removePod(k);
      return;
    }
    if (this.cache.assumed.has(k)) return;
    if (this.unschedulable.has(k) || this.backoff.has(k)) {
      // Only a change of what the pod asks for makes it worth another try now.
      if (old && (JSON.stringify(old.spec) !== JSON.stringify(p.spec) || labelsChanged(old, p))) {
        this.unschedulable.delete(k);
        this.backoff.delete(k);
        this.activate(k);
      }
      return;
    }
    this.activate(k);
  }

  private activate(k: string): void {
    this.active.add(k);
    this.metrics.queue.adds++;
    this.metrics.queue.depth = this.active.size;
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private dropFromQueues(k: string): void {
    this.active.delete(k);
    this.unschedulable.delete(k);
    this.backoff.delete(k);
    this.attempts.delete(k);
  }

  /** Cluster changed: unschedulable pods go to backoff (then active when their backoff ends). */
  private clusterChanged(what: 'node' | 'podGone' | 'podAdd' = 'node'): void {
    if (!this.unschedulable.size) return;
    for (const [k, u] of this.unschedulable) {
      if (what === 'podAdd' && !u.podSensitive) continue;
      this.unschedulable.delete(k);
      this.backoff.set(k, u.since + this.backoffFor(k));
    }
  }

  private backoffFor(k: string): number {
    const n = this.attempts.get(k) ?? 1;
    return Math.min(this.o.schedulerMaxBackoffMs, this.o.schedulerInitialBackoffMs * 2 ** Math.max(0, n - 1));
  }

  private onTimer(): void {
    const now = Date.now();
    for (const [k, at] of this.backoff) {
      if (at <= now) {
        this.backoff.delete(k);
        this.activate(k);
      }
    }
    if (now - this.lastFlush >= Math.min(this.o.schedulerUnschedulableRetryMs, 60_000)) {
      this.lastFlush = now;
      for (const [k, u] of this.unschedulable) {
        if (now - u.since >= this.o.schedulerUnschedulableRetryMs) {
          this.unschedulable.delete(k);
          this.activate(k);
        }
      }
    }
  }

  private async run(): Promise<void> {
    const signal = this.ac.signal;
    const stopped = new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true })));
    try {
      const all = [this.pods, this.nodes, this.namespaces, ...(Object.values(this.storage) as Informer<KubeObject>[])];
      await Promise.race([Promise.all(all.map((i) => i.waitForSync(signal))), stopped]);
    } catch {
      return;
    }
    if (signal.aborted) return;
    this.ctx.logger({ level: 'info', msg: 'scheduler started' });
    this.timer = setInterval(() => this.onTimer(), 100);
    this.timer.unref?.();
    let sinceYield = 0;
    try {
      while (!signal.aborted) {
        const next = this.active.values().next();
        if (next.done) {
          sinceYield = 0;
          await Promise.race([new Promise<void>((r) => (this.wake = r)), stopped]);
          continue;
        }
        const k = next.value;
        this.active.delete(k);
        this.metrics.queue.depth = this.active.size;
        while (this.bindsInFlight >= this.o.schedulerBindConcurrency && !signal.aborted) await Promise.race([new Promise<void>((r) => (this.bindSlot = r)), stopped]);
        if (signal.aborted) break;
        this.scheduleOne(k);
        // Let informer events and bind responses in between decisions.
        if (++sinceYield >= 32) {
          sinceYield = 0;
          await new Promise((r) => setImmediate(r));
        }
      }
    } finally {
      if (this.timer) clearInterval(this.timer);
      while (this.bindsInFlight > 0) await new Promise((r) => setTimeout(r, 10));
      this.ctx.logger({ level: 'info', msg: 'scheduler stopped' });
    }
  }

  /** One decision; synchronous up to the bind, so the next decision sees this one's assumption. */
  private scheduleOne(k: string): void {
    const pod = this.pods.store.get(k);
    if (!pod || !needsScheduling(pod) || this.cache.assumed.has(k)) return;
    const started = performance.now();
    const pi = podInfoOf(pod);
    const decision = this.algorithm.schedule(pi);
    this.metrics.reconcileTimeSeconds.observe((performance.now() - started) / 1000);
    if ('node' in decision) {
      this.cache.assume(pi, decision.node);
      this.bindsInFlight++;
      void this.bind(pod, decision.node, decision.delayedClaims).finally(() => {
        this.bindsInFlight--;
        const s = this.bindSlot;
        this.bindSlot = undefined;
        s?.();
      });
      return;
    }
    this.attempts.set(k, (this.attempts.get(k) ?? 0) + 1);
    const podSensitive = [...decision.failures.values()].some((f) => f.reasons.some((r) => r.includes('affinity rules') || r.includes('topology spread')));
    this.unschedulable.set(k, { since: Date.now(), podSensitive });
    this.metrics.reconcileTotal.requeue_after++;
    const msg = fitErrorMessage(decision.numNodes, decision.failures, specOf(pod).preemptionPolicy, decision.preFilterMsg);
    void this.recordUnschedulable(pod, msg);
  }

  /** PreBind (the pod's delayed claims bound to volumes for `node`), then the Binding. */
  private async bind(pod: KubeObject, node: string, delayedClaims?: KubeObject[]): Promise<void> {
    const k = keyOf(pod);
    const ns = pod.metadata.namespace!;
    const name = pod.metadata.name!;
    const nodeObj = this.cache.nodes.get(node)?.node;
    if (delayedClaims && nodeObj) {
      try {
        await this.volumes.bindPodVolumes(this.ctx.client, pod, nodeObj, delayedClaims, () => !!this.pods.store.get(k), this.ac.signal);
      } catch (e) {
        this.cache.forget(k);
        if (!this.pods.store.get(k) || this.ac.signal.aborted) return;
        this.attempts.set(k, (this.attempts.get(k) ?? 0) + 1);
        this.unschedulable.set(k, { since: Date.now(), podSensitive: false });
        void this.recordUnschedulable(pod, `running PreBind plugin "VolumeBinding": ${(e as Error).message}`, 'SchedulerError');
        return;
      }
    }
    try {
      await this.ctx.client.transport.request({
        method: 'POST',
        path: `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}/binding`,
        body: { apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace: ns, uid: pod.metadata.uid }, target: { apiVersion: 'v1', kind: 'Node', name: node } },
      });
      this.metrics.reconcileTotal.success++;
      this.attempts.delete(k);
      this.ctx.recorder(DEFAULT_SCHEDULER_NAME).event(pod, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${name} to ${node}`);
    } catch (e) {
      this.cache.forget(k);
      if (isNotFound(e)) return;
      // Already bound (by someone else) or being deleted: the informer will say so.
      if (isConflict(e)) return;
      this.metrics.reconcileTotal.error++;
      this.metrics.reconcileErrors++;
      this.ctx.logger({ level: 'warn', msg: 'binding failed', pod: k, node, error: (e as Error).message });
      this.attempts.set(k, (this.attempts.get(k) ?? 0) + 1);
      this.backoff.set(k, Date.now() + this.backoffFor(k));
    }
  }

  private async recordUnschedulable(pod: KubeObject, msg: string, reason: 'Unschedulable' | 'SchedulerError' = 'Unschedulable'): Promise<void> {
    this.ctx.recorder(DEFAULT_SCHEDULER_NAME).event(pod, 'Warning', 'FailedScheduling', msg);
    const cur = conditionOf(pod, 'PodScheduled');
    if (cur && cur.status === 'False' && cur.reason === reason && cur.message === msg) return;
    const cond: Condition = {
      type: 'PodScheduled',
      status: 'False',
      lastProbeTime: null,
      lastTransitionTime: cur?.status === 'False' && cur.lastTransitionTime ? cur.lastTransitionTime : rfc3339(),
      reason,
      message: msg,
    };
    try {
      await this.ctx.client
        .resource(PODS)
        .patch(pod.metadata.name!, { status: { conditions: [cond] } }, 'strategic', { namespace: pod.metadata.namespace, subresource: 'status' });
    } catch (e) {
      if (!isNotFound(e)) this.ctx.logger({ level: 'warn', msg: 'could not update pod condition', pod: keyOf(pod), error: (e as Error).message });
    }
  }
}

function labelsChanged(a: KubeObject, b: KubeObject): boolean {
  return JSON.stringify(a.metadata.labels ?? {}) !== JSON.stringify(b.metadata.labels ?? {});
}

/** Node changes that can make a pod fit (not heartbeats). */
function nodeSchedulingChanged(a: KubeObject, b: KubeObject): boolean {
  if (JSON.stringify(a.spec) !== JSON.stringify(b.spec) || labelsChanged(a, b)) return true;
  const alloc = (n: KubeObject) => JSON.stringify((n.status as { allocatable?: unknown } | undefined)?.allocatable ?? {});
  if (alloc(a) !== alloc(b)) return true;
  return conditionOf(a, 'Ready')?.status !== conditionOf(b, 'Ready')?.status;
}

export const schedulerController: ControllerSpec = {
  name: 'scheduler',
  start(ctx): RunningController {
    const s = new Scheduler(ctx);
    return {
      name: 'scheduler',
      metrics: s.metrics,
      done: s.done,
      async stop() {
        s.stop();
        await s.done;
      },
    };
  },
};
