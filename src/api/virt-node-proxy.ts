/**
 * The VMI subresources of subresources.kubevirt.io/v1 that reach a running guest, served as
 * KubeVirt's virt-api serves them (pkg/virt-api/rest console.go, vnc.go, lifecycle.go) and
 * forwarded to the agent of the VMI's node as virt-api forwards them to virt-handler:
 *
 *   GET .../namespaces/NS/virtualmachineinstances/NAME/console   WebSocket -> agent /virt/console/NS/NAME
 *   GET .../namespaces/NS/virtualmachineinstances/NAME/vnc       WebSocket -> agent /virt/vnc/NS/NAME
 *   PUT .../namespaces/NS/virtualmachineinstances/NAME/pause     PauseOptions   -> agent PUT /virt/pause/NS/NAME
 *   PUT .../namespaces/NS/virtualmachineinstances/NAME/unpause   UnpauseOptions -> agent PUT /virt/unpause/NS/NAME
 *   PUT .../namespaces/NS/virtualmachineinstances/NAME/freeze    FreezeUnfreezeTimeout -> agent PUT /virt/freeze/NS/NAME
 *   PUT .../namespaces/NS/virtualmachineinstances/NAME/unfreeze  (no body)      -> agent PUT /virt/unfreeze/NS/NAME
 *
 * Authorization is RBAC on `virtualmachineinstances/console` (and vnc, pause, unpause) in the
 * subresources.kubevirt.io group, with the request's verb: a WebSocket's GET is `get`, a PUT is
 * `update`, as KubeVirt's roles grant them. The VMI is read and checked with KubeVirt's messages
 * before its node is reached; a dry run stops there. The WebSocket upgrade is handed to the
 * agent with the node proxy's piping, so the client completes its handshake with the agent and
 * the bytes flow through unchanged; the agent's refusals (Status objects) reach the client as
 * they are. Pause and unpause answer 200 with no body, as virt-api does; an agent's Status error
 * is handed on with its code. Freeze and unfreeze (the snapshot controller's, virt-api's
 * lifecycle.go) check only that the VMI runs, and carry the freeze body to the node unread, as
 * virt-api does. The PUTs are also served to in-process clients (the controller manager inside
 * the server), through subresource-api.ts's vmiActionServers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { virtAgentPath, type VirtAction, type VirtStream } from '../agent/server/virt-routes.js';
import { KUBEVIRT_GROUP } from '../virt/api/kubevirt.js';
import { parseOptions, vmiActionServers, VMI_STREAMS } from '../virt/api/subresource-api.js';
import type { Vmi } from '../virt/launcher/vmi-types.js';
import { errorText, type Logger } from '../util/log.js';
import type { ApiServer } from './api-server.js';
import { ApiError, type Status } from './errors.js';
import type { StreamingRoutes } from './https-front.js';
import { rejectUpgrade, writeStatus, type NodeProxy, type Target } from './node-proxy.js';
import { parseRequestInfo, type ResourceRequest } from './request-info.js';
import type { ApiRequest } from './types.js';

const PATH_RE = /^\/apis\/subresources\.kubevirt\.io\/v1\/namespaces\/[^/]+\/virtualmachineinstances\/[^/]+\/(console|vnc|pause|unpause|freeze|unfreeze)$/;
/** virt-api's names in its errors (`virtualmachineinstance.kubevirt.io "x" not found`). */
const VMI_RESOURCE = { group: KUBEVIRT_GROUP, resource: 'virtualmachineinstance' };
const VM_RESOURCE = { group: KUBEVIRT_GROUP, resource: 'virtualmachine' };
/** virt-api's HTTP client timeout towards virt-handler. */
const AGENT_TIMEOUT_MS = 10_000;
/** gorilla/websocket's refusal of a plain request, which virt-api answers as a BadRequest. */
const NOT_WEBSOCKET = "websocket: the client is not using the websocket protocol: 'upgrade' token not found in 'Connection' header";
const MAX_ERROR_BODY = 64 * 1024;

export interface VirtNodeProxyOptions {
  api: ApiServer;
  /** The pod subresources' proxy, whose agent lookup, TLS and upgrade piping these share. */
  nodes: NodeProxy;
  logger: Logger;
}

type Kind = VirtStream | VirtAction;
const isStream = (k: Kind): k is VirtStream => (VMI_STREAMS as readonly string[]).includes(k);

