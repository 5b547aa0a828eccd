/** rbac.authorization.k8s.io/v1 RoleBinding: grants a Role or ClusterRole within one namespace. */
import type { KindDefinition } from '../types.js';
import { bindingPrinter, bindingStrategy } from './binding-common.js';

export const roleBindingKind: KindDefinition = {
  group: 'rbac.authorization.k8s.io',
  version: 'v1',
  kind: 'RoleBinding',
  listKind: 'RoleBindingList',
  plural: 'rolebindings',
  singular: 'rolebinding',
  namespaced: true,
  nameFormat: 'path',
  schemaName: 'io.k8s.api.rbac.v1.RoleBinding',
  printer: bindingPrinter,
  strategy: bindingStrategy(true),
};
