/**
 * Endpoints controller (upstream pkg/controller/endpoint): for every Service with a selector, an
 * Endpoints object of the same name listing the selected pods' addresses — ready ones under
 * `addresses`, the others under `notReadyAddresses` (all ready with publishNotReadyAddresses) —
 * with each Service port's targetPort resolved per pod (named ports by the containers' port
 * names), grouped into subsets of identical port sets. Services without a selector are left
 * alone, so user-written Endpoints stay. Writes only when something changed.
 */
import { finalStateOf, isAlreadyExists, isConflict, isNotFound, objectKey, splitKey } from '../client/index.js';
import { deepEqual, type KubeObject } from '../util/object.js';
import { type ControllerSpec, simpleController } from './context.js';
import { PODS } from './util/nodes.js';
import {
  compareIPs,
  ENDPOINTS,
  enqueueServicesForPods,
  hasSelector,
  isPodReady,
  LABEL_HEADLESS,
  podIPs,
  podsSelectedBy,
  podSpec,
  type ResolvedPort,
  resolvePorts,
  SERVICES,
  serviceSpec,
  shouldPodBeInEndpoints,
  shouldSetHostname,
} from './util/service-endpoints.js';

/** Upstream caps an Endpoints object at 1000 addresses and marks it truncated. */
export const MAX_ENDPOINT_ADDRESSES = 1000;
export const OVER_CAPACITY_ANNOTATION = 'endpoints.kubernetes.io/over-capacity';
/** Marks Endpoints this controller maintains (upstream's endpoints.kubernetes.io/managed-by). */
export const LABEL_ENDPOINTS_MANAGED_BY = 'endpoints.kubernetes.io/managed-by';
export const ENDPOINTS_MANAGER = 'endpoint-controller';

export interface EndpointAddress {
  ip: string;
  hostname?: string;
  nodeName?: string;
  targetRef?: { kind: string; namespace?: string; name?: string; uid?: string };
}
export type EndpointPort = ResolvedPort;
export interface EndpointSubset {
  addresses?: EndpointAddress[];
  notReadyAddresses?: EndpointAddress[];
  ports?: EndpointPort[];
}

/** The subsets a Service's pods make (upstream syncService + RepackSubsets, in a canonical order). */
export function desiredSubsets(svc: KubeObject, pods: KubeObject[]): EndpointSubset[] {
  const spec = serviceSpec(svc);
  const tolerateUnready = !!spec.publishNotReadyAddresses;
  const groups = new Map<string, { ports: EndpointPort[]; ready: Map<string, EndpointAddress>; notReady: Map<string, EndpointAddress> }>();
  const add = (ports: EndpointPort[], addr: EndpointAddress, ready: boolean) => {
    const key = JSON.stringify(ports);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { ports, ready: new Map(), notReady: new Map() }));
    (ready ? g.ready : g.notReady).set(`${addr.ip}|${addr.targetRef?.uid ?? ''}`, addr);
  };
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, tolerateUnready)) continue;
    const ps = podSpec(pod);
    const addr: EndpointAddress = { ip: podIPs(pod)[0] };
    if (shouldSetHostname(pod, svc)) addr.hostname = ps.hostname;
    if (ps.nodeName) addr.nodeName = ps.nodeName;
    addr.targetRef = { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid };
    const ready = tolerateUnready || isPodReady(pod);
    const svcPorts = spec.ports ?? [];
    if (svcPorts.length === 0) {
      // A headless Service without ports still publishes addresses.
      if (spec.clusterIP === 'None') add([], addr, ready);
      continue;
    }
    // Upstream adds one subset per port; repacking merges the addresses with equal port sets.
    const ports = resolvePorts(pod, svcPorts);
    if (ports.length) add(sortPorts(ports), addr, ready);
  }
  const byAddr = (a: EndpointAddress, b: EndpointAddress) => compareIPs(a.ip, b.ip) || ((a.targetRef?.uid ?? '') < (b.targetRef?.uid ?? '') ? -1 : 1);
  const subsets: EndpointSubset[] = [];
  for (const g of [...groups.values()].sort((a, b) => (JSON.stringify(a.ports) < JSON.stringify(b.ports) ? -1 : 1))) {
    const ss: EndpointSubset = {};
    if (g.ready.size) ss.addresses = [...g.ready.values()].sort(byAddr);
    if (g.notReady.size) ss.notReadyAddresses = [...g.notReady.values()].sort(byAddr);
    if (g.ports.length) ss.ports = g.ports;
    subsets.push(ss);
  }
  return subsets;
}

const sortPorts = (ports: EndpointPort[]) =>
  [...ports].sort((a, b) => ((a.name ?? '') < (b.name ?? '') ? -1 : (a.name ?? '') > (b.name ?? '') ? 1 : a.port - b.port || (a.protocol < b.protocol ? -1 : 1)));

