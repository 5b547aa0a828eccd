/**
 * One scheduling decision, as upstream's default profile: PreFilter work once per pod (pod
 * affinity and topology spread counts), Filter plugins per node in upstream's order —
 * NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit,
 * VolumeRestrictions and VolumeBinding (volume-binding.ts), PodTopologySpread, InterPodAffinity —
 * until enough feasible nodes are found
 * (percentageOfNodesToScore), then Score plugins with upstream's default weights:
 * NodeResourcesFit (least allocated) 1, NodeResourcesBalancedAllocation 1, NodeAffinity
 * (preferred) 2, InterPodAffinity (preferred) 2, PodTopologySpread (ScheduleAnyway constraints,
 * and the default spreading of one owner's pods across nodes) 2, TaintToleration
 * (PreferNoSchedule) 3. Failure reasons and their wording are upstream's, so the FailedScheduling
 * message reads the same.
 */
import type { Taint } from '../controllers/util/nodes.js';
import { TAINT_NOT_READY, TAINT_UNSCHEDULABLE, toleratesTaint, tolerates } from '../controllers/util/nodes.js';
import type { NodeInfo, SchedulerCache } from './cache.js';
import { nodeSelectorTermMatches } from '../controllers/util/node-fit.js';
import { type AffinityTerm, matchesNodeSelectorAndAffinity, type PodInfo, type SpreadConstraint, termMatches } from './pod-info.js';
import { type PodVolumes, VolumeBinding } from './volume-binding.js';
import type { KubeObject } from '../util/object.js';

export const REASON = {
  unschedulable: 'node(s) were unschedulable',
  nodeAffinity: "node(s) didn't match Pod's node affinity/selector",
  ports: "node(s) didn't have free ports for the requested pod ports",
  tooManyPods: 'Too many pods',
  spread: "node(s) didn't match pod topology spread constraints",
  spreadMissingLabel: "node(s) didn't match pod topology spread constraints (missing required label)",
  affinity: "node(s) didn't match pod affinity rules",
  antiAffinity: "node(s) didn't match pod anti-affinity rules",
  existingAntiAffinity: "node(s) didn't satisfy existing pods anti-affinity rules",
} as const;

export const untoleratedTaintReason = (t: Taint) => `node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`;

export interface NodeFailure {
  reasons: string[];
  /** UnschedulableAndUnresolvable: preemption cannot help. */
  unresolvable: boolean;
}

/** A node (and the pod's claims to bind there), or why none fits; a PreFilter refusal says so in `preFilterMsg`. */
export type Decision = { node: string; delayedClaims?: KubeObject[] } | { failures: Map<string, NodeFailure>; numNodes: number; preFilterMsg?: string };

export interface AlgorithmOptions {
  /** 0 → adaptive, as upstream. */
  percentageOfNodesToScore?: number;
  nsLabels: (ns: string) => Record<string, string> | undefined;
  /** The volume plugins (absent: pods' claims are not considered). */
  volumes?: VolumeBinding;
}

const MIN_FEASIBLE_NODES_TO_FIND = 100;
const MIN_FEASIBLE_PERCENTAGE = 5;

export function numFeasibleNodesToFind(numAll: number, pct = 0): number {
  if (numAll < MIN_FEASIBLE_NODES_TO_FIND) return numAll;
  let p = pct;
  if (p <= 0) p = Math.max(MIN_FEASIBLE_PERCENTAGE, 50 - Math.floor(numAll / 125));
  const n = Math.floor((numAll * p) / 100);
  return n < MIN_FEASIBLE_NODES_TO_FIND ? MIN_FEASIBLE_NODES_TO_FIND : n;
}

/** Per-pod pre-computation (PreFilter state). */
interface CycleState {
  /** topology "key=value" → count of existing pods whose required anti-affinity matches the incoming pod */
  existingAnti?: Map<string, number>;
  /** per required affinity term: "value" → matching pods count; plus total */
  affinityCounts?: { counts: Map<string, number>; total: number }[];
  antiCounts?: Map<string, number>[];
  /** DoNotSchedule / ScheduleAnyway constraints: per constraint domain → count, eligible domain set, min */
  spread?: { c: SpreadConstraint; counts: Map<string, number>; min: number; selfMatch: number }[];
  preferredAffinity?: { term: AffinityTerm; sign: number; counts: Map<string, number> }[];
  volumes?: PodVolumes;
}

