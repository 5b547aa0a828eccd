/**
 * ResourceQuota controller (upstream pkg/controller/resourcequota): keeps each quota's
 * status.hard equal to spec.hard and status.used equal to what the namespace's objects use now.
 *
 * Admission raises status.used as objects are created; this controller recalculates when a quota
 * is new or its hard limits change, when a counted object goes away or changes its usage (the
 * "replenishment" informers, created on demand for the resources quotas track), and every minute.
 * Usage is computed from live lists read after the quota itself, and written with the quota's
 * resourceVersion as precondition, so a recalculation never wipes out a raise admission made
 * meanwhile.
 */
import { discoverResources, finalStateOf, type Informer, isConflict, isNotFound, objectKey, type ResourceRef, runController, splitKey, WorkQueue } from '../client/index.js';
import { listToUsage, quotaMatches, quotaSpec, resourceForQuotaName, type ResourceId, type Usage, usageOf, usageToList } from '../kinds/core/quota-usage.js';
import { deepEqual, type KubeObject } from '../util/object.js';
import type { ControllerSpec } from './context.js';

export const RESOURCE_QUOTAS: ResourceRef = { group: '', version: 'v1', plural: 'resourcequotas', namespaced: true, kind: 'ResourceQuota' };
const RESYNC_MS = 60_000;

export const resourceQuotaController: ControllerSpec = {
  name: 'resourcequota',
  start(ctx) {
    const quotas = ctx.informers.forResource<KubeObject>(RESOURCE_QUOTAS);
    const rc = ctx.client.resource(RESOURCE_QUOTAS);
    let refs: { at: number; byId: Map<string, ResourceRef> } | undefined;
    const monitors = new Set<string>();

    const refFor = async (r: ResourceId): Promise<ResourceRef | undefined> => {
      if (r.group === '') return { group: '', version: 'v1', plural: r.plural, namespaced: true };
      const id = `${r.plural}.${r.group}`;
      if (!refs || Date.now() - refs.at > 30_000 || !refs.byId.has(id)) {
        const all = await discoverResources(ctx.client.transport);
        const byId = new Map<string, ResourceRef>();
        for (const d of all) if (!d.plural.includes('/') && !byId.has(`${d.plural}.${d.group}`)) byId.set(`${d.plural}.${d.group}`, d);
        refs = { at: Date.now(), byId };
      }
      const ref = refs.byId.get(id);
      return ref?.namespaced ? ref : undefined;
    };

    const reconcile = async (key: string): Promise<{ requeueAfterMs?: number } | void> => {
      const { namespace, name } = splitKey(key);
      let quota: KubeObject;
      try {
        quota = await rc.get(name, namespace);
      } catch (e) {
        if (isNotFound(e)) return;
        throw e;
      }
      if (quota.metadata.deletionTimestamp) return;
      const hard = (quotaSpec(quota).hard ?? {}) as Record<string, unknown>;
      const byResource = new Map<string, { r: ResourceId; names: string[] }>();
      const used: Usage = new Map();
      for (const n of Object.keys(hard)) {
        used.set(n, 0);
        const r = resourceForQuotaName(n);
        if (!r) continue;
        const id = `${r.plural}.${r.group}`;
        byResource.set(id, { r, names: [...(byResource.get(id)?.names ?? []), n] });
      }
      for (const { r, names } of byResource.values()) {
        const ref = await refFor(r);
        if (!ref) continue;
        ensureMonitor(ref);
        const items = (await ctx.client.resource(ref).list({ namespace })).items;
        for (const obj of items) {
          if (!quotaMatches(quota, r, obj)) continue;
          const u = usageOf(r, obj);
          for (const n of names) used.set(n, (used.get(n) ?? 0) + (u.get(n) ?? 0));
        }
      }
      const status = { hard: usageToList(listToUsage(hard)), used: usageToList(used) };
      // Keep the user's spelling of hard values when they mean the same.
      status.hard = Object.fromEntries(Object.keys(hard).sort().map((k) => [k, hard[k] as string]));
      const cur = (quota.status ?? {}) as { hard?: unknown; used?: unknown };
      if (!deepEqual(cur.hard ?? {}, status.hard) || !sameUsage(cur.used, status.used)) {
        try {
          await rc.updateStatus({ ...quota, status });
        } catch (e) {
          if (isConflict(e)) return { requeueAfterMs: 0 };
          if (isNotFound(e)) return;
          throw e;
        }
      }
      return { requeueAfterMs: RESYNC_MS };
    };

    const sameUsage = (a: unknown, b: Record<string, string>) => {
      const x = listToUsage(a);
      const y = listToUsage(b);
      return x.size === y.size && [...y].every(([k, v]) => x.get(k) === v);
    };

    // Not simpleController: a quota update that only raises status.used (admission) must not
    // trigger a recount, which could miss an object admitted but not yet stored. Recount when a
    // quota is new or its spec no longer matches its status.
    const queue = new WorkQueue<string>({ name: 'resourcequota' });
    const needsSync = (q: KubeObject) => !deepEqual(quotaSpec(q).hard ?? {}, (q.status as { hard?: unknown } | undefined)?.hard ?? {});
    quotas.addEventHandler({
      onAdd: (q) => queue.add(objectKey(q)),
      onUpdate: (o, n) => {
        if (needsSync(n) || !deepEqual(o.spec, n.spec)) queue.add(objectKey(n));
      },
    });
    const controller = runController({ name: 'resourcequota', queue, reconcile, informers: [quotas], workers: 2, signal: ctx.signal, logger: ctx.logger });
    const enqueueNamespace = (ns: string | undefined) => {
      if (!ns) return;
      for (const q of quotas.store.byNamespace(ns)) queue.add(`${ns}/${q.metadata.name}`);
    };

    const ensureMonitor = (ref: ResourceRef) => {
      const id = `${ref.plural}.${ref.group}`;
      if (monitors.has(id)) return;
      monitors.add(id);
      const r: ResourceId = { group: ref.group, plural: ref.plural };
      const inf: Informer<KubeObject> = ctx.informers.forResource<KubeObject>(ref);
      inf.addEventHandler({
        onUpdate: (o, n) => {
          if (o === n) return;
          const a = usageOf(r, o);
          const b = usageOf(r, n);
          if (a.size !== b.size || [...a].some(([k, v]) => b.get(k) !== v)) enqueueNamespace(n.metadata.namespace);
        },
        onDelete: (o) => enqueueNamespace(finalStateOf(o).metadata.namespace),
      });
      // The factory starts informers requested after it started; make sure this one runs.
      inf.start();
    };
    return controller;
  },
};
