/**
 * What the scheduler needs to know about a pod, computed once per pod version: resource requests
 * (upstream's resource.PodRequests, and the non-zero variant used for scoring), host ports,
 * owner, tolerations and parsed affinity / topology spread terms.
 */
import { labelSelectorAsSelector, type LabelSelector, type Selector } from '../kinds/label-selector.js';
import { parseQuantity } from '../registry/validation.js';
import type { KubeObject } from '../util/object.js';
import type { Toleration } from '../controllers/util/nodes.js';
import { matchesNodeSelector, type NodeSelectorTerm, nodeSelectorTermMatches } from '../controllers/util/node-fit.js';

export interface Resources {
  /** millicores */
  cpu: number;
  /** bytes */
  memory: number;
  ephemeral: number;
  /** extended / other scalar resources by name */
  scalar?: Record<string, number>;
}

/** Upstream's defaults for containers without requests, used only for scoring. */
export const DEFAULT_MILLI_CPU = 100;
export const DEFAULT_MEMORY = 200 * 1024 * 1024;

export interface HostPort {
  protocol: string;
  ip: string;
  port: number;
}

export interface AffinityTerm {
  selector: Selector;
  /** Namespaces the term applies to; undefined with nsSelector. */
  namespaces: Set<string>;
  nsSelector?: Selector;
  topologyKey: string;
  weight: number;
}

export interface SpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  whenUnsatisfiable: 'DoNotSchedule' | 'ScheduleAnyway';
  selector: Selector;
  minDomains: number;
  honorNodeAffinity: boolean;
  honorTaints: boolean;
}

export interface PodInfo {
  key: string;
  pod: KubeObject;
  namespace: string;
  labels: Record<string, string>;
  requests: Resources;
  nonZero: { cpu: number; memory: number };
  hostPorts: HostPort[];
  ownerUid?: string;
  tolerations: Toleration[];
  nodeSelector?: Record<string, string>;
  requiredNodeTerms?: NodeSelectorTerm[];
  preferredNodeTerms: { weight: number; term: NodeSelectorTerm }[];
  requiredAffinity: AffinityTerm[];
  requiredAntiAffinity: AffinityTerm[];
  preferredAffinity: AffinityTerm[];
  preferredAntiAffinity: AffinityTerm[];
  spread: SpreadConstraint[];
  terminating: boolean;
}

interface ContainerLike {
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  ports?: { hostPort?: number; hostIP?: string; protocol?: string; containerPort?: number }[];
  restartPolicy?: string;
}

interface PodAffinityTermSpec {
  labelSelector?: LabelSelector | null;
  namespaces?: string[];
  namespaceSelector?: LabelSelector | null;
  topologyKey: string;
  matchLabelKeys?: string[];
  mismatchLabelKeys?: string[];
}

interface AffinitySpec {
  nodeAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: NodeSelectorTerm[] };
    preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; preference: NodeSelectorTerm }[];
  };
  podAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTermSpec[];
    preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; podAffinityTerm: PodAffinityTermSpec }[];
  };
  podAntiAffinity?: AffinitySpec['podAffinity'];
}

interface PodSpecLike {
  containers?: ContainerLike[];
  initContainers?: ContainerLike[];
  overhead?: Record<string, unknown>;
  tolerations?: Toleration[];
  nodeSelector?: Record<string, string>;
  affinity?: AffinitySpec;
  topologySpreadConstraints?: {
    maxSkew: number;
    topologyKey: string;
    whenUnsatisfiable: string;
    labelSelector?: LabelSelector;
    minDomains?: number;
    nodeAffinityPolicy?: string;
    nodeTaintsPolicy?: string;
    matchLabelKeys?: string[];
  }[];
  hostNetwork?: boolean;
}

const zero = (): Resources => ({ cpu: 0, memory: 0, ephemeral: 0 });

function addList(into: Resources, list: Record<string, unknown> | undefined, sign = 1): void {
  for (const [name, q] of Object.entries(list ?? {})) {
    const v = parseQuantity(q);
    if (!Number.isFinite(v)) continue;
    if (name === 'cpu') into.cpu += sign * Math.round(v * 1000);
    else if (name === 'memory') into.memory += sign * v;
    else if (name === 'ephemeral-storage') into.ephemeral += sign * v;
    else if (name !== 'pods') (into.scalar ??= {})[name] = (into.scalar?.[name] ?? 0) + sign * v;
  }
}

function maxInto(into: Resources, other: Resources): void {
  into.cpu = Math.max(into.cpu, other.cpu);
  into.memory = Math.max(into.memory, other.memory);
  into.ephemeral = Math.max(into.ephemeral, other.ephemeral);
  for (const [k, v] of Object.entries(other.scalar ?? {})) (into.scalar ??= {})[k] = Math.max(into.scalar?.[k] ?? 0, v);
}

/** resource.PodRequests: containers summed, init containers as a maximum (sidecars added), plus overhead. */
export function podRequests(spec: PodSpecLike): Resources {
  const sum = zero();
  for (const c of spec.containers ?? []) addList(sum, c.resources?.requests);
  const initMax = zero();
  const sidecars = zero();
  for (const c of spec.initContainers ?? []) {
    const r = zero();
    addList(r, c.resources?.requests);
    if (c.restartPolicy === 'Always') {
      addList(sum, c.resources?.requests);
      addList(sidecars, c.resources?.requests);
    } else {
      // An init container runs alongside the sidecars started before it.
      r.cpu += sidecars.cpu;
      r.memory += sidecars.memory;
      r.ephemeral += sidecars.ephemeral;
      maxInto(initMax, r);
    }
  }
  maxInto(sum, initMax);
  addList(sum, spec.overhead);
  return sum;
}

