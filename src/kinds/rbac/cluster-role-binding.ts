/** rbac.authorization.k8s.io/v1 ClusterRoleBinding: grants a ClusterRole cluster-wide. */
import type { KindDefinition } from '../types.js';
import { bindingPrinter, bindingStrategy } from './binding-common.js';

export const clusterRoleBindingKind: KindDefinition = {
  group: 'rbac.authorization.k8s.io',
  version: 'v1',
  kind: 'ClusterRoleBinding',
  listKind: 'ClusterRoleBindingList',
  plural: 'clusterrolebindings',
  singular: 'clusterrolebinding',
  namespaced: false,
  nameFormat: 'path',
  schemaName: 'io.k8s.api.rbac.v1.ClusterRoleBinding',
  printer: bindingPrinter,
  strategy: bindingStrategy(false),
};
