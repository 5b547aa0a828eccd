/**
 * REST verbs on resources: turns a parsed request into registry calls and the registry's answer
 * into the response kubectl and client libraries expect (objects, lists, Tables, Status, watch
 * streams, `Warning` headers).
 */
import { type KindDefinition, apiVersionOf } from '../kinds/types.js';
import { type DeleteOptions, GenericRegistry, type ListOptions, type ListPage, type PatchType, groupResource } from '../registry/generic-registry.js';
import type { WriteContext } from '../registry/hooks.js';
import type { KindCatalog } from '../registry/kind-catalog.js';
import type { WatchService } from '../registry/watch.js';
import { isPlainObject, type KubeObject } from '../util/object.js';
import { decodeBody, mediaType } from './decode.js';
import { ApiError, successStatus } from './errors.js';
import type { ResourceRequest } from './request-info.js';
import { scaleFromObject, setScaleReplicas } from './scale.js';
import { ActionSubresources } from './action-subresources.js';
import { type IncludeObject, toTable, wantsTable } from './table.js';
import type { ApiRequest, ApiResponse, ResponseHeaders } from './types.js';

const SERVED_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);

const PATCH_TYPES: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};

export class ResourceHandler {
  constructor(
    private readonly catalog: KindCatalog,
    private readonly registry: GenericRegistry,
    private readonly watches: WatchService,
    private readonly actions: ActionSubresources = new ActionSubresources(),
  ) {}

  async handle(req: ApiRequest, info: ResourceRequest): Promise<ApiResponse> {
    const kind = this.catalog.byPlural(info.group, info.version, info.resource);
    if (!kind) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (!kind.namespaced && info.namespace !== undefined && info.resource !== 'namespaces')
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const action = info.subresource ? this.actions.get(kind, info.subresource) : undefined;
    if (info.subresource && !action && !this.hasSubresource(kind, info.subresource))
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    // Upstream registers no route for other methods, nor PUT/PATCH on a collection: 405.
    if (!SERVED_METHODS.has(req.method) || ((info.verb === 'update' || info.verb === 'patch') && !info.name))
      throw ApiError.methodNotAllowed('the server does not allow this method on the requested resource');
    const ns = kind.namespaced ? info.namespace : undefined;
    if (action) {
      // Action subresources (pods/binding, pods/eviction, serviceaccounts/token) only take POST.
      if (info.verb !== 'create') throw ApiError.methodNotAllowed('the server does not allow this method on the requested resource');
      return action.handler(this.registry, kind, ns ?? '', info.name!, req, this.writeContext(req, info));
    }
    const q = req.query;
    switch (info.verb) {
      case 'get':
        return this.get(req, kind, ns, info);
      case 'list':
        return this.list(req, kind, ns);
      case 'watch':
        return this.watch(req, kind, ns, info);
      case 'create': {
        if (info.name) throw ApiError.methodNotAllowed(`the server does not allow this method on the requested resource`);
        const ctx = this.writeContext(req, info);
        const body = this.decodeObject(req, kind, ctx);
        if (kind.namespaced && !ns) throw ApiError.badRequest('the namespace of the object must be set in the URL for create');
        const obj = await this.registry.create(kind, ns, body, ctx);
        return respond(201, obj, ctx);
      }
      case 'update': {
        const ctx = this.writeContext(req, info);
        if (info.subresource === 'scale') return this.updateScale(req, kind, ns, info.name!, ctx);
        const body = this.decodeObject(req, kind, ctx);
        const r = await this.registry.update(kind, ns, info.name!, body, ctx);
        return respond(r.created ? 201 : 200, r.object, ctx);
      }
      case 'patch': {
        const ctx = this.writeContext(req, info);
        const type = PATCH_TYPES[mediaType(req.headers['content-type'])];
        if (!type) throw ApiError.unsupportedMediaType(req.headers['content-type'] ?? '');
        if (type === 'apply' && !q.get('fieldManager')) throw ApiError.badRequest('PATCH /apply requires fieldManager to be set');
        if (info.subresource === 'scale') return this.patchScale(req, kind, ns, info.name!, type, ctx);
        const decoded = decodeBody(req.body, type === 'apply' ? 'application/yaml' : 'application/json', { findDuplicates: ctx.fieldValidation !== 'Ignore' });
        this.reportDuplicates(decoded.duplicates, ctx, kind);
        if (type === 'apply') checkTypeMeta(kind, decoded.value, true);
        const r = await this.registry.patch(kind, ns, info.name!, type, Buffer.from(JSON.stringify(decoded.value)), ctx, {
          force: q.get('force') === 'true',
        });
        return respond(r.created ? 201 : 200, r.object, ctx);
      }
      case 'delete': {
        const ctx = this.writeContext(req, info);
        const opts = this.deleteOptions(req);
        const r = await this.registry.delete(kind, ns, info.name!, opts, ctx);
        // As upstream's DeleteResource: an object that stays (finalizers, graceful deletion) comes
        // back with 200, or 202 only when the client asked orphanDependents=false.
        if (!r.deleted) return respond(opts.orphanDependents === false ? 202 : 200, r.object, ctx);
        return respond(200, successStatus({ name: info.name, group: kind.group, kind: kind.plural, uid: r.object.metadata.uid }), ctx);
      }
      case 'deletecollection': {
        const ctx = this.writeContext(req, info);
        const list = await this.registry.deleteCollection(kind, ns, this.listOptions(req), this.deleteOptions(req), ctx);
        return respond(200, this.listObject(kind, list.items, { resourceVersion: list.resourceVersion }), ctx);
      }
    }
  }

