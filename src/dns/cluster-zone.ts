/**
 * What cluster DNS answers from: the namespaces, Services and EndpointSlices of the cluster,
 * each reduced to the fields DNS uses, fed by informers (cluster-watch.ts) and indexed for the
 * lookups a query needs — a Service by namespace and name, the slices of a Service, the owners
 * of an IP for reverse lookups. Every change that alters a record bumps `generation`, which is
 * what invalidates the cache of encoded answers; updates that alter nothing DNS shows (status,
 * annotations, a resync) leave it alone.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { KubeObject } from '../util/object.js';
import { LABEL_SERVICE_NAME } from '../controllers/util/service-endpoints.js';

export interface ZonePort {
  /** '' for an unnamed port. */
  name: string;
  /** 'TCP', 'UDP' or 'SCTP'. */
  protocol: string;
  port: number;
}

export interface ZoneService {
  namespace: string;
  name: string;
  /** ClusterIP "None". */
  headless: boolean;
  clusterIPs: string[];
  /** Type ExternalName: the name it aliases (no trailing dot). */
  externalName?: string;
  ports: ZonePort[];
}

/** A ready address of an EndpointSlice. */
export interface ZoneEndpoint {
  ip: string;
  hostname?: string;
}

export interface ZoneSlice {
  /** `namespace/slice-name`. */
  key: string;
  /** `namespace/service-name`, from the kubernetes.io/service-name label. */
  service: string;
  ports: ZonePort[];
  endpoints: ZoneEndpoint[];
}

interface ServiceSpecFields {
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  externalName?: string;
  ports?: { name?: string; protocol?: string; port?: number }[];
}

interface SliceFields {
  addressType?: string;
  ports?: { name?: string; protocol?: string; port?: number | null }[] | null;
  endpoints?: { addresses?: string[]; hostname?: string; conditions?: { ready?: boolean | null } }[] | null;
}

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;
const isIP = (s: string) => isIPv4(s) || isIPv6(s);

/** The Service as DNS sees it. */
function projectService(obj: KubeObject): ZoneService {
  const spec = (obj.spec ?? {}) as ServiceSpecFields;
  const clusterIPs = (spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : []).filter(isIP);
  const svc: ZoneService = {
    namespace: obj.metadata.namespace ?? '',
    name: obj.metadata.name ?? '',
    headless: spec.clusterIP === 'None',
    clusterIPs,
    ports: (spec.ports ?? []).filter((p) => typeof p.port === 'number').map((p) => ({ name: p.name ?? '', protocol: p.protocol ?? 'TCP', port: p.port! })),
  };
  if (spec.type === 'ExternalName' && spec.externalName) svc.externalName = spec.externalName.replace(/\.$/, '');
  return svc;
}

/**
 * The slice as DNS sees it: only ready endpoints (a missing condition counts as ready, as
 * upstream says), only IP address types (FQDN slices name no address).
 */
function projectSlice(obj: KubeObject): ZoneSlice | undefined {
  const s = obj as KubeObject & SliceFields;
  const service = obj.metadata.labels?.[LABEL_SERVICE_NAME];
  if (!service || (s.addressType !== 'IPv4' && s.addressType !== 'IPv6')) return undefined;
  const namespace = obj.metadata.namespace ?? '';
  const endpoints: ZoneEndpoint[] = [];
  for (const ep of s.endpoints ?? []) {
    if (ep.conditions?.ready === false) continue;
    for (const ip of ep.addresses ?? []) if (isIP(ip)) endpoints.push(ep.hostname ? { ip, hostname: ep.hostname } : { ip });
  }
  return {
    key: keyOf(namespace, obj.metadata.name ?? ''),
    service: keyOf(namespace, service),
    ports: (s.ports ?? []).filter((p) => typeof p.port === 'number').map((p) => ({ name: p.name ?? '', protocol: p.protocol ?? 'TCP', port: p.port! })),
    endpoints,
  };
}

function addTo(index: Map<string, Set<string>>, ip: string, key: string): void {
  let set = index.get(ip);
  if (!set) index.set(ip, (set = new Set()));
  set.add(key);
}

function removeFrom(index: Map<string, Set<string>>, ip: string, key: string): void {
  const set = index.get(ip);
  if (!set) return;
  set.delete(key);
  if (!set.size) index.delete(ip);
}

