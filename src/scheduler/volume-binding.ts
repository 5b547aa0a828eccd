/**
 * The scheduler's volume plugins, with upstream's semantics and messages:
 *
 * - VolumeRestrictions (ReadWriteOncePod): a pod using a ReadWriteOncePod claim that another
 *   scheduled pod already uses fits no node ("node has pod using PersistentVolumeClaim with the
 *   same name and ReadWriteOncePod access mode").
 * - VolumeBinding: PreFilter refuses pods whose claims are missing, being deleted, lost, or
 *   unbound with Immediate binding. Filter checks, per node, that bound claims' volumes allow
 *   the node (PV node affinity), and that each unbound WaitForFirstConsumer claim can be served
 *   there: by an Available static volume, or by dynamic provisioning — the class provisions,
 *   its allowedTopologies admit the node, and (for CSI drivers whose CSIDriver has
 *   storageCapacity) a CSIStorageCapacity for the class and node holds the request; a claim
 *   restored or cloned from a node-local source (a snapshot managed by one node, a volume with
 *   node affinity) only on the node holding that source.
 * - PreBind: each unbound delayed claim that a static volume serves on the chosen node gets that
 *   volume pre-bound to it (PV claimRef), each other one gets the node in its
 *   volume.kubernetes.io/selected-node for its provisioner; the pod is bound only once every
 *   claim is bound (upstream's 10-minute bind timeout). A provisioner that gives the node up
 *   (removing the annotation) fails the attempt, and the pod is scheduled again.
 */
import type { Client, Informer } from '../client/index.js';
import { labelSelectorAsSelector, type LabelSelector } from '../kinds/label-selector.js';
import { parseQuantity } from '../registry/validation.js';
import { findBestMatch } from '../controllers/pv-binder.js';
import { nodeSelectorTermMatchesNode } from '../controllers/util/node-fit.js';
import {
  ANN_BOUND_BY_CONTROLLER,
  ANN_SELECTED_NODE,
  claimClass,
  claimKeyOf,
  isClaimBound,
  NO_PROVISIONER,
  phaseOf,
  PVCS,
  pvcSpec,
  PVS,
  type PVSpec,
  pvSpec,
  type StorageClass,
} from '../storage/api.js';
import { csiDriverOfProvisioner } from '../storage/names.js';
import { claimDataSource, isClaimSource, isSnapshotSource, LABEL_MANAGED_BY, type VolumeSnapshot, type VolumeSnapshotContent } from '../storage/snapshot-api.js';
import type { KubeObject } from '../util/object.js';
import { isNodeReady } from '../controllers/util/nodes.js';
import type { NodeFailure } from './algorithm.js';
import type { NodeInfo, SchedulerCache } from './cache.js';
import type { PodInfo } from './pod-info.js';

export const VOLUME_REASON = {
  rwopConflict: 'node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode',
  nodeConflict: 'node(s) had volume node affinity conflict',
  bindConflict: "node(s) didn't find available persistent volumes to bind",
  pvNotExist: 'node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)',
  notEnoughSpace: 'node(s) did not have enough free storage',
  unboundImmediate: 'pod has unbound immediate PersistentVolumeClaims',
  sourceConflict: "node(s) didn't have the node-local snapshot or volume a PersistentVolumeClaim is restored or cloned from",
} as const;

/** Upstream's bindTimeoutSeconds default. */
export const BIND_TIMEOUT_MS = 600_000;

export interface VolumeInformers {
  pvcs: Informer<KubeObject>;
  pvs: Informer<KubeObject>;
  classes: Informer<StorageClass>;
  csiDrivers: Informer<KubeObject>;
  capacities: Informer<KubeObject>;
  snapshots: Informer<VolumeSnapshot>;
  contents: Informer<VolumeSnapshotContent>;
}

/** PreFilter's result for one pod. */
export interface PodVolumes {
  bound: KubeObject[];
  /** Unbound claims of WaitForFirstConsumer classes: bound after the node is chosen. */
  delayed: KubeObject[];
  /** ReadWriteOncePod claims some other scheduled pod already uses. */
  rwopConflicts: number;
}

export type VolumePreFilter = { volumes: PodVolumes } | { unresolvable: string };

/** How a pod's delayed claims get volumes on one node. */
interface BindingPlan {
  static: { claim: KubeObject; pv: KubeObject }[];
  provision: KubeObject[];
}

interface CapacityObject extends KubeObject {
  storageClassName?: string;
  capacity?: unknown;
  maximumVolumeSize?: unknown;
  nodeTopology?: LabelSelector;
}

