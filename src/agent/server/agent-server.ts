/**
 * The node agent's HTTPS endpoint, which the API server proxies `kubectl logs`, `exec`, `attach`
 * and `port-forward` to — the kubelet's server on its port 10250, with the kubelet's routes:
 *
 *   GET /healthz
 *   GET /metrics          (the node's metrics: kubelet_volume_stats_* of the claims mounted here)
 *   GET /containerLogs/{namespace}/{pod}/{container}?follow&previous&tailLines&sinceSeconds&sinceTime&timestamps&limitBytes
 *   GET|POST /exec/{namespace}/{pod}/{container}?command=..&input=1&output=1&error=1&tty=1   (WebSocket upgrade)
 *   GET|POST /attach/{namespace}/{pod}/{container}?input=1&output=1&error=1&tty=1            (WebSocket upgrade)
 *   GET|POST /portForward/{namespace}/{pod}                                                 (upgrade, port-forward.ts)
 *   /virt/{console,vnc,pause,unpause}/{namespace}/{vmi}                                     (VMIs, virt-routes.ts)
 *
 * Clients authenticate with a certificate signed by the cluster CA; by default only the API
 * server's kubelet-client certificate (or a system:masters one) is let in. Exec and attach speak
 * the channel protocols of ws-channels.ts over a WebSocket (kubectl's default; SPDY is not
 * served — kubectl only falls back to it when the WebSocket upgrade fails). Errors are plain text
 * with the kubelet's status codes and wording; the API server turns them into Status objects.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { WebSocketServer } from 'ws';
import type { Logger } from '../../client/log.js';
import { errorText } from '../../util/log.js';
import type { Pod } from '../pods/api-types.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import type { ContainerHandle, StreamingBackend } from './backend.js';
import { ContainerLogStream, LogFileError } from './container-logs.js';
import { LogOptionsError, parseLogOptions } from './log-options.js';
import { handlePortForward } from './port-forward.js';
import { serveRemoteCommand, type StreamRequest } from './remote-command.js';
import { VirtRoutes } from './virt-routes.js';
import type { VirtNodeControl } from '../../virt/handler/virt-node-control.js';
import { type ChannelProtocol, negotiateProtocol, offeredProtocols } from './ws-channels.js';

/** The API server's client certificate for agents (pki.ts issues it). */
export const APISERVER_CLIENT_CN = 'cairn-apiserver-kubelet-client';

export interface AgentServerOptions {
  host: string;
  /** 0: any free port (start() says which). */
  port: number;
  tls: {
    certPem: string;
    keyPem: string;
    /** The cluster CA: clients must present a certificate it signed. */
    caPem: string;
  };
  backend: StreamingBackend;
  /** Runs exec and attach, and tells whether a followed container still runs. */
  runtime: Pick<ContainerRuntime, 'execStream' | 'attach' | 'status'>;
  /** Prometheus text for GET /metrics. */
  metrics?: () => Promise<string>;
  /** The node's VirtHandler: VMI console, vnc, pause and unpause (virt-routes.ts); absent, those routes answer 503. */
  virt?: VirtNodeControl;
  /** Who may use the server (default: CN cairn-apiserver-kubelet-client or O system:masters). */
  authorize?: (cert: PeerCertificate) => boolean;
  logger?: Logger;
}

export const defaultAuthorize = (cert: PeerCertificate): boolean => {
  const orgs = [cert.subject?.O ?? []].flat();
  return [cert.subject?.CN].flat().includes(APISERVER_CLIENT_CN) || orgs.includes('system:masters');
};

