/**
 * What RoleBinding and ClusterRoleBinding share: roleRef/subject defaults and validation
 * (upstream's ValidateRoleBinding/ValidateRoleBindingSubject), roleRef immutability and the table.
 */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { isDNS1123Subdomain, isPathSegmentName } from '../../registry/validation.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import { ageColumn, creationAge, nameColumn } from '../printing.js';
import type { KindStrategy, Printer } from '../types.js';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';

/** A binding's roleRef and subjects, as the kinds validate them and the RBAC authorizer reads them. */
export interface RoleRef {
  apiGroup?: string;
  kind?: string;
  name?: string;
}
export interface Subject {
  kind?: string;
  apiGroup?: string;
  name?: string;
  namespace?: string;
}

const roleRefOf = (obj: KubeObject) => (obj.roleRef ?? {}) as RoleRef;
const subjectsOf = (obj: KubeObject) => (obj.subjects ?? []) as Subject[];

function validateSubject(s: Subject, namespaced: boolean, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const name = s.name ?? '';
  const apiGroup = s.apiGroup ?? '';
  if (!name) errs.push(fieldErr.required(path.child('name')));
  switch (s.kind) {
    case 'ServiceAccount':
      if (name) for (const m of isDNS1123Subdomain(name)) errs.push(fieldErr.invalid(path.child('name'), name, m));
      if (apiGroup) errs.push(fieldErr.notSupported(path.child('apiGroup'), apiGroup, ['']));
      // A RoleBinding's service account defaults to the binding's namespace; a ClusterRoleBinding has none.
      if (!namespaced && !s.namespace) errs.push(fieldErr.required(path.child('namespace')));
      break;
    case 'User':
    case 'Group':
      if (apiGroup !== RBAC_GROUP) errs.push(fieldErr.notSupported(path.child('apiGroup'), apiGroup, [RBAC_GROUP]));
      break;
    default:
      errs.push(fieldErr.notSupported(path.child('kind'), s.kind ?? '', ['ServiceAccount', 'User', 'Group']));
  }
  return errs;
}

export function bindingStrategy(namespaced: boolean): KindStrategy {
  const allowedKinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  return {
    defaults(obj) {
      const ref = (obj.roleRef ??= {}) as RoleRef;
      if (!ref.apiGroup) ref.apiGroup = RBAC_GROUP;
      for (const s of subjectsOf(obj)) {
        if (s.apiGroup) continue;
        if (s.kind === 'ServiceAccount') s.apiGroup = '';
        else if (s.kind === 'User' || s.kind === 'Group') s.apiGroup = RBAC_GROUP;
      }
    },
    validate(obj) {
      const ref = roleRefOf(obj);
      const rp = FieldPath.root('roleRef');
      const errs: FieldError[] = [];
      if (ref.apiGroup !== RBAC_GROUP) errs.push(fieldErr.notSupported(rp.child('apiGroup'), ref.apiGroup ?? '', [RBAC_GROUP]));
      if (!allowedKinds.includes(ref.kind ?? '')) errs.push(fieldErr.notSupported(rp.child('kind'), ref.kind ?? '', allowedKinds));
      if (!ref.name) errs.push(fieldErr.required(rp.child('name')));
      else for (const m of isPathSegmentName(ref.name)) errs.push(fieldErr.invalid(rp.child('name'), ref.name, m));
      subjectsOf(obj).forEach((s, i) => errs.push(...validateSubject(s, namespaced, FieldPath.root('subjects').index(i))));
      return errs;
    },
    validateUpdate(obj, old) {
      // Changing what a binding grants would be a privilege escalation path: recreate instead.
      return deepEqual(roleRefOf(obj), roleRefOf(old)) ? [] : [fieldErr.invalid('roleRef', obj.roleRef ?? null, 'cannot change roleRef')];
    },
  };
}

/** Upstream's SubjectsStrings, one comma-separated list per subject kind. */
function subjectsStrings(obj: KubeObject): [string, string, string] {
  const users: string[] = [];
  const groups: string[] = [];
  const sas: string[] = [];
  for (const s of subjectsOf(obj)) {
    if (s.kind === 'User') users.push(s.name ?? '');
    else if (s.kind === 'Group') groups.push(s.name ?? '');
    else if (s.kind === 'ServiceAccount') sas.push(`${s.namespace ?? ''}/${s.name ?? ''}`);
  }
  return [users.join(', '), groups.join(', '), sas.join(', ')];
}

export const bindingPrinter: Printer = {
  columns: [
    nameColumn,
    { name: 'Role', type: 'string', description: 'The role the binding grants, as Kind/name.', priority: 0 },
    ageColumn,
    { name: 'Users', type: 'string', description: 'Users in the binding.', priority: 1 },
    { name: 'Groups', type: 'string', description: 'Groups in the binding.', priority: 1 },
    { name: 'ServiceAccounts', type: 'string', description: 'ServiceAccounts in the binding.', priority: 1 },
  ],
  cells(obj, now) {
    const ref = roleRefOf(obj);
    return [obj.metadata.name, `${ref.kind ?? ''}/${ref.name ?? ''}`, creationAge(obj, now), ...subjectsStrings(obj)];
  },
};
