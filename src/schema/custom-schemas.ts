/**
 * CRD versions as published components: upstream names them by reversed group
 * (`stable.example.com` → `com.example.stable.v1.CronTab`) and wraps the user's schema with the
 * standard apiVersion/kind/metadata fields, so every object schema looks alike to clients.
 */
import type { JSONSchema } from './types.js';
import { REF_PREFIX } from './builtin-schemas.js';
import { upstreamName } from './builtin/packages.js';

export const OBJECT_META = upstreamName('meta.v1.ObjectMeta');
const LIST_META = upstreamName('meta.v1.ListMeta');

export function crdComponentName(group: string, version: string, kind: string): string {
  return `${group.split('.').reverse().join('.')}.${version}.${kind}`;
}

const apiVersionProp: JSONSchema = { type: 'string', description: 'The versioned schema of this object, as group/version.' };
const kindProp: JSONSchema = { type: 'string', description: 'The type of this object, in CamelCase.' };

/** The published schema of a custom kind: the user's schema plus the standard envelope. */
export function wrapCustomSchema(group: string, version: string, kind: string, schema: JSONSchema | undefined): JSONSchema {
  const s: JSONSchema = structuredClone(schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
  s.type ??= 'object';
  s.properties = {
    ...s.properties,
    apiVersion: apiVersionProp,
    kind: kindProp,
    metadata: { allOf: [{ $ref: REF_PREFIX + OBJECT_META }], description: 'Standard object metadata.' },
  };
  s['x-kubernetes-group-version-kind'] = [{ group, version, kind }];
  return s;
}

/** The published schema of a custom kind's list. */
export function customListSchema(group: string, version: string, kind: string, listKind: string): JSONSchema {
  return {
    type: 'object',
    description: `A list of ${kind} objects.`,
    required: ['items'],
    properties: {
      apiVersion: apiVersionProp,
      items: { type: 'array', items: { $ref: REF_PREFIX + crdComponentName(group, version, kind) } },
      kind: kindProp,
      metadata: { allOf: [{ $ref: REF_PREFIX + LIST_META }], description: 'Standard list metadata.' },
    },
    'x-kubernetes-group-version-kind': [{ group, version, kind: listKind }],
  };
}