export class VirtNodeProxy implements StreamingRoutes {
  constructor(private readonly o: VirtNodeProxyOptions) {
    vmiActionServers.set(o.api, (req) => this.action(req));
  }

  handles(path: string): boolean {
    return PATH_RE.test(path);
  }

  /** pause and unpause; console and vnc without an upgrade get virt-api's 400 once the VMI checks pass. */
  async serve(req: ApiRequest, res: ServerResponse): Promise<void> {
    try {
      const info = await this.admit(req);
      const kind = info.subresource as Kind;
      if (isStream(kind)) {
        if (req.method !== 'GET') throw methodNotAllowed();
        await this.streamTarget(kind, info, req.query);
        throw ApiError.badRequest(NOT_WEBSOCKET);
      }
      if (req.method !== 'PUT') throw methodNotAllowed();
      await this.runAction(kind, info, req);
      res.writeHead(200, { 'cache-control': 'no-cache, private', 'content-length': 0 }).end();
    } catch (e) {
      writeStatus(res, this.toStatus(e));
    }
  }

  /** console and vnc: checked here, then the upgrade goes to the agent and both connections are piped. */
  async upgrade(req: ApiRequest, raw: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    let target: Target;
    try {
      const info = await this.admit(req);
      const kind = info.subresource as Kind;
      if (!isStream(kind) || req.method !== 'GET') throw methodNotAllowed();
      target = await this.streamTarget(kind, info, req.query);
    } catch (e) {
      rejectUpgrade(socket, this.toStatus(e));
      return;
    }
    this.o.nodes.pipeUpgrade(target, raw, socket, head);
  }

  private async admit(req: ApiRequest): Promise<ResourceRequest> {
    const info = parseRequestInfo(req.method, req.path, req.query) as ResourceRequest;
    await this.o.api.admit(req, info);
    return info;
  }

  /** The VMI checked as virt-api checks it for a console or vnc connection, and its agent. */
  private async streamTarget(kind: VirtStream, info: ResourceRequest, query: URLSearchParams): Promise<Target> {
    const vmi = await this.fetchVmi(info);
    const devices = vmi.spec?.domain?.devices ?? {};
    if (kind === 'console') {
      if (devices.autoattachSerialConsole === false) throw ApiError.badRequest('No serial consoles are present.');
      if (vmi.status?.phase === 'Failed') throw ApiError.conflict(VMI_RESOURCE, info.name!, 'VMI is in failed status');
    } else if (devices.autoattachGraphicsDevice === false) {
      throw ApiError.badRequest('No graphics devices are present.');
    }
    if (vmi.status?.phase !== 'Running') throw ApiError.badRequest('VMI is not running');
    const preserve = kind === 'vnc' && query.get('preserveSession') === 'true' ? '?preserveSession=true' : '';
    return this.agentFor(vmi, `${virtAgentPath(kind, info.namespace!, info.name!)}${preserve}`);
  }

  /** A PUT of an in-process client: as serve() answers it, with ApiErrors thrown. */
  private async action(req: ApiRequest): Promise<void> {
    const info = await this.admit(req);
    const kind = info.subresource as Kind;
    if (isStream(kind) || req.method !== 'PUT') throw methodNotAllowed();
    await this.runAction(kind, info, req);
  }

  private async runAction(kind: VirtAction, info: ResourceRequest, req: ApiRequest): Promise<void> {
    if (kind === 'freeze' || kind === 'unfreeze') return this.freezeOrUnfreeze(kind, info, req);
    const name = info.name!;
    // unpause refuses while the VM is being snapshotted, before reading its options (virt-api's order).
    if (kind === 'unpause') {
      const vm = await this.getOrUndefined('virtualmachines', info.namespace!, name);
      if ((vm?.status as { snapshotInProgress?: string } | undefined)?.snapshotInProgress) throw ApiError.conflict(VM_RESOURCE, name, 'VM snapshot is in progress');
    }
    const opts = parseOptions(req);
    const vmi = await this.fetchVmi(info);
    const paused = (vmi.status?.conditions ?? []).some((c) => c.type === 'Paused');
    if (kind === 'pause') {
      if (vmi.status?.phase !== 'Running') throw ApiError.conflict(VMI_RESOURCE, name, 'VM is not running');
      if (vmi.spec?.livenessProbe && !vmi.spec.livenessProbe.guestAgentPing) {
        throw ApiError.forbidden(VMI_RESOURCE, name, 'Pausing VMIs with a non-GuestAgentPing LivenessProbe is not supported');
      }
      if (paused) throw ApiError.conflict(VMI_RESOURCE, name, 'VMI is already paused');
    } else {
      if (vmi.status?.phase !== 'Running') throw ApiError.conflict(VMI_RESOURCE, name, 'VMI is not running');
      if (!paused) throw ApiError.conflict(VMI_RESOURCE, name, 'VMI is not paused');
    }
    const target = await this.agentFor(vmi, virtAgentPath(kind, info.namespace!, name));
    if (opts.dryRun?.[0] === 'All') return;
    await this.agentPut(target, req.body ?? Buffer.alloc(0));
  }