export class Algorithm {
  private nextStart = 0;

  constructor(
    private readonly cache: SchedulerCache,
    private readonly opts: AlgorithmOptions,
  ) {}

  schedule(pi: PodInfo): Decision {
    const nodes = this.cache.list();
    const n = nodes.length;
    if (n === 0) return { failures: new Map(), numNodes: 0 };
    const state = this.preFilter(pi, nodes);
    if (this.opts.volumes && VolumeBinding.hasClaims(pi.pod)) {
      const v = this.opts.volumes.preFilter(pi);
      if ('unresolvable' in v) {
        // upstream: a PreFilter refusal stands for every node.
        const failures = new Map(nodes.map((ni) => [ni.name, { reasons: [v.unresolvable], unresolvable: true }]));
        return { failures, numNodes: n, preFilterMsg: v.unresolvable };
      }
      state.volumes = v.volumes;
    }
    const want = numFeasibleNodesToFind(n, this.opts.percentageOfNodesToScore);
    const feasible: NodeInfo[] = [];
    const failures = new Map<string, NodeFailure>();
    let processed = 0;
    for (; processed < n && feasible.length < want; processed++) {
      const ni = nodes[(this.nextStart + processed) % n];
      const f = this.filter(pi, ni, state);
      if (f) failures.set(ni.name, f);
      else feasible.push(ni);
    }
    this.nextStart = (this.nextStart + processed) % n;
    if (!feasible.length) return { failures, numNodes: n };
    const node = feasible.length === 1 ? feasible[0].name : this.pickBest(pi, feasible, state);
    return state.volumes?.delayed.length ? { node, delayedClaims: state.volumes.delayed } : { node };
  }

  // ---- PreFilter ----

  private preFilter(pi: PodInfo, nodes: NodeInfo[]): CycleState {
    const state: CycleState = {};
    const ns = this.opts.nsLabels;
    // Existing pods' required anti-affinity against the incoming pod (only pods that have such terms).
    if (this.cache.antiAffinityPods.size) {
      const m = new Map<string, number>();
      for (const other of this.cache.antiAffinityPods.values()) {
        const nodeName = this.cache.nodeOfPod(other.key);
        const ni = nodeName ? this.cache.nodes.get(nodeName) : undefined;
        if (!ni?.node) continue;
        for (const t of other.requiredAntiAffinity) {
          const v = ni.labels[t.topologyKey];
          if (v === undefined) continue;
          if (termMatches(t, pi, ns)) m.set(`${t.topologyKey}=${v}`, (m.get(`${t.topologyKey}=${v}`) ?? 0) + 1);
        }
      }
      if (m.size) state.existingAnti = m;
    }
    const needPodScan = pi.requiredAffinity.length || pi.requiredAntiAffinity.length || pi.preferredAffinity.length || pi.preferredAntiAffinity.length || pi.spread.length;
    if (!needPodScan) return state;
    if (pi.requiredAffinity.length) state.affinityCounts = pi.requiredAffinity.map(() => ({ counts: new Map(), total: 0 }));
    if (pi.requiredAntiAffinity.length) state.antiCounts = pi.requiredAntiAffinity.map(() => new Map());
    const preferred = [...pi.preferredAffinity.map((term) => ({ term, sign: 1 })), ...pi.preferredAntiAffinity.map((term) => ({ term, sign: -1 }))];
    if (preferred.length) state.preferredAffinity = preferred.map((p) => ({ ...p, counts: new Map() }));
    // Topology spread: eligible domains come from nodes that pass the pod's node affinity (Honor) and carry the key.
    if (pi.spread.length) {
      state.spread = pi.spread.map((c) => ({ c, counts: new Map<string, number>(), min: 0, selfMatch: c.selector.matches(pi.labels) ? 1 : 0 }));
      for (const s of state.spread) {
        for (const ni of nodes) {
          const v = ni.labels[s.c.topologyKey];
          if (v === undefined) continue;
          if (s.c.honorNodeAffinity && !matchesNodeSelectorAndAffinity(pi, ni.labels, ni.name)) continue;
          if (s.c.honorTaints && findBlockingTaint(pi, ni)) continue;
          if (!s.counts.has(v)) s.counts.set(v, 0);
        }
      }
    }
    const inc = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
    for (const [other, ni] of this.cache.allPods()) {
      if (other.key === pi.key) continue;
      pi.requiredAffinity.forEach((t, i) => {
        if (!termMatches(t, other, ns)) return;
        const v = ni.labels[t.topologyKey];
        state.affinityCounts![i].total++;
        if (v !== undefined) inc(state.affinityCounts![i].counts, v);
      });
      pi.requiredAntiAffinity.forEach((t, i) => {
        const v = ni.labels[t.topologyKey];
        if (v !== undefined && termMatches(t, other, ns)) inc(state.antiCounts![i], v);
      });
      state.preferredAffinity?.forEach((p) => {
        const v = ni.labels[p.term.topologyKey];
        if (v !== undefined && termMatches(p.term, other, ns)) inc(p.counts, v);
      });
      state.spread?.forEach((s) => {
        if (other.terminating || other.namespace !== pi.namespace) return;
        const v = ni.labels[s.c.topologyKey];
        if (v === undefined || !s.counts.has(v)) return;
        if (s.c.honorNodeAffinity && !matchesNodeSelectorAndAffinity(pi, ni.labels, ni.name)) return;
        if (s.c.selector.matches(other.labels)) inc(s.counts, v);
      });
    }
    for (const s of state.spread ?? []) {
      const values = [...s.counts.values()];
      s.min = values.length < s.c.minDomains ? 0 : values.length ? Math.min(...values) : 0;
    }
    return state;
  }

