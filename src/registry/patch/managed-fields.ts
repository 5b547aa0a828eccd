/**
 * metadata.managedFields: who owns which fields (k8s.io/apimachinery/pkg/util/managedfields).
 *
 * Each entry is identified by manager, operation, subresource and — for Update entries only —
 * apiVersion (an applier keeps one entry across versions). This module decodes and encodes
 * entries, and tracks non-apply writes (create, update, patch): the writer takes the fields it
 * added or changed, every other entry loses them, and every entry loses fields the write
 * removed. Server-side apply (server-side-apply.ts) builds on the same pieces.
 */
import type { KubeObject, ManagedFieldsEntry } from '../../util/object.js';
import type { JSONSchema, SchemaResolver } from '../../schema/types.js';
import { FieldSet, type Path, fieldPE, fromFieldsV1, toFieldsV1, underAny } from './field-set.js';
import { cloneJson } from './json-util.js';
import { resolveSchema } from './schema-nav.js';
import { type Comparison, TypedValueError, compareObjects } from './typed-fieldset.js';
import type { TypeRef } from './typed-shape.js';

/** One decoded managedFields entry. */
export interface ManagerSet {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  subresource?: string;
  time?: string;
  set: FieldSet;
}

/** Decoded managedFields, keyed by manager identity. */
export type Managed = Map<string, ManagerSet>;

/** The options every managed-fields operation needs about the object's type and the writer. */
export interface FieldManagerOptions {
  /** Schema of the top-level object; undefined treats every field generically. */
  schema: JSONSchema | undefined;
  resolver: SchemaResolver;
  /** group/version the request used, e.g. `apps/v1` or `v1`. */
  apiVersion: string;
  /** The subresource written (`status`, `scale`), if any. */
  subresource?: string;
  /** Custom resources: unstructured objects (see TypeContext.customResource). */
  customResource?: boolean;
  /**
   * Field paths (as field names) whose changes are not tracked for this endpoint, as upstream's
   * reset fields: `[['status']]` for a main resource, and for a status subresource everything
   * else (e.g. `[['spec'], ['metadata', 'labels'], ...]`).
   */
  resetFields?: string[][];
  /** The time to record; defaults to now. */
  now?: Date;
}

export interface UpdateOptions extends FieldManagerOptions {
  /** Manager name: use managerOrUserAgent() on the request. */
  manager: string;
}

/** Update managers beyond this many are folded into "ancient-changes" (capmanagers.go). */
export const MAX_UPDATE_MANAGERS = 10;

/** Fields nobody owns: identity and system metadata (stripmeta.go). Exact paths, not subtrees. */
export const STRIPPED_FIELDS: FieldSet = FieldSet.of([
  [fieldPE('apiVersion')],
  [fieldPE('kind')],
  [fieldPE('metadata')],
  ...['name', 'namespace', 'creationTimestamp', 'selfLink', 'uid', 'clusterName', 'generation', 'managedFields', 'resourceVersion'].map(
    (f): Path => [fieldPE('metadata'), fieldPE(f)],
  ),
]);

/**
 * The manager name of a request: the fieldManager parameter, else the user agent up to its
 * first "/", printable characters only, at most 128 (managerOrUserAgent in patch.go/update.go).
 */
export function managerOrUserAgent(fieldManager: string | undefined | null, userAgent: string | undefined): string {
  if (fieldManager) return fieldManager;
  // Go's unicode.IsPrint: no control/format characters, no spaces other than U+0020.
  const printable = [...(userAgent ?? '').split('/')[0]].filter((c) => c === ' ' || !/[\p{C}\p{Z}]/u.test(c));
  return printable.join('').slice(0, 128);
}

export function managerId(m: Pick<ManagerSet, 'manager' | 'operation' | 'apiVersion' | 'subresource'>): string {
  return JSON.stringify([m.manager, m.operation, m.operation === 'Update' ? m.apiVersion : '', m.subresource ?? '']);
}