  private hasSubresource(kind: KindDefinition, sub: string): boolean {
    if (sub === 'status') return !!kind.statusSubresource;
    if (sub === 'scale') return !!kind.scale;
    if (sub === 'finalize') return kind.plural === 'namespaces' && kind.group === '';
    return false;
  }

  private async get(req: ApiRequest, kind: KindDefinition, ns: string | undefined, info: ResourceRequest): Promise<ApiResponse> {
    const obj = await this.registry.get(kind, ns, info.name!);
    if (info.subresource === 'scale') return { status: 200, body: scaleFromObject(kind, obj) };
    const table = wantsTable(req.headers.accept);
    if (table) return { status: 200, body: toTable(kind, [obj], { resourceVersion: obj.metadata.resourceVersion }, { version: table, include: includeObject(req) }) };
    return { status: 200, body: obj };
  }

  private async list(req: ApiRequest, kind: KindDefinition, ns: string | undefined): Promise<ApiResponse> {
    const listMeta = (l: ListPage<unknown>) => {
      const meta: Record<string, unknown> = { resourceVersion: l.resourceVersion };
      if (l.continue) meta.continue = l.continue;
      if (l.remainingItemCount !== undefined) meta.remainingItemCount = l.remainingItemCount;
      return meta;
    };
    const table = wantsTable(req.headers.accept);
    if (table) {
      const list = await this.registry.list(kind, ns, this.listOptions(req));
      return { status: 200, body: toTable(kind, list.items, listMeta(list), { version: table, include: includeObject(req) }) };
    }
    // Plain lists are assembled from the stored JSON text: large lists cost no parse/stringify.
    const list = await this.registry.listJson(kind, ns, this.listOptions(req));
    const head = JSON.stringify({ kind: kind.listKind, apiVersion: apiVersionOf(kind), metadata: listMeta(list) });
    return { status: 200, contentType: 'application/json', raw: `${head.slice(0, -1)},"items":[${list.items.join(',')}]}` };
  }

  private listObject(kind: KindDefinition, items: KubeObject[], meta: Record<string, unknown>) {
    return { kind: kind.listKind, apiVersion: apiVersionOf(kind), metadata: meta, items };
  }

