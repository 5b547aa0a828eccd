/**
 * What the Endpoints and EndpointSlice controllers share (upstream's endpointutil and podutil):
 * which pods a Service selects, whether a pod belongs in endpoints at all, named target ports
 * resolved against the pod's containers, the hostname rule, and a pod→services index.
 */
import { finalStateOf, type Informer, type ResourceRef, type WorkQueue } from '../../client/index.js';
import { isPlainObject, type KubeObject } from '../../util/object.js';
import { isPodReady } from './pod-state.js';

export const SERVICES: ResourceRef = { group: '', version: 'v1', plural: 'services', namespaced: true, kind: 'Service' };
export const ENDPOINTS: ResourceRef = { group: '', version: 'v1', plural: 'endpoints', namespaced: true, kind: 'Endpoints' };
export const ENDPOINT_SLICES: ResourceRef = { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', namespaced: true, kind: 'EndpointSlice' };

export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
export const LABEL_SKIP_MIRROR = 'endpointslice.kubernetes.io/skip-mirror';
export const LABEL_HEADLESS = 'service.kubernetes.io/headless';

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
  appProtocol?: string;
  nodePort?: number;
}

export interface ServiceSpec {
  type?: string;
  selector?: Record<string, string>;
  clusterIP?: string;
  ports?: ServicePort[];
  publishNotReadyAddresses?: boolean;
  loadBalancerIP?: string;
  loadBalancerClass?: string;
}

interface ContainerPort {
  name?: string;
  containerPort?: number;
  protocol?: string;
}
interface Container {
  name?: string;
  ports?: ContainerPort[];
  restartPolicy?: string;
}
export interface PodSpecLike {
  nodeName?: string;
  hostname?: string;
  subdomain?: string;
  restartPolicy?: string;
  containers?: Container[];
  initContainers?: Container[];
}

export const serviceSpec = (s: KubeObject): ServiceSpec => (isPlainObject(s.spec) ? (s.spec as ServiceSpec) : {});
export const podSpec = (p: KubeObject): PodSpecLike => (isPlainObject(p.spec) ? (p.spec as PodSpecLike) : {});
export const podIPs = (p: KubeObject): string[] => {
  const st = (p.status ?? {}) as { podIP?: string; podIPs?: { ip?: string }[] };
  const ips = (st.podIPs ?? []).map((x) => x.ip ?? '').filter(Boolean);
  if (ips.length) return ips;
  return st.podIP ? [st.podIP] : [];
};

/** A Service with a non-empty selector (a nil or empty selector selects nothing here, as upstream). */
export function hasSelector(svc: KubeObject): boolean {
  const sel = serviceSpec(svc).selector;
  return !!sel && Object.keys(sel).length > 0;
}

/** Whether the Service's selector (a plain map) matches the labels. */
export function selectorMatches(svc: KubeObject, labels: Record<string, string> | undefined): boolean {
  const sel = serviceSpec(svc).selector;
  if (!sel || Object.keys(sel).length === 0) return false;
  const l = labels ?? {};
  return Object.entries(sel).every(([k, v]) => l[k] === v);
}

/**
 * endpointutil.ShouldPodBeInEndpoints: the pod has an IP, is not being deleted (unless
 * terminating pods are wanted), and is not done for good by its restart policy.
 */
export function shouldPodBeInEndpoints(pod: KubeObject, includeTerminating: boolean): boolean {
  if (podIPs(pod).length === 0) return false;
  if (!includeTerminating && pod.metadata.deletionTimestamp) return false;
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  const policy = podSpec(pod).restartPolicy ?? 'Always';
  if (policy === 'Never') return phase !== 'Failed' && phase !== 'Succeeded';
  if (policy === 'OnFailure') return phase !== 'Succeeded';
  return true;
}

/** endpointutil.ShouldSetHostname: the pod names this Service as its subdomain. */
export function shouldSetHostname(pod: KubeObject, svc: KubeObject): boolean {
  const s = podSpec(pod);
  return !!s.hostname && s.subdomain === svc.metadata.name && pod.metadata.namespace === svc.metadata.namespace;
}

