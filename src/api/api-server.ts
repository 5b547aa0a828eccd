/**
 * The API server without its network front: one ApiHandler that serves discovery, OpenAPI,
 * health, metrics and every resource verb from the generic registry. The HTTPS front and the
 * in-process transport both call `handle`.
 */
import { type KindDefinition } from '../kinds/types.js';
import { GenericRegistry } from '../registry/generic-registry.js';
import type { AdmissionPlugin, PatchEngine, SchemaChecks } from '../registry/hooks.js';
import { KindCatalog } from '../registry/kind-catalog.js';
import { defaultWatchSettings, WatchService, type WatchSettings } from '../registry/watch.js';
import type { Store } from '../store/types.js';
import { ServiceAllocation } from '../registry/allocators/service-allocation.js';
import { Logger, errorText } from '../util/log.js';
import { CounterVec, GaugeFunc, HistogramVec, MetricsRegistry } from '../util/prometheus.js';
import { namespaceLifecycle } from './admission/namespace-lifecycle.js';
import { defaultTolerationSeconds } from './admission/default-tolerations.js';
import { limitRanger } from './admission/limit-ranger.js';
import { resourceQuotaAdmission } from './admission/resource-quota.js';
import { aggregatedDiscovery, apiGroup, apiGroupList, apiResourceList, legacyApiVersions, wantsAggregated } from './discovery.js';
import { ApiError } from './errors.js';
import { parseRequestInfo, type RequestInfo, type ResourceRequest } from './request-info.js';
import { ResourceHandler } from './resource-handler.js';
import { NamespaceCache } from './namespace-cache.js';
import { type ActionSubresource, ActionSubresources } from './action-subresources.js';
import { isStream, onStreamEnd, type ApiRequest, type ApiResponse, type StreamResponse, type UserInfo } from './types.js';
import { versionInfo } from './version.js';
import { type VirtualResource, VirtualResources } from './virtual-resources.js';
import { type ExtensionGroup, ExtensionGroups } from './extension-groups.js';
import type { RequestAccess } from './authz/access.js';

/** Serves /openapi/v3 documents; built by the schema layer. */
export interface OpenApiSource {
  /** The index document. */
  index(): unknown;
  /** The document for `api/v1` or `apis/GROUP/VERSION` as JSON text with its content hash; undefined when not served. */
  document(groupVersionPath: string): { json: string; hash: string } | undefined;
}

export interface ApiServerOptions {
  store: Store;
  kinds: KindDefinition[];
  patches: PatchEngine;
  schema: SchemaChecks;
  openapi: (catalog: KindCatalog) => OpenApiSource;
  admission?: AdmissionPlugin[];
  watch?: Partial<WatchSettings>;
  /** Create-only action subresources (pods/binding, serviceaccounts/token, ...). */
  actions?: ActionSubresource[];
  /** Cluster IPs for Services come from here (default 10.96.0.0/12). */
  serviceCidr?: string;
  /** Create-only resources with no storage (access reviews), listed in discovery. */
  virtual?: VirtualResource[];
  /** API groups served by code, like aggregated APIs (subresources.kubevirt.io). */
  extensions?: ExtensionGroup[];
  /** Impersonation and authorization of every request (none: every authenticated user may do everything). */
  access?: RequestAccess;
  logger?: Logger;
}

export const PUBLIC_PATHS = new Set(['/version', '/healthz', '/livez', '/readyz', '/healthz/ping', '/livez/ping', '/readyz/ping']);

export class ApiServer {
  readonly catalog: KindCatalog;
  readonly registry: GenericRegistry;
  readonly watches: WatchService;
  readonly metrics = new MetricsRegistry();
  readonly log: Logger;
  private readonly resources: ResourceHandler;
  /** Namespaces for admission; start() fills it. */
  readonly namespaces: NamespaceCache;
  private readonly actions: ActionSubresources;
  private readonly virtual: VirtualResources;
  private readonly extensions: ExtensionGroups;
  private readonly access?: RequestAccess;
  private readonly openapi: OpenApiSource;
  private readonly store: Store;
  private inflight = 0;
  private activeWatches = 0;
  private readonly requests = this.metrics.register(new CounterVec('apiserver_request_total', 'API requests by verb, resource and HTTP code.'));
  private readonly latency = this.metrics.register(
    new HistogramVec('apiserver_request_duration_seconds', 'API request latency by verb and resource, excluding watches.'),
  );

