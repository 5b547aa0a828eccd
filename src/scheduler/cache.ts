/**
 * The scheduler's in-memory view of the cluster (upstream's scheduler cache): per node its
 * allocatable resources, the pods on it (bound, or assumed after a bind decision and before the
 * informer shows the bind) with their summed requests, host ports in use and pod counts per
 * controlling owner. Updated from informer events and by assume/forget; never rebuilt per pod.
 */
import { parseQuantity } from '../registry/validation.js';
import type { KubeObject } from '../util/object.js';
import { isNodeReady, nodeSpec, type Taint } from '../controllers/util/nodes.js';
import type { PodInfo } from './pod-info.js';

export class NodeInfo {
  node?: KubeObject;
  name: string;
  labels: Record<string, string> = {};
  taints: Taint[] = [];
  unschedulable = false;
  ready = false;
  allocatable = { cpu: 0, memory: 0, ephemeral: 0, pods: 0, scalar: {} as Record<string, number> };
  requested = { cpu: 0, memory: 0, ephemeral: 0, scalar: {} as Record<string, number> };
  nonZero = { cpu: 0, memory: 0 };
  readonly pods = new Map<string, PodInfo>();
  /** `${protocol}/${port}` → host IPs in use */
  readonly ports = new Map<string, string[]>();
  readonly owners = new Map<string, number>();
  /** pods here with required anti-affinity terms / any affinity terms */
  readonly withRequiredAntiAffinity = new Set<string>();
  generation = 0;

  constructor(name: string) {
    this.name = name;
  }

  setNode(node: KubeObject): void {
    this.node = node;
    this.labels = node.metadata.labels ?? {};
    const spec = nodeSpec(node);
    this.taints = spec.taints ?? [];
    this.unschedulable = !!spec.unschedulable;
    this.ready = isNodeReady(node);
    const alloc = ((node.status as { allocatable?: Record<string, unknown> } | undefined)?.allocatable ?? {}) as Record<string, unknown>;
    const q = (n: string) => {
      const v = parseQuantity(alloc[n]);
      return Number.isFinite(v) ? v : 0;
    };
    const scalar: Record<string, number> = {};
    for (const k of Object.keys(alloc)) if (!['cpu', 'memory', 'ephemeral-storage', 'pods'].includes(k)) scalar[k] = q(k);
    this.allocatable = { cpu: Math.round(q('cpu') * 1000), memory: q('memory'), ephemeral: q('ephemeral-storage'), pods: q('pods'), scalar };
    this.generation++;
  }

  addPod(pi: PodInfo): void {
    const old = this.pods.get(pi.key);
    if (old) this.removePod(pi.key);
    this.pods.set(pi.key, pi);
    const r = pi.requests;
    this.requested.cpu += r.cpu;
    this.requested.memory += r.memory;
    this.requested.ephemeral += r.ephemeral;
    for (const [k, v] of Object.entries(r.scalar ?? {})) this.requested.scalar[k] = (this.requested.scalar[k] ?? 0) + v;
    this.nonZero.cpu += pi.nonZero.cpu;
    this.nonZero.memory += pi.nonZero.memory;
    for (const p of pi.hostPorts) {
      const k = `${p.protocol}/${p.port}`;
      const list = this.ports.get(k);
      if (list) list.push(p.ip);
      else this.ports.set(k, [p.ip]);
    }
    if (pi.ownerUid) this.owners.set(pi.ownerUid, (this.owners.get(pi.ownerUid) ?? 0) + 1);
    if (pi.requiredAntiAffinity.length) this.withRequiredAntiAffinity.add(pi.key);
    this.generation++;
  }

