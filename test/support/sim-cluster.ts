/**
 * A test cluster with simulated nodes: a real server (in-process) running the controllers and
 * scheduler, plus a simulator with short delays; helpers to create pods and wait on them.
 */
import { Client, InProcessTransport, type ResourceRef } from '../../src/client/index.js';
import type { ClusterSettings } from '../../src/controllers/context.js';
import { type AddNodesOptions, Simulator, type SimulatorOptions } from '../../src/sim/simulator.js';
import type { KubeObject } from '../../src/util/object.js';
import { startTestServer, type TestServer } from './server.js';

export const ADMIN = { name: 'test-admin', groups: ['system:masters', 'system:authenticated'] };
export const PODS: ResourceRef = { group: '', version: 'v1', plural: 'pods', namespaced: true, kind: 'Pod' };
export const NODES: ResourceRef = { group: '', version: 'v1', plural: 'nodes', namespaced: false, kind: 'Node' };
export const EVENTS: ResourceRef = { group: '', version: 'v1', plural: 'events', namespaced: true, kind: 'Event' };
export const LEASES: ResourceRef = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespaced: true, kind: 'Lease' };
export const NAMESPACES: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', namespaced: false, kind: 'Namespace' };

export interface SimCluster {
  server: TestServer;
  client: Client;
  sim: Simulator;
  stop(): Promise<void>;
}

export async function startSimCluster(o: { settings?: Partial<ClusterSettings>; sim?: SimulatorOptions; nodes?: number; shape?: AddNodesOptions } = {}): Promise<SimCluster> {
  const server = await startTestServer({
    server: {
      controllerOptions: {
        settings: { schedulerInitialBackoffMs: 100, schedulerMaxBackoffMs: 500, ...o.settings },
      },
    },
  });
  const client = new Client(new InProcessTransport(server.handler, ADMIN));
  const sim = new Simulator(client, { podStartDelayMs: 100, podTerminateDelayMs: 100, ...o.sim });
  await sim.start();
  if (o.nodes) await sim.addNodes(o.nodes, o.shape);
  return {
    server,
    client,
    sim,
    async stop() {
      await sim.stop();
      await server.stop();
    },
  };
}

export async function until<T>(what: string, cond: () => Promise<T | undefined | false> | T | undefined | false, ms = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

let seq = 0;
export function pod(name: string, extra: { labels?: Record<string, string>; annotations?: Record<string, string>; spec?: Record<string, unknown>; cpu?: string; memory?: string; ports?: unknown[]; ns?: string } = {}): KubeObject {
  const requests: Record<string, string> = {};
  if (extra.cpu) requests.cpu = extra.cpu;
  if (extra.memory) requests.memory = extra.memory;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: extra.ns ?? 'default', labels: extra.labels, annotations: extra.annotations },
    spec: {
      containers: [{ name: 'c', image: `registry.example/app:${++seq % 3}`, resources: Object.keys(requests).length ? { requests } : undefined, ports: extra.ports }],
      ...extra.spec,
    },
  } as KubeObject;
}

export const nodeNameOf = (p: KubeObject) => (p.spec as { nodeName?: string }).nodeName ?? '';
export const conditionOf = (o: KubeObject, type: string) => ((o.status as { conditions?: { type: string; status: string; reason?: string; message?: string }[] })?.conditions ?? []).find((c) => c.type === type);

export async function waitBound(client: Client, name: string, ns = 'default'): Promise<KubeObject> {
  return until(`pod ${name} bound`, async () => {
    const p = await client.resource(PODS).get(name, ns);
    return nodeNameOf(p) ? p : undefined;
  });
}

export async function waitUnschedulable(client: Client, name: string, ns = 'default'): Promise<string> {
  return until(`pod ${name} unschedulable`, async () => {
    const p = await client.resource(PODS).get(name, ns);
    const c = conditionOf(p, 'PodScheduled');
    return c?.status === 'False' && c.reason === 'Unschedulable' ? c.message! : undefined;
  });
}

export async function eventsFor(client: Client, name: string, reason: string, ns = 'default'): Promise<KubeObject[]> {
  const list = await client.resource(EVENTS).list({ namespace: ns });
  return list.items.filter((e) => (e as unknown as { involvedObject: { name: string }; reason: string }).involvedObject.name === name && (e as unknown as { reason: string }).reason === reason);
}
