/**
 * What a kind is: the per-kind rules that the generic registry applies. A built-in kind is one
 * small module exporting a KindDefinition; a CRD version becomes one at run time. The registry
 * does everything generic (metadata, CRUD, watch, patch, selectors, pagination, status/scale
 * subresources, generation, managedFields); a kind only says what is special about it.
 */
import type { FieldError } from '../registry/field-errors.js';
import type { JSONSchema } from '../schema/types.js';
import type { KubeObject } from '../util/object.js';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';
export const ALL_VERBS: readonly Verb[] = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** A column of `kubectl get` output (meta.k8s.io/v1 TableColumnDefinition). */
export interface TableColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format?: string;
  description: string;
  /** 0: always shown; 1 or more: only with `-o wide`. */
  priority: number;
}

export interface Printer {
  columns: TableColumn[];
  /** One cell per column, in order. Name is usually the first column; dates as RFC 3339 strings ('<unknown>' otherwise). */
  cells(obj: KubeObject, now: Date): unknown[];
}

/** Where the scale subresource reads and writes replica counts (JSON paths like `.spec.replicas`). */
export interface ScaleSubresource {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath?: string;
}

export interface StrategyContext {
  now: Date;
  /** The authenticated user doing the write. */
  user: { name: string; groups: string[] };
}

export interface KindStrategy {
  /** Upstream's SetDefaults_*: called on every write before validation (create, update, patch, apply). */
  defaults?(obj: KubeObject): void;
  /**
   * Applied to every object read from storage (CRD kinds whose schema has defaults: upstream
   * defaults on read too, so objects stored before a default was added carry it when served).
   */
  defaultsOnRead?(obj: KubeObject): void;
  /** Create only, after defaults: e.g. set initial status fields that clients may not. */
  prepareForCreate?(obj: KubeObject, ctx: StrategyContext): void;
  /** Update of the main resource, after defaults. */
  prepareForUpdate?(obj: KubeObject, old: KubeObject, ctx: StrategyContext): void;
  /** Field validation of the whole object (metadata is validated generically). */
  validate?(obj: KubeObject): FieldError[];
  /** Extra validation on update: immutable fields and transitions. */
  validateUpdate?(obj: KubeObject, old: KubeObject): FieldError[];
  /** Validation of a write to the status subresource. */
  validateStatusUpdate?(obj: KubeObject, old: KubeObject): FieldError[];
  /**
   * Whether the kind's own fields keep an object from going when it is deleted (a Namespace with
   * spec.finalizers): it is then only marked with deletionTimestamp, as for metadata.finalizers.
   */
  retainOnDelete?(obj: KubeObject): boolean;
  /** Changes made when an object is marked for deletion (a Namespace's phase becomes Terminating). */
  markDeleting?(obj: KubeObject): void;
  /** Non-fatal warnings returned in `Warning` headers. */
  warnings?(obj: KubeObject, old?: KubeObject): string[];
}

export interface KindDefinition {
  group: string; // '' for core
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  verbs?: readonly Verb[]; // default: all
  /** Name of the OpenAPI component schema for built-ins (e.g. `io.k8s.api.core.v1.Pod`). */
  schemaName?: string;
  /** Inline schema (CRDs). */
  schema?: JSONSchema;
  /** The version objects are stored in (CRDs with several versions); default: `version`. */
  storageVersion?: string;
  /** Name format: 'subdomain' (DNS-1123 subdomain, most kinds), 'label' (namespaces, services), 'path' (RBAC: anything but / and %). */
  nameFormat?: 'subdomain' | 'label' | 'path';
  /** Has a status subresource: status is ignored on the main resource, everything but status on /status. */
  statusSubresource?: boolean;
  scale?: ScaleSubresource;
  /**
   * Whether writes that change anything outside metadata and status bump metadata.generation.
   * Default: true when statusSubresource, as upstream's strategies do.
   */
  tracksGeneration?: boolean;
  /** Extra field-selector fields beyond metadata.name and metadata.namespace. */
  fieldSelectors?: Record<string, (obj: KubeObject) => string | undefined>;
  printer?: Printer;
  strategy?: KindStrategy;
  /** CRD-served kinds: built at run time from a CustomResourceDefinition. */
  custom?: boolean;
  /** Fields whose value is secret: never logged or evented (Secret data). */
  secretFields?: string[];
}

export const apiVersionOf = (k: Pick<KindDefinition, 'group' | 'version'>) => (k.group ? `${k.group}/${k.version}` : k.version);
