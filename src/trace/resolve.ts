// From what the user typed (`pod/web-1`, `svc/api:80`, `node/node-1`, `host`, `10.244.1.5:8080`)
// to a packet and the namespace it starts in: names are looked up in the API (pods, Services,
// nodes), namespaces in the cluster layout of the data dir and in the kernel.
import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import type { Pod } from '../agent/pods/api-types.js';
import { Client, HttpsTransport, isNotFound } from '../client/index.js';
import { ClusterLayout } from '../cluster/layout.js';
import { readState } from '../cluster/state.js';
import { NODES, PODS, nodeStatus } from '../controllers/util/nodes.js';
import { SERVICES, type ServiceSpec } from '../controllers/util/service-endpoints.js';
import { checkIpv4, InvalidArgumentError, netns as netnsOps } from '../net/ip.js';
import type { KubeObject } from '../util/object.js';
import { TraceError } from './errors.js';
import type { EndpointRef } from './hops.js';
import { type L4Protocol, type TracePacket, newPacket } from './packet.js';
import { type NodeInfo, type Place, type PodInfo, Topology } from './topology.js';

export interface TraceRequest {
  from: string;
  to: string;
  /** For pod/ and svc/ names without one (default `default`). */
  namespace?: string;
  /** Default tcp, or the Service port's protocol. */
  protocol?: L4Protocol;
  dataDir: string;
  /** Default: the cluster's admin kubeconfig in the data dir. */
  kubeconfig?: string;
}

export interface PreparedTrace {
  topo: Topology;
  start: Place;
  packet: TracePacket;
  from: EndpointRef;
  to: EndpointRef;
}

/** The source port the trace uses: it stands for any ephemeral port (ip_local_port_range). */
const NOMINAL_SOURCE_PORT = 40000;

type RefKind = 'pod' | 'svc' | 'node' | 'host' | 'ip';
interface Ref {
  kind: RefKind;
  namespace?: string;
  name: string;
  port?: string;
  text: string;
}

