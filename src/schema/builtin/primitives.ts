/**
 * Leaf components that are not structs: their wire form is a scalar (or arbitrary JSON), so
 * client-node has no model class for them. Shapes follow upstream's OpenAPI v3 output: union
 * scalars are `oneOf` with no top-level type (so `kubectl explain` shows `<Quantity>`,
 * `<IntOrString>`), timestamps are date-time strings, embedded JSON is an untyped object.
 */
import type { JSONSchema } from '../types.js';
import { LEAF } from './field-types.js';

export const PRIMITIVE_SCHEMAS: Record<string, JSONSchema> = {
  [LEAF.quantity]: {
    description: 'A fixed-point amount such as "500m", "2Gi" or "1.5": a number with an optional SI or binary suffix.',
    oneOf: [{ type: 'string' }, { type: 'number' }],
  },
  [LEAF.intOrString]: {
    description: 'Either a 32-bit integer or a string (typically a named port or a percentage such as "25%").',
    format: 'int-or-string',
    oneOf: [{ type: 'integer' }, { type: 'string' }],
    'x-kubernetes-int-or-string': true,
  },
  [LEAF.time]: {
    description: 'A point in time, serialized in RFC 3339 form with second precision.',
    type: 'string',
    format: 'date-time',
  },
  [LEAF.microTime]: {
    description: 'A point in time, serialized in RFC 3339 form with microsecond precision.',
    type: 'string',
    format: 'date-time',
  },
  [LEAF.rawExtension]: {
    description: 'An embedded object, kept as the JSON it was sent as.',
    type: 'object',
    // Arbitrary content: Cairn's unknown-field check and pruning must leave it alone.
    'x-kubernetes-preserve-unknown-fields': true,
  },
  [LEAF.fieldsV1]: {
    description: 'The set of fields a manager owns, as a trie encoded in JSON.',
    type: 'object',
    'x-kubernetes-preserve-unknown-fields': true,
  },
  [LEAF.json]: {
    description: 'Any JSON value.',
    'x-kubernetes-preserve-unknown-fields': true,
  },
  [LEAF.propsOrBool]: {
    description: 'A schema, or a boolean allowing (true) or forbidding (false) further values.',
    'x-kubernetes-preserve-unknown-fields': true,
  },
  [LEAF.propsOrArray]: {
    description: 'A schema applied to every item, or a list of schemas applied position by position.',
    'x-kubernetes-preserve-unknown-fields': true,
  },
  [LEAF.propsOrStringArray]: {
    description: 'A schema, or a list of property names.',
    'x-kubernetes-preserve-unknown-fields': true,
  },
  [LEAF.patch]: {
    description: 'A patch document; its form depends on the request content type.',
    type: 'object',
  },
  [LEAF.subresourceStatus]: {
    description: 'Enables the /status subresource; has no fields of its own.',
    type: 'object',
  },
};
