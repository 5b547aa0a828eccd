/**
 * NamespaceLifecycle admission, as upstream: objects can only be created in a namespace that
 * exists and is not terminating, and the system namespaces cannot be deleted.
 */
import { ApiError } from '../errors.js';
import type { AdmissionAttributes, AdmissionPlugin } from '../../registry/hooks.js';
import type { KubeObject } from '../../util/object.js';

export const IMMORTAL_NAMESPACES = ['default', 'kube-system', 'kube-public'];

export function namespaceLifecycle(getNamespace: (name: string) => Promise<KubeObject | null>): AdmissionPlugin {
  return {
    name: 'NamespaceLifecycle',
    async admit(a: AdmissionAttributes) {
      if (a.kind.group === '' && a.kind.plural === 'namespaces') {
        if (a.operation === 'DELETE' && IMMORTAL_NAMESPACES.includes(a.name))
          throw ApiError.forbidden({ group: '', resource: 'namespaces' }, a.name, 'this namespace may not be deleted');
        return;
      }
      if (a.operation !== 'CREATE' || !a.kind.namespaced || !a.namespace) return;
      const ns = await getNamespace(a.namespace);
      if (!ns) throw ApiError.notFound({ group: '', resource: 'namespaces' }, a.namespace);
      if (ns.metadata.deletionTimestamp || (ns.status as { phase?: string } | undefined)?.phase === 'Terminating') {
        const err = new ApiError(
          403,
          'Forbidden',
          `${a.kind.plural}${a.kind.group ? '.' + a.kind.group : ''} "${a.name}" is forbidden: unable to create new content in namespace ${a.namespace} because it is being terminated`,
          {
            name: a.name,
            group: a.kind.group,
            kind: a.kind.plural,
            causes: [{ reason: 'NamespaceTerminating', message: `namespace ${a.namespace} is being terminated`, field: 'metadata.namespace' }],
          },
        );
        throw err;
      }
    },
  };
}
