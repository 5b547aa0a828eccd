/**
 * Runs the control loops as clients of the API: informers shared through one factory, one work
 * queue and reconcile loop per controller. Inside `cairn server` the transport is in-process;
 * the same code runs against a remote server over HTTPS.
 */
import { Client, type RunningController, runController, SharedInformerFactory, WorkQueue } from '../client/index.js';
import type { Logger as ClientLogger } from '../client/log.js';
import type { KubeObject } from '../util/object.js';
import { namespaceReconciler, NAMESPACES } from './namespace.js';

export interface ControllerManager {
  controllers: RunningController[];
  stop(): Promise<void>;
}

export function startControllers(client: Client, logger: ClientLogger): ControllerManager {
  const abort = new AbortController();
  const factory = new SharedInformerFactory(client, { logger });
  const controllers: RunningController[] = [];

  const nsInformer = factory.forResource<KubeObject>(NAMESPACES);
  const nsQueue = new WorkQueue<string>({ name: 'namespace' });
  nsInformer.addEventHandler({
    onAdd: (o) => nsQueue.add(o.metadata.name!),
    onUpdate: (_old, o) => nsQueue.add(o.metadata.name!),
  });
  controllers.push(
    runController({ name: 'namespace', queue: nsQueue, reconcile: namespaceReconciler(client, nsInformer), informers: [nsInformer], workers: 2, signal: abort.signal, logger }),
  );

  factory.start();
  return {
    controllers,
    async stop() {
      abort.abort();
      await Promise.all(controllers.map((c) => c.stop()));
      await factory.stop();
    },
  };
}
