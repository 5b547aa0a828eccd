/**
 * ClusterRole aggregation (upstream's clusterrole-aggregation controller): a ClusterRole with an
 * aggregationRule gets as its rules the union of the rules of every ClusterRole its selectors
 * match (in name order, duplicates dropped). Any ClusterRole change re-checks every aggregated
 * one, so chains (view -> edit -> admin) settle.
 */
import { reasonOf, type ResourceRef } from '../client/index.js';
import { type LabelSelector, labelSelectorAsSelector } from '../kinds/label-selector.js';
import type { KubeObject } from '../util/object.js';
import { type ControllerSpec, simpleController } from './context.js';

export const CLUSTERROLES: ResourceRef = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', namespaced: false, kind: 'ClusterRole' };

type ClusterRole = KubeObject & { aggregationRule?: { clusterRoleSelectors?: LabelSelector[] } | null; rules?: unknown[] | null };

export const clusterRoleAggregationController: ControllerSpec = {
  name: 'clusterrole-aggregation',
  start(ctx) {
    const roles = ctx.informers.forResource<ClusterRole>(CLUSTERROLES);
    const { controller, queue } = simpleController(ctx, {
      name: 'clusterrole-aggregation',
      primary: roles,
      workers: 1,
      reconcile: async (name) => {
        const role = roles.store.getByName(name);
        const selectors = role?.aggregationRule?.clusterRoleSelectors;
        if (!role || !selectors) return;
        const matchers = selectors.map((s) => labelSelectorAsSelector(s)).filter((s) => s !== null);
        const sources = roles.store
          .list()
          .filter((r) => r.metadata.name !== name && matchers.some((m) => m!.matches(r.metadata.labels ?? {})))
          .sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
        const rules: unknown[] = [];
        const seen = new Set<string>();
        for (const s of sources)
          for (const r of s.rules ?? []) {
            const key = JSON.stringify(r);
            if (seen.has(key)) continue;
            seen.add(key);
            rules.push(r);
          }
        if (JSON.stringify(role.rules ?? []) === JSON.stringify(rules)) return;
        const next = structuredClone(role) as ClusterRole;
        next.rules = rules;
        try {
          await ctx.client.resource<ClusterRole>(CLUSTERROLES).update(next);
        } catch (e) {
          // The cache is behind a write it has not seen yet: its event brings this role back.
          if (reasonOf(e) === 'Conflict') return { requeueAfterMs: 100 };
          throw e;
        }
      },
    });
    // Any ClusterRole's labels or rules may feed an aggregated one: re-check all of them.
    const all = () => {
      for (const r of roles.store.list()) if (r.aggregationRule) queue.add(r.metadata.name!);
    };
    roles.addEventHandler({ onAdd: all, onUpdate: all, onDelete: all });
    return controller;
  },
};
