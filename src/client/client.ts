/**
 * The typed REST client (client-go's dynamic client with generics): one ResourceClient per
 * resource, all operations as Kubernetes serves them — CRUD, status and scale subresources,
 * the four patch types, delete options, collection delete and watch.
 */
import type { KubeObject } from '../util/object.js';
import { isPlainObject } from '../util/object.js';
import type { Discovery } from './discovery.js';
import { ClientError, type Status } from './errors.js';
import { type ResourceRef, apiVersionOfRef, resourcePath } from './resource.js';
import type { QueryInput, Transport } from './transport.js';

export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface KubeList<T> {
  apiVersion?: string;
  kind?: string;
  metadata: ListMeta;
  items: T[];
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
/** A watch event; ERROR carries a Status (410 Expired when the resourceVersion was compacted). */
export type WatchEvent<T> = { type: WatchEventType; object: T } | { type: 'ERROR'; object: Status };

interface Selectors {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface ListOptions extends Selectors {
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: 'Exact' | 'NotOlderThan';
  timeoutSeconds?: number;
  signal?: AbortSignal;
}

export interface WatchOptions extends Selectors {
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  /** Server-side watch duration; the stream then ends normally. */
  timeoutSeconds?: number;
  signal?: AbortSignal;
}

export interface WriteOptions {
  namespace?: string;
  dryRun?: boolean;
  fieldManager?: string;
  fieldValidation?: 'Ignore' | 'Warn' | 'Strict';
  signal?: AbortSignal;
}

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

export interface PatchOptions extends WriteOptions {
  /** Server-side apply: take ownership of conflicting fields. */
  force?: boolean;
  /** e.g. 'status' or 'scale'. */
  subresource?: string;
}

export interface DeleteOptions {
  namespace?: string;
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
  signal?: AbortSignal;
}

export type DeleteCollectionOptions = DeleteOptions & Omit<ListOptions, 'signal'>;

export interface Scale extends KubeObject {
  spec: { replicas?: number };
  status?: { replicas: number; selector?: string };
}

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  // JSON is YAML, so an apply configuration is sent as JSON under the apply content type.
  apply: 'application/apply-patch+yaml',
};

export class Client {
  constructor(
    readonly transport: Transport,
    private readonly discovery?: Discovery,
  ) {}

  resource<T extends KubeObject = KubeObject>(ref: ResourceRef): ResourceClient<T> {
    return new ResourceClient<T>(this.transport, ref);
  }

  /** The resource serving apiVersion+kind, via the discovery given at construction. */
  async resourceFor<T extends KubeObject = KubeObject>(apiVersion: string, kind: string): Promise<ResourceClient<T>> {
    if (!this.discovery) throw new ClientError('this client has no discovery: use resource() with a ResourceRef');
    const ref = await this.discovery.lookup(apiVersion, kind);
    if (!ref) throw new ClientError(`the server has no resource for kind "${kind}" in version "${apiVersion}"`);
    return this.resource<T>(ref);
  }
}

export class ResourceClient<T extends KubeObject = KubeObject> {
  constructor(
    private readonly transport: Transport,
    readonly ref: ResourceRef,
  ) {}

  async get(name: string, namespace?: string, signal?: AbortSignal): Promise<T> {
    return this.call<T>('GET', resourcePath(this.ref, namespace, name), { signal });
  }

  async list(opts: ListOptions = {}): Promise<KubeList<T>> {
    return this.call<KubeList<T>>('GET', resourcePath(this.ref, opts.namespace), {
      query: { ...listQuery(opts), timeoutSeconds: opts.timeoutSeconds },
      signal: opts.signal,
    });
  }

  async create(obj: T, opts: WriteOptions = {}): Promise<T> {
    const ns = this.namespaceFor(obj, opts.namespace, 'create');
    return this.call<T>('POST', resourcePath(this.ref, ns), { query: writeQuery(opts), body: this.withTypeMeta(obj), signal: opts.signal });
  }

  /** POST to a create-only subresource of an object (serviceaccounts/NAME/token, pods/NAME/eviction, ...). */
  async createSubresource<R extends KubeObject = KubeObject>(name: string, subresource: string, body: R, opts: WriteOptions = {}): Promise<R> {
    return this.call<R>('POST', resourcePath(this.ref, opts.namespace, name, subresource), { query: writeQuery(opts), body, signal: opts.signal });
  }

  /** PUT of the whole object; metadata.resourceVersion makes it a compare-and-swap. */
  async update(obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.put(obj, undefined, opts);
  }

  /** PUT to the status subresource: only status changes. */
  async updateStatus(obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.put(obj, 'status', opts);
  }

  async patch(name: string, patch: unknown, type: PatchType, opts: PatchOptions = {}): Promise<T> {
    if (type === 'apply' && !opts.fieldManager) throw new ClientError('an apply patch requires a fieldManager');
    const query = writeQuery(opts);
    if (opts.force !== undefined) query.force = opts.force;
    return this.call<T>('PATCH', resourcePath(this.ref, opts.namespace, name, opts.subresource), {
      query,
      body: Buffer.from(typeof patch === 'string' ? patch : JSON.stringify(patch), 'utf8'),
      contentType: PATCH_CONTENT_TYPES[type],
      signal: opts.signal,
    });
  }

  /** Returns the object (when finalizers or graceful deletion keep it) or a Success Status. */
  async delete(name: string, opts: DeleteOptions = {}): Promise<T | Status> {
    return this.call<T | Status>('DELETE', resourcePath(this.ref, opts.namespace, name), { body: deleteBody(opts), signal: opts.signal });
  }

  async deleteCollection(opts: DeleteCollectionOptions = {}): Promise<KubeList<T> | Status> {
    return this.call<KubeList<T> | Status>('DELETE', resourcePath(this.ref, opts.namespace), {
      query: listQuery(opts),
      body: deleteBody(opts),
    });
  }

  /**
   * Watch events until the server ends the stream (timeoutSeconds), the signal aborts (a quiet
   * end) or the connection fails (thrown). Opening errors (e.g. 410 for a compacted
   * resourceVersion) are thrown from the first iteration.
   */
  async *watch(opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    const stream = await this.transport.stream({
      method: 'GET',
      path: resourcePath(this.ref, opts.namespace),
      query: {
        watch: 'true',
        resourceVersion: opts.resourceVersion,
        allowWatchBookmarks: opts.allowWatchBookmarks,
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        timeoutSeconds: opts.timeoutSeconds,
      },
      signal: opts.signal,
    });
    for await (const ev of stream) {
      if (!isPlainObject(ev) || typeof ev.type !== 'string' || !isPlainObject(ev.object)) {
        throw new ClientError(`malformed watch event: ${JSON.stringify(ev).slice(0, 200)}`);
      }
      yield ev as unknown as WatchEvent<T>;
    }
  }

  async getScale(name: string, namespace?: string): Promise<Scale> {
    return this.call<Scale>('GET', resourcePath(this.ref, namespace, name, 'scale'), {});
  }

  async updateScale(name: string, scale: Scale, opts: WriteOptions = {}): Promise<Scale> {
    const ns = opts.namespace ?? scale.metadata.namespace;
    const body = { apiVersion: 'autoscaling/v1', kind: 'Scale', ...scale, metadata: { ...scale.metadata, name } };
    return this.call<Scale>('PUT', resourcePath(this.ref, ns, name, 'scale'), { query: writeQuery(opts), body, signal: opts.signal });
  }

  private async put(obj: T, subresource: string | undefined, opts: WriteOptions): Promise<T> {
    const name = obj.metadata.name;
    if (!name) throw new ClientError(`${this.ref.plural}: update needs metadata.name`);
    const ns = this.namespaceFor(obj, opts.namespace, 'update');
    return this.call<T>('PUT', resourcePath(this.ref, ns, name, subresource), {
      query: writeQuery(opts),
      body: this.withTypeMeta(obj),
      signal: opts.signal,
    });
  }

  private namespaceFor(obj: T, given: string | undefined, verb: string): string | undefined {
    if (!this.ref.namespaced) return undefined;
    const ns = given ?? obj.metadata.namespace;
    if (!ns) throw new ClientError(`${this.ref.plural}: ${verb} needs a namespace (metadata.namespace or options)`);
    return ns;
  }

  /** Fills apiVersion/kind when the caller left them out, as typed clients do. */
  private withTypeMeta(obj: T): T {
    if (obj.apiVersion && obj.kind) return obj;
    return { ...obj, apiVersion: obj.apiVersion ?? apiVersionOfRef(this.ref), ...(obj.kind || !this.ref.kind ? {} : { kind: this.ref.kind }) };
  }

  private async call<R>(
    method: string,
    path: string,
    r: { query?: QueryInput; body?: unknown; contentType?: string; signal?: AbortSignal },
  ): Promise<R> {
    const res = await this.transport.request({ method, path, query: r.query, body: r.body, contentType: r.contentType, signal: r.signal });
    return res.body as R;
  }
}

/** The selection a list (and a deleteCollection) sends: selectors, paging and the resource version. */
function listQuery(opts: Omit<ListOptions, 'timeoutSeconds' | 'signal'>): Record<string, string | number | undefined> {
  return {
    labelSelector: opts.labelSelector,
    fieldSelector: opts.fieldSelector,
    limit: opts.limit,
    continue: opts.continue,
    resourceVersion: opts.resourceVersion,
    resourceVersionMatch: opts.resourceVersionMatch,
  };
}

function writeQuery(opts: WriteOptions): Record<string, string | boolean | undefined> {
  return {
    dryRun: opts.dryRun ? 'All' : undefined,
    fieldManager: opts.fieldManager,
    fieldValidation: opts.fieldValidation,
  };
}

function deleteBody(opts: DeleteOptions): Record<string, unknown> {
  const body: Record<string, unknown> = { apiVersion: 'v1', kind: 'DeleteOptions' };
  if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
  if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
  if (opts.preconditions) body.preconditions = opts.preconditions;
  if (opts.dryRun) body.dryRun = ['All'];
  return body;
}