/** An HTTP error as the kubelet writes it: plain text. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Route {
  kind: 'healthz' | 'metrics' | 'containerLogs' | 'exec' | 'attach' | 'portForward';
  namespace: string;
  pod: string;
  container?: string;
}

export class AgentServer {
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (_offered, req) => this.chosen.get(req)?.name ?? false });
  /** The subprotocol picked for an upgrade (ws asks for it while completing the handshake). */
  private readonly chosen = new WeakMap<IncomingMessage, ChannelProtocol>();
  private readonly sockets = new Set<Socket>();
  private readonly authorize: (cert: PeerCertificate) => boolean;
  private readonly log: Logger;
  private readonly virt: VirtRoutes;

  constructor(private readonly opts: AgentServerOptions) {
    this.authorize = opts.authorize ?? defaultAuthorize;
    this.log = opts.logger ?? (() => {});
    this.virt = new VirtRoutes(opts.virt, this.log);
    this.server = createServer(
      { cert: opts.tls.certPem, key: opts.tls.keyPem, ca: [opts.tls.caPem], requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
      (req, res) => void this.serve(req, res),
    );
    this.server.requestTimeout = 0; // followed logs are long-lived
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(req, socket, head));
    this.server.on('tlsClientError', () => {});
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start(): Promise<{ port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address();
    if (!addr || typeof addr === 'string') throw new Error('agent server has no address');
    this.log({ level: 'info', msg: 'agent server listening', host: this.opts.host, port: addr.port });
    return { port: addr.port };
  }

  /** Stops listening and ends every connection (followed logs, exec sessions, port-forwards). */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.wss.clients) c.terminate();
    this.virt.closeAll();
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      this.authenticate(req);
      if (VirtRoutes.handles(req.url)) return await this.virt.serve(req, res);
      const route = parseRoute(req.url ?? '/');
      if (route.kind === 'healthz') {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok');
        return;
      }
      if (route.kind === 'metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end((await this.opts.metrics?.()) ?? '');
        return;
      }
      if (route.kind === 'containerLogs') {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'Method Not Allowed');
        await this.serveLogs(req, res, route);
        return;
      }
      // exec/attach/portForward without the upgrade headers.
      throw new HttpError(400, 'Upgrade request required');
    } catch (e) {
      this.replyError(res, e);
    }
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => {});
    try {
      this.authenticate(req);
      if (VirtRoutes.handles(req.url)) return this.virt.upgrade(req, socket, head);
      const route = parseRoute(req.url ?? '/');
      if (req.method !== 'GET' && req.method !== 'POST') throw new HttpError(405, 'Method Not Allowed');
      const pod = this.opts.backend.pod(route.namespace, route.pod);
      if (route.kind === 'portForward') {
        if (!pod) throw new HttpError(404, 'pod does not exist');
        handlePortForward(req, socket, head, (port) => this.opts.backend.dialPod(pod, port), this.log);
        return;
      }
      if (route.kind !== 'exec' && route.kind !== 'attach') throw new HttpError(404, '404 page not found');
      if (!pod) throw new HttpError(404, 'pod does not exist');
      this.upgradeStream(req, socket, head, route, pod);
    } catch (e) {
      rejectUpgrade(socket, e);
    }
  }

  /** Exec or attach: checks as the kubelet does, then the WebSocket and the session. */
  private upgradeStream(req: IncomingMessage, socket: Duplex, head: Buffer, route: Route, pod: Pod): void {
    const q = new URL(req.url ?? '/', 'https://agent.invalid').searchParams;
    const found = this.opts.backend.container(pod, route.container);
    const handle: ContainerHandle | undefined = 'error' in found ? undefined : found;
    // The kubelet only finds containers that run; its two handlers word that differently.
    if (!handle?.running) {
      if (route.kind === 'exec') throw new HttpError(500, `container not found (${JSON.stringify(route.container ?? '')})`);
      throw new HttpError(500, `container ${route.container ?? ''} not found in pod ${route.pod}_${route.namespace}`);
    }
    const stream = streamRequest(q);
    // attach: whether there is a terminal is the container's, not the request's.
    if (route.kind === 'attach') stream.tty = handle.tty;
    if (stream.tty) stream.stderr = false;
    const command = q.getAll('command');
    if (route.kind === 'exec' && !command.length) throw new HttpError(400, 'you must specify at least one command for the container');
    if (!stream.stdin && !stream.stdout && !stream.stderr) throw new HttpError(400, 'you must specify at least 1 of stdin, stdout, stderr');
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      throw new HttpError(400, 'unable to upgrade: this agent serves exec and attach over WebSocket (v5.channel.k8s.io, v4.channel.k8s.io) only');
    }
    const offered = offeredProtocols(req.headers['sec-websocket-protocol']);
    const proto = negotiateProtocol(offered);
    if (!proto) throw new HttpError(400, `unable to upgrade: requested protocol(s) are not supported: [${offered.join(' ')}]`);
    this.chosen.set(req, proto);
    const id = handle.running.id;
    const runtime = this.opts.runtime;
    const start =
      route.kind === 'exec'
        ? () => runtime.execStream(id, command, { stdin: stream.stdin, tty: stream.tty })
        : () => runtime.attach(id, { stdin: stream.stdin && handle.stdin });
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.log({ level: 'info', msg: `${route.kind} session`, pod: `${route.namespace}/${route.pod}`, container: handle.name, protocol: proto.name, tty: stream.tty });
      void serveRemoteCommand(ws, proto, stream, start, route.kind === 'exec' ? command : null, this.log).catch((e) =>
        this.log({ level: 'error', msg: `${route.kind} session failed`, error: errorText(e) }),
      );
    });
  }

  private async serveLogs(req: IncomingMessage, res: ServerResponse, route: Route): Promise<void> {
    const pod = this.opts.backend.pod(route.namespace, route.pod);
    if (!pod) throw new HttpError(404, `pod ${JSON.stringify(route.pod)} does not exist\n`);
    const found = this.opts.backend.container(pod, route.container);
    if ('error' in found) throw new HttpError(404, `container ${JSON.stringify(route.container ?? '')} not found in pod ${JSON.stringify(route.pod)}\n`);
    let opts;
    try {
      opts = parseLogOptions(new URL(req.url ?? '/', 'https://agent.invalid').searchParams);
    } catch (e) {
      if (e instanceof LogOptionsError) throw new HttpError(e.httpStatus, e.message);
      throw e;
    }
    const path = opts.previous ? found.previousLog : found.currentLog;
    if (!path) throw new HttpError(400, logUnavailable(pod, found.name, opts.previous));
    let stream: ContainerLogStream;
    try {
      stream = await ContainerLogStream.open(path, opts);
    } catch (e) {
      if (e instanceof LogFileError) throw new HttpError(400, e.message);
      throw e;
    }
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
    // Following only makes sense while this instance runs; the previous one has ended.
    const runningId = opts.previous ? undefined : found.running?.id;
    const running = async () => (runningId ? (await this.opts.runtime.status(runningId).catch(() => undefined))?.state === 'running' : false);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    await stream.pipeTo(res, { running }, abort.signal);
    res.end();
  }

  /** Throws 401 without a client certificate signed by the cluster CA, 403 when it is not allowed. */
  private authenticate(req: IncomingMessage): void {
    const sock = req.socket as TLSSocket;
    const cert = sock.getPeerCertificate();
    if (!sock.authorized || !cert || !Object.keys(cert).length) throw new HttpError(401, 'Unauthorized');
    if (!this.authorize(cert)) {
      const verb = req.method === 'POST' ? 'create' : 'get';
      throw new HttpError(403, `Forbidden (user=${[cert.subject?.CN].flat()[0] ?? ''}, verb=${verb}, resource=nodes, subresource(s)=[proxy])`);
    }
  }

  private replyError(res: ServerResponse, e: unknown): void {
    const err = e instanceof HttpError ? e : new HttpError(500, errorText(e));
    if (!(e instanceof HttpError)) this.log({ level: 'error', msg: 'agent request failed', error: errorText(e) });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(err.status, { 'content-type': 'text/plain; charset=utf-8' }).end(err.message);
  }
}

