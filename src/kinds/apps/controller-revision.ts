/**
 * apps/v1 ControllerRevision: an immutable snapshot of some state a controller keeps (KubeVirt's
 * VM controller pins instancetypes and preferences in them). Validation as upstream's
 * ValidateControllerRevisionCreate/Update: data is mandatory and immutable, revision non-negative.
 */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import { ageColumn, creationAge, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';

interface Revision extends KubeObject {
  data?: unknown;
  revision?: number;
}

function validate(obj: KubeObject): FieldError[] {
  const r = obj as Revision;
  const errs: FieldError[] = [];
  if (r.data === undefined || r.data === null) errs.push(fieldErr.required(FieldPath.root('data'), 'data is mandatory'));
  if ((r.revision ?? 0) < 0) errs.push(fieldErr.invalid(FieldPath.root('revision'), r.revision, 'must be greater than or equal to 0'));
  return errs;
}

const validateUpdate = (obj: KubeObject, old: KubeObject): FieldError[] =>
  deepEqual((obj as Revision).data, (old as Revision).data) ? [] : [fieldErr.invalid(FieldPath.root('data'), (obj as Revision).data, 'field is immutable')];

/** kubectl's CONTROLLER cell: `kind.group/name` of the controlling owner, lower-cased kind and group. */
function controllerCell(obj: KubeObject): string {
  const ref = obj.metadata.ownerReferences?.find((o) => o.controller);
  if (!ref) return '<none>';
  const group = ref.apiVersion.includes('/') ? ref.apiVersion.split('/')[0] : '';
  return `${(group ? `${ref.kind}.${group}` : ref.kind).toLowerCase()}/${ref.name}`;
}

export const controllerRevisionKind: KindDefinition = {
  group: 'apps',
  version: 'v1',
  kind: 'ControllerRevision',
  listKind: 'ControllerRevisionList',
  plural: 'controllerrevisions',
  singular: 'controllerrevision',
  namespaced: true,
  nameFormat: 'subdomain',
  schemaName: 'io.k8s.api.apps.v1.ControllerRevision',
  printer: {
    columns: [
      nameColumn,
      { name: 'Controller', type: 'string', description: 'Controller of the object.', priority: 0 },
      { name: 'Revision', type: 'integer', description: 'Revision of the ControllerRevision.', priority: 0 },
      ageColumn,
    ],
    cells: (obj, now) => [obj.metadata.name, controllerCell(obj), (obj as Revision).revision ?? 0, creationAge(obj, now)],
  },
  strategy: { validate, validateUpdate },
};
