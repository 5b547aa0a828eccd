/**
 * Node lifecycle (upstream's node-lifecycle controller and its NoExecute taint manager):
 *  - a node whose Lease (or Ready heartbeat) has not moved for the grace period (40 s) gets its
 *    conditions set to Unknown ("Kubelet stopped posting node status.") and its pods marked not
 *    ready;
 *  - taints follow the Ready condition: False → node.kubernetes.io/not-ready, Unknown →
 *    node.kubernetes.io/unreachable (NoSchedule and NoExecute), spec.unschedulable →
 *    node.kubernetes.io/unschedulable:NoSchedule, MemoryPressure/DiskPressure/PIDPressure True →
 *    node.kubernetes.io/{memory,disk,pid}-pressure:NoSchedule; they go when the condition does;
 *  - taint-based eviction: a pod on a node with NoExecute taints it does not tolerate is deleted
 *    at once, one that tolerates them for tolerationSeconds is deleted that long after the taint
 *    was added (DefaultTolerationSeconds admission gives pods 300 s).
 * Heartbeats are judged by when this controller saw them change (its own clock), as upstream.
 */
import { finalStateOf, isConflict, isNotFound } from '../client/index.js';
import type { KubeObject } from '../util/object.js';
import { type ControllerSpec, simpleController } from './context.js';
import {
  type Condition,
  conditionOf,
  indexPodsByNode,
  isPodTerminal,
  LEASES,
  NODE_LEASE_NAMESPACE,
  NODES,
  nodeSpec,
  POD_NODE_INDEX,
  podNodeName,
  PODS,
  rfc3339,
  type Taint,
  TAINT_NOT_READY,
  TAINT_UNREACHABLE,
  TAINT_UNSCHEDULABLE,
  type Toleration,
  toleratesTaint,
} from './util/nodes.js';

export interface NodeLifecycleSettings {
  /** A node silent this long is NotReady/Unknown (default 40 s). */
  nodeMonitorGracePeriodMs?: number;
  /** How often each node is re-checked at most (default 5 s). */
  nodeMonitorPeriodMs?: number;
}

const PRESSURE_TAINTS: [string, string][] = [
  ['MemoryPressure', 'node.kubernetes.io/memory-pressure'],
  ['DiskPressure', 'node.kubernetes.io/disk-pressure'],
  ['PIDPressure', 'node.kubernetes.io/pid-pressure'],
];
const MANAGED_TAINTS = new Set([TAINT_NOT_READY, TAINT_UNREACHABLE, TAINT_UNSCHEDULABLE, ...PRESSURE_TAINTS.map(([, k]) => k)]);
const NODE_CONDITIONS = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'];

