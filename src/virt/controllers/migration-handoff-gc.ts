/**
 * Pod IP handoff claims a lost node can no longer withdraw. A node lists the addresses it took
 * over for migration target pods in its `cairn.io/pod-ip-handoffs` annotation and drops an entry
 * itself once that pod's sandbox is gone (src/agent/pod-ip-handoff.ts). A node that lost power
 * never does, and its latest claim would keep every other node routing the address to it — also
 * after the migration failed, the guest resumed on the source, and the dead target pod was
 * finally removed (pod GC, a forced delete). So for a node that is not Ready, the controller
 * manager drops the entries whose pod no longer exists in the API; while the pod object exists
 * the claim stands, as Kubernetes keeps routing to a NotReady node's pods until they are deleted.
 * A Ready node's agent keeps its own list.
 */
import { finalStateOf, isConflict, isNotFound, type RunningController } from '../../client/index.js';
import type { ControllerContext } from '../../controllers/context.js';
import { simpleController } from '../../controllers/context.js';
import { isNodeReady, NODES, PODS } from '../../controllers/util/nodes.js';
import { formatHandoffs, parseHandoffs, POD_IP_HANDOFFS_ANNOTATION, type PodIpHandoff } from '../../net/pod-ip-handoff.js';
import type { KubeObject } from '../../util/object.js';
import { ANN_POD_IP_HANDOFF } from '../migration/migration-state.js';

/** The node's entries split into those to keep and those to drop (none while it is Ready; else those whose pod is gone). Pure. */
export function staleHandoffs(node: KubeObject, podExists: (uid: string) => boolean): { keep: PodIpHandoff[]; drop: PodIpHandoff[] } {
  const all = parseHandoffs(node.metadata.annotations?.[POD_IP_HANDOFFS_ANNOTATION]);
  if (isNodeReady(node)) return { keep: all, drop: [] };
  return { keep: all.filter((e) => podExists(e.podUid)), drop: all.filter((e) => !podExists(e.podUid)) };
}

export function startHandoffGc(ctx: ControllerContext): RunningController {
  const nodeInf = ctx.informers.forResource<KubeObject>(NODES);
  const podInf = ctx.informers.forResource<KubeObject>(PODS);
  const { controller, queue } = simpleController(ctx, {
    name: 'pod-ip-handoff-gc',
    primary: nodeInf,
    secondary: [podInf],
    workers: 1,
    reconcile: async (name) => {
      const node = nodeInf.store.getByName(name);
      if (!node) return;
      const uids = new Set(podInf.store.list().map((p) => p.metadata.uid));
      const { keep, drop } = staleHandoffs(node, (uid) => uids.has(uid));
      if (!drop.length) return;
      try {
        await ctx.client.resource(NODES).patch(name, { metadata: { resourceVersion: node.metadata.resourceVersion, annotations: { [POD_IP_HANDOFFS_ANNOTATION]: formatHandoffs(keep) ?? null } } }, 'merge');
      } catch (e) {
        if (isNotFound(e)) return;
        if (isConflict(e)) return { requeueAfterMs: 100 };
        throw e;
      }
      ctx.logger({ level: 'info', msg: 'dropped the pod IP handoffs of pods gone from a node that is not Ready', node: name, ips: drop.map((d) => d.ip) });
    },
  });
  // A handed-over pod removed: its node may hold a claim only it could have dropped.
  podInf.addEventHandler({
    onDelete: (o) => {
      const p = finalStateOf(o);
      const node = (p.spec as { nodeName?: string } | undefined)?.nodeName;
      if (node && p.metadata.annotations?.[ANN_POD_IP_HANDOFF] !== undefined) queue.add(node);
    },
  });
  return controller;
}
