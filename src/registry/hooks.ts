/**
 * What the generic registry delegates: schema-driven checks, field ownership (managedFields) and
 * admission. Kept behind one small interface so the registry does not depend on how schemas are
 * built or how apply works, and tests can run the registry with plain implementations.
 */
import type { KindDefinition } from '../kinds/types.js';
import type { KubeObject } from '../util/object.js';
import type { UserInfo } from '../api/types.js';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE';

export interface WriteContext {
  user: UserInfo;
  now: Date;
  dryRun: boolean;
  /** `fieldManager` query parameter, or derived from the user agent. */
  fieldManager: string;
  fieldValidation: 'Strict' | 'Warn' | 'Ignore';
  /** Warnings collected for the response's `Warning` headers. */
  warnings: string[];
  subresource?: string;
  /**
   * Duplicate fields the request body had (paths like `data.a`), under fieldValidation=Strict:
   * reported in one strict decoding error together with unknown fields, as upstream does.
   */
  duplicateFields?: string[];
}

export interface PatchEngine {
  /** Applies a json/merge/strategic patch to `current` (not mutated). */
  patch(kind: KindDefinition, current: KubeObject, type: 'json' | 'merge' | 'strategic', body: Buffer): KubeObject;
  /** Server-side apply: the object after applying `applied` as `manager` (live undefined: create). */
  apply(kind: KindDefinition, live: KubeObject | undefined, applied: KubeObject, opts: { manager: string; force: boolean; now: Date; subresource?: string }): KubeObject;
  /** Records field ownership for a non-apply write. */
  updateManagedFields(kind: KindDefinition, old: KubeObject | undefined, obj: KubeObject, opts: { manager: string; now: Date; subresource?: string }): void;
}

export interface SchemaChecks {
  /** Fields in obj the kind's schema does not know (paths like `spec.foo`). CRD kinds prune them in their strategy. */
  unknownFields(kind: KindDefinition, obj: KubeObject): string[];
  /**
   * For built-in kinds, what upstream's decoding into typed structs does: nulls become absent or
   * zero values (in place), and a value of the wrong JSON type is refused — the message for the
   * 400, undefined when everything fits.
   */
  typedDecode?(kind: KindDefinition, obj: KubeObject): string | undefined;
  /**
   * Removes the fields unknownFields reports, in place: a built-in kind decodes into typed
   * structs upstream, so fields it does not know never reach storage (Warn and Ignore).
   */
  pruneUnknownFields?(kind: KindDefinition, obj: KubeObject): void;
}

export interface AdmissionAttributes {
  operation: Operation;
  kind: KindDefinition;
  namespace?: string;
  name: string;
  object?: KubeObject;
  oldObject?: KubeObject;
  subresource?: string;
  user: UserInfo;
  dryRun: boolean;
}

/** A validating/mutating admission step; throws ApiError to refuse. */
export interface AdmissionPlugin {
  name: string;
  admit(attrs: AdmissionAttributes): Promise<void>;
}

/**
 * Side effects of storing one kind beyond its own key, as upstream's service REST allocates
 * cluster IPs and node ports: `beforeWrite` runs after validation and admission and before the
 * write (on create and update), and returns an undo for a write that then fails; `afterWrite`
 * runs after a successful update or delete (obj undefined) to release what `old` held and the
 * new version does not. Neither runs for dry runs, except `beforeWrite` with `dryRun` set, which
 * must check without allocating.
 */
export interface StorageHooks {
  beforeWrite(obj: KubeObject, old: KubeObject | undefined, ctx: WriteContext): Promise<() => Promise<void>>;
  afterWrite(obj: KubeObject | undefined, old: KubeObject): Promise<void>;
}
