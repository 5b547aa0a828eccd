/**
 * What every controller gets: the API client, shared informers, an event recorder for its own
 * component name, a logger, the stop signal and the cluster-wide settings. A controller module
 * exports a ControllerSpec; manager.ts lists them.
 */
import { type Client, finalStateOf, type Informer, type RunningController, runController, type SharedInformerFactory, WorkQueue } from '../client/index.js';
import type { Logger } from '../client/log.js';
import type { KubeObject } from '../util/object.js';
import { EventRecorder } from './events.js';

export interface ClusterSettings {
  /** Service cluster IP range (the API server allocates from it). */
  serviceCidr: string;
  /** Pod network; each node gets a /24 from it. */
  clusterCidr: string;
  /** LoadBalancer IPs come from here when set. */
  lbPool?: string;
  /** The cluster CA (PEM) the root-ca-cert-publisher puts in every namespace's kube-root-ca.crt. */
  rootCaPem?: string;
  /** Node lifecycle timings (node-lifecycle.ts): a node silent this long is Unknown (40 s); re-check period (5 s). */
  nodeMonitorGracePeriodMs?: number;
  nodeMonitorPeriodMs?: number;
  /** Scheduler tuning (scheduler/scheduler.ts). */
  schedulerBindConcurrency?: number;
  schedulerInitialBackoffMs?: number;
  schedulerMaxBackoffMs?: number;
  schedulerUnschedulableRetryMs?: number;
  percentageOfNodesToScore?: number;
}

export const defaultClusterSettings: ClusterSettings = { serviceCidr: '10.96.0.0/12', clusterCidr: '10.244.0.0/16' };

export interface ControllerContext {
  client: Client;
  informers: SharedInformerFactory;
  logger: Logger;
  signal: AbortSignal;
  settings: ClusterSettings;
  /** An event recorder reporting as `component` (e.g. `deployment-controller`). */
  recorder(component: string): EventRecorder;
}

export interface ControllerSpec {
  name: string;
  start(ctx: ControllerContext): RunningController | RunningController[];
}

/** Queues `namespace/name` keys of an informer's objects (the common case). */
export const objectKeyOf = (o: KubeObject) => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name!);

export interface SimpleControllerOptions {
  name: string;
  /** The informer whose objects are reconciled by key; more informers may feed the queue via `enqueue`. */
  primary: Informer<KubeObject>;
  /** Other caches the reconcile reads; synced before the first reconcile. */
  secondary?: Informer<KubeObject>[];
  reconcile: (key: string, ctx: { signal: AbortSignal }) => Promise<{ requeueAfterMs?: number } | void>;
  workers?: number;
}

/**
 * Wires the usual shape: a work queue fed by the primary informer's adds/updates/deletes, and a
 * reconcile loop over it. Returns the running controller and the queue (to enqueue from other
 * informers' handlers, e.g. a ReplicaSet's owner Deployment).
 */
export function simpleController(ctx: ControllerContext, o: SimpleControllerOptions): { controller: RunningController; queue: WorkQueue<string> } {
  const queue = new WorkQueue<string>({ name: o.name });
  o.primary.addEventHandler({
    onAdd: (obj) => queue.add(objectKeyOf(obj)),
    onUpdate: (_old, obj) => queue.add(objectKeyOf(obj)),
    onDelete: (obj) => queue.add(objectKeyOf(finalStateOf(obj))),
  });
  const controller = runController({
    name: o.name,
    queue,
    reconcile: o.reconcile,
    informers: [o.primary, ...(o.secondary ?? [])],
    workers: o.workers ?? 2,
    signal: ctx.signal,
    logger: ctx.logger,
  });
  return { controller, queue };
}

export function makeContext(client: Client, informers: SharedInformerFactory, logger: Logger, signal: AbortSignal, settings: ClusterSettings): ControllerContext {
  const recorders = new Map<string, EventRecorder>();
  return {
    client,
    informers,
    logger,
    signal,
    settings,
    recorder(component) {
      let r = recorders.get(component);
      if (!r) recorders.set(component, (r = new EventRecorder(client, component, logger)));
      return r;
    },
  };
}
