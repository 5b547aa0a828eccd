/**
 * DaemonSet controller (upstream pkg/controller/daemon): one daemon pod on every node that should
 * run it — nodeSelector, required node affinity, and taints against the pod's tolerations plus the
 * ones every daemon pod gets — pinned to its node with required node affinity on metadata.name so
 * the scheduler binds it there. Updates roll out node by node (RollingUpdate with maxUnavailable
 * or maxSurge) or wait for pods to be deleted (OnDelete). It keeps no ControllerRevisions (no rollout history):
 * pods carry `controller-revision-hash` (the template's hash) and `pod-template-generation`
 * (the `deprecated.daemonset.template.generation` annotation), which decide whether a pod is current.
 */
import { isConflict, isNotFound } from '../client/index.js';
import { TEMPLATE_GENERATION_ANNOTATION } from '../kinds/apps/daemon-set.js';
import type { IntOrString } from '../kinds/apps/workload-common.js';
import { type LabelSelector, labelSelectorAsSelector } from '../kinds/label-selector.js';
import { deepClone, type KubeObject } from '../util/object.js';
import { type ControllerSpec, objectKeyOf, simpleController } from './context.js';
import { claimObjects, controllerRefOf, newControllerRef } from './util/controller-ref.js';
import { Expectations, watchOwnedPods } from './util/expectations.js';
import { findUntoleratedTaint, nodeMatchesPodAffinity, type SchedulingSpec, targetNodeName, taintsOf, type Toleration } from './util/node-fit.js';
import { isPodAvailable, isPodReady, podAvailableAt, podPhase } from './util/pod-state.js';
import { RequeueAt } from './util/requeue.js';
import { computeHash, semanticallyEqual } from './util/template-hash.js';
import { DAEMONSETS, NODES, PODS, withControllerIndex } from './util/workload-refs.js';

export const REVISION_HASH_LABEL = 'controller-revision-hash';
export const TEMPLATE_GENERATION_LABEL = 'pod-template-generation';

interface DaemonSetSpec {
  selector?: LabelSelector;
  template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: SchedulingSpec };
  minReadySeconds?: number;
  updateStrategy?: { type?: string; rollingUpdate?: { maxUnavailable?: IntOrString; maxSurge?: IntOrString } };
}

interface DaemonSetStatus {
  currentNumberScheduled: number;
  numberMisscheduled: number;
  desiredNumberScheduled: number;
  numberReady: number;
  observedGeneration?: number;
  updatedNumberScheduled: number;
  numberAvailable: number;
  numberUnavailable: number;
  collisionCount?: number;
  conditions?: unknown[];
}

/** The tolerations upstream adds to every daemon pod (util.AddOrUpdateDaemonPodTolerations). */
export function daemonPodTolerations(spec: SchedulingSpec): Toleration[] {
  const add: Toleration[] = [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
  ];
  if (spec.hostNetwork === true) add.push({ key: 'node.kubernetes.io/network-unavailable', operator: 'Exists', effect: 'NoSchedule' });
  const out = [...(spec.tolerations ?? [])];
  for (const t of add) {
    const i = out.findIndex((o) => o.key === t.key && o.effect === t.effect);
    if (i >= 0) out[i] = t;
    else out.push(t);
  }
  return out;
}

/**
 * NodeShouldRunDaemonPod: whether a daemon pod should be placed on the node (shouldRun) and
 * whether one already there may stay (shouldContinueRunning: only an untolerated NoExecute taint,
 * a node name or affinity mismatch evicts it).
 */