/**
 * podutil.FindPort: a numeric targetPort is the port; a named one is looked up among the pod's
 * containers (and restartable init containers) by name and protocol. Undefined when not found.
 */
export function findPort(pod: KubeObject, sp: ServicePort): number | undefined {
  const target = sp.targetPort ?? sp.port;
  if (typeof target === 'number') return target;
  if (/^[0-9]+$/.test(target)) return Number(target);
  const protocol = sp.protocol ?? 'TCP';
  const s = podSpec(pod);
  const containers = [...(s.containers ?? []), ...(s.initContainers ?? []).filter((c) => c.restartPolicy === 'Always')];
  for (const c of containers)
    for (const p of c.ports ?? []) if (p.name === target && (p.protocol ?? 'TCP') === protocol && typeof p.containerPort === 'number') return p.containerPort;
  return undefined;
}

export { isPodReady };

/** The `namespace/name` keys of Services in the pod's namespace whose selector matches any of the label sets. */
export function servicesForPod(services: KubeObject[], ...labelSets: (Record<string, string> | undefined)[]): string[] {
  const out: string[] = [];
  for (const svc of services) if (labelSets.some((l) => selectorMatches(svc, l))) out.push(`${svc.metadata.namespace}/${svc.metadata.name}`);
  return out;
}

/** The pods (of the Service's namespace, from `pods`) that the Service selects. */
export function podsSelectedBy(svc: KubeObject, pods: Informer<KubeObject>): KubeObject[] {
  return pods.store.byNamespace(svc.metadata.namespace!).filter((p) => selectorMatches(svc, p.metadata.labels));
}

/** A resolved Service port as endpoints list it: the Service port's name, protocol and appProtocol with the pod's port number. */
export interface ResolvedPort {
  name?: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

/** The Service's ports resolved against one pod (findPort); ports the pod does not have are left out. */
export function resolvePorts(pod: KubeObject, servicePorts: ServicePort[]): ResolvedPort[] {
  const out: ResolvedPort[] = [];
  for (const sp of servicePorts) {
    const port = findPort(pod, sp);
    if (port === undefined) continue;
    const rp: ResolvedPort = { name: sp.name || undefined, port, protocol: sp.protocol ?? 'TCP' };
    if (sp.appProtocol) rp.appProtocol = sp.appProtocol;
    if (rp.name === undefined) delete rp.name;
    out.push(rp);
  }
  return out;
}

/**
 * Enqueues, on the controller's queue, the `namespace/name` keys of the Services that select a
 * pod (before and after a change that matters for endpoints, see podEndpointFingerprint).
 */
export function enqueueServicesForPods(pods: Informer<KubeObject>, services: Informer<KubeObject>, queue: WorkQueue<string>): void {
  const enqueue = (...ps: KubeObject[]) => {
    for (const k of servicesForPod(services.store.byNamespace(ps[0].metadata.namespace!), ...ps.map((p) => p.metadata.labels))) queue.add(k);
  };
  pods.addEventHandler({
    onAdd: (p) => enqueue(p),
    onUpdate: (o, n) => {
      if (podEndpointFingerprint(o) !== podEndpointFingerprint(n)) enqueue(o, n);
    },
    onDelete: (p) => enqueue(finalStateOf(p)),
  });
}

/** What matters about a pod for endpoints; a pod update that changes none of it is ignored. */
export function podEndpointFingerprint(p: KubeObject): string {
  const s = podSpec(p);
  return JSON.stringify([
    p.metadata.labels ?? {},
    podIPs(p),
    isPodReady(p),
    !!p.metadata.deletionTimestamp,
    (p.status as { phase?: string } | undefined)?.phase,
    s.nodeName,
    s.hostname,
    s.subdomain,
    s.containers?.map((c) => c.ports ?? []),
    s.initContainers?.map((c) => [c.restartPolicy, c.ports ?? []]),
  ]);
}

/** Compare IPv4 addresses numerically, anything else as text. */
export function compareIPs(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  if (pa.length === 4 && pb.length === 4) {
    for (let i = 0; i < 4; i++) {
      const d = Number(pa[i]) - Number(pb[i]);
      if (d) return d;
    }
    return 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
