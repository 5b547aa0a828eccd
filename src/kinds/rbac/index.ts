/** The rbac.authorization.k8s.io/v1 kinds. */
import type { KindDefinition } from '../types.js';
import { clusterRoleBindingKind } from './cluster-role-binding.js';
import { clusterRoleKind } from './cluster-role.js';
import { roleBindingKind } from './role-binding.js';
import { roleKind } from './role.js';

export const rbacKinds: KindDefinition[] = [roleKind, clusterRoleKind, roleBindingKind, clusterRoleBindingKind];
