/**
 * A cluster for workload controller tests: a real test server (its controllers running), an
 * admin client, simulated nodes playing kubelet (fast start/terminate delays) and the scheduler
 * (started here only when the controller manager does not already run it).
 */
import { Client, SharedInformerFactory, silentLogger, type ResourceRef, type RunningController } from '../../src/client/index.js';
import { makeContext, defaultClusterSettings } from '../../src/controllers/context.js';
import { CONTROLLERS } from '../../src/controllers/manager.js';
import { schedulerController } from '../../src/scheduler/scheduler.js';
import { Simulator, type AddNodesOptions } from '../../src/sim/simulator.js';
import type { KubeObject } from '../../src/util/object.js';
import { startTestServer, type TestServer } from './server.js';
import { adminClient, createNamespace, EVENTS, until } from './workloads.js';

export interface WorkloadCluster {
  server: TestServer;
  client: Client;
  sim: Simulator;
  stop(): Promise<void>;
}

export async function startWorkloadCluster(opts: { podStartDelayMs?: number; podTerminateDelayMs?: number } = {}): Promise<WorkloadCluster> {
  const server = await startTestServer();
  const client = adminClient(server);
  const sim = new Simulator(client, { podStartDelayMs: opts.podStartDelayMs ?? 150, podTerminateDelayMs: opts.podTerminateDelayMs ?? 150 });
  await sim.start();
  let scheduler: RunningController | undefined;
  let factory: SharedInformerFactory | undefined;
  const ac = new AbortController();
  if (!CONTROLLERS.some((c) => c.name === schedulerController.name)) {
    factory = new SharedInformerFactory(client, { logger: silentLogger });
    const ctx = makeContext(client, factory, silentLogger, ac.signal, defaultClusterSettings);
    const r = schedulerController.start(ctx);
    scheduler = Array.isArray(r) ? r[0] : r;
    factory.start();
  }
  return {
    server,
    client,
    sim,
    async stop() {
      ac.abort();
      await scheduler?.stop();
      await factory?.stop();
      await sim.stop();
      await server.stop();
    },
  };
}

export async function addNodes(c: WorkloadCluster, count: number, opts: AddNodesOptions = {}): Promise<string[]> {
  return c.sim.addNodes(count, opts);
}

export async function namespace(c: WorkloadCluster, name: string): Promise<string> {
  await createNamespace(c.client, name);
  return name;
}

/** Events about one object, as `reason: message` lines. */
export async function eventsFor(client: Client, ns: string, name: string): Promise<string[]> {
  const list = await client.resource(EVENTS).list({ namespace: ns });
  return list.items
    .filter((e) => (e as { involvedObject?: { name?: string } }).involvedObject?.name === name)
    .map((e) => `${(e as { reason?: string }).reason}: ${(e as { message?: string }).message}`);
}

export async function waitForEvent(client: Client, ns: string, name: string, match: string | RegExp, ms = 20_000): Promise<void> {
  await until(`event ${String(match)} on ${name}`, async () => (await eventsFor(client, ns, name)).some((l) => (typeof match === 'string' ? l === match || l.includes(match) : match.test(l))), ms, 100);
}

export async function listIn(client: Client, ref: ResourceRef, ns: string, labelSelector?: string): Promise<KubeObject[]> {
  return (await client.resource(ref).list({ namespace: ns, labelSelector })).items;
}

export const container = (name = 'app', image = 'registry.example/app:1') => ({ name, image });
