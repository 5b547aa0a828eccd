/**
 * Node and pod helpers shared by the node controllers, the scheduler and the simulated kubelet:
 * resource refs, condition access, taint/toleration matching (upstream's v1helper), and a
 * pods-by-node index on a pod informer.
 */
import type { Informer, ResourceRef } from '../../client/index.js';
import type { KubeObject } from '../../util/object.js';

export const NODES: ResourceRef = { group: '', version: 'v1', plural: 'nodes', namespaced: false, kind: 'Node' };
export const PODS: ResourceRef = { group: '', version: 'v1', plural: 'pods', namespaced: true, kind: 'Pod' };
export const LEASES: ResourceRef = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespaced: true, kind: 'Lease' };
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';

export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' | string;
  timeAdded?: string;
}

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal' | string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
  lastProbeTime?: string | null;
}

export interface NodeSpecLike {
  podCIDR?: string;
  podCIDRs?: string[];
  unschedulable?: boolean;
  taints?: Taint[];
}

export const nodeSpec = (n: KubeObject) => (n.spec ?? {}) as NodeSpecLike;
export const nodeStatus = (n: KubeObject) =>
  (n.status ?? {}) as { conditions?: Condition[]; allocatable?: Record<string, string>; capacity?: Record<string, string>; addresses?: { type: string; address: string }[] };

export function conditionOf(obj: KubeObject, type: string): Condition | undefined {
  return ((obj.status as { conditions?: Condition[] } | undefined)?.conditions ?? []).find((c) => c.type === type);
}

/** The node's Ready condition is True. */
export const isNodeReady = (n: KubeObject) => conditionOf(n, 'Ready')?.status === 'True';

export const rfc3339 = (d: Date | number = new Date()) => new Date(d).toISOString().replace(/\.\d{3}Z$/, 'Z');
export const microTime = (d: Date | number = new Date()) => new Date(d).toISOString().replace('Z', '000Z');

/** v1helper.ToleratesTaint. */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if ((t.key ?? '') !== '' && t.key !== taint.key) return false;
  switch (t.operator ?? 'Equal') {
    case 'Exists':
      return true;
    case '':
    case 'Equal':
      return (t.value ?? '') === (taint.value ?? '');
    default:
      return false;
  }
}

export const tolerates = (tolerations: Toleration[] | undefined, taint: Taint) => (tolerations ?? []).some((t) => toleratesTaint(t, taint));

/** The first taint (of the given effects) that no toleration tolerates. */
export function findUntoleratedTaint(taints: Taint[] | undefined, tolerations: Toleration[] | undefined, effects: readonly string[]): Taint | undefined {
  return (taints ?? []).find((taint) => effects.includes(taint.effect) && !tolerates(tolerations, taint));
}

export const POD_NODE_INDEX = 'spec.nodeName';

/** Adds (once) an index of pods by spec.nodeName to a shared pod informer. */
export function indexPodsByNode(pods: Informer<KubeObject>): void {
  if (pods.hasIndexer(POD_NODE_INDEX)) return;
  try {
    pods.addIndexers({ [POD_NODE_INDEX]: (p) => [((p.spec as { nodeName?: string } | undefined)?.nodeName ?? '') || ''].filter(Boolean) });
  } catch {
    // added concurrently by another controller under the same name
  }
}

export const podNodeName = (p: KubeObject) => (p.spec as { nodeName?: string } | undefined)?.nodeName ?? '';
export const podPhase = (p: KubeObject) => (p.status as { phase?: string } | undefined)?.phase ?? '';
export const isPodTerminal = (p: KubeObject) => podPhase(p) === 'Succeeded' || podPhase(p) === 'Failed';

/** IPv4 helpers for CIDR work. */
export function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}
export function intToIp(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
export function parseCidr(cidr: string): { base: number; bits: number } {
  const [ip, b] = cidr.split('/');
  const bits = Number(b);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return { base: (ipToInt(ip) & mask) >>> 0, bits };
}
