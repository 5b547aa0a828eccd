/** rbac.authorization.k8s.io/v1 Role: namespaced permissions (no non-resource URLs). */
import type { KindDefinition } from '../types.js';
import { rolePrinter, validateRules } from './policy-rule.js';

export const roleKind: KindDefinition = {
  group: 'rbac.authorization.k8s.io',
  version: 'v1',
  kind: 'Role',
  listKind: 'RoleList',
  plural: 'roles',
  singular: 'role',
  namespaced: true,
  nameFormat: 'path',
  schemaName: 'io.k8s.api.rbac.v1.Role',
  printer: rolePrinter,
  strategy: { validate: (obj) => validateRules(obj, true) },
};