export const nodeLifecycleController: ControllerSpec = {
  name: 'node-lifecycle',
  start(ctx) {
    const s = ctx.settings as typeof ctx.settings & NodeLifecycleSettings;
    const grace = s.nodeMonitorGracePeriodMs ?? 40_000;
    const period = s.nodeMonitorPeriodMs ?? 5_000;
    const nodesInf = ctx.informers.forResource<KubeObject>(NODES);
    const leasesInf = ctx.informers.forResource<KubeObject>(LEASES, { namespace: NODE_LEASE_NAMESPACE });
    const podsInf = ctx.informers.forResource<KubeObject>(PODS);
    indexPodsByNode(podsInf);
    const nodes = ctx.client.resource(NODES);
    const pods = ctx.client.resource(PODS);
    const recorder = ctx.recorder('node-controller');
    const evictionRecorder = ctx.recorder('taint-eviction-controller');

    /** node → [last heartbeat value seen, when this controller saw it change]. */
    const probes = new Map<string, { lease?: string; ready?: string; observed: number }>();
    const observe = (name: string, what: { lease?: string; ready?: string }) => {
      const p = probes.get(name);
      if (!p) {
        probes.set(name, { ...what, observed: Date.now() });
        return;
      }
      let changed = false;
      if (what.lease !== undefined && what.lease !== p.lease) {
        p.lease = what.lease;
        changed = true;
      }
      if (what.ready !== undefined && what.ready !== p.ready) {
        p.ready = what.ready;
        changed = true;
      }
      if (changed) p.observed = Date.now();
    };
    const readyHeartbeat = (n: KubeObject) => {
      const c = conditionOf(n, 'Ready');
      // A heartbeat the controller itself wrote (Unknown) is not a sign of life.
      return c && c.status !== 'Unknown' ? `${c.lastHeartbeatTime ?? ''}|${c.status}` : undefined;
    };
    leasesInf.addEventHandler({
      onAdd: (l) => observe(l.metadata.name!, { lease: (l.spec as { renewTime?: string } | undefined)?.renewTime ?? '' }),
      onUpdate: (_o, l) => observe(l.metadata.name!, { lease: (l.spec as { renewTime?: string } | undefined)?.renewTime ?? '' }),
    });

    const nodeCtl = simpleController(ctx, {
      name: 'node-lifecycle',
      primary: nodesInf,
      secondary: [leasesInf, podsInf],
      workers: 4,
      reconcile: async (name) => {
        const node = nodesInf.store.get(name);
        if (!node) {
          probes.delete(name);
          return;
        }
        const hb = readyHeartbeat(node);
        observe(name, hb !== undefined ? { ready: hb } : {});
        const probe = probes.get(name)!;
        const now = Date.now();
        const ready = conditionOf(node, 'Ready');
        // 1. Silent too long: conditions to Unknown, pods not ready.
        if (now - probe.observed >= grace && ready?.status !== 'Unknown') {
          await markUnknown(node, !ready);
          // The cache catches up through the watch; look again shortly (never a hot loop).
          return { requeueAfterMs: Math.min(period, 200) };
        }
        // 2. Taints follow the Ready condition and spec.unschedulable.
        await syncTaints(node);
        const left = probe.observed + grace - now;
        return { requeueAfterMs: Math.max(50, Math.min(period, left > 0 ? left : period)) };
      },
    });

    const markUnknown = async (node: KubeObject, never: boolean) => {
      const next = structuredClone(node);
      const st = (next.status ??= {}) as { conditions?: Condition[] };
      const now = rfc3339();
      const reason = never ? 'NodeStatusNeverUpdated' : 'NodeStatusUnknown';
      const message = never ? 'Kubelet never posted node status.' : 'Kubelet stopped posting node status.';
      const conds = (st.conditions ??= []);
      for (const type of NODE_CONDITIONS) {
        const c = conds.find((x) => x.type === type);
        if (!c) {
          conds.push({ type, status: 'Unknown', reason, message, lastHeartbeatTime: node.metadata.creationTimestamp, lastTransitionTime: now });
        } else if (c.status !== 'Unknown') {
          Object.assign(c, { status: 'Unknown', reason, message, lastTransitionTime: now });
        }
      }
      try {
        await nodes.updateStatus(next);
      } catch (e) {
        if (isConflict(e) || isNotFound(e)) return;
        throw e;
      }
      recorder.event(node, 'Normal', 'NodeNotReady', `Node ${node.metadata.name} status is now: NodeNotReady`);
      // MarkPodsNotReady: endpoints drop them at once.
      for (const p of podsInf.store.byIndex(POD_NODE_INDEX, node.metadata.name!)) {
        if (isPodTerminal(p)) continue;
        const c = conditionOf(p, 'Ready');
        if (!c || c.status === 'False') continue;
        const np = structuredClone(p);
        for (const x of (np.status as { conditions: Condition[] }).conditions) if (x.type === 'Ready') Object.assign(x, { status: 'False', lastTransitionTime: now });
        try {
          await pods.updateStatus(np);
          recorder.event(p, 'Warning', 'NodeNotReady', 'Node is not ready');
        } catch (e) {
          if (!isConflict(e) && !isNotFound(e)) throw e;
        }
      }
    };

    const syncTaints = async (node: KubeObject) => {
      const ready = conditionOf(node, 'Ready');
      const want: Taint[] = [];
      if (ready?.status === 'False') want.push({ key: TAINT_NOT_READY, effect: 'NoSchedule' }, { key: TAINT_NOT_READY, effect: 'NoExecute' });
      else if (ready?.status === 'Unknown') want.push({ key: TAINT_UNREACHABLE, effect: 'NoSchedule' }, { key: TAINT_UNREACHABLE, effect: 'NoExecute' });
      else if (!ready) want.push({ key: TAINT_NOT_READY, effect: 'NoSchedule' });
      if (nodeSpec(node).unschedulable) want.push({ key: TAINT_UNSCHEDULABLE, effect: 'NoSchedule' });
      // TaintNodesByCondition: a node under pressure takes no new pods (the agent evicts).
      for (const [type, key] of PRESSURE_TAINTS) if (conditionOf(node, type)?.status === 'True') want.push({ key, effect: 'NoSchedule' });
      const have = nodeSpec(node).taints ?? [];
      const managed = have.filter((t) => MANAGED_TAINTS.has(t.key));
      const same = managed.length === want.length && want.every((w) => managed.some((t) => t.key === w.key && t.effect === w.effect));
      if (same) return;
      const now = rfc3339();
      const taints = [
        ...have.filter((t) => !MANAGED_TAINTS.has(t.key)),
        ...want.map((w) => managed.find((t) => t.key === w.key && t.effect === w.effect) ?? (w.effect === 'NoExecute' ? { ...w, timeAdded: now } : w)),
      ];
      const next = structuredClone(node);
      (next.spec as { taints?: Taint[] }).taints = taints.length ? taints : undefined;
      if (!taints.length) delete (next.spec as { taints?: Taint[] }).taints;
      try {
        await nodes.update(next);
      } catch (e) {
        if (isConflict(e) || isNotFound(e)) return;
        throw e;
      }
    };

    // ---- taint-based eviction ----
    const evictCtl = simpleController(ctx, {
      name: 'taint-eviction',
      primary: podsInf,
      secondary: [nodesInf],
      workers: 4,
      reconcile: async (key) => {
        const pod = podsInf.store.get(key);
        if (!pod || pod.metadata.deletionTimestamp || isPodTerminal(pod)) return;
        const nodeName = podNodeName(pod);
        if (!nodeName) return;
        const node = nodesInf.store.get(nodeName);
        if (!node) return;
        const taints = (nodeSpec(node).taints ?? []).filter((t) => t.effect === 'NoExecute');
        if (!taints.length) return;
        const tolerations = ((pod.spec as { tolerations?: Toleration[] } | undefined)?.tolerations ?? []).filter((t) => !t.effect || t.effect === 'NoExecute');
        // Every NoExecute taint must be tolerated, else the pod goes now; otherwise it goes at the
        // earliest (taint added + tolerationSeconds) over the tolerations used (getMinTolerationTime).
        let due = Date.now();
        const tolerated = taints.every((taint) => tolerations.some((t) => toleratesTaint(t, taint)));
        if (tolerated) {
          const deadlines = taints.flatMap((taint) =>
            tolerations
              .filter((t) => toleratesTaint(t, taint) && typeof t.tolerationSeconds === 'number')
              .map((t) => (taint.timeAdded ? Date.parse(taint.timeAdded) : Date.now()) + Math.max(0, t.tolerationSeconds!) * 1000),
          );
          if (!deadlines.length) return;
          due = Math.min(...deadlines);
        }
        const wait = due - Date.now();
        if (wait > 0) return { requeueAfterMs: wait };
        // The status write returns the version the delete is pinned to, so a reconcile working
        // from a cache that has not seen this deletion yet cannot delete the pod a second time.
        const np = structuredClone(pod);
        const st = (np.status ??= {}) as { conditions?: Condition[] };
        const conds = (st.conditions ??= []).filter((c) => c.type !== 'DisruptionTarget');
        conds.push({ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByTaintManager', message: 'Taint manager: deleting due to NoExecute taint', lastTransitionTime: rfc3339() });
        st.conditions = conds;
        let rv: string | undefined;
        try {
          rv = (await pods.updateStatus(np)).metadata.resourceVersion;
          await pods.delete(pod.metadata.name!, { namespace: pod.metadata.namespace, preconditions: { uid: pod.metadata.uid, resourceVersion: rv } });
        } catch (e) {
          if (isNotFound(e)) return;
          if (isConflict(e)) return { requeueAfterMs: 200 };
          throw e;
        }
        evictionRecorder.event(pod, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${key}`);
      },
    });
    // A node's NoExecute taints changing re-checks its pods.
    nodesInf.addEventHandler({
      onUpdate: (o, n) => {
        const ex = (x: KubeObject) => JSON.stringify((nodeSpec(x).taints ?? []).filter((t) => t.effect === 'NoExecute'));
        if (ex(o) === ex(n)) return;
        for (const p of podsInf.store.byIndex(POD_NODE_INDEX, n.metadata.name!)) evictCtl.queue.add(`${p.metadata.namespace}/${p.metadata.name}`);
      },
      onDelete: (d) => probes.delete(finalStateOf(d).metadata.name!),
    });
    return [nodeCtl.controller, evictCtl.controller];
  },
};
