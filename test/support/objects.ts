/**
 * Helpers for controller tests against a real test server through the in-process client:
 * namespaces, pods whose status the test sets (IP, readiness) as a kubelet would, polling, and
 * the Status of a refused call.
 */
import assert from 'node:assert/strict';
import { SYSTEM_USER } from '../../src/api/bootstrap.js';
import { Client, InProcessTransport, isConflict, type ResourceRef, type Status, StatusError } from '../../src/client/index.js';
import type { KubeObject } from '../../src/util/object.js';
import type { TestServer } from './server.js';

export const R = {
  namespaces: { group: '', version: 'v1', plural: 'namespaces', namespaced: false, kind: 'Namespace' },
  pods: { group: '', version: 'v1', plural: 'pods', namespaced: true, kind: 'Pod' },
  services: { group: '', version: 'v1', plural: 'services', namespaced: true, kind: 'Service' },
  endpoints: { group: '', version: 'v1', plural: 'endpoints', namespaced: true, kind: 'Endpoints' },
  endpointslices: { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', namespaced: true, kind: 'EndpointSlice' },
  events: { group: '', version: 'v1', plural: 'events', namespaced: true, kind: 'Event' },
  configmaps: { group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap' },
  secrets: { group: '', version: 'v1', plural: 'secrets', namespaced: true, kind: 'Secret' },
  resourcequotas: { group: '', version: 'v1', plural: 'resourcequotas', namespaced: true, kind: 'ResourceQuota' },
  limitranges: { group: '', version: 'v1', plural: 'limitranges', namespaced: true, kind: 'LimitRange' },
  pvs: { group: '', version: 'v1', plural: 'persistentvolumes', namespaced: false, kind: 'PersistentVolume' },
  pvcs: { group: '', version: 'v1', plural: 'persistentvolumeclaims', namespaced: true, kind: 'PersistentVolumeClaim' },
  storageclasses: { group: 'storage.k8s.io', version: 'v1', plural: 'storageclasses', namespaced: false, kind: 'StorageClass' },
  deployments: { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true, kind: 'Deployment' },
} satisfies Record<string, ResourceRef>;

export const adminClient = (s: TestServer) => new Client(new InProcessTransport(s.handler, SYSTEM_USER));

export async function createNamespace(c: Client, name: string): Promise<void> {
  await c.resource(R.namespaces).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The Status a refused call carried; asserts the call failed with `code`. */
export async function refused(p: Promise<unknown>, code: number): Promise<Status> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof StatusError, `expected a StatusError, got ${String(e)}`);
    assert.equal(e.status.code, code, JSON.stringify(e.status));
    return e.status;
  }
  assert.fail(`expected the call to fail with ${code}`);
}

export interface PodOptions {
  labels?: Record<string, string>;
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  nodeName?: string;
  hostname?: string;
  subdomain?: string;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumes?: unknown[];
  restartPolicy?: string;
}

export function podObject(ns: string, name: string, o: PodOptions = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: o.labels },
    spec: {
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
      ...(o.hostname ? { hostname: o.hostname } : {}),
      ...(o.subdomain ? { subdomain: o.subdomain } : {}),
      ...(o.restartPolicy ? { restartPolicy: o.restartPolicy } : {}),
      ...(o.volumes ? { volumes: o.volumes } : {}),
      containers: [{ name: 'c', image: 'busybox', ...(o.ports ? { ports: o.ports } : {}), ...(o.resources ? { resources: o.resources } : {}) }],
    },
  };
}

/**
 * Sets the pod's IP, phase Running and Ready condition, as a kubelet reports them — retrying on
 * a conflict, as a kubelet does (the scheduler may be writing the pod's conditions meanwhile).
 */
export async function setPodStatus(c: Client, pod: KubeObject, ip: string, ready: boolean, phase = 'Running'): Promise<KubeObject> {
  for (let attempt = 0; ; attempt++) {
    const cur = await c.resource(R.pods).get(pod.metadata.name!, pod.metadata.namespace);
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    try {
      return await c.resource(R.pods).updateStatus({
        ...cur,
        status: {
          phase,
          podIP: ip,
          podIPs: [{ ip }],
          conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: now }],
        },
      });
    } catch (e) {
      if (!isConflict(e) || attempt >= 10) throw e;
    }
  }
}

/** Events about an object, by reason. */
export async function eventsFor(c: Client, ns: string, name: string): Promise<{ reason: string; message: string; type: string }[]> {
  const list = await c.resource(R.events).list({ namespace: ns });
  return list.items
    .filter((e) => (e as { involvedObject?: { name?: string } }).involvedObject?.name === name)
    .map((e) => e as unknown as { reason: string; message: string; type: string });
}