/** The kubelet's paths; anything else is its 404. Segments are %-decoded. */
function parseRoute(url: string): Route {
  const path = url.split('?')[0];
  if (path === '/healthz') return { kind: 'healthz', namespace: '', pod: '' };
  if (path === '/metrics') return { kind: 'metrics', namespace: '', pod: '' };
  let parts: string[];
  try {
    parts = path.split('/').slice(1).map(decodeURIComponent);
  } catch {
    throw new HttpError(400, 'invalid URL escape');
  }
  const [kind, namespace, pod, container, ...rest] = parts;
  if (rest.length === 0 && namespace && pod) {
    if (kind === 'portForward' && container === undefined) return { kind, namespace, pod };
    if ((kind === 'containerLogs' || kind === 'exec' || kind === 'attach') && container) return { kind, namespace, pod, container };
  }
  throw new HttpError(404, '404 page not found');
}

/** The kubelet's stream options: `input=1` etc. as the API server sends them; `stdin=true` etc. also read. */
function streamRequest(q: URLSearchParams): StreamRequest {
  const flag = (kubelet: string, api: string) => ['1', 'true'].includes(q.get(kubelet) ?? '') || ['1', 'true'].includes(q.get(api) ?? '');
  return { stdin: flag('input', 'stdin'), stdout: flag('output', 'stdout'), stderr: flag('error', 'stderr'), tty: flag('tty', 'tty') };
}

/**
 * Why a container has no log to show, from the pod's status, in the kubelet's words
 * (validateContainerLogStatus).
 */
export function logUnavailable(pod: Pod, container: string, previous: boolean): string {
  const name = pod.metadata.name;
  const s = pod.status;
  const cs = [...(s?.containerStatuses ?? []), ...(s?.initContainerStatuses ?? [])].find((c) => c.name === container);
  if (!cs) return `container ${JSON.stringify(container)} in pod ${JSON.stringify(name)} is not available`;
  if (previous) return `previous terminated container ${JSON.stringify(container)} in pod ${JSON.stringify(name)} not found`;
  const waiting = cs.state?.waiting;
  if (waiting) {
    const why =
      waiting.reason === 'ErrImagePull' ? "image can't be pulled" : waiting.reason === 'ImagePullBackOff' ? 'trying and failing to pull image' : (waiting.reason ?? '');
    return `container ${JSON.stringify(container)} in pod ${JSON.stringify(name)} is waiting to start: ${why}`;
  }
  if (cs.state?.terminated || cs.lastState?.terminated) return `container ${JSON.stringify(container)} in pod ${JSON.stringify(name)} is terminated`;
  return `container ${JSON.stringify(container)} in pod ${JSON.stringify(name)} is not available`;
}

function rejectUpgrade(socket: Duplex, e: unknown): void {
  const err = e instanceof HttpError ? e : new HttpError(500, errorText(e));
  const body = Buffer.from(err.message);
  socket.end(
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  );
}