export class ClusterZone {
  /** Bumped by every change to what DNS answers. */
  generation = 0;
  /** The SOA serial: seconds since the epoch of the last change (CoreDNS's choice). */
  serial = Math.floor(Date.now() / 1000);
  /** The informers have listed everything once: until then cluster names are SERVFAIL, not NXDOMAIN. */
  synced = false;

  private readonly namespaces = new Set<string>();
  private readonly services = new Map<string, ZoneService>();
  private readonly slices = new Map<string, ZoneSlice>();
  private readonly slicesByService = new Map<string, Set<string>>();
  private readonly servicesByIP = new Map<string, Set<string>>();
  private readonly slicesByIP = new Map<string, Set<string>>();
  /** The projection last stored per key, to tell a real change from an update DNS does not see. */
  private readonly fingerprints = new Map<string, string>();

  markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    this.changed();
  }

  hasNamespace(name: string): boolean {
    return this.namespaces.has(name);
  }

  service(namespace: string, name: string): ZoneService | undefined {
    return this.services.get(keyOf(namespace, name));
  }

  /** The slices of a Service, in a stable order. */
  slicesOf(svc: ZoneService): ZoneSlice[] {
    return [...(this.slicesByService.get(keyOf(svc.namespace, svc.name)) ?? [])].sort().map((k) => this.slices.get(k)!);
  }

  /** The Services with this cluster IP (normally one), by namespace/name. */
  servicesWithIP(ip: string): ZoneService[] {
    return [...(this.servicesByIP.get(ip) ?? [])].sort().map((k) => this.services.get(k)!);
  }

  /** The slices with a ready endpoint at this IP, by key. */
  slicesWithIP(ip: string): ZoneSlice[] {
    return [...(this.slicesByIP.get(ip) ?? [])].sort().map((k) => this.slices.get(k)!);
  }

  setNamespace(name: string): void {
    if (this.namespaces.has(name)) return;
    this.namespaces.add(name);
    this.changed();
  }

  deleteNamespace(name: string): void {
    if (this.namespaces.delete(name)) this.changed();
  }

  setService(obj: KubeObject): void {
    const svc = projectService(obj);
    const key = keyOf(svc.namespace, svc.name);
    if (!this.unchanged(`svc:${key}`, svc)) {
      this.dropService(key);
      this.services.set(key, svc);
      for (const ip of svc.clusterIPs) addTo(this.servicesByIP, ip, key);
      this.changed();
    }
  }

  deleteService(namespace: string, name: string): void {
    const key = keyOf(namespace, name);
    if (!this.services.has(key)) return;
    this.dropService(key);
    this.fingerprints.delete(`svc:${key}`);
    this.changed();
  }

  setSlice(obj: KubeObject): void {
    const slice = projectSlice(obj);
    const key = keyOf(obj.metadata.namespace ?? '', obj.metadata.name ?? '');
    if (!slice) return this.deleteSlice(obj.metadata.namespace ?? '', obj.metadata.name ?? '');
    if (this.unchanged(`slice:${key}`, slice)) return;
    this.dropSlice(key);
    this.slices.set(key, slice);
    addTo(this.slicesByService, slice.service, key);
    for (const ep of slice.endpoints) addTo(this.slicesByIP, ep.ip, key);
    this.changed();
  }

  deleteSlice(namespace: string, name: string): void {
    const key = keyOf(namespace, name);
    if (!this.slices.has(key)) return;
    this.dropSlice(key);
    this.fingerprints.delete(`slice:${key}`);
    this.changed();
  }

  private unchanged(key: string, projection: unknown): boolean {
    const print = JSON.stringify(projection);
    if (this.fingerprints.get(key) === print) return true;
    this.fingerprints.set(key, print);
    return false;
  }

  private dropService(key: string): void {
    const old = this.services.get(key);
    if (!old) return;
    for (const ip of old.clusterIPs) removeFrom(this.servicesByIP, ip, key);
    this.services.delete(key);
  }

  private dropSlice(key: string): void {
    const old = this.slices.get(key);
    if (!old) return;
    removeFrom(this.slicesByService, old.service, key);
    for (const ep of old.endpoints) removeFrom(this.slicesByIP, ep.ip, key);
    this.slices.delete(key);
  }

  private changed(): void {
    this.generation++;
    this.serial = Math.max(this.serial + 1, Math.floor(Date.now() / 1000));
  }
}
