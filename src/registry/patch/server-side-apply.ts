/**
 * Server-side apply (application/apply-patch+yaml), as kube-apiserver's field manager with
 * structured-merge-diff behaves for users:
 * - the configuration is merged over the live object (typed-merge.ts) and the applier's entry
 *   becomes exactly the set of fields the configuration specifies;
 * - fields the applier owned before and no longer specifies are removed, unless another
 *   manager owns them too;
 * - changing a field another manager owns is a conflict (409 listing each field and manager)
 *   unless `force`, which moves ownership to the applier;
 * - an object never applied before gets a "before-first-apply" entry owning its fields, so
 *   the first applier conflicts with what it would change.
 *
 * Defaulting is not done here: upstream defaults the merged object after apply, so callers run
 * the kind's defaults on the result, then validation, then store it.
 */
import { ApiError, type StatusCause } from '../../api/errors.js';
import { fieldErr } from '../field-errors.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import { FieldSet, type Path, orderedPaths, pathString } from './field-set.js';
import { cloneJson, isObj } from './json-util.js';
import {
  type FieldManagerOptions,
  type Managed,
  type ManagerSet,
  STRIPPED_FIELDS,
  capUpdateManagers,
  decodeManagedFields,
  dropEmpty,
  encodeManagedFields,
  filterComparison,
  formatTime,
  managerId,
  recordUpdate,
  typeRefOf,
  withoutManagedFields,
} from './managed-fields.js';
import { TypedValueError, compareObjects, toFieldSet } from './typed-fieldset.js';
import { mergeApplied, removeFields, withNamedFieldParents } from './typed-merge.js';
import type { TypeRef } from './typed-shape.js';

export interface ApplyOptions extends FieldManagerOptions {
  /** The fieldManager parameter; required for apply. */
  manager: string;
  /** The force parameter: take ownership of conflicting fields. */
  force: boolean;
  /** The kind the endpoint serves; the configuration must name it. */
  kind?: string;
  /** The name in the URL; the configuration must carry the same name. */
  name?: string;
}

/**
 * Applies `applied` (a decoded apply configuration) to `live` (undefined when the object does
 * not exist yet: the result is then to be created). Returns the new object with its
 * managedFields; throws 409 Conflict on conflicts, 400/422 on a malformed request.
 */
export function apply(live: KubeObject | undefined, applied: unknown, opts: ApplyOptions): KubeObject {
  const config = validateConfiguration(applied, opts);
  const t = typeRefOf(opts);
  const managed = decodeLive(live);
  const liveObj = withoutManagedFields(live) ?? ({} as KubeObject);
  if (managed.size === 0 && live) {
    // Someone else wrote every field before anyone applied: that someone owns them now.
    recordUpdate(managed, {}, liveObj, { ...opts, manager: 'before-first-apply', subresource: undefined });
  }

  try {
    return applyTyped(liveObj, config, managed, t, opts);
  } catch (e) {
    // Values the typed model cannot hold (a map-list element without its key, duplicate keys) are
    // upstream's plain 500 "failed to create typed patch object".
    if (!(e instanceof TypedValueError)) throw e;
    throw new ApiError(500, '', `failed to create typed patch object (${gvknn(config)}): ${e.message}`);
  }
}

function applyTyped(liveObj: KubeObject, config: KubeObject, managed: Managed, t: TypeRef, opts: ApplyOptions): KubeObject {
  let merged = mergeApplied(liveObj, config, t) as KubeObject;
  const configSet = filterReset(toFieldSet(config, t), opts.resetFields);
  const applierId = managerId({ manager: opts.manager, operation: 'Apply', apiVersion: opts.apiVersion, subresource: opts.subresource });
  const previous = managed.get(applierId);
  managed.set(applierId, { manager: opts.manager, operation: 'Apply', apiVersion: opts.apiVersion, subresource: opts.subresource, time: previous?.time, set: configSet });
  if (previous && !previous.set.empty) merged = prune(merged, previous.set, managed, t);

  takeOwnership(managed, applierId, liveObj, merged, t, opts);

  const entry = managed.get(applierId)!;
  entry.set = entry.set.difference(STRIPPED_FIELDS);
  const entryChanged = !previous || !previous.set.equals(entry.set) || previous.apiVersion !== entry.apiVersion;
  if (entryChanged || !deepEqual(liveObj, merged)) entry.time = formatTime(opts.now ?? new Date());
  dropEmpty(managed);
  capUpdateManagers(managed);

  const encoded = encodeManagedFields(managed);
  if (encoded) merged.metadata.managedFields = encoded;
  return merged;
}

function gvkString(apiVersion: unknown, kind: unknown): string {
  const av = typeof apiVersion === 'string' ? apiVersion : '';
  const slash = av.indexOf('/');
  const [group, version] = slash >= 0 ? [av.slice(0, slash), av.slice(slash + 1)] : ['', av];
  return `${group}/${version}, Kind=${typeof kind === 'string' ? kind : ''}`;
}

