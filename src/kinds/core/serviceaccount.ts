/** core/v1 ServiceAccount: printServiceAccount; upstream validates only metadata and reference names. */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import type { KubeObject } from '../../util/object.js';
import { age, ageColumn, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';
import { asList, asObjList } from './helpers.js';

function validate(obj: KubeObject): FieldError[] {
  return asObjList(obj.imagePullSecrets).flatMap((r, i) => (r.name ? [] : [fieldErr.required(FieldPath.root('imagePullSecrets').index(i).child('name'))]));
}

export const serviceAccount: KindDefinition = {
  group: '',
  version: 'v1',
  kind: 'ServiceAccount',
  listKind: 'ServiceAccountList',
  plural: 'serviceaccounts',
  singular: 'serviceaccount',
  namespaced: true,
  shortNames: ['sa'],
  schemaName: 'io.k8s.api.core.v1.ServiceAccount',
  nameFormat: 'subdomain',
  printer: {
    columns: [nameColumn, { name: 'Secrets', type: 'string', description: 'Number of secrets listed for the service account.', priority: 0 }, ageColumn],
    cells: (obj, now) => [obj.metadata.name, asList(obj.secrets).length, age(obj.metadata.creationTimestamp, now)],
  },
  strategy: { validate },
};
