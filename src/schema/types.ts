/**
 * OpenAPI v3 schema objects, the one currency for everything schema-driven in Cairn: the
 * published /openapi/v3 documents, kubectl explain, strategic-merge and server-side-apply merge
 * rules, unknown-field detection (fieldValidation), and CRD structural validation, defaulting and
 * pruning. Built-in types are components named as upstream (`io.k8s.api.core.v1.Pod`) and refer
 * to each other with `$ref: '#/components/schemas/NAME'`; CRD schemas are inline.
 */

export interface JSONSchema {
  $ref?: string;
  /** OpenAPI v3 wraps a $ref with siblings in allOf: [{$ref}]. */
  allOf?: JSONSchema[];
  oneOf?: JSONSchema[];
  anyOf?: JSONSchema[];
  not?: JSONSchema;
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  description?: string;
  title?: string;
  default?: unknown;
  enum?: unknown[];
  nullable?: boolean;
  properties?: Record<string, JSONSchema>;
  additionalProperties?: JSONSchema | boolean;
  required?: string[];
  items?: JSONSchema;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minProperties?: number;
  maxProperties?: number;
  multipleOf?: number;
  'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[];
  'x-kubernetes-patch-strategy'?: string;
  'x-kubernetes-patch-merge-key'?: string;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-unions'?: unknown[];
  [ext: `x-${string}`]: unknown;
}

/** Looks up a `$ref` (`#/components/schemas/NAME`) among the known components. */
export interface SchemaResolver {
  resolve(ref: string): JSONSchema | undefined;
}

/**
 * Follows $ref and a single-element allOf wrapper until a concrete schema is reached, keeping
 * the description and x-kubernetes-* extensions of the outer schema (upstream puts patch
 * strategies on the property, next to the ref).
 */
export function derefSchema(s: JSONSchema | undefined, resolver: SchemaResolver): JSONSchema | undefined {
  let cur = s;
  let outer: JSONSchema | undefined;
  for (let depth = 0; cur && depth < 16; depth++) {
    const ref = cur.$ref ?? (cur.allOf?.length === 1 ? cur.allOf[0].$ref : undefined);
    if (!ref) break;
    outer = outer ? { ...cur, ...outer } : cur;
    cur = resolver.resolve(ref);
  }
  if (!cur || !outer) return cur;
  const merged: JSONSchema = { ...cur };
  for (const [k, v] of Object.entries(outer)) {
    if (k === '$ref' || k === 'allOf') continue;
    (merged as Record<string, unknown>)[k] = v;
  }
  return merged;
}