const KINDS: Record<string, RefKind> = { pod: 'pod', pods: 'pod', po: 'pod', svc: 'svc', service: 'svc', services: 'svc', node: 'node', nodes: 'node', no: 'node' };
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const PORT = /^([0-9]{1,5}|[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?)$/;

/** `pod/NAME`, `pod/NS/NAME`, `svc/NAME:PORT`, `node/NAME`, `host`, `IP[:PORT]`. */
export function parseRef(text: string): Ref {
  let body = text;
  let port: string | undefined;
  const colon = text.lastIndexOf(':');
  if (colon >= 0) {
    port = text.slice(colon + 1);
    body = text.slice(0, colon);
    if (!PORT.test(port)) throw new TraceError(`invalid port "${port}" in "${text}"`);
  }
  if (body === 'host') return { kind: 'host', name: 'host', port, text };
  if (/^[0-9.]+$/.test(body)) {
    try {
      checkIpv4(body);
    } catch (e) {
      if (e instanceof InvalidArgumentError) throw new TraceError(`"${body}" is not an IPv4 address`);
      throw e;
    }
    return { kind: 'ip', name: body, port, text };
  }
  const parts = body.split('/');
  const kind = KINDS[parts[0]!.toLowerCase()];
  if (!kind || parts.length < 2 || parts.length > 3 || (kind === 'node' && parts.length !== 2)) {
    throw new TraceError(`cannot read "${text}": use pod/NAME, pod/NAMESPACE/NAME, svc/NAME[:PORT], node/NAME, host or an IP address`);
  }
  const [namespace, name] = parts.length === 3 ? [parts[1], parts[2]!] : [undefined, parts[1]!];
  for (const n of [name, namespace]) if (n !== undefined && !NAME.test(n)) throw new TraceError(`invalid name "${n}" in "${text}"`);
  return { kind, namespace, name, port, text };
}

export async function prepareTrace(req: TraceRequest): Promise<PreparedTrace> {
  const from = parseRef(req.from);
  const to = parseRef(req.to);
  if (from.port !== undefined) throw new TraceError(`the source takes no port ("${req.from}"): the trace uses any ephemeral source port`);
  if (from.kind === 'svc') throw new TraceError(`a Service sends no packets: trace from one of its pods (pod/NAME) instead of ${req.from}`);
  const dataDir = resolvePath(req.dataDir);
  const state = await readState(dataDir);
  if (!state) throw new TraceError(`no cluster in ${dataDir} (no cluster.json): start one with 'cairn up --data-dir ${dataDir}' or give --data-dir`);
  const layout = new ClusterLayout(dataDir, state.spec);
  const kubeconfig = req.kubeconfig ?? layout.adminKubeconfig;
  await readFile(kubeconfig).catch((e: Error) => {
    throw new TraceError(`cannot read the kubeconfig ${kubeconfig}: ${e.message}`);
  });
  const transport = HttpsTransport.fromKubeconfig(kubeconfig, { timeoutMs: 10_000 });
  try {
    const api = new Api(new Client(transport), req.namespace ?? 'default', layout);
    const [nodeObjs, podObjs] = await api.listAll();
    const nodes = nodeInfos(layout, nodeObjs);
    const live = new Set((await netnsOps.list()).map((n) => n.name));
    const missing = nodes.filter((n) => !live.has(n.netns));
    if (missing.length) throw new TraceError(`the node namespace ${missing[0]!.netns} does not exist: is the cluster up? ('cairn status --data-dir ${dataDir}')`);
    const topo = new Topology(layout, nodes, podObjs.map(podInfo));

    const src = await sourceOf(topo, api, from);
    const dst = await destinationOf(topo, api, to, src, req.protocol);
    const protocol = dst.protocol;
    let saddr = src.ip;
    if (!saddr) {
      // A node or the host picks its source address by route, as a socket would.
      const r = await topo
        .view(src.place)
        .route(dst.ip)
        .catch(() => undefined);
      saddr = r?.prefsrc ?? src.fallbackIP;
    }
    const packet = newPacket(protocol, { saddr, daddr: dst.ip, sport: NOMINAL_SOURCE_PORT, dport: dst.port });
    return { topo, start: src.place, packet, from: { label: src.label, ip: saddr }, to: { label: dst.label, ip: dst.ip, port: dst.port } };
  } finally {
    transport.close();
  }
}

class Api {
  constructor(
    private readonly client: Client,
    readonly namespace: string,
    private readonly layout: ClusterLayout,
  ) {}

  async listAll(): Promise<[KubeObject[], Pod[]]> {
    try {
      const [nodes, pods] = await Promise.all([this.client.resource(NODES).list(), this.client.resource<Pod>(PODS).list()]);
      return [nodes.items, pods.items];
    } catch (e) {
      throw new TraceError(`cannot read the API at ${this.layout.apiURL} (is the cluster up? 'cairn status --data-dir ${this.layout.dataDir}'): ${(e as Error).message}`);
    }
  }

  async get<T extends KubeObject>(what: 'pod' | 'service', ref: Ref): Promise<T> {
    const ns = ref.namespace ?? this.namespace;
    try {
      return await this.client.resource<T>(what === 'pod' ? PODS : SERVICES).get(ref.name, ns);
    } catch (e) {
      if (isNotFound(e)) throw new TraceError(`${what} "${ref.name}" not found in namespace "${ns}"`);
      throw e;
    }
  }
}

function nodeInfos(layout: ClusterLayout, objs: KubeObject[]): NodeInfo[] {
  const out: NodeInfo[] = [];
  for (const n of layout.indexes()) {
    const name = layout.nodeName(n);
    const obj = objs.find((o) => o.metadata.name === name);
    const internalIP = obj ? nodeStatus(obj).addresses?.find((a) => a.type === 'InternalIP')?.address : undefined;
    out.push({ name, index: n, netns: layout.lab.nodeNetns(n), internalIP: internalIP ?? layout.lab.underlayIP(n) });
  }
  return out;
}

function podInfo(p: Pod): PodInfo {
  return {
    namespace: p.metadata.namespace ?? 'default',
    name: p.metadata.name!,
    ip: p.status?.podIP,
    node: p.spec?.nodeName,
    hostNetwork: p.spec?.hostNetwork === true,
    ports: (p.spec?.containers ?? []).flatMap((c) => (c.ports ?? []).map((cp) => ({ name: cp.name, containerPort: cp.containerPort, protocol: cp.protocol ?? 'TCP' }))),
  };
}

interface Source {
  place: Place;
  /** Empty for a node or the host: their route picks the address. */
  ip: string;
  fallbackIP: string;
  label: string;
}

async function sourceOf(topo: Topology, api: Api, ref: Ref): Promise<Source> {
  switch (ref.kind) {
    case 'host':
      return { place: topo.host, ip: '', fallbackIP: topo.layout.lab.hostIP, label: 'host' };
    case 'node': {
      const n = nodeByName(topo, ref.name);
      return { place: topo.nodePlace(n), ip: '', fallbackIP: n.internalIP!, label: `node ${n.name}` };
    }
    case 'pod': {
      const { info, place } = await podPlace(topo, api, ref);
      return { place, ip: info.ip!, fallbackIP: info.ip!, label: `pod ${info.namespace}/${info.name}` };
    }
    case 'ip': {
      const place = await topo.placeOfAddress(ref.name);
      if (!place) throw new TraceError(`${ref.name} is not an address of a pod, a node or the host of this cluster: a trace starts inside the cluster`);
      return { place, ip: ref.name, fallbackIP: ref.name, label: `${place.kind === 'host' ? 'host' : `${place.kind} ${place.name}`} (${ref.name})` };
    }
  }
  throw new TraceError(`cannot start from ${ref.text}`);
}

function nodeByName(topo: Topology, name: string) {
  const n = topo.node(name);
  if (!n) throw new TraceError(`node "${name}" not found (nodes: ${topo.nodes.map((x) => x.name).join(', ')})`);
  return n;
}

async function podPlace(topo: Topology, api: Api, ref: Ref): Promise<{ info: PodInfo; place: Place }> {
  const info = podInfo(await api.get<Pod>('pod', ref));
  const label = `pod ${info.namespace}/${info.name}`;
  if (!info.node) throw new TraceError(`${label} is not scheduled to a node yet`);
  if (!info.ip) throw new TraceError(`${label} has no IP yet (its sandbox is not up on ${info.node})`);
  const place = await topo.placeOfPod(info);
  if (!place) throw new TraceError(`${label} has IP ${info.ip} but no network namespace with it on ${info.node}: is its agent running?`);
  return { info, place };
}

interface Destination {
  ip: string;
  port: number;
  protocol: L4Protocol;
  label: string;
}

function needPort(ref: Ref, protocol: L4Protocol): number {
  if (ref.port === undefined) throw new TraceError(`a ${protocol} destination needs a port: ${ref.text}:PORT`);
  if (!/^[0-9]+$/.test(ref.port)) throw new TraceError(`port "${ref.port}" of ${ref.text} must be a number here`);
  return checkPort(Number(ref.port), ref.text);
}

function checkPort(n: number, text: string): number {
  if (n < 1 || n > 65535) throw new TraceError(`port ${n} of ${text} is out of range (1-65535)`);
  return n;
}

async function destinationOf(topo: Topology, api: Api, ref: Ref, src: Source, wanted: L4Protocol | undefined): Promise<Destination> {
  const protocol = wanted ?? 'tcp';
  switch (ref.kind) {
    case 'host':
      return { ip: topo.layout.lab.hostIP, port: needPort(ref, protocol), protocol, label: 'host' };
    case 'ip':
      return { ip: ref.name, port: needPort(ref, protocol), protocol, label: ref.name };
    case 'node': {
      const n = nodeByName(topo, ref.name);
      return { ip: n.internalIP!, port: needPort(ref, protocol), protocol, label: `node ${n.name}` };
    }
    case 'pod': {
      const info = podInfo(await api.get<Pod>('pod', ref));
      const label = `pod ${info.namespace}/${info.name}`;
      if (!info.ip) throw new TraceError(`${label} has no IP yet`);
      if (ref.port === undefined) throw new TraceError(`a ${protocol} destination needs a port: ${ref.text}:PORT`);
      let port: number;
      if (/^[0-9]+$/.test(ref.port)) port = checkPort(Number(ref.port), ref.text);
      else {
        const named = info.ports.find((p) => p.name === ref.port);
        if (!named) throw new TraceError(`${label} has no container port named "${ref.port}"`);
        port = named.containerPort;
        if (!wanted) return { ip: info.ip, port, protocol: l4(named.protocol, label), label };
      }
      return { ip: info.ip, port, protocol, label };
    }
    case 'svc':
      return serviceDestination(topo, api, ref, src, wanted);
  }
}

function l4(protocol: string, what: string): L4Protocol {
  const p = protocol.toLowerCase();
  if (p !== 'tcp' && p !== 'udp') throw new TraceError(`${what} uses ${protocol}: the trace follows tcp and udp only`);
  return p;
}

async function serviceDestination(topo: Topology, api: Api, ref: Ref, src: Source, wanted: L4Protocol | undefined): Promise<Destination> {
  const svc = await api.get<KubeObject & { spec?: ServiceSpec & { externalName?: string }; status?: { loadBalancer?: { ingress?: { ip?: string }[] } } }>('service', ref);
  const spec = svc.spec ?? {};
  const label = `service ${svc.metadata.namespace}/${svc.metadata.name}`;
  if (spec.type === 'ExternalName') throw new TraceError(`${label} is an ExternalName (${spec.externalName ?? '?'}): a DNS name only, no packets to trace`);
  const ports = spec.ports ?? [];
  const list = () => ports.map((p) => `${p.port}${p.name ? ` (${p.name})` : ''}${p.nodePort ? ` nodePort ${p.nodePort}` : ''}`).join(', ');
  let port = ports.find((p) => ref.port !== undefined && (String(p.port) === ref.port || p.name === ref.port) && (!wanted || l4(p.protocol ?? 'TCP', label) === wanted));
  const nodePort = port ? undefined : ports.find((p) => ref.port !== undefined && p.nodePort !== undefined && String(p.nodePort) === ref.port);
  if (ref.port === undefined) {
    if (ports.length !== 1) throw new TraceError(`${label} has ${ports.length ? `ports ${list()}` : 'no ports'}: name one as svc/${svc.metadata.name}:PORT`);
    port = ports[0];
  }
  const chosen = port ?? nodePort;
  if (!chosen) throw new TraceError(`${label} has no port ${ref.port}${wanted ? `/${wanted}` : ''} (ports: ${list() || 'none'})`);
  const protocol = l4(chosen.protocol ?? 'TCP', label);
  if (wanted && wanted !== protocol) throw new TraceError(`${label} port ${ref.port} is ${protocol}, not ${wanted}`);
  if (nodePort) {
    // A NodePort: on the source's own node when it is one, else on the first node.
    const node = src.place.kind === 'node' ? topo.node(src.place.name)! : topo.nodes[0]!;
    return { ip: node.internalIP!, port: nodePort.nodePort!, protocol, label: `${label} nodePort ${nodePort.nodePort} on ${node.name}` };
  }
  const lb = svc.status?.loadBalancer?.ingress?.find((i) => i.ip)?.ip;
  if (src.place.kind === 'host' && lb) return { ip: lb, port: chosen.port, protocol, label: `${label}:${chosen.port} at its LoadBalancer IP` };
  if (!spec.clusterIP || spec.clusterIP === 'None') throw new TraceError(`${label} is headless (no cluster IP): trace to one of its pods instead`);
  return { ip: spec.clusterIP, port: chosen.port, protocol, label: `${label}:${chosen.port}` };
}
