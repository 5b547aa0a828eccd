/**
 * PV protection (upstream pkg/controller/volume/pvprotection): a PersistentVolume being deleted
 * keeps its kubernetes.io/pv-protection finalizer while it is Bound to a claim, and loses it
 * once it is not, so a volume in use by a claim is never removed under it.
 */
import { isConflict, isNotFound, runController, WorkQueue } from '../client/index.js';
import { PV_PROTECTION_FINALIZER } from '../kinds/core/persistentvolume.js';
import { phaseOf, PVS } from '../storage/api.js';
import type { KubeObject } from '../util/object.js';
import type { ControllerSpec } from './context.js';

export const pvProtectionController: ControllerSpec = {
  name: 'pv-protection',
  start(ctx) {
    const pvInf = ctx.informers.forResource<KubeObject>(PVS);
    const queue = new WorkQueue<string>({ name: 'pvprotection' });
    pvInf.addEventHandler({
      onAdd: (pv) => pv.metadata.deletionTimestamp && queue.add(pv.metadata.name!),
      onUpdate: (_o, pv) => pv.metadata.deletionTimestamp && queue.add(pv.metadata.name!),
    });
    const reconcile = async (name: string): Promise<void> => {
      const pv = pvInf.store.get(name);
      if (!pv?.metadata.deletionTimestamp || !pv.metadata.finalizers?.includes(PV_PROTECTION_FINALIZER) || phaseOf(pv) === 'Bound') return;
      try {
        await ctx.client.resource(PVS).update({ ...pv, metadata: { ...pv.metadata, finalizers: pv.metadata.finalizers.filter((f) => f !== PV_PROTECTION_FINALIZER) } });
      } catch (e) {
        if (isConflict(e)) return void queue.addAfter(name, 100);
        if (!isNotFound(e)) throw e;
      }
    };
    return runController({ name: 'pv-protection', queue, reconcile, informers: [pvInf], workers: 1, signal: ctx.signal, logger: ctx.logger });
  },
};