  // ---- Filter ----

  filter(pi: PodInfo, ni: NodeInfo, state: CycleState): NodeFailure | undefined {
    // NodeUnschedulable
    if (ni.unschedulable && !tolerates(pi.tolerations, { key: TAINT_UNSCHEDULABLE, effect: 'NoSchedule' })) return { reasons: [REASON.unschedulable], unresolvable: true };
    // TaintToleration (a node not Ready without its taint yet is treated as tainted not-ready)
    const taint = findBlockingTaint(pi, ni);
    if (taint) return { reasons: [untoleratedTaintReason(taint)], unresolvable: true };
    // NodeAffinity
    if (!matchesNodeSelectorAndAffinity(pi, ni.labels, ni.name)) return { reasons: [REASON.nodeAffinity], unresolvable: true };
    // NodePorts
    for (const p of pi.hostPorts) {
      const used = ni.ports.get(`${p.protocol}/${p.port}`);
      if (used && used.some((ip) => ip === p.ip || ip === '0.0.0.0' || p.ip === '0.0.0.0')) return { reasons: [REASON.ports], unresolvable: false };
    }
    // NodeResourcesFit
    const reasons: string[] = [];
    const a = ni.allocatable;
    const r = pi.requests;
    if (ni.pods.size + 1 > a.pods) reasons.push(REASON.tooManyPods);
    if (r.cpu > 0 && r.cpu > a.cpu - ni.requested.cpu) reasons.push('Insufficient cpu');
    if (r.memory > 0 && r.memory > a.memory - ni.requested.memory) reasons.push('Insufficient memory');
    if (r.ephemeral > 0 && r.ephemeral > a.ephemeral - ni.requested.ephemeral) reasons.push('Insufficient ephemeral-storage');
    for (const [k, v] of Object.entries(r.scalar ?? {})) if (v > 0 && v > (a.scalar[k] ?? 0) - (ni.requested.scalar[k] ?? 0)) reasons.push(`Insufficient ${k}`);
    if (reasons.length) return { reasons, unresolvable: false };
    // VolumeRestrictions, VolumeBinding
    if (state.volumes) {
      const f = this.opts.volumes!.filter(state.volumes, ni);
      if (f) return f;
    }
    // PodTopologySpread (DoNotSchedule)
    for (const s of state.spread ?? []) {
      if (s.c.whenUnsatisfiable !== 'DoNotSchedule') continue;
      const v = ni.labels[s.c.topologyKey];
      if (v === undefined) return { reasons: [REASON.spreadMissingLabel], unresolvable: true };
      const skew = (s.counts.get(v) ?? 0) + s.selfMatch - s.min;
      if (skew > s.c.maxSkew) return { reasons: [REASON.spread], unresolvable: false };
    }
    // InterPodAffinity: the pod's affinity, its anti-affinity, then existing pods' anti-affinity (upstream's order)
    if (state.affinityCounts) {
      // No pod anywhere matches and the pod matches its own terms: the first of its group may go anywhere.
      const noneAnywhere = state.affinityCounts.every((c) => c.total === 0);
      const selfMatch = pi.requiredAffinity.every((t) => termMatches(t, pi, this.opts.nsLabels));
      for (let i = 0; i < pi.requiredAffinity.length; i++) {
        const t = pi.requiredAffinity[i];
        const v = ni.labels[t.topologyKey];
        if (v === undefined) return { reasons: [REASON.affinity], unresolvable: true };
        if ((state.affinityCounts[i].counts.get(v) ?? 0) === 0 && !(noneAnywhere && selfMatch)) return { reasons: [REASON.affinity], unresolvable: true };
      }
    }
    if (state.antiCounts) {
      for (let i = 0; i < pi.requiredAntiAffinity.length; i++) {
        const v = ni.labels[pi.requiredAntiAffinity[i].topologyKey];
        if (v !== undefined && (state.antiCounts[i].get(v) ?? 0) > 0) return { reasons: [REASON.antiAffinity], unresolvable: false };
      }
    }
    if (state.existingAnti) {
      for (const [k] of state.existingAnti) {
        const i = k.indexOf('=');
        if (ni.labels[k.slice(0, i)] === k.slice(i + 1)) return { reasons: [REASON.existingAntiAffinity], unresolvable: false };
      }
    }
    return undefined;
  }