function nonZeroRequests(spec: PodSpecLike): { cpu: number; memory: number } {
  let cpu = 0;
  let memory = 0;
  for (const c of spec.containers ?? []) {
    const r = c.resources?.requests ?? {};
    cpu += r.cpu !== undefined ? Math.round(parseQuantity(r.cpu) * 1000) : DEFAULT_MILLI_CPU;
    memory += r.memory !== undefined ? parseQuantity(r.memory) : DEFAULT_MEMORY;
  }
  return { cpu, memory };
}

const nothing = labelSelectorAsSelector(null)!;

function selectorWithKeys(sel: LabelSelector | null | undefined, pod: KubeObject, matchKeys?: string[], mismatchKeys?: string[]): Selector {
  if (!sel) return nothing;
  const labels = pod.metadata.labels ?? {};
  const extra = [
    ...(matchKeys ?? []).filter((k) => k in labels).map((k) => ({ key: k, operator: 'In', values: [labels[k]] })),
    ...(mismatchKeys ?? []).filter((k) => k in labels).map((k) => ({ key: k, operator: 'NotIn', values: [labels[k]] })),
  ];
  const full = extra.length ? { ...sel, matchExpressions: [...(sel.matchExpressions ?? []), ...extra] } : sel;
  return labelSelectorAsSelector(full as LabelSelector) ?? nothing;
}

function affinityTerm(t: PodAffinityTermSpec, pod: KubeObject, weight = 1): AffinityTerm {
  const ns = pod.metadata.namespace ?? 'default';
  const namespaces = new Set(t.namespaces ?? []);
  const nsSelector = t.namespaceSelector ? (labelSelectorAsSelector(t.namespaceSelector) ?? undefined) : undefined;
  if (namespaces.size === 0 && !nsSelector) namespaces.add(ns);
  return { selector: selectorWithKeys(t.labelSelector, pod, t.matchLabelKeys, t.mismatchLabelKeys), namespaces, nsSelector, topologyKey: t.topologyKey, weight };
}

export function podInfoOf(pod: KubeObject): PodInfo {
  const spec = (pod.spec ?? {}) as PodSpecLike;
  const hostPorts: HostPort[] = [];
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])])
    for (const p of c.ports ?? []) if (p.hostPort) hostPorts.push({ protocol: p.protocol ?? 'TCP', ip: p.hostIP || '0.0.0.0', port: p.hostPort });
  const owner = pod.metadata.ownerReferences?.find((o) => o.controller);
  const aff = spec.affinity ?? {};
  const labels = pod.metadata.labels ?? {};
  return {
    key: `${pod.metadata.namespace}/${pod.metadata.name}`,
    pod,
    namespace: pod.metadata.namespace ?? 'default',
    labels,
    requests: podRequests(spec),
    nonZero: nonZeroRequests(spec),
    hostPorts,
    ownerUid: owner?.uid,
    tolerations: spec.tolerations ?? [],
    nodeSelector: spec.nodeSelector && Object.keys(spec.nodeSelector).length ? spec.nodeSelector : undefined,
    requiredNodeTerms: aff.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms,
    preferredNodeTerms: (aff.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((p) => ({ weight: p.weight, term: p.preference })),
    requiredAffinity: (aff.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => affinityTerm(t, pod)),
    requiredAntiAffinity: (aff.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => affinityTerm(t, pod)),
    preferredAffinity: (aff.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => affinityTerm(t.podAffinityTerm, pod, t.weight)),
    preferredAntiAffinity: (aff.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => affinityTerm(t.podAffinityTerm, pod, t.weight)),
    spread: (spec.topologySpreadConstraints ?? []).map((c) => ({
      maxSkew: c.maxSkew,
      topologyKey: c.topologyKey,
      whenUnsatisfiable: c.whenUnsatisfiable === 'ScheduleAnyway' ? 'ScheduleAnyway' : 'DoNotSchedule',
      selector: selectorWithKeys(c.labelSelector, pod, c.matchLabelKeys),
      minDomains: c.minDomains ?? 1,
      honorNodeAffinity: (c.nodeAffinityPolicy ?? 'Honor') === 'Honor',
      honorTaints: c.nodeTaintsPolicy === 'Honor',
    })),
    terminating: !!pod.metadata.deletionTimestamp,
  };
  void labels;
}

/** Whether `term` (of a pod in `ownerNs`) selects `other`; nsLabels gives a namespace's labels. */
export function termMatches(term: AffinityTerm, other: PodInfo, nsLabels: (ns: string) => Record<string, string> | undefined): boolean {
  if (!term.namespaces.has(other.namespace)) {
    if (!term.nsSelector) return false;
    if (!term.nsSelector.matches(nsLabels(other.namespace))) return false;
  }
  return term.selector.matches(other.labels);
}

/** nodeSelector and required node affinity (both must hold). */
export function matchesNodeSelectorAndAffinity(pi: PodInfo, labels: Record<string, string>, nodeName: string): boolean {
  if (!matchesNodeSelector(pi.nodeSelector, labels)) return false;
  if (pi.requiredNodeTerms && pi.requiredNodeTerms.length) {
    if (!pi.requiredNodeTerms.some((t) => nodeSelectorTermMatches(t, labels, nodeName))) return false;
  }
  return true;
}
