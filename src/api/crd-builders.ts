/**
 * Building blocks for the CustomResourceDefinitions Cairn ships (snapshot.storage.k8s.io, the
 * KubeVirt groups): schema leaves spelled as upstream's generators spell them (a Quantity is an
 * int-or-string with the quantity pattern, a Time a date-time string), object/array/map
 * builders, core Kubernetes types inlined from Cairn's built-in schemas (CRD schemas cannot
 * $ref), and the CRD object itself with its names, columns and subresources.
 */
import type { JSONSchema } from '../schema/types.js';
import { derefSchema } from '../schema/types.js';
import { builtinResolver } from '../schema/builtin-resolver.js';
import { LEAF } from '../schema/builtin/field-types.js';
import { isPlainObject, type KubeObject } from '../util/object.js';

export type Schema = JSONSchema;
export const str: Schema = { type: 'string' };
export const bool: Schema = { type: 'boolean' };
export const int32: Schema = { type: 'integer', format: 'int32' };
export const int64: Schema = { type: 'integer', format: 'int64' };
export const dateTime: Schema = { type: 'string', format: 'date-time' };
/** Condition timestamps that Go serializes as null when unset. */
export const nullableTime: Schema = { type: 'string', format: 'date-time', nullable: true };
/** A struct with no fields (KubeVirt's marker types such as `masquerade: {}`). */
export const empty: Schema = { type: 'object' };
/** Free-form JSON, only where the upstream type itself is free-form. */
export const anyObject: Schema = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
export const QUANTITY_PATTERN = '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';
/** resource.Quantity as controller-gen writes it. */
export const quantity: Schema = { anyOf: [{ type: 'integer' }, { type: 'string' }], pattern: QUANTITY_PATTERN, 'x-kubernetes-int-or-string': true };
export const intOrString: Schema = { anyOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true };

export const obj = (properties: Record<string, Schema>, required?: string[]): Schema => ({ type: 'object', properties, ...(required?.length ? { required } : {}) });
export const arr = (items: Schema, listType?: 'atomic' | 'set'): Schema => ({ type: 'array', items, ...(listType ? { 'x-kubernetes-list-type': listType } : {}) });
export const mapOf = (values: Schema): Schema => ({ type: 'object', additionalProperties: values });
export const strings = arr(str);
export const stringMap = mapOf(str);

/** Keys of a built-in schema node that a CRD's structural schema keeps. */
const KEPT = ['type', 'format', 'required', 'nullable', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type', 'x-kubernetes-preserve-unknown-fields'] as const;

/**
 * A core Kubernetes type (`io.k8s.api.core.v1.Affinity`) inlined from Cairn's built-in schemas,
 * reduced to what a structural CRD schema carries: no $ref, descriptions or patch strategies,
 * Quantity and IntOrString in their CRD spelling. Enums are left out, as KubeVirt's generated
 * CRDs leave them to the API types' own validation.
 */
/** A built-in type that cannot be inlined: a wrong name or a recursive type in a CRD definition. */
export class CoreTypeError extends Error {
  override readonly name = 'CoreTypeError';
}

export function coreType(name: string): Schema {
  return inline({ $ref: name }, 0);
}

function inline(s: Schema, depth: number): Schema {
  if (depth > 24) throw new CoreTypeError(`coreType: schema too deep at ${JSON.stringify(s).slice(0, 80)}`);
  const ref = s.$ref ?? (s.allOf?.length === 1 ? s.allOf[0].$ref : undefined);
  if (ref === LEAF.quantity || ref?.endsWith(LEAF.quantity)) return quantity;
  if (ref === LEAF.intOrString || ref?.endsWith(LEAF.intOrString)) return intOrString;
  const d = ref ? derefSchema(s, builtinResolver) : s;
  if (!d) throw new CoreTypeError(`coreType: unknown schema ${ref}`);
  const out: Schema = {};
  for (const k of KEPT) if (d[k] !== undefined) (out as Record<string, unknown>)[k] = structuredClone(d[k]);
  if (d.properties) out.properties = Object.fromEntries(Object.entries(d.properties).map(([k, v]) => [k, inline(v, depth + 1)]));
  if (d.items) out.items = inline(d.items, depth + 1);
  if (isPlainObject(d.additionalProperties)) out.additionalProperties = inline(d.additionalProperties as Schema, depth + 1);
  return out;
}

export interface Column {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}
export const ageColumn: Column = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export interface CrdParams {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular?: string;
  scope: 'Namespaced' | 'Cluster';
  shortNames?: readonly string[];
  categories?: readonly string[];
  columns?: readonly Column[];
  /** The top-level properties besides apiVersion, kind and metadata. */
  schema: Record<string, Schema>;
  required?: readonly string[];
  status: boolean;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function crd(p: CrdParams): KubeObject {
  const metadata: KubeObject['metadata'] = { name: `${p.plural}.${p.group}` };
  if (p.labels) metadata.labels = p.labels;
  if (p.annotations) metadata.annotations = p.annotations;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata,
    spec: {
      group: p.group,
      names: {
        kind: p.kind,
        listKind: `${p.kind}List`,
        plural: p.plural,
        singular: p.singular ?? p.kind.toLowerCase(),
        ...(p.shortNames?.length ? { shortNames: [...p.shortNames] } : {}),
        ...(p.categories?.length ? { categories: [...p.categories] } : {}),
      },
      scope: p.scope,
      versions: [
        {
          name: p.version,
          served: true,
          storage: true,
          ...(p.columns?.length ? { additionalPrinterColumns: [...p.columns] } : {}),
          schema: { openAPIV3Schema: { type: 'object', properties: { apiVersion: str, kind: str, metadata: { type: 'object' }, ...p.schema }, ...(p.required?.length ? { required: [...p.required] } : {}) } },
          ...(p.status ? { subresources: { status: {} } } : {}),
        },
      ],
    },
  };
}
