/**
 * The controller manager: every control loop, run as clients of the API through shared
 * informers, started only while this process holds the controller-manager Lease (so with several
 * servers on one etcd exactly one set runs, and another takes over when its holder dies).
 * Inside `cairn server` the transport is in-process; `cairn controllers` runs the same over HTTPS.
 */
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { type Client, type RunningController, SharedInformerFactory } from '../client/index.js';
import type { Logger } from '../client/log.js';
import { type ClusterSettings, type ControllerSpec, defaultClusterSettings, makeContext } from './context.js';
import { runLeaderElection } from './leader-election.js';
import { namespaceController } from './namespace.js';
import { garbageCollector } from './garbage-collector.js';
import { serviceAccountController } from './serviceaccount.js';
import { replicaSetController } from './replicaset.js';
import { deploymentController } from './deployment.js';
import { daemonSetController } from './daemonset.js';
import { statefulSetController } from './statefulset.js';
import { jobController } from './job.js';
import { cronJobController } from './cronjob.js';
import { nodeIpamController } from './node-ipam.js';
import { nodeLifecycleController } from './node-lifecycle.js';
import { podGcController } from './pod-gc.js';
import { schedulerController } from '../scheduler/scheduler.js';
import { endpointsController } from './endpoints.js';
import { endpointSliceController, endpointSliceMirroringController } from './endpointslice.js';
import { serviceLBController } from './service-lb.js';
import { resourceQuotaController } from './resourcequota.js';
import { pvBinderController } from './pv-binder.js';
import { pvcProtectionController } from './pvc-protection.js';
import { pvProtectionController } from './pv-protection.js';
import { clusterRoleAggregationController } from './clusterrole-aggregation.js';
import { rootCaPublisherController } from './root-ca-publisher.js';
import { snapshotController } from './snapshot-controller.js';
import { clusterStorageController } from '../storage/cluster-storage.js';
import { dataVolumeController } from '../virt/cdi/datavolume-controller.js';
import { vmController } from '../virt/controllers/vm-controller.js';
import { vmiController } from '../virt/controllers/vmi-controller.js';
import { migrationController } from '../virt/controllers/migration-controller.js';
import { vmSnapshotController } from '../virt/snapshot/vm-snapshot-controller.js';
import { vmRestoreController } from '../virt/snapshot/vm-restore-controller.js';
import { vmVolumeSnapshotStatusController } from '../virt/snapshot/vm-volume-snapshot-status.js';
import { vmCloneController } from '../virt/clone/vm-clone-controller.js';

/** Every controller, in start order. */
export const CONTROLLERS: ControllerSpec[] = [namespaceController, garbageCollector, serviceAccountController, replicaSetController, deploymentController, daemonSetController, statefulSetController, jobController, cronJobController, nodeIpamController, nodeLifecycleController, podGcController, schedulerController, endpointsController, endpointSliceController, endpointSliceMirroringController, serviceLBController, resourceQuotaController, pvBinderController, pvcProtectionController, pvProtectionController, clusterRoleAggregationController, rootCaPublisherController, snapshotController, clusterStorageController, dataVolumeController, vmController, vmiController, migrationController, vmSnapshotController, vmRestoreController, vmCloneController, vmVolumeSnapshotStatusController];

export interface ControllerManagerOptions {
  settings?: Partial<ClusterSettings>;
  /** Hold the leader Lease before running (default true). */
  leaderElect?: boolean;
  identity?: string;
  leaseDurationMs?: number;
  retryPeriodMs?: number;
  /** Run only these controllers (tests). */
  only?: string[];
}

export interface ControllerManager {
  /** Controllers running now (empty while not leader). */
  running(): RunningController[];
  isLeader(): boolean;
  stop(): Promise<void>;
}

export function startControllerManager(client: Client, logger: Logger, opts: ControllerManagerOptions = {}): ControllerManager {
  const stopAll = new AbortController();
  // Every controller and informer listens for the stop signal.
  setMaxListeners(0, stopAll.signal);
  const settings = { ...defaultClusterSettings, ...opts.settings };
  let current: { controllers: RunningController[]; factory: SharedInformerFactory; done: Promise<void> } | undefined;
  const specs = CONTROLLERS.filter((c) => !opts.only || opts.only.includes(c.name));

  const lead = (signal: AbortSignal) => {
    setMaxListeners(0, signal);
    const factory = new SharedInformerFactory(client, { logger });
    const ctx = makeContext(client, factory, logger, signal, settings);
    const controllers = specs.flatMap((s) => {
      const r = s.start(ctx);
      return Array.isArray(r) ? r : [r];
    });
    factory.start();
    const done = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })).then(async () => {
      await Promise.all(controllers.map((c) => c.stop()));
      await factory.stop();
    });
    current = { controllers, factory, done };
  };

  let election: Promise<void>;
  if (opts.leaderElect === false) {
    lead(stopAll.signal);
    election = Promise.resolve();
  } else {
    election = runLeaderElection({
      client,
      namespace: 'kube-system',
      name: 'cairn-controller-manager',
      identity: opts.identity ?? `${hostname()}_${randomBytes(4).toString('hex')}`,
      leaseDurationMs: opts.leaseDurationMs,
      retryPeriodMs: opts.retryPeriodMs,
      logger,
      signal: stopAll.signal,
      onStartedLeading: lead,
      onStoppedLeading: () => {
        const c = current;
        current = undefined;
        void c?.done;
      },
    });
  }
  return {
    running: () => current?.controllers ?? [],
    isLeader: () => !!current,
    async stop() {
      const c = current;
      stopAll.abort();
      await election;
      await c?.done;
    },
  };
}
