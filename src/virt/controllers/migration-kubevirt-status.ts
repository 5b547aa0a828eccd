/**
 * The KubeVirt CR's status: Cairn has no operator rolling out components, so the CR whose
 * configuration the migration controller takes (honouredKubeVirt: the oldest) is `Deployed` as
 * soon as it exists, which is what `kubectl get kubevirt -n kubevirt` shows on KubeVirt once it is
 * installed. Any other CR is left without a phase: nothing of it is in force.
 */
import { isConflict, isNotFound, type Informer, type RunningController } from '../../client/index.js';
import type { ControllerContext } from '../../controllers/context.js';
import { objectKeyOf, simpleController } from '../../controllers/context.js';
import type { KubeObject } from '../../util/object.js';
import { honouredKubeVirt, type KubeVirt, KUBEVIRTS, PHASE_DEPLOYED } from '../api/kubevirt-cr.js';

export function startKubeVirtStatus(ctx: ControllerContext, kvInf: Informer<KubeObject>): RunningController {
  const { controller } = simpleController(ctx, {
    name: 'kubevirt-status',
    primary: kvInf,
    workers: 1,
    reconcile: async (key) => {
      const kv = kvInf.store.get(key) as KubeVirt | undefined;
      if (!kv || kv.status?.phase === PHASE_DEPLOYED) return;
      const honoured = honouredKubeVirt(kvInf.store.list() as KubeVirt[]);
      if (!honoured || objectKeyOf(honoured) !== key) return;
      try {
        await ctx.client.resource(KUBEVIRTS).updateStatus({ ...kv, status: { ...kv.status, phase: PHASE_DEPLOYED } }, { namespace: kv.metadata.namespace });
      } catch (e) {
        if (isNotFound(e)) return;
        if (isConflict(e)) return { requeueAfterMs: 100 };
        throw e;
      }
    },
  });
  return controller;
}