  constructor(opts: ApiServerOptions) {
    this.store = opts.store;
    this.log = opts.logger ?? new Logger('apiserver');
    this.virtual = new VirtualResources(opts.virtual);
    this.extensions = new ExtensionGroups(opts.extensions);
    this.access = opts.access;
    this.catalog = new KindCatalog([...opts.kinds, ...this.virtual.kinds()]);
    const getNamespace = (name: string) => this.namespaces.get(name);
    const registryAccess = { registry: () => this.registry, catalog: () => this.catalog };
    this.registry = new GenericRegistry(
      opts.store,
      opts.patches,
      opts.schema,
      [
        namespaceLifecycle(getNamespace),
        limitRanger(registryAccess),
        defaultTolerationSeconds(),
        ...(opts.admission ?? []),
        // Quota last, as upstream: it counts the object as the other plugins left it.
        resourceQuotaAdmission(registryAccess),
      ],
      new Map([['/services', new ServiceAllocation(opts.store, opts.serviceCidr)]]),
    );
    this.namespaces = new NamespaceCache(opts.store, this.registry, this.catalog.byPlural('', 'v1', 'namespaces')!);
    this.watches = new WatchService(opts.store, this.registry, { ...defaultWatchSettings, ...opts.watch });
    this.actions = new ActionSubresources(opts.actions);
    this.resources = new ResourceHandler(this.catalog, this.registry, this.watches, this.actions);
    this.openapi = opts.openapi(this.catalog);
    this.metrics.register(new GaugeFunc('apiserver_current_inflight_requests', 'Requests being served now.', () => [{ value: this.inflight }]));
    this.metrics.register(new GaugeFunc('apiserver_registered_watchers', 'Open watches.', () => [{ value: this.activeWatches }]));
  }

  /** Serves one request for an already-authenticated user. */
  handle = async (req: ApiRequest): Promise<ApiResponse> => {
    const started = performance.now();
    let info: RequestInfo;
    try {
      info = parseRequestInfo(req.method, req.path, req.query);
    } catch (e) {
      // A path that does not parse (a malformed %-escape): 401 before authentication, else 400.
      const res = this.errorResponse(req.user ? e : ApiError.unauthorized(), req);
      this.requests.inc({ verb: req.method.toLowerCase(), resource: '', code: String(res.status) });
      return res;
    }
    const verb = info.kind === 'resource' ? info.verb : req.method.toLowerCase();
    const resource = info.kind === 'resource' ? `${info.resource}${info.subresource ? '/' + info.subresource : ''}` : '';
    let res: ApiResponse;
    this.inflight++;
    try {
      if (!req.user && !PUBLIC_PATHS.has(req.path)) throw ApiError.unauthorized();
      // Impersonation and authorization; handlers then see the user the request acts as.
      if (this.access) req = { ...req, user: await this.access.admit(req, info) };
      const virtual = info.kind === 'resource' ? this.virtual.get(info) : undefined;
      if (virtual) res = await this.virtual.serve(virtual, req, info as ResourceRequest);
      else if (info.kind === 'resource' && this.extensions.has(info.group)) res = await this.extensions.serve(this, req, info);
      else res = info.kind === 'resource' ? await this.resources.handle(req, info) : await this.nonResource(req);
    } catch (e) {
      res = this.errorResponse(e, req, info.kind === 'resource' ? info : undefined);
    } finally {
      this.inflight--;
    }
    this.requests.inc({ verb, resource, code: String(res.status) });
    if (isStream(res)) return this.trackWatch(res);
    this.latency.observe({ verb, resource }, (performance.now() - started) / 1000);
    return res;
  };

  /**
   * Authentication check, impersonation and authorization of a request served outside `handle`
   * (the node proxy's log streams and upgrades); throws ApiError. Returns the user it acts as.
   */
  async admit(req: ApiRequest, info: RequestInfo): Promise<UserInfo> {
    if (!req.user) throw ApiError.unauthorized();
    return this.access ? this.access.admit(req, info) : req.user;
  }

  private trackWatch(res: StreamResponse): StreamResponse {
    this.activeWatches++;
    return onStreamEnd(res, () => this.activeWatches--);
  }

