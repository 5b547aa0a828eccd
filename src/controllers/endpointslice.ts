/**
 * EndpointSlice controllers (upstream pkg/controller/endpointslice and endpointslicemirroring):
 *
 * - `endpointslice`: for every Service with a selector, discovery.k8s.io/v1 EndpointSlices of its
 *   pods, grouped by address type and resolved port set, at most 100 endpoints per slice, each
 *   endpoint with ready/serving/terminating conditions, targetRef, nodeName and hostname. Slices
 *   are labelled kubernetes.io/service-name and endpointslice.kubernetes.io/managed-by=
 *   endpointslice-controller.k8s.io and owned by the Service. A Service without endpoints keeps
 *   one empty placeholder slice, as upstream.
 * - `endpointslicemirroring`: for a Service without a selector, the user-written Endpoints are
 *   mirrored into slices managed by endpointslicemirroring-controller.k8s.io (not for Endpoints
 *   labelled endpointslice.kubernetes.io/skip-mirror, such as the API server's `kubernetes`).
 *
 * Existing slices are reused so endpoints move as little as possible; only changed slices are
 * written. Slices the controller wrote are expected in the cache before it acts on that Service
 * again, so a lagging cache never creates duplicates.
 */
import { finalStateOf, type Informer, isAlreadyExists, isConflict, isNotFound, type ResourceClient, splitKey } from '../client/index.js';
import { isIPv6 } from '../registry/validation.js';
import { deepEqual, type KubeObject } from '../util/object.js';
import { type ControllerContext, type ControllerSpec, simpleController } from './context.js';
import { PODS } from './util/nodes.js';
import {
  compareIPs,
  ENDPOINT_SLICES,
  ENDPOINTS,
  enqueueServicesForPods,
  hasSelector,
  isPodReady,
  LABEL_HEADLESS,
  LABEL_MANAGED_BY,
  LABEL_SERVICE_NAME,
  LABEL_SKIP_MIRROR,
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

export const MAX_ENDPOINTS_PER_SLICE = 100;
export const SLICE_CONTROLLER = 'endpointslice-controller.k8s.io';
export const MIRRORING_CONTROLLER = 'endpointslicemirroring-controller.k8s.io';

export type SlicePort = ResolvedPort;
export interface SliceEndpoint {
  addresses: string[];
  conditions: { ready?: boolean; serving?: boolean; terminating?: boolean };
  hostname?: string;
  nodeName?: string;
  targetRef?: { kind: string; namespace?: string; name?: string; uid?: string };
}
interface EndpointSlice extends KubeObject {
  addressType: string;
  endpoints?: SliceEndpoint[] | null;
  ports?: SlicePort[] | null;
}
/** Endpoints that share an address type and port set, so they can share slices. */
export interface SliceGroup {
  addressType: string;
  ports: SlicePort[];
  endpoints: SliceEndpoint[];
}

const groupKey = (addressType: string, ports: SlicePort[] | null | undefined) => `${addressType}|${JSON.stringify(canonPorts(ports ?? []))}`;
const canonPorts = (ports: SlicePort[]) =>
  ports
    .map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP', appProtocol: p.appProtocol ?? '' }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.port - b.port));
const endpointId = (e: SliceEndpoint) => `${e.addresses[0]}|${e.targetRef?.uid ?? ''}`;
/** Stored form (no undefined members) so comparisons with the cache are exact. */
const canon = <T>(v: T): T => JSON.parse(JSON.stringify(v ?? null)) as T;

/** The slice groups a Service's pods make (upstream's reconciler input: desired endpoints by port set). */
export function desiredSliceGroups(svc: KubeObject, pods: KubeObject[]): SliceGroup[] {
  const spec = serviceSpec(svc);
  const families = ((svc.spec as { ipFamilies?: string[] } | undefined)?.ipFamilies ?? ['IPv4']).filter((f) => f === 'IPv4' || f === 'IPv6');
  const groups = new Map<string, SliceGroup>();
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, true)) continue;
    const ps = podSpec(pod);
    const serving = !!spec.publishNotReadyAddresses || isPodReady(pod);
    const terminating = !!pod.metadata.deletionTimestamp;
    // For compatibility "ready" is never true for a terminating pod, unless publishNotReadyAddresses.
    const ready = !!spec.publishNotReadyAddresses || (serving && !terminating);
    const ports: SlicePort[] = resolvePorts(pod, spec.ports ?? []);
    if ((spec.ports ?? []).length > 0 && ports.length === 0) continue;
    for (const family of families.length ? families : ['IPv4']) {
      const ip = podIPs(pod).find((a) => (family === 'IPv6') === isIPv6(a));
      if (!ip) continue;
      const ep: SliceEndpoint = {
        addresses: [ip],
        conditions: { ready, serving, terminating },
        targetRef: { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid },
      };
      if (ps.nodeName) ep.nodeName = ps.nodeName;
      if (shouldSetHostname(pod, svc)) ep.hostname = ps.hostname;
      const key = groupKey(family, ports);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { addressType: family, ports: canonPorts(ports).map(stripEmpty), endpoints: [] }));
      g.endpoints.push(ep);
    }
  }
  return [...groups.values()];
}

