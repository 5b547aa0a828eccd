/**
 * PodIPHandoff admission (Cairn's): the `cairn.io/pod-ip-handoff` annotation makes a pod take
 * over another pod's address, so only the migration controller may set it, and only when it
 * creates the target launcher pod. Creating a pod with it as anyone else — cluster admins
 * included — is 403 Forbidden; adding or changing it on an existing pod is 422 Invalid for
 * everyone (a sandbox takes its address once). Both name the field, as upstream's
 * NodeRestriction does for the labels a node may not set.
 */
import { checkIpv4 } from '../../net/ip.js';
import { fieldErr, fieldErrorBody, fieldErrorText, FieldPath } from '../../registry/field-errors.js';
import type { AdmissionPlugin } from '../../registry/hooks.js';
import { ANN_POD_IP_HANDOFF } from '../../virt/migration/migration-state.js';
import { SYSTEM_USER } from '../bootstrap.js';
import { ApiError } from '../errors.js';

/**
 * Who runs the controllers: the server's in-process controller manager (its loopback identity)
 * or a separate one under kube-controller-manager's upstream user name.
 */
export const CONTROLLER_MANAGER_USERS: readonly string[] = [SYSTEM_USER.name, 'system:kube-controller-manager'];

const FIELD = FieldPath.root('metadata').child('annotations').key(ANN_POD_IP_HANDOFF);

export function podIpHandoffAdmission(): AdmissionPlugin {
  return {
    name: 'PodIPHandoff',
    async admit(a) {
      if (a.subresource || a.kind.group !== '' || a.kind.plural !== 'pods' || a.kind.custom || !a.object) return;
      const value = a.object.metadata.annotations?.[ANN_POD_IP_HANDOFF];
      if (value === undefined) return;
      if (a.operation === 'UPDATE') {
        if (a.oldObject?.metadata.annotations?.[ANN_POD_IP_HANDOFF] === value) return;
        throw ApiError.invalid('', 'Pod', a.name, [fieldErr.forbidden(FIELD, 'may not be added or changed after the pod is created')]);
      }
      if (a.operation !== 'CREATE') return;
      if (!CONTROLLER_MANAGER_USERS.includes(a.user.name)) {
        const e = fieldErr.forbidden(FIELD, 'only the migration controller may create a pod that takes over another pod\'s IP');
        throw new ApiError(403, 'Forbidden', `pods "${a.name}" is forbidden: ${fieldErrorText(e)}`, {
          name: a.name,
          group: '',
          kind: 'pods',
          causes: [{ reason: e.type, message: fieldErrorBody(e), field: e.field }],
        });
      }
      try {
        checkIpv4(value);
      } catch {
        throw ApiError.invalid('', 'Pod', a.name, [fieldErr.invalid(FIELD, value, 'must be an IPv4 address')]);
      }
    },
  };
}
