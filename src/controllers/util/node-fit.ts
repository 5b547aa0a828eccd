/**
 * Node eligibility as upstream's scheduler plugins decide it, shared by the scheduler and by
 * controllers that place pods themselves (DaemonSets) or check a volume's node affinity (PV
 * binder): taints against tolerations (v1helper.TolerationsTolerateTaint, in nodes.ts),
 * nodeSelector, and required node affinity (NodeSelectorTerms: matchExpressions on labels and
 * matchFields on metadata.name, terms ORed, requirements ANDed).
 */
import type { KubeObject } from '../../util/object.js';
import type { Taint, Toleration } from './nodes.js';

// Taint/toleration matching lives once, in nodes.ts (v1helper); re-exported for node-fit users.
export { findUntoleratedTaint, type Taint, type Toleration, toleratesTaint } from './nodes.js';

export interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

export interface Affinity {
  nodeAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: NodeSelectorTerm[] };
    preferredDuringSchedulingIgnoredDuringExecution?: unknown[];
  };
  [k: string]: unknown;
}

export interface SchedulingSpec {
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  affinity?: Affinity;
  tolerations?: Toleration[];
  [k: string]: unknown;
}

export const taintsOf = (node: KubeObject): Taint[] => ((node.spec ?? {}) as { taints?: Taint[] }).taints ?? [];

/** One NodeSelectorRequirement against a label (or field) map (upstream nodeaffinity / labels.Requirement). */
function requirementMatches(r: NodeSelectorRequirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = labels[r.key];
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return has && values.includes(v);
    case 'NotIn':
      return !has || !values.includes(v);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      if (!has || values.length !== 1) return false;
      const a = Number.parseInt(v, 10);
      const b = Number.parseInt(values[0], 10);
      if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
      return r.operator === 'Gt' ? a > b : a < b;
    }
    default:
      return false;
  }
}

/**
 * One NodeSelectorTerm against a node's labels and name: matchExpressions on labels, matchFields
 * on metadata.name, all ANDed; an empty term matches nothing (as upstream).
 */
export function nodeSelectorTermMatches(term: NodeSelectorTerm, labels: Record<string, string>, nodeName: string): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  for (const r of exprs) if (!requirementMatches(r, labels)) return false;
  for (const r of fields) if (r.key !== 'metadata.name' || !requirementMatches(r, { 'metadata.name': nodeName })) return false;
  return true;
}

/** nodeSelectorTermMatches for a Node object. */
export const nodeSelectorTermMatchesNode = (term: NodeSelectorTerm, node: KubeObject): boolean =>
  nodeSelectorTermMatches(term, node.metadata.labels ?? {}, node.metadata.name ?? '');

/** A pod's spec.nodeSelector: every pair must be among the node's labels. */
export function matchesNodeSelector(nodeSelector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(nodeSelector ?? {})) if (labels[k] !== v) return false;
  return true;
}

/** nodeSelector and required node affinity (upstream GetRequiredNodeAffinity(pod).Match(node)). */
export function nodeMatchesPodAffinity(spec: SchedulingSpec, node: KubeObject): boolean {
  if (!matchesNodeSelector(spec.nodeSelector, node.metadata.labels ?? {})) return false;
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms === undefined) return true;
  return terms.some((t) => nodeSelectorTermMatchesNode(t, node));
}

/** The node a pod targets: spec.nodeName, else a required matchFields metadata.name In [one] (util.GetTargetNodeName). */
export function targetNodeName(pod: KubeObject): string | undefined {
  const spec = (pod.spec ?? {}) as SchedulingSpec;
  if (spec.nodeName) return spec.nodeName;
  for (const term of spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [])
    for (const f of term.matchFields ?? []) if (f.key === 'metadata.name' && f.operator === 'In' && f.values?.length === 1) return f.values[0];
  return undefined;
}