const stripEmpty = (p: { name: string; port: number; protocol: string; appProtocol: string }): SlicePort => {
  const out: SlicePort = { port: p.port, protocol: p.protocol };
  if (p.name) out.name = p.name;
  if (p.appProtocol) out.appProtocol = p.appProtocol;
  return out;
};

/** The slice groups mirrored from user-written Endpoints (upstream endpointslicemirroring). */
export function mirroredSliceGroups(ep: KubeObject): SliceGroup[] {
  const groups = new Map<string, SliceGroup>();
  type Addr = { ip?: string; hostname?: string; nodeName?: string; targetRef?: SliceEndpoint['targetRef'] };
  const subsets = (ep as { subsets?: { addresses?: Addr[]; notReadyAddresses?: Addr[]; ports?: SlicePort[] }[] }).subsets ?? [];
  for (const ss of subsets) {
    const ports = canonPorts(ss.ports ?? []).map(stripEmpty);
    const add = (a: Addr, ready: boolean) => {
      if (!a.ip) return;
      const family = isIPv6(a.ip) ? 'IPv6' : 'IPv4';
      const e: SliceEndpoint = { addresses: [a.ip], conditions: { ready } };
      if (a.hostname) e.hostname = a.hostname;
      if (a.nodeName) e.nodeName = a.nodeName;
      if (a.targetRef) e.targetRef = { ...a.targetRef };
      const key = groupKey(family, ports);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { addressType: family, ports, endpoints: [] }));
      if (!g.endpoints.some((x) => endpointId(x) === endpointId(e))) g.endpoints.push(e);
    };
    for (const a of ss.addresses ?? []) add(a, true);
    for (const a of ss.notReadyAddresses ?? []) add(a, false);
  }
  return [...groups.values()];
}

interface SliceWrite {
  create: EndpointSlice[];
  update: EndpointSlice[];
  delete: EndpointSlice[];
}

/**
 * Plans slice writes: existing slices of a group keep the endpoints they hold that are still
 * wanted (in their new form), new endpoints fill slices with room and then new slices; empty
 * slices go, except one placeholder when there are no endpoints at all.
 */
