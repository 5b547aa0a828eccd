// Services and EndpointSlices for the proxy's unit tests.
import type { KubeObject } from '../../src/util/object.js';

export function svc(name: string, spec: Record<string, unknown>, status: Record<string, unknown> = {}, namespace = 'default'): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace, creationTimestamp: '2024-01-01T00:00:00Z' }, spec, status } as KubeObject;
}

export interface Ep {
  ip: string;
  node?: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

export function slice(service: string, eps: Ep[], ports: { name?: string; port: number; protocol?: string }[], opts: { name?: string; namespace?: string; addressType?: string } = {}): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: opts.name ?? `${service}-abcde`, namespace: opts.namespace ?? 'default', labels: { 'kubernetes.io/service-name': service } },
    addressType: opts.addressType ?? 'IPv4',
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      ...(e.node ? { nodeName: e.node } : {}),
      conditions: { ready: e.ready ?? true, ...(e.serving !== undefined ? { serving: e.serving } : {}), ...(e.terminating !== undefined ? { terminating: e.terminating } : {}) },
    })),
    ports,
  } as unknown as KubeObject;
}

/** default/web: 10.96.0.20:80 (http) → 8080, node port 30080, LB IP 172.20.0.230. */
export const WEB = svc(
  'web',
  { type: 'LoadBalancer', clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20'], externalTrafficPolicy: 'Cluster', internalTrafficPolicy: 'Cluster', ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP', nodePort: 30080 }] },
  { loadBalancer: { ingress: [{ ip: '172.20.0.230', ipMode: 'VIP' }] } },
);
export const WEB_SLICE = slice('web', [{ ip: '10.244.2.7', node: 'node-2' }, { ip: '10.244.1.5', node: 'node-1' }], [{ name: 'http', port: 8080, protocol: 'TCP' }]);
export const CFG = { clusterCidr: '10.244.0.0/16', nodeIPs: ['172.20.0.11'] };
