/**
 * The generic registry: create, get, list, update, patch, delete and deletecollection for every
 * kind, built-in or custom, in the manner of kube-apiserver's generic registry store. Per-kind rules
 * come from the KindDefinition's strategy; schema checks, field ownership and admission from hooks.
 */
import { randomUUID } from 'node:crypto';
import { ApiError, type GroupResource } from '../api/errors.js';
import type { KindDefinition, StrategyContext } from '../kinds/types.js';
import { CompactedError, ConflictError, FutureRevisionError, KeyExistsError, KeyNotFoundError, StoreUnavailableError } from '../store/errors.js';
import type { KeyValue, Store } from '../store/types.js';
import { deepClone, deepEqual, isPlainObject, type KubeObject } from '../util/object.js';
import { decodeObject, encodeObject, rawServedJson, writtenObject } from './codec.js';
import { decodeContinue, encodeContinue } from './continue-token.js';
import { type FieldError, fieldErr } from './field-errors.js';
import type { AdmissionPlugin, Operation, PatchEngine, SchemaChecks, StorageHooks, WriteContext } from './hooks.js';
import { listPrefix, objectKey } from './keys.js';
import { compileSelectors, type CompiledSelectors } from './object-filter.js';
import { validateObjectMeta, validateObjectMetaUpdate } from './validation.js';

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
}