export function planSlices(
  existing: EndpointSlice[],
  groups: SliceGroup[],
  meta: { namespace: string; generateName: string; labels: Record<string, string>; ownerReferences: KubeObject['metadata']['ownerReferences'] },
  max = MAX_ENDPOINTS_PER_SLICE,
): SliceWrite {
  const plan: SliceWrite = { create: [], update: [], delete: [] };
  const byKey = new Map<string, EndpointSlice[]>();
  for (const s of [...existing].sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1))) {
    const k = groupKey(s.addressType, s.ports);
    byKey.set(k, [...(byKey.get(k) ?? []), s]);
  }
  const fresh = (g: { addressType: string; ports: SlicePort[] }, endpoints: SliceEndpoint[]): EndpointSlice => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { generateName: meta.generateName, namespace: meta.namespace, labels: { ...meta.labels }, ownerReferences: meta.ownerReferences },
    addressType: g.addressType,
    endpoints,
    ports: g.ports,
  });
  const kept: EndpointSlice[] = [];
  const finish = (s: EndpointSlice, endpoints: SliceEndpoint[], ports: SlicePort[]) => {
    const next = structuredClone(s) as EndpointSlice;
    next.endpoints = endpoints;
    next.ports = ports;
    next.metadata.labels = { ...meta.labels };
    if (meta.ownerReferences) next.metadata.ownerReferences = meta.ownerReferences;
    const changed =
      !deepEqual(canon(s.endpoints ?? []), canon(endpoints)) || !deepEqual(canon(s.ports ?? []), canon(ports)) || !deepEqual(s.metadata.labels ?? {}, meta.labels) ||
      !deepEqual(canon(s.metadata.ownerReferences ?? []), canon(meta.ownerReferences ?? []));
    if (changed) plan.update.push(next);
    kept.push(next);
  };
  for (const g of groups) {
    const k = groupKey(g.addressType, g.ports);
    const want = new Map(g.endpoints.map((e) => [endpointId(e), e]));
    const slices = byKey.get(k) ?? [];
    byKey.delete(k);
    const contents: { slice: EndpointSlice; eps: SliceEndpoint[] }[] = [];
    for (const s of slices) {
      const eps: SliceEndpoint[] = [];
      for (const e of s.endpoints ?? []) {
        const id = endpointId(e);
        const w = want.get(id);
        if (w && eps.length < max) {
          eps.push(w);
          want.delete(id);
        }
      }
      contents.push({ slice: s, eps });
    }
    const rest = [...want.values()].sort((a, b) => compareIPs(a.addresses[0], b.addresses[0]));
    for (const c of contents) while (c.eps.length < max && rest.length) c.eps.push(rest.shift()!);
    for (const c of contents) {
      if (c.eps.length === 0) plan.delete.push(c.slice);
      else finish(c.slice, c.eps, g.ports);
    }
    while (rest.length) {
      const s = fresh(g, rest.splice(0, max));
      plan.create.push(s);
      kept.push(s);
    }
  }
  for (const slices of byKey.values()) plan.delete.push(...slices);
  if (kept.length === 0) {
    // No endpoints: one empty placeholder slice stands for the Service.
    const placeholder = plan.delete.find((s) => (s.endpoints ?? []).length === 0 && (s.ports ?? []).length === 0 && s.addressType === 'IPv4');
    if (placeholder) {
      plan.delete = plan.delete.filter((s) => s !== placeholder);
      finish(placeholder, [], []);
    } else plan.create.push(fresh({ addressType: 'IPv4', ports: [] }, []));
  }
  return plan;
}

/** Slices written but not yet seen by the informer, per owner key (upstream's endpointSliceTracker). */
class SliceTracker {
  private readonly pending = new Map<string, { at: number; names: Map<string, number | null> }>();
  constructor(private readonly informer: Informer<KubeObject>) {}

  expect(owner: string, name: string, rv: string | null) {
    let e = this.pending.get(owner);
    if (!e) this.pending.set(owner, (e = { at: Date.now(), names: new Map() }));
    e.at = Date.now();
    e.names.set(name, rv === null ? null : Number(rv));
  }

  satisfied(owner: string, namespace: string): boolean {
    const e = this.pending.get(owner);
    if (!e) return true;
    if (Date.now() - e.at > 10_000) {
      this.pending.delete(owner);
      return true;
    }
    for (const [name, rv] of e.names) {
      const seen = this.informer.store.get(`${namespace}/${name}`);
      if (rv === null ? seen : !seen || Number(seen.metadata.resourceVersion) < rv) return false;
    }
    this.pending.delete(owner);
    return true;
  }
}

