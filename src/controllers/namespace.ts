/**
 * Namespace lifecycle: a namespace being deleted is marked Terminating, everything in it is
 * deleted, and when nothing is left its `kubernetes` finalizer is removed and the namespace goes
 * (upstream's namespace controller). Level-triggered: each reconcile looks at what is there now.
 */
import { type Client, discoverResources, isConflict, isNotFound, type ResourceRef } from '../client/index.js';
import type { KubeObject } from '../util/object.js';
import { type ControllerSpec, simpleController } from './context.js';

export const NAMESPACES: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', namespaced: false, kind: 'Namespace' };
const KUBERNETES_FINALIZER = 'kubernetes';
const RECHECK_MS = 1000;

interface NamespaceSpec {
  finalizers?: string[];
}

export const namespaceController: ControllerSpec = {
  name: 'namespace',
  start(ctx) {
    const informer = ctx.informers.forResource<KubeObject>(NAMESPACES);
    const namespaces = ctx.client.resource(NAMESPACES);
    const reconcile = async (name: string): Promise<{ requeueAfterMs?: number } | void> => {
      const ns = informer.store.get(name);
      if (!ns || !ns.metadata.deletionTimestamp) return;
      const finalizers = (ns.spec as NamespaceSpec | undefined)?.finalizers ?? [];
      if (!finalizers.includes(KUBERNETES_FINALIZER)) return;
      const remaining = await deleteContent(ctx.client, name);
      if (remaining > 0) return { requeueAfterMs: RECHECK_MS };
      try {
        const fresh = await namespaces.get(name);
        const spec = { ...((fresh.spec as NamespaceSpec | undefined) ?? {}), finalizers: finalizers.filter((f) => f !== KUBERNETES_FINALIZER) };
        await ctx.client.transport.request({ method: 'PUT', path: `/api/v1/namespaces/${encodeURIComponent(name)}/finalize`, body: { ...fresh, spec } });
      } catch (e) {
        if (isNotFound(e)) return;
        if (isConflict(e)) return { requeueAfterMs: 0 };
        throw e;
      }
    };
    return simpleController(ctx, { name: 'namespace', primary: informer, reconcile }).controller;
  },
};

/** Deletes every object in the namespace; returns how many are still there (finalizers, graceful deletion). */
async function deleteContent(client: Client, namespace: string): Promise<number> {
  const resources = (await discoverResources(client.transport)).filter((r) => r.namespaced && r.verbs.includes('deletecollection'));
  let remaining = 0;
  for (const ref of resources) {
    const rc = client.resource(ref);
    try {
      await rc.deleteCollection({ namespace });
      const left = await rc.list({ namespace, limit: 1 });
      remaining += left.items.length;
    } catch (e) {
      // A CRD removed meanwhile: its objects are gone with it.
      if (!isNotFound(e)) throw e;
    }
  }
  return remaining;
}