  private async watch(req: ApiRequest, kind: KindDefinition, ns: string | undefined, info: ResourceRequest): Promise<ApiResponse> {
    const q = req.query;
    let fieldSelector = q.get('fieldSelector') ?? undefined;
    if (info.name) fieldSelector = [fieldSelector, `metadata.name=${info.name}`].filter(Boolean).join(',');
    const timeout = q.get('timeoutSeconds');
    const events = await this.watches.watch(kind, ns, {
      resourceVersion: q.get('resourceVersion') ?? undefined,
      resourceVersionMatch: q.get('resourceVersionMatch') ?? undefined,
      labelSelector: q.get('labelSelector') ?? undefined,
      fieldSelector,
      allowWatchBookmarks: q.get('allowWatchBookmarks') === 'true',
      sendInitialEvents: q.has('sendInitialEvents') ? q.get('sendInitialEvents') === 'true' : undefined,
      timeoutSeconds: timeout ? parseNonNegativeInt(timeout, 'timeoutSeconds') : undefined,
      signal: req.signal,
    });
    const table = wantsTable(req.headers.accept);
    const include = includeObject(req);
    const stream = table
      ? (async function* () {
          let first = true;
          for await (const ev of events) {
            if (ev.type === 'ERROR' || ev.type === 'BOOKMARK') {
              yield ev;
              continue;
            }
            // kubectl get -w prints headers from the first event's Table only.
            const t = toTable(kind, [ev.object as KubeObject], {}, { version: table, include, noHeaders: !first });
            first = false;
            yield { type: ev.type, object: t };
          }
        })()
      : events;
    return { status: 200, headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, stream };
  }

  private async updateScale(req: ApiRequest, kind: KindDefinition, ns: string | undefined, name: string, ctx: WriteContext): Promise<ApiResponse> {
    const { value } = decodeBody(req.body, req.headers['content-type'], { findDuplicates: false });
    if (!isPlainObject(value)) throw ApiError.badRequest('the body must be an autoscaling/v1 Scale object');
    const scale = value as { metadata?: { resourceVersion?: string }; spec?: { replicas?: unknown } };
    const replicas = scale.spec?.replicas;
    const obj = await this.scaleWrite(kind, ns, name, replicas, scale.metadata?.resourceVersion, ctx);
    return respond(200, scaleFromObject(kind, obj), ctx);
  }

  private async patchScale(req: ApiRequest, kind: KindDefinition, ns: string | undefined, name: string, type: PatchType, ctx: WriteContext): Promise<ApiResponse> {
    const current = await this.registry.get(kind, ns, name);
    const scale = scaleFromObject(kind, current);
    // Patches to /scale apply to the Scale object; strategic merge of a Scale is a merge patch.
    const patched = applyScalePatch(scale, type, req.body ?? Buffer.alloc(0));
    const obj = await this.scaleWrite(kind, ns, name, (patched.spec as { replicas?: unknown })?.replicas, undefined, ctx);
    return respond(200, scaleFromObject(kind, obj), ctx);
  }

