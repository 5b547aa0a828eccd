/**
 * RBAC escalation prevention (upstream's policybased role and binding storage): a user may only
 * write a Role or ClusterRole whose rules they hold themselves, unless allowed the `escalate`
 * verb on it; and only bind a role whose rules they hold, unless allowed the `bind` verb on it.
 * Members of system:masters (the server's own loopback identity among them) may do both.
 */
import { ApiError } from '../errors.js';
import type { AdmissionAttributes, AdmissionPlugin } from '../../registry/hooks.js';
import type { KubeObject } from '../../util/object.js';
import { deepEqual } from '../../util/object.js';
import { type Attributes, PRIVILEGED_GROUP } from './attributes.js';
import type { RbacAuthorizer } from './rbac.js';
import { compactRules, compactString, covers, goQuotedList, type PolicyRule } from './rules.js';

const RBAC = 'rbac.authorization.k8s.io';
const FULL_AUTHORITY: PolicyRule[] = [
  { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
  { verbs: ['*'], nonResourceURLs: ['*'] },
];

/** Only metadata that garbage collection maintains changed (ownerReferences, finalizers). */
function onlyGcFieldsChanged(obj: KubeObject, old: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const { ownerReferences: _o, finalizers: _f, resourceVersion: _rv, managedFields: _mf, generation: _g, ...meta } = o.metadata;
    return { ...o, metadata: meta };
  };
  return deepEqual(strip(obj), strip(old));
}

export function rbacEscalationAdmission(authz: () => RbacAuthorizer): AdmissionPlugin {
  const forbidden = (a: AdmissionAttributes, msg: string) => ApiError.forbidden({ group: RBAC, resource: a.kind.plural }, a.name, msg);

  const confirmNoEscalation = async (a: AdmissionAttributes, rules: PolicyRule[]) => {
    const { rules: owner, errors } = await authz().rulesFor(a.user, a.namespace ?? '');
    const { ok, missing } = covers(owner, rules);
    if (ok) return;
    const descriptions = [...new Set(compactRules(missing).map(compactString))].sort();
    let msg = `user ${JSON.stringify(a.user.name)} (groups=${goQuotedList(a.user.groups)}) is attempting to grant RBAC permissions not currently held:\n${descriptions.join('\n')}`;
    if (errors.length) msg += `; resolution errors: [${errors.join(' ')}]`;
    throw forbidden(a, msg);
  };

  const allowedTo = async (a: AdmissionAttributes, verb: string, resource: string, name: string, namespace: string | undefined) => {
    const attrs: Attributes = { user: a.user, verb, resourceRequest: true, apiGroup: RBAC, apiVersion: '*', resource, name, namespace, path: '' };
    return (await authz().authorize(attrs)).allowed;
  };

  return {
    name: 'RBACEscalation',
    async admit(a) {
      if (a.kind.group !== RBAC || a.kind.custom || (a.operation !== 'CREATE' && a.operation !== 'UPDATE') || a.subresource) return;
      if (a.user.groups.includes(PRIVILEGED_GROUP)) return;
      const obj = a.object!;
      if (a.operation === 'UPDATE' && a.oldObject && onlyGcFieldsChanged(obj, a.oldObject)) return;
      switch (a.kind.plural) {
        case 'roles':
        case 'clusterroles': {
          // The name is known only for updates: a create authorizes escalate without one, as upstream.
          const name = a.operation === 'UPDATE' ? a.name : '';
          if (await allowedTo(a, 'escalate', a.kind.plural, name, a.namespace)) return;
          await confirmNoEscalation(a, (obj.rules ?? []) as PolicyRule[]);
          if (a.kind.plural === 'clusterroles' && obj.aggregationRule) {
            const { ok } = covers((await authz().rulesFor(a.user, '')).rules, FULL_AUTHORITY);
            if (!ok) throw forbidden(a, 'must have cluster-admin privileges to use the aggregationRule');
          }
          return;
        }
        case 'rolebindings':
        case 'clusterrolebindings': {
          const ref = (obj.roleRef ?? {}) as { kind?: string; name?: string };
          const resource = ref.kind === 'Role' ? 'roles' : 'clusterroles';
          if (await allowedTo(a, 'bind', resource, ref.name ?? '', a.namespace)) return;
          const { rules, err } = authz().roleRefRules(ref, a.namespace ?? '');
          if (err) throw forbidden(a, err);
          await confirmNoEscalation(a, rules!);
          return;
        }
      }
    },
  };
}