/** RFC 3339 with second precision, as metav1.Time serializes. */
export function formatTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Decodes managedFields; throws Error with upstream's message on an invalid entry. */
export function decodeManagedFields(entries: ManagedFieldsEntry[] | undefined): Managed {
  const managed: Managed = new Map();
  (entries ?? []).forEach((e, i) => {
    if (e.operation !== 'Apply' && e.operation !== 'Update') throw new Error('operation must be `Apply` or `Update`');
    if (!e.apiVersion) throw new Error('apiVersion must not be empty');
    if (!e.fieldsType) throw new Error(`missing fieldsType in managed fields entry ${i}`);
    if (e.fieldsType !== 'FieldsV1') throw new Error(`invalid fieldsType ${JSON.stringify(e.fieldsType)} in managed fields entry ${i}`);
    const ms: ManagerSet = {
      manager: e.manager ?? '',
      operation: e.operation,
      apiVersion: e.apiVersion,
      subresource: e.subresource || undefined,
      time: e.time,
      set: fromFieldsV1(e.fieldsV1 ?? {}),
    };
    managed.set(managerId(ms), ms);
  });
  return managed;
}

/** Encodes managedFields in upstream's order: Apply before Update, then by time, manager, version. */
export function encodeManagedFields(managed: Managed): ManagedFieldsEntry[] | undefined {
  const entries = [...managed.values()].filter((m) => !m.set.empty);
  if (entries.length === 0) return undefined;
  const seconds = (t?: string) => (t ? Math.floor(Date.parse(t) / 1000) : 0);
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  entries.sort(
    (p, q) =>
      cmp(p.operation, q.operation) ||
      seconds(p.time) - seconds(q.time) ||
      cmp(p.manager, q.manager) ||
      cmp(p.apiVersion, q.apiVersion) ||
      cmp(p.subresource ?? '', q.subresource ?? ''),
  );
  return entries.map((m) => {
    const e: ManagedFieldsEntry = { manager: m.manager, operation: m.operation, apiVersion: m.apiVersion };
    if (m.time) e.time = m.time;
    e.fieldsType = 'FieldsV1';
    e.fieldsV1 = toFieldsV1(m.set) as ManagedFieldsEntry['fieldsV1'];
    if (m.subresource) e.subresource = m.subresource;
    return e;
  });
}

export function typeRefOf(opts: FieldManagerOptions): TypeRef {
  return { schema: resolveSchema(opts.schema, opts.resolver), ctx: { resolver: opts.resolver, customResource: !!opts.customResource } };
}

/** A copy of an object without metadata.managedFields, as the field manager compares them. */
export function withoutManagedFields(obj: KubeObject | undefined): KubeObject | undefined {
  if (!obj) return undefined;
  const copy = cloneJson(obj);
  if (copy.metadata) delete copy.metadata.managedFields;
  return copy;
}

/** Drops changes under reset fields (they are not tracked for this endpoint). */
export function filterComparison(c: Comparison, resetFields: string[][] | undefined): Comparison {
  if (!resetFields?.length) return c;
  const keep = (p: Path) => !underAny(p, resetFields);
  return { added: c.added.filter(keep), modified: c.modified.filter(keep), removed: c.removed.filter(keep) };
}

/**
 * Records a non-apply write in `managed` (mutated): the writer's entry gains the fields the
 * write added or changed (its time is then set), all entries lose the changed and removed
 * fields.
 */
export function recordUpdate(managed: Managed, oldObj: unknown, newObj: unknown, writer: UpdateOptions): void {
  const c = filterComparison(compareObjects(oldObj, newObj, typeRefOf(writer)), writer.resetFields);
  const changed = c.added.union(c.modified);
  for (const m of managed.values()) m.set = m.set.difference(changed).difference(c.removed);
  const owned = changed.difference(STRIPPED_FIELDS);
  const name = writer.manager || 'unknown';
  const id = managerId({ manager: name, operation: 'Update', apiVersion: writer.apiVersion, subresource: writer.subresource });
  if (!owned.empty) {
    const prev = managed.get(id);
    managed.set(id, {
      manager: name,
      operation: 'Update',
      apiVersion: writer.apiVersion,
      subresource: writer.subresource,
      time: formatTime(writer.now ?? new Date()),
      set: prev ? prev.set.union(owned) : owned,
    });
  }
  dropEmpty(managed);
}

