/**
 * Every active namespace has a `default` ServiceAccount (upstream's serviceaccounts controller):
 * created when missing, recreated if deleted.
 */
import { finalStateOf, isAlreadyExists, type ResourceRef } from '../client/index.js';
import type { KubeObject } from '../util/object.js';
import { type ControllerSpec, simpleController } from './context.js';
import { NAMESPACES } from './namespace.js';

export const SERVICEACCOUNTS: ResourceRef = { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true, kind: 'ServiceAccount' };

export const serviceAccountController: ControllerSpec = {
  name: 'serviceaccount',
  start(ctx) {
    const namespaces = ctx.informers.forResource<KubeObject>(NAMESPACES);
    const accounts = ctx.informers.forResource<KubeObject>(SERVICEACCOUNTS);
    const { controller, queue } = simpleController(ctx, {
      name: 'serviceaccount',
      primary: namespaces,
      secondary: [accounts],
      reconcile: async (ns) => {
        const namespace = namespaces.store.get(ns);
        if (!namespace || namespace.metadata.deletionTimestamp || (namespace.status as { phase?: string } | undefined)?.phase === 'Terminating') return;
        if (accounts.store.get(`${ns}/default`)) return;
        try {
          await ctx.client.resource(SERVICEACCOUNTS).create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns } });
        } catch (e) {
          if (!isAlreadyExists(e)) throw e;
        }
      },
    });
    // A deleted default account is made again.
    accounts.onDelete((sa) => {
      const o = finalStateOf(sa);
      if (o.metadata.name === 'default' && o.metadata.namespace) queue.add(o.metadata.namespace);
    });
    return controller;
  },
};