const claimVolumes = (pod: KubeObject) => ((pod.spec ?? {}) as { volumes?: { persistentVolumeClaim?: { claimName: string } }[] }).volumes ?? [];

export class VolumeBinding {
  /** Claims (ns/name) whose binding to a node is in flight: upstream's assumed claim cache. */
  private readonly assumedSelection = new Map<string, string>();

  constructor(
    private readonly inf: VolumeInformers,
    private readonly cache: SchedulerCache,
  ) {}

  /** Whether the pod has claim volumes at all (the plugins skip pods without). */
  static hasClaims(pod: KubeObject): boolean {
    return claimVolumes(pod).some((v) => v.persistentVolumeClaim);
  }

  preFilter(pi: PodInfo): VolumePreFilter {
    const ns = pi.namespace;
    const claims: KubeObject[] = [];
    for (const v of claimVolumes(pi.pod)) {
      const name = v.persistentVolumeClaim?.claimName;
      if (!name) continue;
      const c = this.inf.pvcs.store.getByName(name, ns);
      if (!c) return { unresolvable: `persistentvolumeclaim "${name}" not found` };
      claims.push(c);
    }
    // VolumeRestrictions: ReadWriteOncePod claims already in use by a scheduled pod.
    let rwopConflicts = 0;
    for (const c of claims) {
      if (!(pvcSpec(c).accessModes ?? []).includes('ReadWriteOncePod')) continue;
      if (this.usedByOtherPod(pi, c.metadata.name!)) rwopConflicts++;
    }
    // VolumeBinding.
    const bound: KubeObject[] = [];
    const delayed: KubeObject[] = [];
    for (const c of claims) {
      const name = c.metadata.name!;
      if (phaseOf(c) === 'Lost') return { unresolvable: `persistentvolumeclaim "${name}" bound to non-existent persistentvolume "${pvcSpec(c).volumeName ?? ''}"` };
      if (c.metadata.deletionTimestamp) return { unresolvable: `persistentvolumeclaim "${name}" is being deleted` };
    }
    for (const c of claims) {
      if (isClaimBound(c)) bound.push(c);
      else if (!pvcSpec(c).volumeName && this.inf.classes.store.get(claimClass(c))?.volumeBindingMode === 'WaitForFirstConsumer') delayed.push(c);
      else return { unresolvable: VOLUME_REASON.unboundImmediate };
    }
    return { volumes: { bound, delayed, rwopConflicts } };
  }

  private usedByOtherPod(pi: PodInfo, claim: string): boolean {
    for (const [other] of this.cache.allPods()) {
      if (other.key === pi.key || other.namespace !== pi.namespace) continue;
      if (claimVolumes(other.pod).some((v) => v.persistentVolumeClaim?.claimName === claim)) return true;
    }
    return false;
  }

  /** VolumeRestrictions then VolumeBinding, for one node. */
  filter(v: PodVolumes, ni: NodeInfo): NodeFailure | undefined {
    if (v.rwopConflicts > 0) return { reasons: [VOLUME_REASON.rwopConflict], unresolvable: false };
    const node = ni.node!;
    let nodeConflict = false;
    let pvMissing = false;
    for (const c of v.bound) {
      const pv = this.inf.pvs.store.get(pvcSpec(c).volumeName!);
      if (!pv) pvMissing = true;
      else if (!affinityAllows(pv, node)) nodeConflict = true;
    }
    let bindConflict = false;
    let noSpace = false;
    let sourceConflict = false;
    for (const c of this.plan(v.delayed, node).provision) {
      const sc = this.inf.classes.store.get(claimClass(c));
      if (this.provisioningElsewhere(c, node)) nodeConflict = true;
      else if (!sc?.provisioner || sc.provisioner === NO_PROVISIONER || !topologyAllows(sc, ni.labels)) bindConflict = true;
      else if (!this.hasCapacity(sc, c, ni.labels)) noSpace = true;
      else if (!this.sourceAllows(c, node)) sourceConflict = true;
    }
    const reasons: string[] = [];
    if (nodeConflict) reasons.push(VOLUME_REASON.nodeConflict);
    if (bindConflict) reasons.push(VOLUME_REASON.bindConflict);
    if (pvMissing) reasons.push(VOLUME_REASON.pvNotExist);
    if (noSpace) reasons.push(VOLUME_REASON.notEnoughSpace);
    if (sourceConflict) reasons.push(VOLUME_REASON.sourceConflict);
    return reasons.length ? { reasons, unresolvable: true } : undefined;
  }