async function applyPlan(rc: ResourceClient<EndpointSlice>, plan: SliceWrite, tracker: SliceTracker, owner: string): Promise<void> {
  for (const s of plan.delete) {
    try {
      await rc.delete(s.metadata.name!, { namespace: s.metadata.namespace, preconditions: { uid: s.metadata.uid } });
    } catch (e) {
      if (!isNotFound(e) && !isConflict(e)) throw e;
    }
    tracker.expect(owner, s.metadata.name!, null);
  }
  for (const s of plan.update) {
    const out = await rc.update(s);
    tracker.expect(owner, out.metadata.name!, out.metadata.resourceVersion!);
  }
  for (const s of plan.create) {
    try {
      const out = await rc.create(s);
      tracker.expect(owner, out.metadata.name!, out.metadata.resourceVersion!);
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  }
}

function sliceIndexes(slices: Informer<KubeObject>) {
  if (!slices.hasIndexer('endpointslice-service'))
    slices.addIndexers({
      'endpointslice-service': (s) => {
        const svc = s.metadata.labels?.[LABEL_SERVICE_NAME];
        const by = s.metadata.labels?.[LABEL_MANAGED_BY];
        return svc && by ? [`${by}|${s.metadata.namespace}/${svc}`] : [];
      },
    });
}

const slicesOf = (slices: Informer<KubeObject>, manager: string, key: string) => slices.store.byIndex('endpointslice-service', `${manager}|${key}`) as EndpointSlice[];

function sliceLabels(base: Record<string, string> | undefined, svc: KubeObject | undefined, serviceName: string, manager: string): Record<string, string> {
  const labels: Record<string, string> = { ...(base ?? {}) };
  delete labels[LABEL_SKIP_MIRROR];
  if (svc && serviceSpec(svc).clusterIP === 'None') labels[LABEL_HEADLESS] = '';
  else delete labels[LABEL_HEADLESS];
  labels[LABEL_SERVICE_NAME] = serviceName;
  labels[LABEL_MANAGED_BY] = manager;
  return labels;
}

async function deleteAll(rc: ResourceClient<EndpointSlice>, slices: EndpointSlice[], tracker: SliceTracker, owner: string) {
  await applyPlan(rc, { create: [], update: [], delete: slices }, tracker, owner);
}

/** What both slice controllers write with: the (indexed) slice informer, a client, and the tracker of their own writes. */
function sliceWriter(ctx: ControllerContext): { slices: Informer<KubeObject>; rc: ResourceClient<EndpointSlice>; tracker: SliceTracker } {
  const slices = ctx.informers.forResource<KubeObject>(ENDPOINT_SLICES);
  sliceIndexes(slices);
  return { slices, rc: ctx.client.resource<EndpointSlice>(ENDPOINT_SLICES), tracker: new SliceTracker(slices) };
}

export const endpointSliceController: ControllerSpec = {
  name: 'endpointslice',
  start(ctx: ControllerContext) {
    const services = ctx.informers.forResource<KubeObject>(SERVICES);
    const pods = ctx.informers.forResource<KubeObject>(PODS);
    const { slices, rc, tracker } = sliceWriter(ctx);

    const reconcile = async (key: string): Promise<{ requeueAfterMs?: number } | void> => {
      const { namespace, name } = splitKey(key);
      if (!tracker.satisfied(key, namespace!)) return { requeueAfterMs: 200 };
      const svc = services.store.get(key);
      const existing = slicesOf(slices, SLICE_CONTROLLER, key);
      if (!svc || !hasSelector(svc) || svc.metadata.deletionTimestamp) {
        // Gone, or now selector-less (the mirroring controller takes over): our slices go.
        if (existing.length) await deleteAll(rc, existing, tracker, key);
        return;
      }
      const selected = podsSelectedBy(svc, pods);
      const plan = planSlices(existing, desiredSliceGroups(svc, selected), {
        namespace: namespace!,
        generateName: `${name.slice(0, 57)}-`,
        labels: sliceLabels(svc.metadata.labels, svc, name, SLICE_CONTROLLER),
        ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name, uid: svc.metadata.uid!, controller: true, blockOwnerDeletion: true }],
      });
      await applyPlan(rc, plan, tracker, key);
    };

    const { controller, queue } = simpleController(ctx, { name: 'endpointslice', primary: services, secondary: [pods, slices], reconcile, workers: 4 });
    enqueueServicesForPods(pods, services, queue);
    const enqueueSlice = (s: KubeObject) => {
      if (s.metadata.labels?.[LABEL_MANAGED_BY] !== SLICE_CONTROLLER) return;
      const svc = s.metadata.labels?.[LABEL_SERVICE_NAME];
      if (svc) queue.add(`${s.metadata.namespace}/${svc}`);
    };
    slices.addEventHandler({
      onAdd: (s, initial) => {
        if (!initial) enqueueSlice(s);
      },
      onUpdate: (_o, n) => enqueueSlice(n),
      onDelete: (s) => enqueueSlice(finalStateOf(s)),
    });
    return controller;
  },
};