/** Keeps at most `max` addresses (ready first), as upstream's truncation does. */
function truncate(subsets: EndpointSubset[], max: number): { subsets: EndpointSubset[]; truncated: boolean } {
  const total = subsets.reduce((n, s) => n + (s.addresses?.length ?? 0) + (s.notReadyAddresses?.length ?? 0), 0);
  if (total <= max) return { subsets, truncated: false };
  let budget = max;
  const out = subsets.map((s) => ({ ...s }));
  for (const s of out) {
    s.addresses = s.addresses?.slice(0, Math.max(0, budget));
    budget -= s.addresses?.length ?? 0;
  }
  for (const s of out) {
    s.notReadyAddresses = s.notReadyAddresses?.slice(0, Math.max(0, budget));
    budget -= s.notReadyAddresses?.length ?? 0;
  }
  return { subsets: out.filter((s) => s.addresses?.length || s.notReadyAddresses?.length), truncated: true };
}

/** Labels an Endpoints object carries: the Service's, plus the headless marker. */
export function endpointsLabels(svc: KubeObject): Record<string, string> {
  const labels: Record<string, string> = { ...(svc.metadata.labels ?? {}), [LABEL_ENDPOINTS_MANAGED_BY]: ENDPOINTS_MANAGER };
  if (serviceSpec(svc).clusterIP === 'None') labels[LABEL_HEADLESS] = '';
  else delete labels[LABEL_HEADLESS];
  return labels;
}

/** Stored form of a subset (no undefined members, empty lists dropped) so comparisons are exact. */
const normalize = (subsets: unknown): unknown => JSON.parse(JSON.stringify(subsets ?? [])) as unknown;

export const endpointsController: ControllerSpec = {
  name: 'endpoints',
  start(ctx) {
    const services = ctx.informers.forResource<KubeObject>(SERVICES);
    const pods = ctx.informers.forResource<KubeObject>(PODS);
    const endpoints = ctx.informers.forResource<KubeObject>(ENDPOINTS);
    const client = ctx.client.resource(ENDPOINTS);

    const reconcile = async (key: string): Promise<{ requeueAfterMs?: number } | void> => {
      const { namespace, name } = splitKey(key);
      if (key === 'default/kubernetes') return; // the API server keeps these
      const svc = services.store.get(key);
      const current = endpoints.store.get(key);
      if (!svc) {
        // The Service is gone: so are the Endpoints this controller wrote for it (user-written ones stay).
        if (current && current.metadata.labels?.[LABEL_ENDPOINTS_MANAGED_BY] === ENDPOINTS_MANAGER) {
          try {
            await client.delete(name, { namespace, preconditions: { uid: current.metadata.uid } });
          } catch (e) {
            if (!isNotFound(e) && !isConflict(e)) throw e;
          }
        }
        return;
      }
      if (!hasSelector(svc) || svc.metadata.deletionTimestamp) return;
      const selected = podsSelectedBy(svc, pods);
      const { subsets, truncated } = truncate(desiredSubsets(svc, selected), MAX_ENDPOINT_ADDRESSES);
      const labels = endpointsLabels(svc);
      const wantSubsets = normalize(subsets);
      if (current) {
        const annotations = { ...(current.metadata.annotations ?? {}) };
        if (truncated) annotations[OVER_CAPACITY_ANNOTATION] = 'truncated';
        else delete annotations[OVER_CAPACITY_ANNOTATION];
        if (
          deepEqual(normalize((current as { subsets?: unknown }).subsets), wantSubsets) &&
          deepEqual(current.metadata.labels ?? {}, labels) &&
          deepEqual(current.metadata.annotations ?? {}, annotations)
        )
          return;
        const next = structuredClone(current) as KubeObject & { subsets?: unknown };
        next.metadata.labels = labels;
        next.metadata.annotations = annotations;
        if (Object.keys(annotations).length === 0) delete next.metadata.annotations;
        next.subsets = wantSubsets;
        await client.update(next);
        return;
      }
      const obj: KubeObject & { subsets?: unknown } = {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name, namespace, labels, ...(truncated ? { annotations: { [OVER_CAPACITY_ANNOTATION]: 'truncated' } } : {}) },
        subsets: wantSubsets,
      };
      try {
        await client.create(obj);
      } catch (e) {
        // The cache has not seen it yet: look again once it has.
        if (!isAlreadyExists(e)) throw e;
        return { requeueAfterMs: 100 };
      }
    };

    const { controller, queue } = simpleController(ctx, { name: 'endpoints', primary: services, secondary: [pods, endpoints], reconcile, workers: 4 });
    enqueueServicesForPods(pods, services, queue);
    // Someone changed or deleted the Endpoints: put them back as they should be.
    endpoints.addEventHandler({
      onAdd: (e, initial) => {
        if (!initial) queue.add(objectKey(e));
      },
      onUpdate: (_o, n) => queue.add(objectKey(n)),
      onDelete: (e) => queue.add(objectKey(finalStateOf(e))),
    });
    return controller;
  },
};