export function nodeShouldRunDaemonPod(node: KubeObject, ds: KubeObject): { shouldRun: boolean; shouldContinueRunning: boolean } {
  const spec = ((ds.spec ?? {}) as DaemonSetSpec).template?.spec ?? {};
  if (spec.nodeName && spec.nodeName !== node.metadata.name) return { shouldRun: false, shouldContinueRunning: false };
  if (!nodeMatchesPodAffinity(spec, node)) return { shouldRun: false, shouldContinueRunning: false };
  const tolerations = daemonPodTolerations(spec);
  const taints = taintsOf(node);
  if (findUntoleratedTaint(taints, tolerations, ['NoSchedule', 'NoExecute'])) {
    return { shouldRun: false, shouldContinueRunning: !findUntoleratedTaint(taints, tolerations, ['NoExecute']) };
  }
  return { shouldRun: true, shouldContinueRunning: true };
}

/** util.ReplaceDaemonSetPodNodeNameNodeAffinity: the required terms become "metadata.name In [node]". */
function pinToNode(spec: SchedulingSpec, nodeName: string): void {
  const affinity = (spec.affinity ??= {});
  const na = (affinity.nodeAffinity ??= {});
  na.requiredDuringSchedulingIgnoredDuringExecution = {
    nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName] }] }],
  };
}

const templateGeneration = (ds: KubeObject) => ds.metadata.annotations?.[TEMPLATE_GENERATION_ANNOTATION];

/** util.IsPodUpdated: the pod's hash or template generation is the DaemonSet's current one. */
function isPodUpdated(pod: KubeObject, hash: string, generation: string | undefined): boolean {
  const labels = pod.metadata.labels ?? {};
  return labels[REVISION_HASH_LABEL] === hash || (generation !== undefined && labels[TEMPLATE_GENERATION_LABEL] === generation);
}

/** Oldest first; running before pending (podByCreationTimestampAndPhase). */
function byAgeAndPhase(a: KubeObject, b: KubeObject): number {
  const ra = podPhase(a) === 'Running' ? 0 : 1;
  const rb = podPhase(b) === 'Running' ? 0 : 1;
  if (ra !== rb) return ra - rb;
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1;
}

/** GetScaledValueFromIntOrPercent, rounding up. */
function scaled(v: IntOrString | undefined, total: number): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^[0-9]+%$/.test(v)) return Math.ceil((Number(v.slice(0, -1)) * total) / 100);
  return 0;
}

