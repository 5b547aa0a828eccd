/**
 * ResourceQuota admission, as upstream's plugin (plugin/pkg/admission/resourcequota): a create
 * (or an update that grows usage) in a namespace with quotas is checked against every quota that
 * covers it, and admitted only by raising the quotas' status.used in the same step. The raise is
 * a status write with the read resourceVersion as precondition, so two creates racing for the
 * last unit cannot both win: the loser re-reads and is refused.
 *
 * Refusals are 403 Forbidden with upstream's messages:
 *   pods "p" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2
 *   pods "p" is forbidden: failed quota: q: must specify limits.cpu,requests.cpu
 *   pods "p" is forbidden: status unknown for quota: q, resources: pods
 */
import type { KindDefinition } from '../../kinds/types.js';
import {
  addUsage,
  prettyUsage,
  listToUsage,
  podConstraintError,
  quotaMatches,
  trackedBy,
  type Usage,
  usageOf,
  usageToList,
  type ResourceId,
} from '../../kinds/core/quota-usage.js';
import type { GenericRegistry } from '../../registry/generic-registry.js';
import type { AdmissionAttributes, AdmissionPlugin, WriteContext } from '../../registry/hooks.js';
import type { KindCatalog } from '../../registry/kind-catalog.js';
import type { KubeObject } from '../../util/object.js';
import { SYSTEM_USER } from '../bootstrap.js';
import { ApiError } from '../errors.js';

export interface RegistryAccess {
  registry(): GenericRegistry;
  catalog(): KindCatalog;
}

const MAX_RETRIES = 10;

export function resourceQuotaAdmission(access: RegistryAccess): AdmissionPlugin {
  const quotaKind = (): KindDefinition => access.catalog().byPlural('', 'v1', 'resourcequotas')!;

  const listQuotas = async (ns: string): Promise<KubeObject[]> => {
    // Read from the store on every request: a cache could miss a quota created a moment ago.
    const items = (await access.registry().list(quotaKind(), ns)).items;
    return items.sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
  };

  const forbidden = (a: AdmissionAttributes, why: string) => ApiError.forbidden({ group: a.kind.group, resource: a.kind.plural }, a.name, why);

  return {
    name: 'ResourceQuota',
    async admit(a) {
      if (!a.namespace || a.subresource) return;
      if (a.operation === 'DELETE' || !a.object) return;
      const r: ResourceId = { group: a.kind.group, plural: a.kind.plural };
      let delta = usageOf(r, a.object);
      if (a.operation === 'UPDATE') {
        if (!a.oldObject) return;
        const prev = usageOf(r, a.oldObject);
        // Only growth is checked (SubtractWithNonNegativeResult).
        const grown: Usage = new Map();
        for (const [k, v] of delta) if (v - (prev.get(k) ?? 0) > 0) grown.set(k, v - (prev.get(k) ?? 0));
        delta = grown;
      }
      if (delta.size === 0) return;
      // Quotas already raised for this request (kept across a retry after a conflict on another).
      const done = new Set<string>();
      for (let attempt = 0; ; attempt++) {
        const quotas = await listQuotas(a.namespace);
        if (quotas.length === 0) return;
        const updates: KubeObject[] = [];
        for (const q of quotas) {
          if (done.has(q.metadata.name!) || !quotaMatches(q, r, a.object)) continue;
          const st = (q.status ?? {}) as { hard?: Record<string, unknown>; used?: Record<string, unknown> };
          const specHard = Object.keys(((q.spec ?? {}) as { hard?: Record<string, unknown> }).hard ?? {});
          const restricted = trackedBy(r, specHard);
          if (restricted.length === 0) continue;
          // Pods must state what the quota counts (only checked when the object is created).
          if (a.operation === 'CREATE' && r.group === '' && r.plural === 'pods') {
            const why = podConstraintError(a.object, restricted);
            if (why) throw forbidden(a, `failed quota: ${q.metadata.name}: ${why}`);
          }
          const hard = listToUsage(st.hard);
          const used = listToUsage(st.used);
          if (!restricted.every((n) => hard.has(n) && used.has(n)))
            throw forbidden(a, `status unknown for quota: ${q.metadata.name}, resources: ${restricted.sort().join(',')}`);
          const requested: Usage = new Map([...delta].filter(([k]) => hard.has(k)));
          if (requested.size === 0) continue;
          const next = addUsage(used, requested);
          const exceeded = [...requested.keys()].filter((k) => (next.get(k) ?? 0) > (hard.get(k) ?? 0));
          if (exceeded.length) {
            const mask = (u: Usage) => new Map([...u].filter(([k]) => exceeded.includes(k)));
            throw forbidden(
              a,
              `exceeded quota: ${q.metadata.name}, requested: ${prettyUsage(mask(requested))}, used: ${prettyUsage(mask(used))}, limited: ${prettyUsage(mask(hard))}`,
            );
          }
          const updated = structuredClone(q);
          updated.status = { ...(updated.status as object), used: { ...(st.used ?? {}), ...usageToList(new Map([...next].filter(([k]) => requested.has(k)))) } };
          updates.push(updated);
        }
        if (a.dryRun || updates.length === 0) return;
        try {
          await writeAll(access, quotaKind(), updates, done);
          return;
        } catch (e) {
          if (e instanceof ApiError && e.code === 409 && attempt < MAX_RETRIES) continue;
          if (e instanceof ApiError && e.code === 409) throw ApiError.internal('resource quota evaluation timed out');
          throw e;
        }
      }
    },
  };
}

/**
 * Writes each quota's new status.used with its read resourceVersion as precondition. Quotas
 * raised before a conflict on a later one keep their raise (as upstream: the controller's next
 * recalculation corrects the over-count).
 */
async function writeAll(access: RegistryAccess, kind: KindDefinition, quotas: KubeObject[], done: Set<string>): Promise<void> {
  for (const q of quotas) {
    const ctx: WriteContext = {
      user: SYSTEM_USER,
      now: new Date(),
      dryRun: false,
      fieldManager: 'resourcequota-admission',
      fieldValidation: 'Ignore',
      warnings: [],
      subresource: 'status',
    };
    await access.registry().update(kind, q.metadata.namespace, q.metadata.name!, q, ctx);
    done.add(q.metadata.name!);
  }
}