  // ---- Score ----

  private pickBest(pi: PodInfo, nodes: NodeInfo[], state: CycleState): string {
    const n = nodes.length;
    const total = new Float64Array(n);
    // NodeResourcesFit LeastAllocated (cpu, memory; non-zero requests) and BalancedAllocation.
    for (let i = 0; i < n; i++) {
      const ni = nodes[i];
      const cpuCap = ni.allocatable.cpu;
      const memCap = ni.allocatable.memory;
      const cpuReq = ni.nonZero.cpu + pi.nonZero.cpu;
      const memReq = ni.nonZero.memory + pi.nonZero.memory;
      const least = (cap: number, req: number) => (cap <= 0 || req > cap ? 0 : ((cap - req) * 100) / cap);
      total[i] += (least(cpuCap, cpuReq) + least(memCap, memReq)) / 2;
      const fc = cpuCap > 0 ? Math.min(1, (ni.requested.cpu + pi.requests.cpu) / cpuCap) : 1;
      const fm = memCap > 0 ? Math.min(1, (ni.requested.memory + pi.requests.memory) / memCap) : 1;
      const std = Math.abs(fc - fm) / 2;
      total[i] += (1 - std) * 100;
    }
    // NodeAffinity preferred (weight 2)
    if (pi.preferredNodeTerms.length) {
      const raw = nodes.map((ni) => pi.preferredNodeTerms.reduce((s, p) => s + (nodeSelectorTermMatches(p.term, ni.labels, ni.name) ? p.weight : 0), 0));
      addNormalized(total, raw, 2, false);
    }
    // InterPodAffinity preferred (weight 2)
    if (state.preferredAffinity?.length) {
      const raw = nodes.map((ni) =>
        state.preferredAffinity!.reduce((s, p) => {
          const v = ni.labels[p.term.topologyKey];
          return v === undefined ? s : s + p.sign * p.term.weight * (p.counts.get(v) ?? 0);
        }, 0),
      );
      addMinMax(total, raw, 2);
    }
    // PodTopologySpread: explicit ScheduleAnyway constraints, or the default spreading of an owner's pods.
    const softSpread = (state.spread ?? []).filter((s) => s.c.whenUnsatisfiable === 'ScheduleAnyway');
    if (softSpread.length) {
      const raw = nodes.map((ni) =>
        softSpread.reduce((s, x) => {
          const v = ni.labels[x.c.topologyKey];
          return v === undefined ? s : s + (x.counts.get(v) ?? 0) * Math.log(x.counts.size + 2);
        }, 0),
      );
      addNormalized(total, raw, 2, true);
    } else if (!pi.spread.length && pi.ownerUid) {
      const raw = nodes.map((ni) => ni.owners.get(pi.ownerUid!) ?? 0);
      addNormalized(total, raw, 2, true);
    }
    // TaintToleration: fewer untolerated PreferNoSchedule taints is better (weight 3).
    if (nodes.some((ni) => ni.taints.length)) {
      const raw = nodes.map((ni) => ni.taints.filter((t) => t.effect === 'PreferNoSchedule' && !pi.tolerations.some((tol) => (!tol.effect || tol.effect === 'PreferNoSchedule') && toleratesTaint(tol, t))).length);
      addNormalized(total, raw, 3, true);
    }
    // Highest score; ties broken at random (reservoir sampling, as upstream's selectHost).
    let best = 0;
    let ties = 1;
    for (let i = 1; i < n; i++) {
      if (total[i] > total[best] + 1e-9) {
        best = i;
        ties = 1;
      } else if (Math.abs(total[i] - total[best]) <= 1e-9) {
        ties++;
        if (Math.random() * ties < 1) best = i;
      }
    }
    return nodes[best].name;
  }
}

