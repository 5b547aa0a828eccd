/**
 * The agent's routes for the VMI subresources that reach a running guest, as KubeVirt's
 * virt-handler serves them to virt-api (pkg/virt-handler/rest console.go and lifecycle.go):
 *
 *   GET /virt/console/{namespace}/{name}                       WebSocket: the serial console
 *   GET /virt/vnc/{namespace}/{name}[?preserveSession=true]    WebSocket: the VNC (RFB) stream
 *   PUT /virt/pause/{namespace}/{name}                         202 Accepted
 *   PUT /virt/unpause/{namespace}/{name}                       202 Accepted
 *   PUT /virt/freeze/{namespace}/{name}   {"unfreezeTimeout":"5m0s"}   202 Accepted
 *   PUT /virt/unfreeze/{namespace}/{name}                      202 Accepted
 *
 * The WebSockets carry the launcher socket's raw bytes in binary messages (subprotocol
 * `plain.kubevirt.io` when the client offers it). As virt-handler, one session per VMI and kind:
 * a new console or vnc connection drops the one before (its client sees the connection cut),
 * unless a vnc request asks to preserve an active session, which it is then refused (503).
 * Errors are v1 Status objects with the code the VirtHandler gave (VirtNodeError), so the API
 * server can hand them on unchanged. The socket is dialled before the upgrade is answered: a
 * launcher whose socket is gone is an HTTP error, not an upgraded connection that closes at once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ApiError, type Status } from '../../api/errors.js';
import type { Logger } from '../../client/log.js';
import { errorText } from '../../util/log.js';
import { connectUnixSocket } from '../../util/unix-socket.js';
import { VMI_ACTIONS, VMI_STREAMS } from '../../virt/api/subresource-api.js';
import { VirtNodeError, type VirtNodeControl } from '../../virt/handler/virt-node-control.js';
import { GoDurationError, parseGoDuration } from '../../virt/snapshot/go-duration.js';
import { acceptWebSocketTunnel, type WebSocketTunnel } from './ws-tunnel.js';
import { offeredProtocols } from './ws-channels.js';

export const VIRT_PATH_PREFIX = '/virt/';
/** KubeVirt's subprotocol for a plain byte stream in binary messages (client-go subresources). */
export const PLAIN_STREAM_PROTOCOL = 'plain.kubevirt.io';

export type VirtStream = (typeof VMI_STREAMS)[number];
export type VirtAction = (typeof VMI_ACTIONS)[number];

