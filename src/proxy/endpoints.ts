/**
 * A Service's endpoints as the proxy sees them (upstream's EndpointSliceCache and
 * CategorizeEndpoints): the IPv4 endpoints of its EndpointSlices per port name and protocol,
 * deduplicated across slices, and which of them each traffic policy uses — ready endpoints,
 * falling back to serving-and-terminating ones when none is ready, this node's only for Local.
 */
import { ipv4ToInt } from '../net/ip.js';
import { isIPv4 } from '../registry/validation.js';
import type { KubeObject } from '../util/object.js';
import { type ServicePortInfo, usesClusterEndpoints, usesLocalEndpoints } from './service-ports.js';

export interface Endpoint {
  ip: string;
  port: number;
  nodeName?: string;
  /** On this node. */
  local: boolean;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}

interface SliceView {
  addressType?: string;
  endpoints?: { addresses?: string[]; nodeName?: string; conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null } }[] | null;
  ports?: { name?: string | null; port?: number | null; protocol?: string | null }[] | null;
}

/** Endpoints are grouped by the Service port they serve: its name and protocol. */
export const portKey = (portName: string, protocol: string) => `${portName}/${protocol.toLowerCase()}`;

const validIPv4 = (s: string | undefined): s is string => !!s && isIPv4(s);

/** A Service's endpoints by port key, each list sorted by address and port (stable rule order). */
export function serviceEndpoints(slices: readonly KubeObject[], nodeName: string): Map<string, Endpoint[]> {
  const byPort = new Map<string, Map<string, Endpoint>>();
  const sorted = [...slices].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  for (const s of sorted) {
    const slice = s as unknown as SliceView;
    if (slice.addressType !== 'IPv4') continue;
    for (const p of slice.ports ?? []) {
      if (typeof p.port !== 'number' || !Number.isInteger(p.port) || p.port < 1 || p.port > 65535) continue;
      const key = portKey(p.name ?? '', p.protocol ?? 'TCP');
      let eps = byPort.get(key);
      if (!eps) byPort.set(key, (eps = new Map()));
      for (const e of slice.endpoints ?? []) {
        const ip = e.addresses?.[0];
        if (!validIPv4(ip)) continue;
        const c = e.conditions ?? {};
        // Unset conditions mean ready and serving (upstream's reading of the v1 API).
        const ready = c.ready !== false;
        const ep: Endpoint = {
          ip,
          port: p.port,
          ...(e.nodeName ? { nodeName: e.nodeName } : {}),
          local: e.nodeName === nodeName,
          ready,
          serving: c.serving === undefined || c.serving === null ? ready : c.serving,
          terminating: c.terminating === true,
        };
        const id = `${ip}:${p.port}`;
        // The same endpoint in two slices: the first wins, unless the later one says it is local.
        if (!eps.has(id) || ep.local) eps.set(id, ep);
      }
    }
  }
  const out = new Map<string, Endpoint[]>();
  for (const [k, eps] of byPort) out.set(k, [...eps.values()].sort((a, b) => ipv4ToInt(a.ip) - ipv4ToInt(b.ip) || a.port - b.port));
  return out;
}

export interface CategorizedEndpoints {
  /** For the Cluster traffic policy. */
  cluster: Endpoint[];
  /** For the Local traffic policy. */
  local: Endpoint[];
  /** Every endpoint some policy of this port can reach from this node (one chain each). */
  reachable: Endpoint[];
  /** Whether the Service port has any usable endpoint anywhere in the cluster. */
  hasAny: boolean;
}

const readyOrTerminating = (eps: Endpoint[], keep: (e: Endpoint) => boolean): Endpoint[] => {
  const ready = eps.filter((e) => e.ready && keep(e));
  return ready.length ? ready : eps.filter((e) => e.serving && e.terminating && keep(e));
};

/** Upstream's CategorizeEndpoints (without topology hints: Cairn nodes have no zones). */
export function categorize(eps: Endpoint[], p: ServicePortInfo): CategorizedEndpoints {
  const cluster = usesClusterEndpoints(p) ? readyOrTerminating(eps, () => true) : [];
  const local = usesLocalEndpoints(p) ? readyOrTerminating(eps, (e) => e.local) : [];
  const hasAny = eps.some((e) => e.ready || (e.serving && e.terminating));
  const reachable = new Map<string, Endpoint>();
  for (const e of [...cluster, ...local]) reachable.set(`${e.ip}:${e.port}`, e);
  return { cluster, local, reachable: [...reachable.values()], hasAny };
}
