/**
 * Objects every cluster has from its first start: the default, kube-system, kube-public and
 * kube-node-lease namespaces. Idempotent, so every server start (and every server on a shared
 * etcd) may run it.
 */
import type { ApiServer } from './api-server.js';
import { ApiError } from './errors.js';

export const SYSTEM_USER = { name: 'system:apiserver', groups: ['system:masters', 'system:authenticated'] };
export const BOOTSTRAP_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export async function bootstrapNamespaces(api: ApiServer): Promise<void> {
  const kind = api.catalog.byPlural('', 'v1', 'namespaces')!;
  for (const name of BOOTSTRAP_NAMESPACES) {
    try {
      await api.registry.create(kind, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, {
        user: SYSTEM_USER,
        now: new Date(),
        dryRun: false,
        fieldManager: 'cairn-apiserver',
        fieldValidation: 'Ignore',
        warnings: [],
      });
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 409)) throw e;
    }
  }
}