function gvknn(obj: KubeObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}; ${gvkString(obj.apiVersion, obj.kind)}`;
}

/** The request checks upstream makes before merging (ValidatePatchOptions, versionCheck, ...). */
function validateConfiguration(applied: unknown, opts: ApplyOptions): KubeObject {
  if (!opts.manager) {
    throw ApiError.invalid('meta.k8s.io', 'PatchOptions', '', [fieldErr.required('fieldManager', 'is required for apply patch')]);
  }
  if (!isObj(applied)) {
    const what = Array.isArray(applied) ? 'array' : applied === null ? 'null' : typeof applied;
    throw ApiError.badRequest(`error decoding YAML: json: cannot unmarshal ${what} into Go value of type map[string]interface {}`);
  }
  const config = cloneJson(applied) as KubeObject;
  const expectedGvk = gvkString(opts.apiVersion, opts.kind ?? config.kind);
  if (gvkString(config.apiVersion, config.kind) !== expectedGvk || !config.kind) {
    throw ApiError.badRequest(`invalid object type: ${gvkString(config.apiVersion, config.kind)}`);
  }
  if (config.metadata !== undefined && !isObj(config.metadata)) {
    throw ApiError.badRequest('error decoding YAML: json: cannot unmarshal into metadata: expected an object');
  }
  config.metadata ??= {};
  if (config.metadata.managedFields !== undefined) throw ApiError.badRequest('metadata.managedFields must be nil');
  const name = config.metadata.name ?? '';
  if (opts.name !== undefined ? name !== opts.name : !name) {
    throw ApiError.badRequest(`the name of the object (${name}) does not match the name on the URL (${opts.name ?? ''})`);
  }
  return config;
}

function decodeLive(live: KubeObject | undefined): Managed {
  try {
    return decodeManagedFields(live?.metadata.managedFields);
  } catch (e) {
    throw new ApiError(500, '', `failed to decode managed fields: ${(e as Error).message}`);
  }
}

function filterReset(set: FieldSet, resetFields: string[][] | undefined): FieldSet {
  return filterComparison({ added: set, modified: new FieldSet(), removed: new FieldSet() }, resetFields).added;
}

/**
 * Removes what the applier owned before and neither it (now) nor anyone else owns. Struct
 * fields above owned paths count as owned, so a struct is pruned only when nothing in it is.
 */
function prune(merged: KubeObject, lastSet: FieldSet, managed: Managed, t: TypeRef): KubeObject {
  let owned = new FieldSet();
  for (const m of managed.values()) owned = owned.union(m.set);
  const toRemove = withNamedFieldParents(lastSet, t).difference(withNamedFieldParents(owned, t));
  return (removeFields(merged, toRemove, t) ?? {}) as KubeObject;
}

/**
 * The update step of an apply: other managers lose the fields the apply changed (a conflict
 * unless forced) and the fields it removed.
 */
function takeOwnership(managed: Managed, applierId: string, liveObj: unknown, merged: unknown, t: TypeRef, opts: ApplyOptions): void {
  const c = filterComparison(compareObjects(liveObj, merged, t), opts.resetFields);
  const changed = c.added.union(c.modified);
  const conflicts: { manager: ManagerSet; paths: Path[] }[] = [];
  for (const [id, m] of [...managed.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (id === applierId) continue;
    const overlap = m.set.intersection(changed);
    if (!overlap.empty) conflicts.push({ manager: m, paths: orderedPaths(overlap) });
  }
  if (conflicts.length && !opts.force) throw conflictError(conflicts);
  for (const [id, m] of managed) if (id !== applierId) m.set = m.set.difference(changed).difference(c.removed);
}

/** How a manager is named in conflict messages (printManager). */
function printManager(m: ManagerSet): string {
  let s = JSON.stringify(m.manager);
  if (m.subresource) s += ` with subresource ${JSON.stringify(m.subresource)}`;
  if (m.operation === 'Update') s += ` using ${m.apiVersion}`;
  return s;
}

/** 409 Conflict in NewApplyConflict's form: one cause per field, reason FieldManagerConflict. */
function conflictError(conflicts: { manager: ManagerSet; paths: Path[] }[]): ApiError {
  const causes: StatusCause[] = conflicts.flatMap(({ manager, paths }) =>
    paths.map((p) => ({ reason: 'FieldManagerConflict', message: `conflict with ${printManager(manager)}`, field: pathString(p) })),
  );
  let message: string;
  if (causes.length === 1) {
    message = `Apply failed with 1 conflict: conflict with ${printManager(conflicts[0].manager)}: ${causes[0].field}`;
  } else {
    const lines = conflicts.flatMap(({ manager, paths }) => [`conflicts with ${printManager(manager)}:`, ...paths.map((p) => `- ${pathString(p)}`)]);
    message = `Apply failed with ${causes.length} conflicts: ${lines.join('\n')}`;
  }
  return new ApiError(409, 'Conflict', message, { causes });
}