/** Scales raw scores to 0..100 by the maximum (reverse: fewer is better) and adds them with a weight. */
function addNormalized(total: Float64Array, raw: number[], weight: number, reverse: boolean): void {
  const max = Math.max(...raw);
  for (let i = 0; i < raw.length; i++) {
    let s: number;
    if (max <= 0) s = reverse ? 100 : 0;
    else s = reverse ? ((max - raw[i]) * 100) / max : (raw[i] * 100) / max;
    total[i] += s * weight;
  }
}

/** Min-max scaling to 0..100 (scores may be negative: anti-affinity). */
function addMinMax(total: Float64Array, raw: number[], weight: number): void {
  const max = Math.max(...raw);
  const min = Math.min(...raw);
  if (max === min) return;
  for (let i = 0; i < raw.length; i++) total[i] += (((raw[i] - min) * 100) / (max - min)) * weight;
}

/** The first NoSchedule/NoExecute taint the pod does not tolerate; a NotReady node counts as tainted not-ready. */
export function findBlockingTaint(pi: PodInfo, ni: NodeInfo): Taint | undefined {
  for (const t of ni.taints) if ((t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !tolerates(pi.tolerations, t)) return t;
  if (!ni.ready && !ni.taints.some((t) => t.key === TAINT_NOT_READY || t.key === 'node.kubernetes.io/unreachable')) {
    const synthetic: Taint = { key: TAINT_NOT_READY, effect: 'NoSchedule' };
    if (!tolerates(pi.tolerations, synthetic)) return synthetic;
  }
  return undefined;
}

/** Upstream's FitError message with the DefaultPreemption post-filter message (a PreFilter refusal is told once, not per node). */
export function fitErrorMessage(numNodes: number, failures: Map<string, NodeFailure>, preemptionPolicy?: string, preFilterMsg?: string): string {
  if (numNodes === 0) return 'no nodes available to schedule pods';
  const hist = (entries: string[]) => {
    const m = new Map<string, number>();
    for (const e of entries) m.set(e, (m.get(e) ?? 0) + 1);
    return [...m].map(([k, v]) => `${v} ${k}`).sort();
  };
  const all = [...failures.values()];
  let msg = `0/${numNodes} nodes are available: ${preFilterMsg ?? hist(all.flatMap((f) => f.reasons)).join(', ')}.`;
  if (preemptionPolicy === 'Never') msg += ' preemption: not eligible due to preemptionPolicy=Never.';
  else
    msg += ` preemption: 0/${numNodes} nodes are available: ${hist(all.map((f) => (f.unresolvable ? 'Preemption is not helpful for scheduling' : 'No preemption victims found for incoming pod'))).join(', ')}.`;
  return msg;
}