export function dropEmpty(managed: Managed): void {
  for (const [id, m] of managed) if (m.set.empty) managed.delete(id);
}

/** Folds the oldest Update entries, per apiVersion, into "ancient-changes" beyond the cap. */
export function capUpdateManagers(managed: Managed, max = MAX_UPDATE_MANAGERS): void {
  const updaters = [...managed.entries()].filter(([, m]) => m.operation === 'Update');
  if (updaters.length <= max) return;
  const seconds = (t?: string) => (t ? Math.floor(Date.parse(t) / 1000) : 0);
  updaters.sort(([ia, a], [ib, b]) => seconds(a.time) - seconds(b.time) || (ia < ib ? -1 : ia > ib ? 1 : 0));
  const firstOfVersion = new Map<string, string>();
  let count = updaters.length;
  for (const [id, m] of updaters) {
    if (count <= max) break;
    const first = firstOfVersion.get(m.apiVersion);
    if (first === undefined) {
      firstOfVersion.set(m.apiVersion, id);
      continue;
    }
    const bucketId = managerId({ manager: 'ancient-changes', operation: 'Update', apiVersion: m.apiVersion });
    let bucket = managed.get(bucketId);
    if (!bucket) {
      const firstSet = managed.get(first)!;
      managed.delete(first);
      bucket = { ...firstSet, manager: 'ancient-changes', subresource: undefined };
      managed.set(bucketId, bucket);
    }
    bucket.set = bucket.set.union(m.set);
    bucket.time = m.time; // the later of the two
    managed.delete(id);
    count--;
  }
}

/** Treats `[]` and `[{}]` as a request to clear managedFields (isResetManagedFields). */
function isReset(entries: ManagedFieldsEntry[] | undefined): boolean {
  if (!entries) return false;
  if (entries.length === 0) return true;
  return entries.length === 1 && Object.keys(entries[0]).length === 0;
}

/** decodeLiveOrNew: a writer may replace managedFields wholesale, except through a subresource. */
function managedForUpdate(live: KubeObject | undefined, updated: KubeObject, subresource: string | undefined): Managed {
  const tryDecode = (e: ManagedFieldsEntry[] | undefined): Managed => {
    try {
      return decodeManagedFields(e);
    } catch {
      return new Map(); // unreadable managedFields are reset, as upstream
    }
  };
  if (subresource) return tryDecode(live?.metadata.managedFields);
  const requested = updated.metadata.managedFields;
  if (isReset(requested)) return new Map();
  const fromRequest = tryDecode(requested);
  return fromRequest.size ? fromRequest : tryDecode(live?.metadata.managedFields);
}

/**
 * managedFields for a create, update or non-apply patch: returns `updated` (a copy) with
 * managedFields recomputed. `live` is undefined for a create. An existing object without
 * managedFields stays untracked until someone applies, as upstream.
 */
export function updateManagedFields(live: KubeObject | undefined, updated: KubeObject, opts: UpdateOptions): KubeObject {
  const managed = managedForUpdate(live, updated, opts.subresource);
  const result = withoutManagedFields(updated)!;
  if (managed.size === 0 && live) return result;
  try {
    recordUpdate(managed, withoutManagedFields(live) ?? {}, result, opts);
  } catch (e) {
    if (!(e instanceof TypedValueError)) throw e;
    // UpdateNoErrors: an object the schema cannot key keeps the previous ownership.
    if (live?.metadata.managedFields) result.metadata.managedFields = cloneJson(live.metadata.managedFields);
    return result;
  }
  capUpdateManagers(managed);
  const encoded = encodeManagedFields(managed);
  if (encoded) result.metadata.managedFields = encoded;
  return result;
}