export const daemonSetController: ControllerSpec = {
  name: 'daemonset',
  start(ctx) {
    const dsInformer = ctx.informers.forResource<KubeObject>(DAEMONSETS);
    const podInformer = withControllerIndex(ctx.informers.forResource<KubeObject>(PODS));
    const nodeInformer = ctx.informers.forResource<KubeObject>(NODES);
    const pods = ctx.client.resource(PODS);
    const daemonSets = ctx.client.resource(DAEMONSETS);
    const recorder = ctx.recorder('daemonset-controller');
    const expectations = new Expectations();

    const reconcile = async (key: string): Promise<{ requeueAfterMs?: number } | void> => {
      const cached = dsInformer.store.get(key);
      if (!cached) {
        expectations.forget(key);
        return;
      }
      const ds = { ...cached, apiVersion: 'apps/v1', kind: 'DaemonSet' } as KubeObject;
      const spec = (ds.spec ?? {}) as DaemonSetSpec;
      const selector = labelSelectorAsSelector(spec.selector);
      if (!selector || selector.empty) return;
      const hash = computeHash(spec.template);
      const generation = templateGeneration(ds);
      const nodes = nodeInformer.store.list();
      const nodeNames = new Set(nodes.map((n) => n.metadata.name!));

      // The daemon pods, after adoption/release, grouped by their node.
      const candidates = podInformer.store.byNamespace(ds.metadata.namespace!);
      const owned = await claimObjects(pods, ds, selector, candidates, newControllerRef(ds));
      const byNode = new Map<string, KubeObject[]>();
      const unplaced: KubeObject[] = [];
      for (const p of owned) {
        const n = targetNodeName(p);
        if (!n) continue;
        if (!nodeNames.has(n)) {
          // Pods for nodes that are gone: unscheduled ones are deleted (the node lifecycle handles bound ones).
          if (!(p.spec as SchedulingSpec | undefined)?.nodeName && !p.metadata.deletionTimestamp) unplaced.push(p);
          continue;
        }
        const list = byNode.get(n);
        if (list) list.push(p);
        else byNode.set(n, [p]);
      }

      const requeue = new RequeueAt();
      const requeueAt = requeue.at;

      if (!ds.metadata.deletionTimestamp && expectations.satisfied(key)) {
        const { create, remove } = manage(ds, nodes, byNode, unplaced);
        if (create.length === 0 && remove.length === 0 && spec.updateStrategy?.type !== 'OnDelete') {
          const ru = rollingUpdate(ds, nodes, byNode, hash, generation, requeueAt);
          create.push(...ru.create);
          remove.push(...ru.remove);
        }
        await syncNodes(ds, create, remove, hash, generation);
      }

      // Status from what the cache shows now.
      const now = Date.now();
      const st: DaemonSetStatus = {
        currentNumberScheduled: 0,
        numberMisscheduled: 0,
        desiredNumberScheduled: 0,
        numberReady: 0,
        updatedNumberScheduled: 0,
        numberAvailable: 0,
        numberUnavailable: 0,
        observedGeneration: ds.metadata.generation,
      };
      for (const node of nodes) {
        const { shouldRun } = nodeShouldRunDaemonPod(node, ds);
        const list = (byNode.get(node.metadata.name!) ?? []);
        const scheduled = list.length > 0;
        if (!shouldRun) {
          if (scheduled) st.numberMisscheduled++;
          continue;
        }
        st.desiredNumberScheduled++;
        if (!scheduled) continue;
        st.currentNumberScheduled++;
        const pod = [...list].sort(byAgeAndPhase)[0];
        if (isPodReady(pod)) {
          st.numberReady++;
          if (isPodAvailable(pod, spec.minReadySeconds ?? 0, now)) st.numberAvailable++;
          else {
            const at = podAvailableAt(pod, spec.minReadySeconds ?? 0);
            if (at !== undefined) requeueAt(at);
          }
        }
        if (isPodUpdated(pod, hash, generation)) st.updatedNumberScheduled++;
      }
      st.numberUnavailable = st.desiredNumberScheduled - st.numberAvailable;
      const old = (cached.status ?? {}) as Partial<DaemonSetStatus>;
      if (old.collisionCount !== undefined) st.collisionCount = old.collisionCount;
      if (old.conditions !== undefined) st.conditions = old.conditions;
      const changed = !semanticallyEqual(st, old);
      if (changed) {
        try {
          await daemonSets.updateStatus({ ...deepClone(cached), status: st } as KubeObject);
        } catch (e) {
          // Gone, or the cache is behind: the informer brings the newer object back to us.
          if (isNotFound(e) || isConflict(e)) return;
          throw e;
        }
      }
      return requeue.result();
    };

    /** Which nodes need a daemon pod and which pods must go (upstream manage + podsShouldBeOnNode). */
    function manage(ds: KubeObject, nodes: KubeObject[], byNode: Map<string, KubeObject[]>, unplaced: KubeObject[]) {
      const create: string[] = [];
      const remove: KubeObject[] = [...unplaced];
      const surge = scaled(((ds.spec ?? {}) as DaemonSetSpec).updateStrategy?.rollingUpdate?.maxSurge, 1) > 0;
      for (const node of nodes) {
        const name = node.metadata.name!;
        const { shouldRun, shouldContinueRunning } = nodeShouldRunDaemonPod(node, ds);
        const list = byNode.get(name) ?? [];
        if (shouldRun && list.length === 0) {
          create.push(name);
          continue;
        }
        if (!shouldContinueRunning) {
          remove.push(...list.filter((p) => !p.metadata.deletionTimestamp));
          continue;
        }
        if (!shouldRun) continue;
        // Failed pods are killed and replaced; of several live pods the oldest stays
        // (with surge, an old and a new pod may run side by side during a rollout).
        const live: KubeObject[] = [];
        for (const p of list) {
          if (p.metadata.deletionTimestamp) continue;
          if (podPhase(p) === 'Failed') {
            recorder.event(ds, 'Warning', 'FailedDaemonPod', `Found failed daemon pod ${p.metadata.namespace}/${p.metadata.name} on node ${name}, will try to kill it`);
            remove.push(p);
          } else live.push(p);
        }
        // With no live pod left, the replacement comes once the failed one is gone.
        if (live.length > 1 && !surge) {
          live.sort(byAgeAndPhase);
          remove.push(...live.slice(1));
        } else if (live.length > 2) {
          live.sort(byAgeAndPhase);
          remove.push(...live.slice(2));
        }
      }
      return { create, remove };
    }

    /** Rolling update (upstream rollingUpdate): at most maxUnavailable nodes down, or maxSurge extra pods. */
    function rollingUpdate(ds: KubeObject, nodes: KubeObject[], byNode: Map<string, KubeObject[]>, hash: string, generation: string | undefined, requeueAt: (t: number) => void) {
      const spec = (ds.spec ?? {}) as DaemonSetSpec;
      const minReady = spec.minReadySeconds ?? 0;
      const now = Date.now();
      const eligible = nodes.filter((n) => nodeShouldRunDaemonPod(n, ds).shouldRun);
      const desired = eligible.length;
      const ru = spec.updateStrategy?.rollingUpdate ?? {};
      let maxSurge = scaled(ru.maxSurge, desired);
      let maxUnavailable = scaled(ru.maxUnavailable, desired);
      if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
      if (maxSurge > 0) maxUnavailable = 0;
      const create: string[] = [];
      const remove: KubeObject[] = [];
      const available = (p: KubeObject) => {
        if (isPodAvailable(p, minReady, now)) return true;
        const at = podAvailableAt(p, minReady);
        if (at !== undefined) requeueAt(at);
        return false;
      };

      if (maxSurge === 0) {
        let unavailable = 0;
        const candidates: KubeObject[] = [];
        for (const node of eligible) {
          const live = (byNode.get(node.metadata.name!) ?? []).filter((p) => !p.metadata.deletionTimestamp);
          const newPod = live.find((p) => isPodUpdated(p, hash, generation));
          const oldPods = live.filter((p) => !isPodUpdated(p, hash, generation));
          if (live.length === 0) {
            unavailable++;
            continue;
          }
          if (newPod) {
            if (!available(newPod)) unavailable++;
            continue;
          }
          const old = oldPods.sort(byAgeAndPhase)[0];
          if (!available(old)) {
            // An old pod that is down anyway goes at once.
            unavailable++;
            remove.push(old);
          } else candidates.push(old);
        }
        const budget = Math.max(0, maxUnavailable - unavailable);
        remove.push(...candidates.slice(0, budget));
        return { create, remove };
      }

      // Surge: start the new pod beside the old, then retire the old once the new is available.
      let surging = 0;
      const needSurge: string[] = [];
      for (const node of eligible) {
        const name = node.metadata.name!;
        const live = (byNode.get(name) ?? []).filter((p) => !p.metadata.deletionTimestamp);
        const newPod = live.find((p) => isPodUpdated(p, hash, generation));
        const oldPods = live.filter((p) => !isPodUpdated(p, hash, generation));
        if (oldPods.length === 0) continue;
        if (!newPod) {
          if (oldPods.every((p) => !available(p))) create.push(name); // nothing to protect: replace now
          else needSurge.push(name);
          continue;
        }
        surging++;
        if (available(newPod)) {
          remove.push(...oldPods);
        }
      }
      const budget = Math.max(0, maxSurge - surging);
      create.push(...needSurge.slice(0, budget));
      return { create, remove };
    }

    async function syncNodes(ds: KubeObject, createOn: string[], remove: KubeObject[], hash: string, generation: string | undefined): Promise<void> {
      const key = objectKeyOf(ds);
      const spec = (ds.spec ?? {}) as DaemonSetSpec;
      const seen = new Set<string>();
      const deletions = remove.filter((p) => {
        const k = objectKeyOf(p);
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      });
      expectations.expectCreations(key, createOn.length);
      for (const p of deletions) expectations.expectDeletion(key, objectKeyOf(p));
      const errors: unknown[] = [];
      await Promise.all(
        createOn.map(async (nodeName) => {
          const template = deepClone(spec.template ?? {});
          const podSpec = (template.spec ??= {}) as SchedulingSpec;
          pinToNode(podSpec, nodeName);
          podSpec.tolerations = daemonPodTolerations(podSpec);
          const labels: Record<string, string> = { ...(template.metadata?.labels ?? {}), [REVISION_HASH_LABEL]: hash };
          if (generation !== undefined) labels[TEMPLATE_GENERATION_LABEL] = generation;
          const pod: KubeObject = {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: {
              generateName: `${ds.metadata.name}-`,
              namespace: ds.metadata.namespace,
              labels,
              ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
              ownerReferences: [newControllerRef(ds)],
            },
            spec: podSpec,
          };
          try {
            const created = await pods.create(pod);
            recorder.event(ds, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`);
          } catch (e) {
            expectations.creationObserved(key);
            recorder.event(ds, 'Warning', 'FailedCreate', `Error creating: ${(e as Error).message}`);
            errors.push(e);
          }
        }),
      );
      await Promise.all(
        deletions.map(async (p) => {
          try {
            await pods.delete(p.metadata.name!, { namespace: p.metadata.namespace, preconditions: { uid: p.metadata.uid } });
            recorder.event(ds, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`);
          } catch (e) {
            expectations.deletionObserved(key, objectKeyOf(p));
            if (!isNotFound(e)) {
              recorder.event(ds, 'Warning', 'FailedDelete', `Error deleting: ${(e as Error).message}`);
              errors.push(e);
            }
          }
        }),
      );
      if (errors.length) throw errors[0];
    }

    const { controller, queue } = simpleController(ctx, { name: 'daemonset', primary: dsInformer, secondary: [podInformer, nodeInformer], reconcile });

    // Pods: observe expectations and wake the controlling DaemonSet.
    const ownerKey = (p: KubeObject) => {
      const ref = controllerRefOf(p);
      if (!ref || ref.kind !== 'DaemonSet') return undefined;
      const ds = dsInformer.store.getByName(ref.name, p.metadata.namespace);
      return ds && ds.metadata.uid === ref.uid ? objectKeyOf(ds) : `${p.metadata.namespace}/${ref.name}`;
    };
    const enqueueMatching = (p: KubeObject) => {
      // Orphans may be adopted by any DaemonSet selecting them.
      for (const ds of dsInformer.store.byNamespace(p.metadata.namespace ?? '')) {
        const sel = labelSelectorAsSelector(((ds.spec ?? {}) as DaemonSetSpec).selector);
        if (sel && !sel.empty && sel.matches(p.metadata.labels)) queue.add(objectKeyOf(ds));
      }
    };
    watchOwnedPods(podInformer, {
      expectations,
      queue,
      ownerKey,
      orphan: (p) => {
        if (!controllerRefOf(p)) enqueueMatching(p);
      },
    });
    // Nodes: every DaemonSet re-evaluates placement.
    const all = () => {
      for (const k of dsInformer.store.listKeys()) queue.add(k);
    };
    nodeInformer.addEventHandler({
      onAdd: all,
      onUpdate(old, n) {
        if (old.metadata.resourceVersion === n.metadata.resourceVersion) return;
        if (JSON.stringify(old.metadata.labels) === JSON.stringify(n.metadata.labels) && JSON.stringify(old.spec) === JSON.stringify(n.spec)) return;
        all();
      },
      onDelete: all,
    });
    return controller;
  },
};