  /**
   * A claim already being provisioned for another Ready node (its selected-node annotation, set
   * by an earlier pod's binding, or that binding still in flight) stays there: a second pod sharing it must not move it, or the
   * node-local provisioners of both nodes would each make a volume for it. A provisioner that
   * cannot serve the claim removes the annotation, and a node that is gone or not Ready does not
   * hold it.
   */
  private provisioningElsewhere(claim: KubeObject, node: KubeObject): boolean {
    const selected = this.assumedSelection.get(claimKeyOf(claim)) ?? claim.metadata.annotations?.[ANN_SELECTED_NODE];
    if (!selected || selected === node.metadata.name) return false;
    const other = this.cache.node(selected);
    return other !== undefined && isNodeReady(other);
  }

  /** upstream findMatchingVolumes: static volumes on the node for the smallest claims first; the rest to provision. */
  private plan(delayed: KubeObject[], node: KubeObject): BindingPlan {
    const out: BindingPlan = { static: [], provision: [] };
    const chosen = new Set<string>();
    for (const c of [...delayed].sort((a, b) => requestOf(a) - requestOf(b))) {
      const pv = findBestMatch(this.inf.pvs.store.list(), c, node, true, (p) => chosen.has(p.metadata.name!));
      if (!pv) out.provision.push(c);
      else {
        chosen.add(pv.metadata.name!);
        out.static.push({ claim: c, pv });
      }
    }
    return out;
  }

  /**
   * Whether the claim's data source can be copied on the node: a snapshot labelled managed-by a
   * node only there, a volume only where its node affinity allows. A source not found or not yet
   * bound does not restrict (the provisioner waits for it and says why).
   */
  private sourceAllows(claim: KubeObject, node: KubeObject): boolean {
    const src = claimDataSource(claim);
    if (isSnapshotSource(src)) {
      const snap = this.inf.snapshots.store.getByName(src!.name, claim.metadata.namespace);
      const content = this.inf.contents.store.get(snap?.status?.boundVolumeSnapshotContentName ?? '');
      const managedBy = content?.metadata.labels?.[LABEL_MANAGED_BY];
      return !managedBy || managedBy === node.metadata.name;
    }
    if (isClaimSource(src)) {
      const source = this.inf.pvcs.store.getByName(src!.name, claim.metadata.namespace);
      const pv = source && pvcSpec(source).volumeName ? this.inf.pvs.store.get(pvcSpec(source).volumeName!) : undefined;
      return !pv || affinityAllows(pv, node);
    }
    return true;
  }

  /** upstream hasEnoughCapacity: only for CSI drivers that opt in with storageCapacity. */
  private hasCapacity(sc: StorageClass, claim: KubeObject, labels: Record<string, string>): boolean {
    const size = requestOf(claim);
    const driver = this.inf.csiDrivers.store.get(csiDriverOfProvisioner(sc.provisioner!));
    if (!(driver?.spec as { storageCapacity?: boolean } | undefined)?.storageCapacity) return true;
    return this.inf.capacities.store.list().some((o) => {
      const cap = o as CapacityObject;
      if (cap.storageClassName !== sc.metadata.name || !cap.nodeTopology) return false;
      const limit = parseQuantity(cap.maximumVolumeSize ?? cap.capacity);
      return limit >= size && !!labelSelectorAsSelector(cap.nodeTopology)?.matches(labels);
    });
  }

  /**
   * PreBind: selects the node on the delayed claims and waits until every one is bound.
   * Throws with upstream's reason when the binding cannot complete.
   */
  async bindPodVolumes(client: Client, pod: KubeObject, node: KubeObject, delayed: KubeObject[], podExists: () => boolean, signal: AbortSignal): Promise<void> {
    const nodeName = node.metadata.name!;
    const plan = this.plan(delayed, node);
    // Before the first await: the next scheduling decision already sees these claims as taken.
    const assumed = plan.provision.map((c) => claimKeyOf(c));
    for (const key of assumed) this.assumedSelection.set(key, nodeName);
    try {
      await this.bindPlanned(client, pod, nodeName, plan, podExists, signal);
    } finally {
      for (const key of assumed) if (this.assumedSelection.get(key) === nodeName) this.assumedSelection.delete(key);
    }
  }