  private async freezeOrUnfreeze(kind: 'freeze' | 'unfreeze', info: ResourceRequest, req: ApiRequest): Promise<void> {
    const vmi = await this.fetchVmi(info);
    if (vmi.status?.phase !== 'Running') throw ApiError.conflict(VMI_RESOURCE, info.name!, kind === 'freeze' ? 'VM is not running' : 'VMI is not running');
    const target = await this.agentFor(vmi, virtAgentPath(kind, info.namespace!, info.name!));
    await this.agentPut(target, req.body ?? Buffer.alloc(0));
  }

  /** The agent of the VMI's node; KubeVirt's words for a VMI that has none yet. */
  private agentFor(vmi: Vmi, path: string): Promise<Target> {
    const phase = vmi.status?.phase ?? '';
    const node = vmi.status?.nodeName;
    if ((phase !== 'Running' && phase !== 'Scheduled') || !node) {
      throw ApiError.badRequest(`Unable to connect to VirtualMachineInstance because phase is ${phase} instead of Running or Scheduled`);
    }
    return this.o.nodes.nodeTarget(node, path);
  }

  private async fetchVmi(info: ResourceRequest): Promise<Vmi> {
    const vmi = await this.getOrUndefined('virtualmachineinstances', info.namespace!, info.name!);
    if (!vmi) throw ApiError.notFound(VMI_RESOURCE, info.name!);
    return vmi as Vmi;
  }

  private async getOrUndefined(plural: string, ns: string, name: string) {
    const kind = this.o.api.catalog.byPlural(KUBEVIRT_GROUP, 'v1', plural);
    if (!kind) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    try {
      return await this.o.api.registry.get(kind, ns, name);
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return undefined;
      throw e;
    }
  }

  /** PUT to the agent; its Status errors are handed on, anything else is virt-api's InternalError. */
  private agentPut(target: Target, body: Buffer): Promise<void> {
    const where = `https://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}${target.path}`;
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        { host: target.host, port: target.port, path: target.path, method: 'PUT', agent: false, timeout: AGENT_TIMEOUT_MS, headers: { 'content-type': 'application/json', 'content-length': body.length }, ...this.o.nodes.tlsOptions(target.host) },
        (res) => {
          const chunks: Buffer[] = [];
          let n = 0;
          res.on('data', (b: Buffer) => {
            if (n < MAX_ERROR_BODY) chunks.push(b);
            n += b.length;
          });
          res.on('error', (e) => reject(ApiError.internal(`Put "${where}": ${errorText(e)}`)));
          res.on('end', () => {
            const code = res.statusCode ?? 500;
            if (code >= 200 && code < 300) return resolve();
            const text = Buffer.concat(chunks).toString('utf8');
            reject(agentStatusError(code, text) ?? ApiError.internal(`unexpected return code ${code} (${code} ${res.statusMessage ?? ''}), message: ${text}`));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timeout awaiting response headers after ${AGENT_TIMEOUT_MS / 1000}s`)));
      req.on('error', (e) => reject(ApiError.internal(`Put "${where}": ${errorText(e)}`)));
      req.end(body);
    });
  }

  private toStatus(e: unknown): Status {
    if (e instanceof ApiError) return e.toStatus();
    this.o.logger.error('VMI subresource failed', { error: errorText(e) });
    return ApiError.internal(errorText(e)).toStatus();
  }
}

const methodNotAllowed = () => ApiError.methodNotAllowed('the server does not allow this method on the requested resource');

/** An agent's answer that is a v1 Status (virt-routes.ts writes them), as an ApiError. */
function agentStatusError(code: number, text: string): ApiError | undefined {
  try {
    const s = JSON.parse(text) as Partial<Status>;
    if (s.kind !== 'Status' || typeof s.message !== 'string') return undefined;
    return new ApiError(s.code ?? code, s.reason ?? '', s.message, s.details);
  } catch {
    return undefined;
  }
}
