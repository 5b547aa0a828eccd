/**
 * PVC protection (upstream pkg/controller/volume/pvcprotection): a claim being deleted keeps its
 * kubernetes.io/pvc-protection finalizer while any scheduled pod names it in its volumes — also
 * a pod that has finished, until that pod is deleted — and loses it once none does, so the
 * claim (and with it, through reclaim, its volume) only goes when nothing can still use it.
 * Like upstream, a claim the cache says is unused is checked once more with a live list.
 */
import { finalStateOf, isConflict, isNotFound, runController, WorkQueue } from '../client/index.js';
import { PVC_PROTECTION_FINALIZER } from '../kinds/core/persistentvolume.js';
import { claimKeyOf, PVCS, podClaimNames } from '../storage/api.js';
import type { KubeObject } from '../util/object.js';
import type { ControllerSpec } from './context.js';
import { PODS } from './util/nodes.js';

/** upstream podUsesPVC: only scheduled pods count (the node agent refuses new pods on a claim being deleted). */
const usesClaim = (pod: KubeObject, claim: string) => !!(pod.spec as { nodeName?: string } | undefined)?.nodeName && podClaimNames(pod).includes(claim);

export const pvcProtectionController: ControllerSpec = {
  name: 'pvc-protection',
  start(ctx) {
    const pvcInf = ctx.informers.forResource<KubeObject>(PVCS);
    const podInf = ctx.informers.forResource<KubeObject>(PODS);
    const queue = new WorkQueue<string>({ name: 'pvcprotection' });
    const claimsOf = (pod: KubeObject) => {
      for (const c of podClaimNames(pod)) queue.add(`${pod.metadata.namespace}/${c}`);
    };
    pvcInf.addEventHandler({
      onAdd: (c) => c.metadata.deletionTimestamp && queue.add(claimKeyOf(c)),
      onUpdate: (_o, c) => c.metadata.deletionTimestamp && queue.add(claimKeyOf(c)),
    });
    podInf.addEventHandler({ onAdd: claimsOf, onUpdate: (_o, p) => claimsOf(p), onDelete: (d) => claimsOf(finalStateOf(d)) });

    const reconcile = async (key: string): Promise<void> => {
      const claim = pvcInf.store.get(key);
      if (!claim?.metadata.deletionTimestamp || !claim.metadata.finalizers?.includes(PVC_PROTECTION_FINALIZER)) return;
      const ns = claim.metadata.namespace!;
      const name = claim.metadata.name!;
      if (podInf.store.byNamespace(ns).some((p) => usesClaim(p, name))) return;
      const live = await ctx.client.resource(PODS).list({ namespace: ns });
      if (live.items.some((p) => usesClaim(p, name))) return;
      try {
        await ctx.client.resource(PVCS).update({ ...claim, metadata: { ...claim.metadata, finalizers: claim.metadata.finalizers.filter((f) => f !== PVC_PROTECTION_FINALIZER) } }, { namespace: ns });
      } catch (e) {
        if (isConflict(e)) return void queue.addAfter(key, 100);
        if (!isNotFound(e)) throw e;
      }
    };
    return runController({ name: 'pvc-protection', queue, reconcile, informers: [pvcInf, podInf], workers: 1, signal: ctx.signal, logger: ctx.logger });
  },
};