  private async bindPlanned(client: Client, pod: KubeObject, nodeName: string, plan: BindingPlan, podExists: () => boolean, signal: AbortSignal): Promise<void> {
    const written = new Map<string, string>();
    for (const { claim, pv } of plan.static) {
      if (pvSpec(pv).claimRef?.uid === claim.metadata.uid) continue;
      const next = structuredClone(pv);
      (next.spec as PVSpec).claimRef = { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: claim.metadata.namespace, name: claim.metadata.name, uid: claim.metadata.uid, resourceVersion: claim.metadata.resourceVersion };
      next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [ANN_BOUND_BY_CONTROLLER]: 'yes' };
      written.set(`pv/${pv.metadata.name}`, (await client.resource(PVS).update(next)).metadata.resourceVersion!);
    }
    for (const c of plan.provision) {
      if (c.metadata.annotations?.[ANN_SELECTED_NODE] === nodeName) continue;
      const next = await client.resource(PVCS).patch(c.metadata.name!, { metadata: { annotations: { [ANN_SELECTED_NODE]: nodeName } } }, 'merge', { namespace: c.metadata.namespace });
      written.set(c.metadata.name!, next.metadata.resourceVersion!);
    }
    const deadline = Date.now() + BIND_TIMEOUT_MS;
    for (;;) {
      if (!podExists()) throw new Error('binding volumes: pod does not exist any more');
      if (this.staticBound(pod, plan, written) && this.provisioned(pod, nodeName, plan.provision, written)) return;
      if (Date.now() > deadline || signal.aborted) throw new Error('binding volumes: context deadline exceeded');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** upstream checkBindings for static bindings: the volume still names the claim, and the claim is bound. */
  private staticBound(pod: KubeObject, plan: BindingPlan, written: Map<string, string>): boolean {
    for (const { claim, pv } of plan.static) {
      const cur = this.inf.pvs.store.get(pv.metadata.name!);
      if (!cur) throw new Error(`binding volumes: failed to check binding: persistentvolumes "${pv.metadata.name}" not found`);
      const mine = written.get(`pv/${pv.metadata.name}`);
      if (mine && olderThan(cur.metadata.resourceVersion, mine)) return false;
      if (pvSpec(cur).claimRef?.uid !== claim.metadata.uid) throw new Error(`binding volumes: ClaimRef got reset for pv "${pv.metadata.name}"`);
      const c = this.inf.pvcs.store.getByName(claim.metadata.name!, pod.metadata.namespace);
      if (!c || !isClaimBound(c)) return false;
    }
    return true;
  }

  /** upstream checkBindings for claims to provision. */
  private provisioned(pod: KubeObject, node: string, delayed: KubeObject[], written: Map<string, string>): boolean {
    for (const c of delayed) {
      const name = c.metadata.name!;
      const cur = this.inf.pvcs.store.getByName(name, pod.metadata.namespace);
      if (!cur) throw new Error(`binding volumes: failed to check provisioning pvc: persistentvolumeclaims "${name}" not found`);
      const mine = written.get(name);
      // The cache has not seen our write yet.
      if (mine && olderThan(cur.metadata.resourceVersion, mine)) return false;
      const selected = cur.metadata.annotations?.[ANN_SELECTED_NODE];
      if (selected === undefined) throw new Error(`binding volumes: selectedNode annotation reset for PVC "${name}"`);
      if (selected !== node) throw new Error(`binding volumes: provisioning failed for PVC "${name}"`);
      if (!isClaimBound(cur)) return false;
    }
    return true;
  }
}

/** Resource versions are store revisions: numeric, increasing. */
const olderThan = (a: string | undefined, b: string) => /^\d+$/.test(a ?? '') && /^\d+$/.test(b) && BigInt(a!) < BigInt(b);

const requestOf = (c: KubeObject) => {
  const v = parseQuantity(pvcSpec(c).resources?.requests?.storage);
  return Number.isFinite(v) ? v : 0;
};

function affinityAllows(pv: KubeObject, node: KubeObject): boolean {
  const terms = pvSpec(pv).nodeAffinity?.required?.nodeSelectorTerms;
  return !terms || terms.some((t) => nodeSelectorTermMatchesNode(t, node));
}

/** upstream MatchTopologySelectorTerms: no terms admit every node. */
function topologyAllows(sc: StorageClass, labels: Record<string, string>): boolean {
  const terms = sc.allowedTopologies ?? [];
  return terms.length === 0 || terms.some((t) => (t.matchLabelExpressions ?? []).every((e) => (e.values ?? []).includes(labels[e.key])));
}