  private async scaleWrite(kind: KindDefinition, ns: string | undefined, name: string, replicas: unknown, rv: string | undefined, ctx: WriteContext): Promise<KubeObject> {
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0)
      throw ApiError.invalid('autoscaling', 'Scale', name, [
        { type: 'FieldValueInvalid', field: 'spec.replicas', value: replicas ?? null, detail: 'must be greater than or equal to 0' },
      ]);
    const current = await this.registry.get(kind, ns, name);
    if (rv && rv !== current.metadata.resourceVersion)
      throw ApiError.conflict(groupResource(kind), name, 'the object has been modified; please apply your changes to the latest version and try again');
    const next = setScaleReplicas(kind, current, replicas);
    const r = await this.registry.update(kind, ns, name, next, { ...ctx, subresource: undefined });
    return r.object;
  }

  // ---- request parsing ----

  private writeContext(req: ApiRequest, info: ResourceRequest): WriteContext {
    const q = req.query;
    const dryRun = q.getAll('dryRun');
    for (const d of dryRun) if (d !== 'All') throw ApiError.badRequest(`Invalid dryRun value: ${JSON.stringify(d)}: supported values: "All"`);
    const fv = q.get('fieldValidation') ?? 'Warn';
    if (fv !== 'Strict' && fv !== 'Warn' && fv !== 'Ignore')
      throw ApiError.badRequest(`fieldValidation must be one of "Ignore", "Warn", or "Strict", got ${JSON.stringify(fv)}`);
    const fm = q.get('fieldManager') ?? managerFromUserAgent(req.headers['user-agent']);
    if (fm.length > 128) throw ApiError.badRequest('fieldManager must be less than 128 characters');
    return {
      user: req.user!,
      now: new Date(),
      dryRun: dryRun.length > 0,
      fieldManager: fm,
      fieldValidation: fv,
      warnings: [],
      subresource: info.subresource === 'scale' ? undefined : info.subresource,
    };
  }

  private decodeObject(req: ApiRequest, kind: KindDefinition, ctx: WriteContext): KubeObject {
    const decoded = decodeBody(req.body, req.headers['content-type'], { findDuplicates: ctx.fieldValidation !== 'Ignore' });
    this.reportDuplicates(decoded.duplicates, ctx, kind);
    checkTypeMeta(kind, decoded.value, false);
    const obj = decoded.value as KubeObject;
    obj.apiVersion = apiVersionOf(kind);
    obj.kind = kind.kind;
    if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
    return obj;
  }

  private reportDuplicates(dups: string[], ctx: WriteContext, kind: KindDefinition) {
    if (!dups.length || ctx.fieldValidation === 'Ignore') return;
    // Strict: the registry reports them with the unknown fields in one strict decoding error.
    if (ctx.fieldValidation === 'Strict') ctx.duplicateFields = dups;
    else for (const d of dups) ctx.warnings.push(`duplicate field "${d}"`);
    void kind;
  }

  private listOptions(req: ApiRequest): ListOptions {
    const q = req.query;
    const limit = q.get('limit');
    return {
      labelSelector: q.get('labelSelector') ?? undefined,
      fieldSelector: q.get('fieldSelector') ?? undefined,
      limit: limit ? parseNonNegativeInt(limit, 'limit') : undefined,
      continue: q.get('continue') || undefined,
      resourceVersion: q.get('resourceVersion') ?? undefined,
      resourceVersionMatch: q.get('resourceVersionMatch') ?? undefined,
    };
  }

  private deleteOptions(req: ApiRequest): DeleteOptions & { orphanDependents?: boolean } {
    const q = req.query;
    let body: Record<string, unknown> = {};
    if (req.body && req.body.length) {
      const { value } = decodeBody(req.body, req.headers['content-type'], { findDuplicates: false });
      if (!isPlainObject(value)) throw ApiError.badRequest('the body of a delete must be a DeleteOptions object');
      body = value;
    }
    const policy = (q.get('propagationPolicy') ?? body.propagationPolicy ?? (q.get('orphanDependents') === 'true' || body.orphanDependents === true ? 'Orphan' : undefined)) as
      | string
      | undefined;
    if (policy !== undefined && !['Orphan', 'Background', 'Foreground'].includes(policy))
      throw ApiError.invalid('meta.k8s.io', 'DeleteOptions', '', [
        { type: 'FieldValueNotSupported', field: 'propagationPolicy', value: policy, detail: 'supported values: "Foreground", "Background", "Orphan", "nil"' },
      ]);
    const graceRaw = q.get('gracePeriodSeconds') ?? body.gracePeriodSeconds;
    const grace = graceRaw === undefined || graceRaw === null ? undefined : Number(graceRaw);
    if (grace !== undefined && !Number.isInteger(grace)) throw ApiError.badRequest(`gracePeriodSeconds must be an integer`);
    const dryRun = body.dryRun;
    if (Array.isArray(dryRun) && dryRun.length) req.query.append('dryRun', String(dryRun[0]));
    const pre = isPlainObject(body.preconditions) ? (body.preconditions as DeleteOptions['preconditions']) : undefined;
    const orphanRaw = q.get('orphanDependents') ?? body.orphanDependents;
    const orphanDependents = orphanRaw === undefined || orphanRaw === null ? undefined : orphanRaw === true || orphanRaw === 'true';
    return { propagationPolicy: policy as DeleteOptions['propagationPolicy'], gracePeriodSeconds: grace, preconditions: pre, orphanDependents };
  }
}