/** The agent path of a VMI subresource. */
export function virtAgentPath(kind: VirtStream | VirtAction, namespace: string, name: string): string {
  return `${VIRT_PATH_PREFIX}${kind}/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
}

/** virt-handler's JSON decoder reads at most this much of a freeze body. */
const MAX_FREEZE_BODY = 1024;

const REASONS: Record<number, string> = { 400: 'BadRequest', 404: 'NotFound', 405: 'MethodNotAllowed', 409: 'Conflict', 500: 'InternalError', 503: 'ServiceUnavailable' };

/** A failure of one of these routes, answered as a Status with `code`. */
class VirtRouteError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }

  toStatus(): Status {
    return new ApiError(this.code, REASONS[this.code] ?? '', this.message).toStatus();
  }
}

interface VirtRoute {
  kind: VirtStream | VirtAction;
  namespace: string;
  name: string;
  query: URLSearchParams;
}

interface Session {
  tunnel: WebSocketTunnel;
  socket: Socket;
}

export class VirtRoutes {
  /** The open console and vnc sessions, by `kind namespace/name`. */
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly control: VirtNodeControl | undefined,
    private readonly log: Logger,
  ) {}

  static handles(url: string | undefined): boolean {
    return (url ?? '').startsWith(VIRT_PATH_PREFIX);
  }

  /** pause, unpause, freeze and unfreeze; console and vnc without an upgrade are refused as virt-handler's upgrader refuses them. */
  async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const route = parseVirtRoute(req.url ?? '/');
      if (!isAction(route.kind)) throw new VirtRouteError(400, "websocket: the client is not using the websocket protocol: 'upgrade' token not found in 'Connection' header");
      if (req.method !== 'PUT') throw new VirtRouteError(405, 'Method Not Allowed');
      const control = this.requireControl();
      await this.runAction(control, route, req);
      this.log({ level: 'info', msg: `VirtualMachineInstance ${route.kind === 'freeze' || route.kind === 'unfreeze' ? `${route.kind} done` : `${route.kind}d`}`, vmi: `${route.namespace}/${route.name}` });
      res.writeHead(202).end();
    } catch (e) {
      const err = this.routeError(e);
      if (res.headersSent) res.destroy();
      else res.writeHead(err.code, { 'content-type': 'application/json' }).end(JSON.stringify(err.toStatus()));
    }
  }

  private async runAction(control: VirtNodeControl, route: VirtRoute, req: IncomingMessage): Promise<void> {
    const { kind, namespace, name } = route;
    if (kind === 'freeze') {
      return control.freeze(namespace, name, await unfreezeTimeoutSeconds(req));
    }
    // The options body of the others is virt-api's to read (dryRun never reaches a node); drain it.
    req.resume();
    if (kind === 'unfreeze') {
      return control.unfreeze(namespace, name);
    }
    return kind === 'pause' ? control.pause(namespace, name) : control.unpause(namespace, name);
  }

  /** console and vnc: the launcher's socket, then the WebSocket, then bytes both ways. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    let route: VirtRoute;
    let path: string;
    try {
      route = parseVirtRoute(req.url ?? '/');
      // pause and unpause take PUT only.
      if (req.method !== 'GET' || !isStream(route.kind)) throw new VirtRouteError(405, 'Method Not Allowed');
      if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') throw new VirtRouteError(400, 'websocket: the client is not using the websocket protocol');
      const sockets = this.requireControl().sockets(route.namespace, route.name);
      path = route.kind === 'console' ? sockets.serial : sockets.vnc;
      const key = sessionKey(route);
      if (route.kind === 'vnc' && this.sessions.has(key) && route.query.get('preserveSession') === 'true') {
        throw new VirtRouteError(503, 'Active VNC connection. Request denied.');
      }
    } catch (e) {
      rejectUpgrade(socket, this.routeError(e));
      return;
    }
    const key = sessionKey(route);
    // The session before is dropped first: QEMU's chardev serves one client at a time.
    this.endSession(key);
    const unix = connectUnixSocket(path);
    let connected = false;
    unix.on('error', (e) => {
      if (!connected) rejectUpgrade(socket, new VirtRouteError(500, `failed to dial unix socket ${path}: ${errorText(e)}`));
    });
    unix.once('connect', () => {
      connected = true;
      const protocol = offeredProtocols(req.headers['sec-websocket-protocol']).includes(PLAIN_STREAM_PROTOCOL) ? PLAIN_STREAM_PROTOCOL : undefined;
      acceptWebSocketTunnel(req, socket, head, protocol, (tunnel) => this.pipe(key, route, tunnel, unix));
      // ws answered an invalid handshake itself: nothing will use the launcher's socket.
      socket.once('close', () => {
        if (this.sessions.get(key)?.socket !== unix) unix.destroy();
      });
    });
  }

  /** Ends every session (the agent server is stopping). */
  closeAll(): void {
    for (const key of [...this.sessions.keys()]) this.endSession(key);
  }

  private pipe(key: string, route: VirtRoute, tunnel: WebSocketTunnel, unix: Socket): void {
    const session = { tunnel, socket: unix };
    this.sessions.set(key, session);
    this.log({ level: 'info', msg: `${route.kind} session`, vmi: `${route.namespace}/${route.name}` });
    tunnel.pipe(unix);
    unix.pipe(tunnel);
    // The client left: nothing more can reach it.
    const clientGone = () => unix.destroy();
    tunnel.once('end', clientGone);
    tunnel.on('error', clientGone);
    tunnel.once('close', clientGone);
    // The launcher's socket failed: the client's connection is cut (a clean end is a normal closure, through the pipe).
    unix.on('error', () => tunnel.destroy());
    unix.once('close', () => {
      if (this.sessions.get(key) === session) this.sessions.delete(key);
    });
  }

  private endSession(key: string): void {
    const s = this.sessions.get(key);
    if (!s) return;
    this.sessions.delete(key);
    s.tunnel.destroy();
    s.socket.destroy();
  }

  private requireControl(): VirtNodeControl {
    if (!this.control) throw new VirtRouteError(503, 'this node runs no VirtHandler');
    return this.control;
  }

  private routeError(e: unknown): VirtRouteError {
    if (e instanceof VirtRouteError) return e;
    if (e instanceof VirtNodeError) return new VirtRouteError(e.code, e.message);
    this.log({ level: 'error', msg: 'virt request failed', error: errorText(e) });
    return new VirtRouteError(500, errorText(e));
  }
}

const isStream = (k: string): k is VirtStream => (VMI_STREAMS as readonly string[]).includes(k);
const isAction = (k: string): k is VirtAction => (VMI_ACTIONS as readonly string[]).includes(k);
const sessionKey = (r: VirtRoute) => `${r.kind} ${r.namespace}/${r.name}`;

function parseVirtRoute(url: string): VirtRoute {
  const u = new URL(url, 'https://agent.invalid');
  let parts: string[];
  try {
    parts = u.pathname.slice(VIRT_PATH_PREFIX.length).split('/').map(decodeURIComponent);
  } catch {
    throw new VirtRouteError(400, 'invalid URL escape');
  }
  const [kind, namespace, name, ...rest] = parts;
  if (rest.length || !namespace || !name || !(isStream(kind) || isAction(kind))) throw new VirtRouteError(404, '404 page not found');
  return { kind, namespace, name, query: u.searchParams };
}

/** virt-handler's reading of a freeze body (v1.FreezeUnfreezeTimeout) and its refusals. */
async function unfreezeTimeoutSeconds(req: IncomingMessage): Promise<number> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > MAX_FREEZE_BODY) throw new VirtRouteError(400, 'failed to unmarshal unfreeze timeout');
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  let body: { unfreezeTimeout?: unknown } = {};
  if (text) {
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new VirtRouteError(400, 'failed to unmarshal unfreeze timeout');
    }
  }
  if (body?.unfreezeTimeout === undefined || body.unfreezeTimeout === null) throw new VirtRouteError(400, 'Unfreeze timeout in freeze request is not set');
  try {
    if (typeof body.unfreezeTimeout !== 'string') throw new GoDurationError('not a string');
    return Math.trunc(parseGoDuration(body.unfreezeTimeout) / 1000);
  } catch {
    throw new VirtRouteError(400, 'failed to unmarshal unfreeze timeout');
  }
}

function rejectUpgrade(socket: Duplex, err: VirtRouteError): void {
  const body = Buffer.from(JSON.stringify(err.toStatus()));
  socket.end(`HTTP/1.1 ${err.code} ${STATUS_CODES[err.code] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
}
