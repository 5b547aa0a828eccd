/**
 * storage.k8s.io/v1 CSIStorageCapacity: how much a storage class can still provision in one
 * topology segment (for Cairn's node-local driver: one node, selected by kubernetes.io/hostname).
 * The scheduler's volume binding reads them for drivers whose CSIDriver has storageCapacity.
 * Validation as upstream's; nodeTopology and storageClassName are immutable.
 */
import { type FieldError, FieldPath, fieldErr } from '../../registry/field-errors.js';
import { isDNS1123Subdomain } from '../../registry/validation.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import { validateLabelSelector, type LabelSelector } from '../label-selector.js';
import { NEGATIVE_MSG } from '../core/helpers.js';
import { checkQuantity, quantityText } from '../core/quantity.js';
import { ageColumn, creationAge, nameColumn } from '../printing.js';
import type { KindDefinition } from '../types.js';

export interface CSIStorageCapacity extends KubeObject {
  nodeTopology?: LabelSelector;
  storageClassName?: string;
  capacity?: string;
  maximumVolumeSize?: string;
}

function validate(obj: KubeObject): FieldError[] {
  const c = obj as CSIStorageCapacity;
  const errs = validateLabelSelector(c.nodeTopology, FieldPath.root('nodeTopology'));
  const cls = c.storageClassName ?? '';
  for (const m of isDNS1123Subdomain(cls)) errs.push(fieldErr.invalid(FieldPath.root('storageClassName'), cls, m));
  if (c.capacity !== undefined) {
    const v = checkQuantity(c.capacity, FieldPath.root('capacity'), errs);
    if (v < 0) errs.push(fieldErr.invalid(FieldPath.root('capacity'), c.capacity, NEGATIVE_MSG));
  }
  return errs;
}

function validateUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const n = obj as CSIStorageCapacity;
  const o = old as CSIStorageCapacity;
  const errs: FieldError[] = [];
  if (!deepEqual(n.nodeTopology, o.nodeTopology)) errs.push(fieldErr.invalid(FieldPath.root('nodeTopology'), n.nodeTopology ?? null, 'field is immutable'));
  if (n.storageClassName !== o.storageClassName) errs.push(fieldErr.invalid(FieldPath.root('storageClassName'), n.storageClassName ?? '', 'field is immutable'));
  return errs;
}

export const csiStorageCapacityKind: KindDefinition = {
  group: 'storage.k8s.io',
  version: 'v1',
  kind: 'CSIStorageCapacity',
  listKind: 'CSIStorageCapacityList',
  plural: 'csistoragecapacities',
  singular: 'csistoragecapacity',
  namespaced: true,
  nameFormat: 'subdomain',
  schemaName: 'io.k8s.api.storage.v1.CSIStorageCapacity',
  printer: {
    columns: [
      nameColumn,
      { name: 'StorageClassName', type: 'string', description: 'The storage class the capacity is for.', priority: 0 },
      { name: 'Capacity', type: 'string', description: 'What the class can still provision in the topology segment.', priority: 0 },
      ageColumn,
    ],
    cells(obj, now) {
      const c = obj as CSIStorageCapacity;
      return [obj.metadata.name, c.storageClassName ?? '', c.capacity === undefined ? '<unset>' : quantityText(c.capacity), creationAge(obj, now)];
    },
  },
  strategy: { validate, validateUpdate },
};