  removePod(key: string): PodInfo | undefined {
    const pi = this.pods.get(key);
    if (!pi) return undefined;
    this.pods.delete(key);
    const r = pi.requests;
    this.requested.cpu -= r.cpu;
    this.requested.memory -= r.memory;
    this.requested.ephemeral -= r.ephemeral;
    for (const [k, v] of Object.entries(r.scalar ?? {})) this.requested.scalar[k] = (this.requested.scalar[k] ?? 0) - v;
    this.nonZero.cpu -= pi.nonZero.cpu;
    this.nonZero.memory -= pi.nonZero.memory;
    for (const p of pi.hostPorts) {
      const k = `${p.protocol}/${p.port}`;
      const list = this.ports.get(k);
      if (!list) continue;
      const i = list.indexOf(p.ip);
      if (i >= 0) list.splice(i, 1);
      if (!list.length) this.ports.delete(k);
    }
    if (pi.ownerUid) {
      const n = (this.owners.get(pi.ownerUid) ?? 1) - 1;
      if (n > 0) this.owners.set(pi.ownerUid, n);
      else this.owners.delete(pi.ownerUid);
    }
    this.withRequiredAntiAffinity.delete(key);
    this.generation++;
    return pi;
  }
}

export class SchedulerCache {
  readonly nodes = new Map<string, NodeInfo>();
  /** Nodes that exist (have a Node object), in a stable order for round-robin iteration. */
  nodeList: NodeInfo[] = [];
  private listDirty = false;
  /** pod key → node name, for every pod counted on some node. */
  private readonly podNode = new Map<string, string>();
  /** Pods assumed by a bind decision and not yet seen bound by the informer. */
  readonly assumed = new Map<string, string>();
  /** Pods with required anti-affinity terms, wherever they run (for the existing-pods anti-affinity check). */
  readonly antiAffinityPods = new Map<string, PodInfo>();

  private info(name: string): NodeInfo {
    let ni = this.nodes.get(name);
    if (!ni) this.nodes.set(name, (ni = new NodeInfo(name)));
    return ni;
  }

  upsertNode(node: KubeObject): void {
    const ni = this.info(node.metadata.name!);
    if (!ni.node) this.listDirty = true;
    ni.setNode(node);
  }

  /** The Node object by name (undefined when the cache has none). */
  node(name: string): KubeObject | undefined {
    return this.nodes.get(name)?.node;
  }

  removeNode(name: string): void {
    const ni = this.nodes.get(name);
    if (!ni) return;
    ni.node = undefined;
    this.listDirty = true;
    if (ni.pods.size === 0) this.nodes.delete(name);
  }

  list(): NodeInfo[] {
    if (this.listDirty) {
      this.nodeList = [...this.nodes.values()].filter((n) => n.node).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      this.listDirty = false;
    }
    return this.nodeList;
  }

  /** Counts a pod on a node (informer-observed bound pods and assumed ones). */
  addPod(pi: PodInfo, nodeName: string): void {
    const prev = this.podNode.get(pi.key);
    if (prev && prev !== nodeName) this.nodes.get(prev)?.removePod(pi.key);
    this.podNode.set(pi.key, nodeName);
    this.info(nodeName).addPod(pi);
    if (pi.requiredAntiAffinity.length) this.antiAffinityPods.set(pi.key, pi);
    else this.antiAffinityPods.delete(pi.key);
  }

  removePod(key: string): void {
    const prev = this.podNode.get(key);
    if (prev) {
      const ni = this.nodes.get(prev);
      ni?.removePod(key);
      if (ni && !ni.node && ni.pods.size === 0) this.nodes.delete(prev);
    }
    this.podNode.delete(key);
    this.assumed.delete(key);
    this.antiAffinityPods.delete(key);
  }

  nodeOfPod(key: string): string | undefined {
    return this.podNode.get(key);
  }

  assume(pi: PodInfo, nodeName: string): void {
    this.addPod(pi, nodeName);
    this.assumed.set(pi.key, nodeName);
  }

  /** A bind that failed: the pod no longer counts. */
  forget(key: string): void {
    if (!this.assumed.has(key)) return;
    this.removePod(key);
  }

  /** Every pod counted on some node (for affinity and spread pre-computation). */
  *allPods(): Iterable<[PodInfo, NodeInfo]> {
    for (const ni of this.nodes.values()) {
      if (!ni.node) continue;
      for (const pi of ni.pods.values()) yield [pi, ni];
    }
  }
}