export const endpointSliceMirroringController: ControllerSpec = {
  name: 'endpointslicemirroring',
  start(ctx: ControllerContext) {
    const services = ctx.informers.forResource<KubeObject>(SERVICES);
    const endpoints = ctx.informers.forResource<KubeObject>(ENDPOINTS);
    const { slices, rc, tracker } = sliceWriter(ctx);

    const reconcile = async (key: string): Promise<{ requeueAfterMs?: number } | void> => {
      const { namespace, name } = splitKey(key);
      if (!tracker.satisfied(key, namespace!)) return { requeueAfterMs: 200 };
      const svc = services.store.get(key);
      const ep = endpoints.store.get(key);
      const existing = slicesOf(slices, MIRRORING_CONTROLLER, key);
      const mirror = svc && !hasSelector(svc) && !svc.metadata.deletionTimestamp && ep && ep.metadata.labels?.[LABEL_SKIP_MIRROR] !== 'true';
      if (!mirror) {
        if (existing.length) await deleteAll(rc, existing, tracker, key);
        return;
      }
      const groups = mirroredSliceGroups(ep);
      const plan = planSlices(existing, groups, {
        namespace: namespace!,
        generateName: `${name.slice(0, 57)}-`,
        labels: sliceLabels(ep.metadata.labels, svc, name, MIRRORING_CONTROLLER),
        ownerReferences: [{ apiVersion: 'v1', kind: 'Endpoints', name, uid: ep.metadata.uid!, controller: true, blockOwnerDeletion: true }],
      });
      await applyPlan(rc, plan, tracker, key);
    };

    const { controller, queue } = simpleController(ctx, { name: 'endpointslicemirroring', primary: endpoints, secondary: [services, slices], reconcile });
    services.addEventHandler({
      onAdd: (s) => queue.add(`${s.metadata.namespace}/${s.metadata.name}`),
      onUpdate: (_o, s) => queue.add(`${s.metadata.namespace}/${s.metadata.name}`),
      onDelete: (s) => {
        const o = finalStateOf(s);
        queue.add(`${o.metadata.namespace}/${o.metadata.name}`);
      },
    });
    const enqueueSlice = (s: KubeObject) => {
      if (s.metadata.labels?.[LABEL_MANAGED_BY] !== MIRRORING_CONTROLLER) return;
      const svc = s.metadata.labels?.[LABEL_SERVICE_NAME];
      if (svc) queue.add(`${s.metadata.namespace}/${svc}`);
    };
    slices.addEventHandler({ onUpdate: (_o, n) => enqueueSlice(n), onDelete: (s) => enqueueSlice(finalStateOf(s)) });
    return controller;
  },
};