  errorResponse(e: unknown, req: ApiRequest, info?: ResourceRequest): ApiResponse {
    if (e instanceof ApiError) return { status: e.code, body: e.toStatus() };
    this.log.error('request failed', { method: req.method, path: req.path, resource: info?.resource, error: errorText(e), stack: (e as Error)?.stack });
    const err = ApiError.internal(errorText(e));
    return { status: 500, body: err.toStatus() };
  }

  private async nonResource(req: ApiRequest): Promise<ApiResponse> {
    const path = req.path.replace(/\/+$/, '') || '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') throw ApiError.methodNotAllowed(`the server does not allow this method on the requested resource`);
    const accept = req.headers.accept;
    switch (path) {
      case '/version':
        return { status: 200, body: versionInfo() };
      case '/healthz':
      case '/livez':
      case '/healthz/ping':
      case '/livez/ping':
      case '/readyz/ping':
        return { status: 200, contentType: 'text/plain; charset=utf-8', raw: 'ok' };
      case '/readyz':
        return this.readyz(req);
      case '/metrics':
        return { status: 200, contentType: 'text/plain; version=0.0.4', raw: this.metrics.render() };
      case '/api': {
        const agg = wantsAggregated(accept);
        if (agg) return aggregatedResponse(aggregatedDiscovery(this.catalog, true, agg, this.actions), agg);
        return { status: 200, body: legacyApiVersions() };
      }
      case '/apis': {
        const agg = wantsAggregated(accept);
        if (agg) {
          const doc = aggregatedDiscovery(this.catalog, false, agg, this.actions);
          return aggregatedResponse({ ...doc, items: [...doc.items, ...this.extensions.aggregatedItems()] }, agg);
        }
        const list = apiGroupList(this.catalog);
        return { status: 200, body: { ...list, groups: [...list.groups, ...this.extensions.apiGroups()] } };
      }
      case '/api/v1':
        return { status: 200, body: apiResourceList(this.catalog, '', 'v1', this.actions) };
      case '/openapi/v3':
        return { status: 200, body: this.openapi.index() };
    }
    const parts = path.split('/').filter(Boolean);
    if (parts[0] === 'apis' && parts.length === 2) {
      const g = apiGroup(this.catalog, parts[1]) ?? this.extensions.apiGroup(parts[1]);
      if (g) return { status: 200, body: g };
    }
    const extensionResources = parts[0] === 'apis' && parts.length === 3 ? this.extensions.resourceList(parts[1], parts[2]) : undefined;
    if (extensionResources) return { status: 200, body: extensionResources };
    if (parts[0] === 'apis' && parts.length === 3 && this.catalog.kindsIn(parts[1], parts[2]).length)
      return { status: 200, body: apiResourceList(this.catalog, parts[1], parts[2], this.actions) };
    if (parts[0] === 'openapi' && parts[1] === 'v3' && parts.length > 2) {
      const doc = this.openapi.document(parts.slice(2).join('/'));
      if (doc) {
        // The index URL carries the hash, so a document fetched by hash never changes.
        const immutable = req.query.get('hash') === doc.hash;
        return {
          status: 200,
          headers: { etag: `"${doc.hash}"`, 'cache-control': immutable ? 'public, immutable' : 'no-cache, private' },
          contentType: 'application/json',
          raw: doc.json,
        };
      }
    }
    throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  }

  private async readyz(req: ApiRequest): Promise<ApiResponse> {
    const checks: [string, () => Promise<void>][] = [['ping', async () => {}], ['etcd', () => this.store.ping()], ['shutdown', async () => this.checkNotShuttingDown()]];
    let ok = true;
    let text = '';
    for (const [name, fn] of checks) {
      try {
        await fn();
        text += `[+]${name} ok\n`;
      } catch {
        ok = false;
        text += `[-]${name} failed: reason withheld\n`;
      }
    }
    const verbose = req.query.has('verbose');
    text += ok ? 'readyz check passed\n' : 'readyz check failed\n';
    return { status: ok ? 200 : 500, contentType: 'text/plain; charset=utf-8', raw: ok && !verbose ? 'ok' : text };
  }

  private shuttingDown = false;
  private checkNotShuttingDown() {
    if (this.shuttingDown) throw new Error('shutting down');
  }
  markShuttingDown() {
    this.shuttingDown = true;
  }
}

function aggregatedResponse(body: unknown, v: 'v2' | 'v2beta1'): ApiResponse {
  return {
    status: 200,
    headers: { 'content-type': `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList` },
    body,
  };
}
