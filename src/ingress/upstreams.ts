/**
 * Ingress backends → nginx upstreams, as ingress-nginx builds them: the ready endpoints of the
 * Service port taken from its EndpointSlices (pod IP : target port, not the ClusterIP, so nginx
 * balances over pods itself and keeps connections to them alive). A backend that cannot be
 * served answers 503: a missing Service, port or unsupported backend with a warning for the
 * Ingress, a Service without ready endpoints without one (it is a normal, passing state).
 */
import { LABEL_SERVICE_NAME, serviceSpec } from '../controllers/util/service-endpoints.js';
import type { KubeObject } from '../util/object.js';
import { type EndpointSlice, type IngressBackend, keyOf } from './ingress-api.js';

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

export interface Upstream {
  /** `<namespace>_<service>_<port>`: `_` is in no DNS label, so names cannot collide. */
  name: string;
  /** `ip:port`, sorted. */
  servers: string[];
}

export type BackendAction = { upstream: string } | { status: number };

export interface BackendProblem {
  reason: 'ServiceNotFound' | 'ServicePortNotFound' | 'UnsupportedBackend';
  message: string;
}

export interface ServiceSource {
  service(namespace: string, name: string): KubeObject | undefined;
  /** The EndpointSlices labelled kubernetes.io/service-name=<name> in the namespace. */
  endpointSlices(namespace: string, service: string): EndpointSlice[];
}

export class UpstreamSet {
  private readonly upstreams = new Map<string, Upstream>();
  /** Every Service a backend named (found or not): a change to one of them means a new sync. */
  readonly services = new Set<string>();

  constructor(private readonly source: ServiceSource) {}

  /** The upstreams with endpoints (nginx has no empty upstream; the others answer 503 in place). */
  list(): Upstream[] {
    return [...this.upstreams.values()].filter((u) => u.servers.length).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  resolve(namespace: string, backend: IngressBackend): { action: BackendAction; problem?: BackendProblem } {
    const ref = backend.service;
    if (!ref?.name) {
      const what = backend.resource ? `resource backend ${backend.resource.kind ?? ''}/${backend.resource.name ?? ''}` : 'backend without a service';
      return { action: { status: 503 }, problem: { reason: 'UnsupportedBackend', message: `${what} is not supported: answering 503` } };
    }
    this.services.add(keyOf(namespace, ref.name));
    const svc = this.source.service(namespace, ref.name);
    if (!svc) return { action: { status: 503 }, problem: { reason: 'ServiceNotFound', message: `Service ${namespace}/${ref.name} not found: answering 503` } };
    const spec = serviceSpec(svc);
    if (spec.type === 'ExternalName')
      return { action: { status: 503 }, problem: { reason: 'UnsupportedBackend', message: `Service ${namespace}/${ref.name} is of type ExternalName, which this controller does not proxy: answering 503` } };
    const wanted = ref.port?.name ?? ref.port?.number;
    const port = (spec.ports ?? []).find((p) => (ref.port?.name ? p.name === ref.port.name : p.port === ref.port?.number));
    if (!port)
      return { action: { status: 503 }, problem: { reason: 'ServicePortNotFound', message: `Service ${namespace}/${ref.name} has no port ${wanted ?? '<unset>'}: answering 503` } };
    const name = `${namespace}_${ref.name}_${port.port}`;
    let up = this.upstreams.get(name);
    if (!up) {
      up = { name, servers: this.endpoints(namespace, ref.name, port.name ?? '') };
      this.upstreams.set(name, up);
    }
    return { action: up.servers.length ? { upstream: name } : { status: 503 } };
  }

  /** Ready endpoints of the Service port named `portName` (the slices name ports after the Service's). */
  private endpoints(namespace: string, service: string, portName: string): string[] {
    const out = new Set<string>();
    for (const slice of this.source.endpointSlices(namespace, service)) {
      if (slice.metadata.labels?.[LABEL_SERVICE_NAME] !== service) continue;
      if (slice.addressType && slice.addressType !== 'IPv4') continue;
      const port = (slice.ports ?? []).find((p) => (p.name ?? '') === portName && (p.protocol ?? 'TCP') === 'TCP');
      if (!port?.port) continue;
      for (const ep of slice.endpoints ?? []) {
        // Ready unset means unknown, which consumers treat as ready (discovery/v1).
        if (ep.conditions?.ready === false) continue;
        for (const ip of ep.addresses ?? []) if (IPV4.test(ip)) out.add(`${ip}:${port.port}`);
      }
    }
    return [...out].sort();
  }
}