export interface ListPage<T> {
  items: T[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

export type ObjectList = ListPage<KubeObject>;

export interface DeleteOptions {
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

/** Result of a delete: the object as it is now, and whether it is gone or only marked for deletion. */
export interface DeleteResult {
  object: KubeObject;
  deleted: boolean;
}

const MAX_UPDATE_RETRIES = 8;
/** etcd's default request limit; the same cap applies on SQLite so the two stores take the same objects. */
export const MAX_OBJECT_BYTES = 1.5 * 1024 * 1024;
const NAME_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export const groupResource = (k: KindDefinition): GroupResource => ({ group: k.group, resource: k.plural });

export class GenericRegistry {
  constructor(
    private readonly store: Store,
    private readonly patches: PatchEngine,
    private readonly schema: SchemaChecks,
    private readonly admission: AdmissionPlugin[] = [],
    /** Keyed by `group/plural`. */
    private readonly storageHooks: ReadonlyMap<string, StorageHooks> = new Map(),
  ) {}

  private hooksFor(kind: KindDefinition): StorageHooks | undefined {
    return kind.custom ? undefined : this.storageHooks.get(`${kind.group}/${kind.plural}`);
  }

  // ---- reads ----

  async get(kind: KindDefinition, ns: string | undefined, name: string): Promise<KubeObject> {
    const kv = await this.storeCall(() => this.store.get(objectKey(kind, ns, name)));
    if (!kv) throw ApiError.notFound(groupResource(kind), name);
    return decodeObject(kind, kv);
  }

  async list(kind: KindDefinition, ns: string | undefined, opts: ListOptions = {}): Promise<ObjectList> {
    const selectors = compileSelectors(kind, opts.labelSelector, opts.fieldSelector);
    const page = await this.listPage(kind, ns, opts, selectors.empty, (kv) => {
      const obj = decodeObject(kind, kv);
      return selectors.matches(obj) ? obj : undefined;
    });
    return { ...page, items: page.items };
  }

  /**
   * The same list with each item as served JSON text: items are spliced from the stored bytes
   * without a parse/stringify round trip unless a selector has to look inside them (large lists).
   */
  async listJson(kind: KindDefinition, ns: string | undefined, opts: ListOptions = {}): Promise<ListPage<string>> {
    const selectors = compileSelectors(kind, opts.labelSelector, opts.fieldSelector);
    return this.listPage(kind, ns, opts, selectors.empty, (kv) => {
      if (selectors.empty) return rawServedJson(kind, kv) ?? JSON.stringify(decodeObject(kind, kv));
      const obj = decodeObject(kind, kv);
      return selectors.matches(obj) ? JSON.stringify(obj) : undefined;
    });
  }

  /** One page of a list; `take` turns a stored item into a result, or undefined when filtered out. */
  private async listPage<T>(kind: KindDefinition, ns: string | undefined, opts: ListOptions, unfiltered: boolean, take: (kv: KeyValue) => T | undefined): Promise<ListPage<T>> {
    const prefix = listPrefix(kind, ns);
    const limit = opts.limit && opts.limit > 0 ? opts.limit : undefined;
    let revision: number | undefined;
    let startKey: string | undefined;
    if (opts.continue) {
      const token = decodeContinue(opts.continue);
      revision = token.revision;
      startKey = prefix + token.start;
    } else if (opts.resourceVersion && opts.resourceVersion !== '0') {
      const rv = parseResourceVersion(opts.resourceVersion);
      if (opts.resourceVersionMatch === 'Exact') revision = rv;
      else await this.waitForRevision(rv);
    }
    const items: T[] = [];
    let more = false;
    let remaining: number | undefined;
    let listRevision = 0;
    // With a selector, pages are filled by reading further chunks, as upstream does.
    for (;;) {
      const chunk = limit ? Math.max(limit - items.length, unfiltered ? 0 : 500) : undefined;
      const res = await this.storeCall(() => this.store.list(prefix, { revision, limit: chunk, startKey }), (e) => this.expired(e, !!opts.continue));
      listRevision = res.revision;
      revision = res.revision;
      let lastKey: string | undefined;
      for (const kv of res.items) {
        lastKey = kv.key;
        const item = take(kv);
        if (item === undefined) continue;
        items.push(item);
        if (limit && items.length >= limit) break;
      }
      const cutInsideChunk = lastKey !== undefined && lastKey !== res.items[res.items.length - 1]?.key;
      if (limit && items.length >= limit && (res.more || cutInsideChunk)) {
        more = true;
        startKey = lastKey + '\x00';
        if (unfiltered && res.remaining !== undefined) remaining = res.remaining;
        break;
      }
      if (!res.more || !limit) break;
      startKey = (lastKey ?? startKey) + '\x00';
    }
    const out: ListPage<T> = { items, resourceVersion: String(listRevision) };
    if (more && startKey) {
      out.continue = encodeContinue({ revision: listRevision, start: startKey.slice(prefix.length) });
      if (remaining !== undefined) out.remainingItemCount = remaining;
    }
    return out;
  }

  // ---- writes ----

  async create(kind: KindDefinition, ns: string | undefined, input: KubeObject, ctx: WriteContext): Promise<KubeObject> {
    return this.createObject(kind, ns, deepClone(input), ctx, false);
  }

  /** `managedFieldsDone`: server-side apply already computed the object's managedFields. */
  private async createObject(kind: KindDefinition, ns: string | undefined, obj: KubeObject, ctx: WriteContext, managedFieldsDone: boolean): Promise<KubeObject> {
    this.checkBodyNamespace(kind, ns, obj);
    if (obj.metadata.resourceVersion) throw ApiError.badRequest('resourceVersion should not be set on objects to be created');
    if (!obj.metadata.name && obj.metadata.generateName) obj.metadata.name = generateName(obj.metadata.generateName);
    const meta = obj.metadata;
    meta.uid = randomUUID();
    meta.creationTimestamp = rfc3339(ctx.now);
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.selfLink;
    if (this.tracksGeneration(kind)) meta.generation = 1;
    else delete meta.generation;
    if (kind.statusSubresource) delete obj.status;
    const errs = this.normalize(kind, obj, ctx);
    kind.strategy?.prepareForCreate?.(obj, strategyContext(ctx));
    errs.push(...validateObjectMeta(obj, { namespaced: kind.namespaced, nameFormat: kind.nameFormat ?? 'subdomain' }));
    errs.push(...(kind.strategy?.validate?.(obj) ?? []));
    this.throwIfInvalid(kind, obj, errs);
    ctx.warnings.push(...(kind.strategy?.warnings?.(obj) ?? []));
    if (!managedFieldsDone) this.patches.updateManagedFields(kind, undefined, obj, { manager: ctx.fieldManager, now: ctx.now, subresource: ctx.subresource });
    await this.admit('CREATE', kind, ns, obj, undefined, ctx);
    const undo = await this.hooksFor(kind)?.beforeWrite(obj, undefined, ctx);
    if (ctx.dryRun) {
      // Upstream's DryRunnableStorage.Create: a dry-run create of an existing object still conflicts.
      if (await this.storeCall(() => this.store.get(objectKey(kind, ns, obj.metadata.name!))))
        throw ApiError.alreadyExists(groupResource(kind), obj.metadata.name!);
      return obj;
    }
    try {
      const kv = await this.storeCall(() => this.store.create(objectKey(kind, ns, obj.metadata.name!), this.encode(kind, obj)));
      return writtenObject(kind, obj, kv);
    } catch (e) {
      await undo?.();
      if (e instanceof KeyExistsError) throw ApiError.alreadyExists(groupResource(kind), obj.metadata.name!);
      throw e;
    }
  }

  /** PUT of the object or its status subresource. */
  async update(kind: KindDefinition, ns: string | undefined, name: string, input: KubeObject, ctx: WriteContext): Promise<{ object: KubeObject; created: boolean }> {
    this.checkBodyNamespace(kind, ns, input);
    if (input.metadata.name !== name)
      throw ApiError.badRequest(`the name of the object (${input.metadata.name ?? ''}) does not match the name on the URL (${name})`);
    const wantedRv = input.metadata.resourceVersion;
    return this.guaranteedUpdate(kind, ns, name, ctx, !!wantedRv, (current) => {
      if (!current) return { create: deepClone(input) };
      if (wantedRv && wantedRv !== current.metadata.resourceVersion)
        throw ApiError.conflict(groupResource(kind), name, 'the object has been modified; please apply your changes to the latest version and try again');
      return { update: deepClone(input) };
    });
  }

  async patch(kind: KindDefinition, ns: string | undefined, name: string, type: PatchType, body: Buffer, ctx: WriteContext, opts: { force?: boolean } = {}): Promise<{ object: KubeObject; created: boolean }> {
    return this.guaranteedUpdate(kind, ns, name, ctx, false, (current) => {
      if (type === 'apply') {
        const applied = parseApplyBody(body);
        const next = this.patches.apply(kind, current ?? undefined, applied, { manager: ctx.fieldManager, force: !!opts.force, now: ctx.now, subresource: ctx.subresource });
        if (!current) {
          if (ctx.subresource) throw ApiError.notFound(groupResource(kind), name);
          if (next.metadata.name !== name) throw ApiError.badRequest(`the name of the object (${next.metadata.name ?? ''}) does not match the name on the URL (${name})`);
          return { create: next, managedFieldsDone: true };
        }
        return { update: next, managedFieldsDone: true };
      }
      if (!current) throw ApiError.notFound(groupResource(kind), name);
      if (kind.custom && type === 'strategic') throw new ApiError(415, 'UnsupportedMediaType', 'strategic merge patch is not supported for custom resources; use a json or merge patch');
      const next = this.patches.patch(kind, current, type, body);
      if (!isPlainObject(next) || !isPlainObject(next.metadata)) throw ApiError.badRequest('the patch produced an object without metadata');
      // A patched object that no longer decodes is the patch's fault: 422 on field "patch", as upstream.
      const typeError = this.schema.typedDecode?.(kind, next);
      if (typeError) throw ApiError.invalid('', '', '', [fieldErr.invalid('patch', body.toString('utf8'), typeError.replace(/^.*? cannot be handled as a [^:]*: /, ''))]);
      const patchedRv = next.metadata.resourceVersion;
      if (patchedRv && patchedRv !== current.metadata.resourceVersion)
        throw ApiError.conflict(groupResource(kind), name, 'the object has been modified; please apply your changes to the latest version and try again');
      if (next.metadata.name !== name) throw ApiError.badRequest(`metadata.name: Invalid value: "${String(next.metadata.name)}": field is immutable`);
      return { update: next };
    });
  }

  async delete(kind: KindDefinition, ns: string | undefined, name: string, opts: DeleteOptions, ctx: WriteContext): Promise<DeleteResult> {
    for (let attempt = 0; ; attempt++) {
      const kv = await this.storeCall(() => this.store.get(objectKey(kind, ns, name)));
      if (!kv) throw ApiError.notFound(groupResource(kind), name);
      const current = decodeObject(kind, kv);
      this.checkPreconditions(kind, current, opts);
      await this.admit('DELETE', kind, ns, undefined, current, ctx);
      const marked = this.markForDeletion(kind, current, opts, ctx);
      try {
        if (marked) {
          if (ctx.dryRun) return { object: marked, deleted: false };
          if (deepEqual(marked, current)) return { object: current, deleted: false };
          const updated = await this.storeCall(() => this.store.update(kv.key, this.encode(kind, marked), kv.modRevision));
          return { object: decodeObject(kind, updated), deleted: false };
        }
        if (ctx.dryRun) return { object: current, deleted: true };
        const gone = await this.storeCall(() => this.store.delete(kv.key, kv.modRevision));
        await this.hooksFor(kind)?.afterWrite(undefined, current);
        return { object: decodeObject(kind, gone), deleted: true };
      } catch (e) {
        if ((e instanceof ConflictError || e instanceof KeyNotFoundError) && attempt < MAX_UPDATE_RETRIES) continue;
        if (e instanceof KeyNotFoundError) throw ApiError.notFound(groupResource(kind), name);
        throw e;
      }
    }
  }

  async deleteCollection(kind: KindDefinition, ns: string | undefined, listOpts: ListOptions, opts: DeleteOptions, ctx: WriteContext): Promise<ObjectList> {
    const list = await this.list(kind, ns, { labelSelector: listOpts.labelSelector, fieldSelector: listOpts.fieldSelector });
    const items: KubeObject[] = [];
    for (const item of list.items) {
      try {
        const r = await this.delete(kind, item.metadata.namespace, item.metadata.name!, opts, ctx);
        items.push(r.object);
      } catch (e) {
        if (e instanceof ApiError && e.code === 404) continue;
        throw e;
      }
    }
    return { items, resourceVersion: list.resourceVersion };
  }

  /**
   * A write that bypasses the kind's strategy, as upstream's subresource REST handlers use
   * Storage.GuaranteedUpdate directly (pods/binding): `mutate` changes a copy of the current
   * object or throws; the write retries on store conflicts. Admission and storage hooks do not run.
   */
  async updateRaw(kind: KindDefinition, ns: string | undefined, name: string, ctx: WriteContext, mutate: (obj: KubeObject) => void): Promise<KubeObject> {
    const key = objectKey(kind, ns, name);
    for (let attempt = 0; ; attempt++) {
      const kv = await this.storeCall(() => this.store.get(key));
      if (!kv) throw ApiError.notFound(groupResource(kind), name);
      const next = decodeObject(kind, kv);
      // As upstream's BindingREST (a GuaranteedUpdate below the field manager): managedFields stay as they are.
      mutate(next);
      if (ctx.dryRun) return next;
      try {
        return decodeObject(kind, await this.storeCall(() => this.store.update(key, this.encode(kind, next), kv.modRevision)));
      } catch (e) {
        if ((e instanceof ConflictError || e instanceof KeyNotFoundError) && attempt < MAX_UPDATE_RETRIES) continue;
        if (e instanceof KeyNotFoundError) throw ApiError.notFound(groupResource(kind), name);
        if (e instanceof ConflictError) throw ApiError.conflict(groupResource(kind), name, 'the object has been modified; please apply your changes to the latest version and try again');
        throw e;
      }
    }
  }

  // ---- the update loop ----

  /**
   * Reads the current object, lets `decide` compute the new one, and writes it with the read
   * revision as precondition, retrying on store conflicts unless the caller pinned a
   * resourceVersion (then a conflict is the caller's 409).
   */
  private async guaranteedUpdate(
    kind: KindDefinition,
    ns: string | undefined,
    name: string,
    ctx: WriteContext,
    pinned: boolean,
    decide: (current: KubeObject | null) => { create?: KubeObject; update?: KubeObject; managedFieldsDone?: boolean },
  ): Promise<{ object: KubeObject; created: boolean }> {
    const key = objectKey(kind, ns, name);
    for (let attempt = 0; ; attempt++) {
      const kv = await this.storeCall(() => this.store.get(key));
      const current = kv ? decodeObject(kind, kv) : null;
      const decision = decide(current);
      try {
        if (decision.create) {
          const applied = !!decision.managedFieldsDone;
          if (!applied && !allowsCreateOnUpdate(kind)) throw ApiError.notFound(groupResource(kind), name);
          const obj = decision.create;
          delete obj.metadata.resourceVersion;
          return { object: await this.createObject(kind, ns, obj, ctx, applied), created: true };
        }
        const next = this.prepareUpdate(kind, current!, decision.update!, ctx, !!decision.managedFieldsDone);
        await this.admit('UPDATE', kind, ns, next, current!, ctx);
        return { object: await this.writeUpdate(kind, kv!, current!, next, ctx), created: false };
      } catch (e) {
        const retriable = e instanceof ConflictError || (e instanceof KeyNotFoundError && !!current) || (e instanceof KeyExistsError && !current);
        if (retriable && !pinned && attempt < MAX_UPDATE_RETRIES) continue;
        if (e instanceof ConflictError || e instanceof KeyExistsError)
          throw ApiError.conflict(groupResource(kind), name, 'the object has been modified; please apply your changes to the latest version and try again');
        if (e instanceof KeyNotFoundError) throw ApiError.notFound(groupResource(kind), name);
        throw e;
      }
    }
  }

  private prepareUpdate(kind: KindDefinition, current: KubeObject, input: KubeObject, ctx: WriteContext, managedFieldsDone: boolean): KubeObject {
    let obj = input;
    if (!isPlainObject(obj.metadata)) throw ApiError.badRequest('metadata is required');
    const cur = current.metadata;
    const status = ctx.subresource === 'status';
    if (ctx.subresource === 'finalize') {
      // A Namespace's /finalize changes only spec.finalizers.
      const next = deepClone(current);
      next.spec = { ...(next.spec as object), finalizers: (obj.spec as { finalizers?: unknown } | undefined)?.finalizers ?? [] };
      obj = next;
    } else if (status) {
      // Writes to /status change only status (upstream's status strategies and ResetObjectMetaForStatus).
      const next = deepClone(current);
      if (obj.status === undefined) delete next.status;
      else next.status = obj.status;
      next.metadata.managedFields = obj.metadata.managedFields ?? cur.managedFields;
      obj = next;
    } else if (kind.statusSubresource) {
      if (current.status === undefined) delete obj.status;
      else obj.status = deepClone(current.status);
    }
    const meta = obj.metadata;
    meta.resourceVersion = cur.resourceVersion;
    if (!meta.uid) meta.uid = cur.uid;
    meta.creationTimestamp = cur.creationTimestamp;
    if (cur.deletionTimestamp) {
      meta.deletionTimestamp = cur.deletionTimestamp;
      meta.deletionGracePeriodSeconds = cur.deletionGracePeriodSeconds;
    } else {
      delete meta.deletionTimestamp;
      delete meta.deletionGracePeriodSeconds;
    }
    if (cur.generation !== undefined) meta.generation = cur.generation;
    else delete meta.generation;
    delete meta.selfLink;
    const errs = this.normalize(kind, obj, ctx);
    if (!ctx.subresource) kind.strategy?.prepareForUpdate?.(obj, current, strategyContext(ctx));
    if (this.tracksGeneration(kind) && !status && specChanged(obj, current)) meta.generation = (cur.generation ?? 0) + 1;
    errs.push(...validateObjectMeta(obj, { namespaced: kind.namespaced, nameFormat: kind.nameFormat ?? 'subdomain' }));
    errs.push(...validateObjectMetaUpdate(obj, current));
    if (status) errs.push(...(kind.strategy?.validateStatusUpdate?.(obj, current) ?? []));
    else {
      errs.push(...(kind.strategy?.validate?.(obj) ?? []));
      errs.push(...(kind.strategy?.validateUpdate?.(obj, current) ?? []));
    }
    this.throwIfInvalid(kind, obj, errs);
    ctx.warnings.push(...(kind.strategy?.warnings?.(obj, current) ?? []));
    if (!managedFieldsDone) this.patches.updateManagedFields(kind, current, obj, { manager: ctx.fieldManager, now: ctx.now, subresource: ctx.subresource });
    return obj;
  }

  private async writeUpdate(kind: KindDefinition, kv: KeyValue, current: KubeObject, next: KubeObject, ctx: WriteContext): Promise<KubeObject> {
    // As upstream's shouldDeleteDuringUpdate: an update removes an object only when a delete
    // already asked for it with no grace period left and no finalizer remains — a pod still in its
    // grace period stays (its kubelet's own delete with grace 0 finishes it) whatever else writes it.
    const grace = current.metadata.deletionGracePeriodSeconds;
    const finalized = !!current.metadata.deletionTimestamp && (grace === undefined || grace === 0) && !next.metadata.finalizers?.length && !kind.strategy?.retainOnDelete?.(next);
    const hooks = this.hooksFor(kind);
    if (finalized) {
      if (ctx.dryRun) return next;
      // The last finalizer is gone from an object marked for deletion: it goes now.
      const gone = await this.storeCall(() => this.store.delete(kv.key, kv.modRevision));
      await hooks?.afterWrite(undefined, current);
      const obj = decodeObject(kind, gone);
      return { ...next, metadata: { ...next.metadata, resourceVersion: obj.metadata.resourceVersion } };
    }
    if (sameExceptManagedFieldTimes(next, current)) return current;
    const undo = await hooks?.beforeWrite(next, current, ctx);
    if (ctx.dryRun) return next;
    let updated: KeyValue;
    try {
      updated = await this.storeCall(() => this.store.update(kv.key, this.encode(kind, next), kv.modRevision));
    } catch (e) {
      await undo?.();
      throw e;
    }
    await hooks?.afterWrite(next, current);
    return writtenObject(kind, next, updated);
  }

  // ---- pieces ----

  /** Encodes for the store, refusing objects larger than etcd would take (its 1.5 MiB request limit). */
  private encode(kind: KindDefinition, obj: KubeObject): Uint8Array {
    const bytes = encodeObject(kind, obj);
    if (bytes.length > MAX_OBJECT_BYTES) throw ApiError.tooLarge('etcdserver: request is too large');
    return bytes;
  }

  /** Unknown-field policy, then defaults (for CRD kinds: pruning and schema defaults). */
  private normalize(kind: KindDefinition, obj: KubeObject, ctx: WriteContext): FieldError[] {
    const errs: FieldError[] = [];
    const typeError = this.schema.typedDecode?.(kind, obj);
    if (typeError) throw ApiError.badRequest(typeError);
    const unknown = this.schema.unknownFields(kind, obj);
    if (ctx.fieldValidation === 'Strict') {
      const strict = [...unknown.map((f) => `unknown field "${f}"`), ...(ctx.duplicateFields ?? []).map((f) => `duplicate field "${f}"`)];
      if (strict.length)
        throw ApiError.badRequest(`${kind.kind} in version "${kind.version}" cannot be handled as a ${kind.kind}: strict decoding error: ${strict.join(', ')}`);
    }
    if (ctx.fieldValidation === 'Warn') for (const f of unknown) ctx.warnings.push(`unknown field "${f}"`);
    // Built-in kinds drop what they do not know (CRD kinds prune in their strategy's defaults).
    if (unknown.length && !kind.custom) this.schema.pruneUnknownFields?.(kind, obj);
    kind.strategy?.defaults?.(obj);
    return errs;
  }

  private throwIfInvalid(kind: KindDefinition, obj: KubeObject, errs: FieldError[]) {
    if (errs.length) throw ApiError.invalid(kind.group, kind.kind, obj.metadata?.name ?? obj.metadata?.generateName ?? '', errs);
  }

  private tracksGeneration(kind: KindDefinition): boolean {
    return kind.tracksGeneration ?? !!kind.statusSubresource;
  }

  private checkBodyNamespace(kind: KindDefinition, ns: string | undefined, obj: KubeObject) {
    if (!isPlainObject(obj.metadata)) obj.metadata = {};
    if (!kind.namespaced) return;
    if (!obj.metadata.namespace) obj.metadata.namespace = ns;
    else if (ns && obj.metadata.namespace !== ns)
      throw ApiError.badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }

  private checkPreconditions(kind: KindDefinition, obj: KubeObject, opts: DeleteOptions) {
    const pre = opts.preconditions;
    if (!pre) return;
    const name = obj.metadata.name!;
    if (pre.uid && pre.uid !== obj.metadata.uid)
      throw ApiError.conflict(groupResource(kind), name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${obj.metadata.uid}`);
    if (pre.resourceVersion && pre.resourceVersion !== obj.metadata.resourceVersion)
      throw ApiError.conflict(
        groupResource(kind),
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${obj.metadata.resourceVersion}`,
      );
  }

  /**
   * Graceful or finalizer-guarded deletion: returns the object marked with deletionTimestamp when
   * it must stay for now, or null when it can be removed at once.
   */
  private markForDeletion(kind: KindDefinition, current: KubeObject, opts: DeleteOptions, ctx: WriteContext): KubeObject | null {
    const obj = deepClone(current);
    const meta = obj.metadata;
    const finalizers = new Set(meta.finalizers ?? []);
    if (opts.propagationPolicy === 'Orphan') {
      finalizers.add('orphan');
      finalizers.delete('foregroundDeletion');
    } else if (opts.propagationPolicy === 'Foreground') {
      finalizers.add('foregroundDeletion');
      finalizers.delete('orphan');
    } else if (opts.propagationPolicy === 'Background') {
      finalizers.delete('orphan');
      finalizers.delete('foregroundDeletion');
    }
    const grace = gracePeriodFor(kind, current, opts);
    const retained = kind.strategy?.retainOnDelete?.(current) ?? false;
    // An object already terminating stays so on a repeated delete unless the grace period shrinks to 0.
    if (finalizers.size === 0 && grace === 0 && !retained) return null;
    kind.strategy?.markDeleting?.(obj);
    meta.finalizers = [...finalizers];
    if (!meta.finalizers.length) delete meta.finalizers;
    if (!meta.deletionTimestamp) {
      meta.deletionTimestamp = rfc3339(new Date(ctx.now.getTime() + grace * 1000));
      meta.deletionGracePeriodSeconds = grace;
      if (this.tracksGeneration(kind)) meta.generation = (meta.generation ?? 0) + 1;
    } else if (grace < (meta.deletionGracePeriodSeconds ?? Infinity)) {
      // A shorter grace period may be asked for later (kubectl delete --grace-period=0 --force).
      meta.deletionTimestamp = rfc3339(new Date(ctx.now.getTime() + grace * 1000));
      meta.deletionGracePeriodSeconds = grace;
    }
    return obj;
  }

  private async admit(op: Operation, kind: KindDefinition, ns: string | undefined, obj: KubeObject | undefined, old: KubeObject | undefined, ctx: WriteContext) {
    for (const p of this.admission) {
      await p.admit({
        operation: op,
        kind,
        namespace: ns,
        name: obj?.metadata.name ?? old?.metadata.name ?? '',
        object: obj,
        oldObject: old,
        subresource: ctx.subresource,
        user: ctx.user,
        dryRun: ctx.dryRun,
      });
    }
  }

  private async waitForRevision(rv: number) {
    const deadline = Date.now() + 3000;
    for (;;) {
      const cur = await this.storeCall(() => this.store.currentRevision());
      if (cur >= rv) return;
      if (Date.now() > deadline) throw ApiError.timeout(`Too large resource version: ${rv}, current: ${cur}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private expired(e: unknown, continuing: boolean): ApiError | undefined {
    if (e instanceof CompactedError) {
      return continuing
        ? ApiError.expired(
            'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue value from the response to start a new list.',
          )
        : ApiError.expired(`too old resource version: ${e.requested} (${e.compacted})`);
    }
    if (e instanceof FutureRevisionError) return ApiError.timeout(`Too large resource version: ${e.requested}, current: ${e.current}`);
    return undefined;
  }

  /** Runs a store call, translating unavailability to 503 (and other store errors via `map`). */
  private async storeCall<T>(fn: () => Promise<T>, map?: (e: unknown) => ApiError | undefined): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const mapped = map?.(e);
      if (mapped) throw mapped;
      if (e instanceof StoreUnavailableError) throw ApiError.serviceUnavailable(`storage is unavailable: ${e.message}`);
      throw e;
    }
  }
}

export function selectorsFor(kind: KindDefinition, label?: string, field?: string): CompiledSelectors {
  return compileSelectors(kind, label, field);
}

function strategyContext(ctx: WriteContext): StrategyContext {
  return { now: ctx.now, user: { name: ctx.user.name, groups: ctx.user.groups } };
}

export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function generateName(prefix: string): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += NAME_SUFFIX_ALPHABET[Math.floor(Math.random() * NAME_SUFFIX_ALPHABET.length)];
  // Upstream trims the prefix so the result fits a 63-character name.
  return prefix.slice(0, 58) + s;
}

function parseResourceVersion(rv: string): number {
  if (!/^[0-9]+$/.test(rv)) throw ApiError.badRequest(`Invalid value: "${rv}": resourceVersion must be a non-negative integer`);
  return Number(rv);
}

function parseApplyBody(body: Buffer): KubeObject {
  // The HTTP layer decodes YAML/JSON for apply and hands over JSON bytes.
  const obj = JSON.parse(body.toString('utf8')) as KubeObject;
  if (!isPlainObject(obj)) throw ApiError.badRequest('the apply configuration must be an object');
  if (!isPlainObject(obj.metadata)) throw ApiError.badRequest('metadata.name: Required value: name is required');
  return obj;
}

/** Everything but metadata and status: a change here is a spec change that bumps generation. */
function specChanged(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
    return rest;
  };
  return !deepEqual(strip(a), strip(b)) || !deepEqual(a.metadata.deletionTimestamp, b.metadata.deletionTimestamp);
}

function sameExceptManagedFieldTimes(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => ({
    ...o,
    metadata: { ...o.metadata, managedFields: (o.metadata.managedFields ?? []).map(({ time: _t, ...rest }) => rest) },
  });
  return deepEqual(strip(a), strip(b));
}

function gracePeriodFor(kind: KindDefinition, obj: KubeObject, opts: DeleteOptions): number {
  // Only pods bound to a node wait for their kubelet; every other kind goes at once.
  if (kind.group !== '' || kind.plural !== 'pods') return 0;
  const spec = obj.spec as { nodeName?: string; terminationGracePeriodSeconds?: number } | undefined;
  if (!spec?.nodeName) return 0;
  const status = obj.status as { phase?: string } | undefined;
  if (status?.phase === 'Succeeded' || status?.phase === 'Failed') return 0;
  const g = opts.gracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30;
  return Math.max(0, g);
}

/** As upstream's strategies' AllowCreateOnUpdate: a PUT to a missing object may create these. */
const CREATE_ON_UPDATE = new Set(['events', 'endpoints', 'leases', 'limitranges', 'roles', 'clusterroles', 'rolebindings', 'clusterrolebindings']);
function allowsCreateOnUpdate(kind: KindDefinition): boolean {
  return !kind.custom && CREATE_ON_UPDATE.has(kind.plural);
}