function respond(status: number, body: unknown, ctx: WriteContext): ApiResponse {
  const headers: ResponseHeaders = {};
  if (ctx.warnings.length) headers.warning = [...new Set(ctx.warnings)].map((w) => `299 - ${JSON.stringify(w)}`);
  return { status, headers, body };
}

function includeObject(req: ApiRequest): IncludeObject {
  const v = req.query.get('includeObject');
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}

function parseNonNegativeInt(v: string, name: string): number {
  // Beyond 2^53 the value is not exact here (and beyond 2^63 upstream's int64 parse fails): 400.
  if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(Number(v))) throw ApiError.badRequest(`${name}: Invalid value: ${JSON.stringify(v)}: must be a non-negative integer`);
  return Number(v);
}

/** Upstream's default field manager: the user agent up to the first '/'. */
function managerFromUserAgent(ua: string | undefined): string {
  const first = (ua ?? 'unknown').split('/')[0].trim();
  return first.slice(0, 128) || 'unknown';
}

/** apiVersion/kind in the body must agree with the URL (empty ones default to the URL's). */
function checkTypeMeta(kind: KindDefinition, value: unknown, apply: boolean) {
  if (!isPlainObject(value)) throw ApiError.badRequest(`the body of the request must be a ${kind.kind} object`);
  const av = value.apiVersion;
  const k = value.kind;
  const expected = apiVersionOf(kind);
  if (apply && (!av || !k)) throw ApiError.badRequest(`error decoding YAML: Object 'Kind' is missing in the apply configuration`);
  if (av !== undefined && av !== '' && av !== expected) {
    if (typeof av !== 'string') throw ApiError.badRequest('apiVersion must be a string');
    const sameGroup = kind.group ? av.startsWith(`${kind.group}/`) : !av.includes('/');
    if (!sameGroup || !kind.custom) throw ApiError.badRequest(`the API version in the data (${av}) does not match the expected API version (${expected})`);
  }
  if (k !== undefined && k !== '' && k !== kind.kind) throw ApiError.badRequest(`the kind in the data (${String(k)}) does not match the expected kind (${kind.kind})`);
  if (value.metadata !== undefined && value.metadata !== null && !isPlainObject(value.metadata)) throw ApiError.badRequest('metadata must be an object');
}

function applyScalePatch(scale: Record<string, unknown>, type: PatchType, body: Buffer): Record<string, unknown> {
  const { value } = decodeBody(body, type === 'apply' ? 'application/yaml' : 'application/json', { findDuplicates: false });
  if (type === 'json') {
    if (!Array.isArray(value)) throw ApiError.badRequest('a JSON patch must be a list of operations');
    const next = structuredClone(scale) as { spec?: { replicas?: unknown } };
    for (const op of value as { op?: string; path?: string; value?: unknown }[]) {
      if ((op.op === 'replace' || op.op === 'add') && op.path === '/spec/replicas') next.spec = { ...next.spec, replicas: op.value };
      else if (op.op !== 'test') throw ApiError.badRequest(`unsupported JSON patch operation on scale: ${JSON.stringify(op)}`);
    }
    return next as Record<string, unknown>;
  }
  if (!isPlainObject(value)) throw ApiError.badRequest('the patch must be an object');
  const spec = isPlainObject(value.spec) ? value.spec : {};
  return { ...scale, spec: { ...(scale.spec as object), ...spec } };
}
