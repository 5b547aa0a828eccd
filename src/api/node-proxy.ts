/**
 * The pod subresources the API server serves by proxying to the node agent of the pod's node, as
 * kube-apiserver proxies them to the kubelet:
 *
 *   GET  pods/{name}/log                      -> GET /containerLogs/{ns}/{pod}/{container}?...
 *   GET|POST pods/{name}/exec      (upgrade)  -> /exec/{ns}/{pod}/{container}?command=..&input=1&output=1&error=1&tty=1
 *   GET|POST pods/{name}/attach    (upgrade)  -> /attach/{ns}/{pod}/{container}?input=1&output=1&error=1&tty=1
 *   GET|POST pods/{name}/portforward (upgrade) -> /portForward/{ns}/{pod}?port=..
 *
 * Authorization: `get pods/log`; exec, attach and portforward as their method says (POST =
 * create) and, for a WebSocket's GET, also `create` — upstream's synthetic check behind the
 * AuthorizePodWebsocketUpgradeCreatePermission gate (on by default since 1.35), so that `get` on
 * pods/exec alone never lets anyone run commands.
 *
 * The agent is found from the pod's node: the Node's `cairn.io/agent-endpoint` annotation
 * (`host:port` or `https://host:port`), else its InternalIP (or another address) and
 * status.daemonEndpoints.kubeletEndpoint.Port (10250 when unset). The connection is TLS, the
 * agent's certificate checked against the cluster CA, and the API server presents its
 * apiserver-kubelet-client certificate. Logs are streamed through (the agent's errors become
 * Status objects, as upstream's response checker makes them); upgrades are forwarded with the
 * agent's path and both connections piped, whatever protocol they then speak.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { ApiServer } from './api-server.js';
import { ApiError, type Status } from './errors.js';
import { fieldErr, type FieldError } from '../registry/field-errors.js';
import type { KeyPairPem } from './pki.js';
import { parseRequestInfo, type ResourceRequest } from './request-info.js';
import type { ApiRequest } from './types.js';
import type { KubeObject } from '../util/object.js';
import { errorText, type Logger } from '../util/log.js';

export const AGENT_ENDPOINT_ANNOTATION = 'cairn.io/agent-endpoint';
/** The kubelet's port when a Node does not say (kube-apiserver --kubelet-port). */
const DEFAULT_KUBELET_PORT = 10250;
const PATH_RE = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(log|exec|attach|portforward)$/;
/** How much of an agent's error body becomes the Status message. */
const MAX_ERROR_BODY = 64 * 1024;

export interface NodeProxyOptions {
  api: ApiServer;
  /** The cluster CA, which signed the agents' serving certificates. */
  caPem: string;
  /** The API server's client certificate for agents. */
  clientCert: KeyPairPem;
  logger: Logger;
}

type PodLike = KubeObject & {
  spec?: { nodeName?: string; containers?: { name: string }[]; initContainers?: { name: string }[]; ephemeralContainers?: { name: string }[] };
};
type NodeLike = KubeObject & {
  status?: { addresses?: { type: string; address: string }[]; daemonEndpoints?: { kubeletEndpoint?: { Port?: number } } };
};

/** A node agent's address and the path to ask it for. */
export interface Target {
  host: string;
  port: number;
  /** Path and query on the agent. */
  path: string;
}

export class NodeProxy {
  constructor(private readonly o: NodeProxyOptions) {}

  /** Whether `path` is one of the proxied subresources. */
  handles(path: string): boolean {
    return PATH_RE.test(path);
  }

  /** A plain request: logs; exec, attach and portforward without an upgrade get upstream's 400. */
  async serve(req: ApiRequest, res: ServerResponse): Promise<void> {
    try {
      const info = await this.admit(req, false);
      const target = await this.locate(info, req.query);
      if (info.subresource !== 'log') throw ApiError.badRequest('Upgrade request required');
      if (!target) {
        // A pod not yet scheduled has no logs: an empty answer, as upstream's nil location.
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-cache, private' }).end();
        return;
      }
      await this.streamLog(target, info, req, res);
    } catch (e) {
      writeStatus(res, this.toStatus(e));
    }
  }

  /** An upgrade request (exec, attach, portforward): forwarded to the agent, then piped both ways. */
  async upgrade(req: ApiRequest, raw: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    let target: Target | undefined;
    try {
      const info = await this.admit(req, true);
      if (info.subresource === 'log') throw ApiError.badRequest('log does not support upgrades');
      target = await this.locate(info, req.query);
    } catch (e) {
      rejectUpgrade(socket, this.toStatus(e));
      return;
    }
    if (target) this.pipeUpgrade(target, raw, socket, head);
  }

  /** Authorizes as upstream (see the file comment); returns the parsed request. */
  private async admit(req: ApiRequest, upgrade: boolean): Promise<ResourceRequest> {
    const info = parseRequestInfo(req.method, req.path, req.query) as ResourceRequest;
    const connect = info.subresource !== 'log';
    const allowed = connect ? ['GET', 'POST'] : ['GET'];
    // Authorization comes first (upstream's filter chain), then the route's methods.
    await this.o.api.admit(req, info);
    if (!allowed.includes(req.method)) throw ApiError.methodNotAllowed('the server does not allow this method on the requested resource');
    if (connect && upgrade && info.verb !== 'create') await this.o.api.admit(req, { ...info, verb: 'create' });
    return info;
  }

  /** The agent and path for the request; undefined for the logs of a pod with no node. */
  private async locate(info: ResourceRequest, q: URLSearchParams): Promise<Target | undefined> {
    const ns = info.namespace!;
    const name = info.name!;
    const pod = (await this.o.api.registry.get(this.kind('pods'), ns, name)) as PodLike;
    const sub = info.subresource!;
    let agentPath: string;
    if (sub === 'portforward') {
      const ports = q.getAll('ports').join(',');
      agentPath = `/portForward/${enc(ns)}/${enc(name)}${ports ? `?${new URLSearchParams({ port: ports })}` : ''}`;
    } else {
      const container = validateContainer(q.get('container') ?? '', pod);
      const kubeletQuery = sub === 'log' ? logQuery(q, name) : streamQuery(q, sub === 'exec');
      const route = sub === 'log' ? 'containerLogs' : sub;
      agentPath = `/${route}/${enc(ns)}/${enc(name)}/${enc(container)}${kubeletQuery.size ? `?${kubeletQuery}` : ''}`;
    }
    const nodeName = pod.spec?.nodeName;
    if (!nodeName) {
      if (sub === 'log') return undefined;
      throw ApiError.badRequest(`pod ${name} does not have a host assigned`);
    }
    return this.nodeTarget(nodeName, agentPath);
  }

  /** The agent of node `nodeName`, asked for `path` (also the VMI subresources' way to their node, virt-node-proxy.ts). */
  async nodeTarget(nodeName: string, path: string): Promise<Target> {
    const node = (await this.o.api.registry.get(this.kind('nodes'), undefined, nodeName)) as NodeLike;
    return { ...agentAddress(node), path };
  }

  private kind(plural: 'pods' | 'nodes') {
    return this.o.api.catalog.byPlural('', 'v1', plural)!;
  }

  /** TLS towards an agent: its certificate checked against the cluster CA, ours presented. */
  tlsOptions(host: string) {
    return {
      ca: this.o.caPem,
      cert: this.o.clientCert.certPem,
      key: this.o.clientCert.keyPem,
      // No SNI for an address (TLS forbids it); the certificate check uses the host either way.
      servername: isIP(host) ? undefined : host,
    };
  }

  private streamLog(target: Target, info: ResourceRequest, req: ApiRequest, res: ServerResponse): Promise<void> {
    return new Promise<void>((resolve) => {
      const upstream = httpsRequest({ host: target.host, port: target.port, path: target.path, method: 'GET', agent: false, ...this.tlsOptions(target.host) });
      const onAbort = () => upstream.destroy();
      req.signal.addEventListener('abort', onAbort, { once: true });
      const done = () => {
        req.signal.removeEventListener('abort', onAbort);
        resolve();
      };
      upstream.on('error', (e) => {
        if (!res.headersSent) writeStatus(res, plainError(`Get "https://${hostPort(target)}${target.path}": ${errorText(e)}`));
        else res.destroy();
        done();
      });
      upstream.on('response', (agentRes) => {
        const code = agentRes.statusCode ?? 500;
        if (code < 200 || code > 206) {
          readLimited(agentRes, MAX_ERROR_BODY).then((body) => {
            writeStatus(res, agentErrorStatus(code, body, info.name!));
            done();
          });
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-cache, private', 'transfer-encoding': 'chunked' });
        res.flushHeaders();
        agentRes.pipe(res);
        agentRes.on('error', () => res.destroy());
        res.on('close', () => {
          agentRes.destroy();
          done();
        });
      });
      upstream.end();
    });
  }

  /** Forwards the client's upgrade request to the agent and pipes both connections, whatever they then speak. */
  pipeUpgrade(target: Target, raw: IncomingMessage, socket: Duplex, head: Buffer): void {
    const agent = tlsConnect({ host: target.host, port: target.port, ALPNProtocols: ['http/1.1'], ...this.tlsOptions(target.host) });
    let connected = false;
    agent.on('error', (e) => {
      if (!connected) rejectUpgrade(socket, plainError(`error dialing backend: ${errorText(e)}`));
      else socket.destroy();
      this.o.logger.debug('agent connection failed', { target: hostPort(target), error: errorText(e) });
    });
    socket.on('error', () => agent.destroy());
    socket.on('close', () => agent.destroy());
    agent.on('close', () => socket.destroy());
    agent.once('secureConnect', () => {
      connected = true;
      agent.write(upgradeRequestHead(raw, target));
      if (head.length) agent.write(head);
      agent.pipe(socket);
      socket.pipe(agent);
    });
  }

  private toStatus(e: unknown): Status {
    if (e instanceof ApiError) return e.toStatus();
    this.o.logger.error('node proxy failed', { error: errorText(e) });
    return ApiError.internal(errorText(e)).toStatus();
  }
}

/** Upstream's validateContainer: a named container must exist; without a name only a lone container is picked. */
function validateContainer(container: string, pod: PodLike): string {
  const spec = pod.spec ?? {};
  const name = pod.metadata.name!;
  const all = [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])].map((c) => c.name);
  if (container) {
    if (!all.includes(container)) throw ApiError.badRequest(`container ${container} is not valid for pod ${name}`);
    return container;
  }
  const regular = spec.containers ?? [];
  if (regular.length === 1) return regular[0].name;
  if (!regular.length) throw ApiError.badRequest(`a container name must be specified for pod ${name}`);
  throw ApiError.badRequest(`a container name must be specified for pod ${name}, choose one of: [${all.join(' ')}]`);
}

/** PodLogOptions from the query, validated as ValidatePodLogOptions, in the kubelet's form. */
function logQuery(q: URLSearchParams, name: string): URLSearchParams {
  const out = new URLSearchParams();
  for (const b of ['follow', 'previous', 'timestamps']) if (parseBool(q, b)) out.set(b, 'true');
  const tail = parseInt64(q, 'tailLines');
  const limit = parseInt64(q, 'limitBytes');
  const since = parseInt64(q, 'sinceSeconds');
  const sinceTime = q.get('sinceTime');
  if (sinceTime && Number.isNaN(Date.parse(sinceTime))) throw ApiError.badRequest(`parsing time ${JSON.stringify(sinceTime)} as RFC 3339 failed`);
  const errs: FieldError[] = [];
  if (tail !== undefined && tail < 0) errs.push(fieldErr.invalid('tailLines', tail, 'must be greater than or equal to 0'));
  if (limit !== undefined && limit < 1) errs.push(fieldErr.invalid('limitBytes', limit, 'must be greater than 0'));
  if (since !== undefined && sinceTime) errs.push(fieldErr.forbidden('', 'at most one of `sinceTime` or `sinceSeconds` may be specified'));
  else if (since !== undefined && since < 1) errs.push(fieldErr.invalid('sinceSeconds', since, 'must be greater than 0'));
  if (errs.length) throw ApiError.invalid('', 'PodLogOptions', name, errs);
  if (since !== undefined) out.set('sinceSeconds', String(since));
  if (sinceTime) out.set('sinceTime', new Date(Date.parse(sinceTime)).toISOString().replace(/\.\d{3}Z$/, 'Z'));
  if (tail !== undefined) out.set('tailLines', String(tail));
  if (limit !== undefined) out.set('limitBytes', String(limit));
  return out;
}

/** PodExecOptions / PodAttachOptions in the kubelet's form (input, output, error, tty = 1). */
function streamQuery(q: URLSearchParams, exec: boolean): URLSearchParams {
  const out = new URLSearchParams();
  if (exec) for (const c of q.getAll('command')) out.append('command', c);
  const pairs: [string, string][] = [
    ['stdin', 'input'],
    ['stdout', 'output'],
    ['stderr', 'error'],
    ['tty', 'tty'],
  ];
  for (const [api, kubelet] of pairs) if (parseBool(q, api)) out.set(kubelet, '1');
  return out;
}

function parseBool(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null || v === '') return false;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw ApiError.badRequest(`strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`);
}

function parseInt64(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^[+-]?\d+$/.test(v)) throw ApiError.badRequest(`strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
  return Number(v);
}

/** Where a node's agent listens (see the file comment). */
export function agentAddress(node: NodeLike): { host: string; port: number } {
  const ann = node.metadata.annotations?.[AGENT_ENDPOINT_ANNOTATION];
  if (ann) {
    const u = new URL(ann.includes('://') ? ann : `https://${ann}`);
    return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port) || DEFAULT_KUBELET_PORT };
  }
  const addrs = node.status?.addresses ?? [];
  const addr = ['InternalIP', 'ExternalIP', 'Hostname', 'InternalDNS', 'ExternalDNS'].map((t) => addrs.find((a) => a.type === t)).find(Boolean);
  if (!addr) throw plainApiError(`no preferred addresses found; known addresses: [${addrs.map((a) => `{${a.type} ${a.address}}`).join(' ')}]`);
  return { host: addr.address, port: node.status?.daemonEndpoints?.kubeletEndpoint?.Port || DEFAULT_KUBELET_PORT };
}

/**
 * An agent's non-2xx answer as upstream's GenericHttpResponseChecker turns a kubelet's: 400 is
 * BadRequest and 500 InternalError with the body as message; others keep their code.
 */
function agentErrorStatus(code: number, body: string, name: string): Status {
  const text = body.trim();
  if (code === 400) return ApiError.badRequest(text).toStatus();
  if (code === 500) return ApiError.internal(text).toStatus();
  if (code === 404) return new ApiError(404, 'NotFound', 'the server could not find the requested resource', { name, kind: 'pods/log' }).toStatus();
  return new ApiError(code, '', text || `the server responded with the status code ${code} but did not return more information`, { name, kind: 'pods/log' }).toStatus();
}

/** An error that is no API error upstream: 500 with no reason (kubectl prints "Error from server: ..."). */
function plainApiError(message: string): ApiError {
  return new ApiError(500, '', message);
}

function plainError(message: string): Status {
  return plainApiError(message).toStatus();
}

/** The client's upgrade request with the agent's path, without its credentials (upstream's authn and impersonation filters drop them). */
function upgradeRequestHead(raw: IncomingMessage, target: Target): string {
  const lines = [`${raw.method} ${target.path} HTTP/1.1`, `Host: ${hostPort(target)}`];
  for (let i = 0; i < raw.rawHeaders.length; i += 2) {
    const k = raw.rawHeaders[i];
    const lk = k.toLowerCase();
    if (lk === 'host' || lk === 'authorization' || lk.startsWith('impersonate-') || lk === 'x-forwarded-for') continue;
    lines.push(`${k}: ${raw.rawHeaders[i + 1]}`);
  }
  const forwarded = [raw.headers['x-forwarded-for'], raw.socket.remoteAddress].filter(Boolean).join(', ');
  if (forwarded) lines.push(`X-Forwarded-For: ${forwarded}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

const enc = encodeURIComponent;
const hostPort = (t: { host: string; port: number }) => `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;

function cleanStatus(s: Status): Status {
  // `reason` is omitempty upstream.
  if (!s.reason) delete s.reason;
  return s;
}

/** Answers a plain request with a Status (a response already under way is cut instead). */
export function writeStatus(res: ServerResponse, s: Status): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(s.code, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' }).end(JSON.stringify(cleanStatus(s)));
}

/** Answers an upgrade request with a Status and closes the connection. */
export function rejectUpgrade(socket: Duplex, s: Status): void {
  const body = Buffer.from(JSON.stringify(cleanStatus(s)));
  socket.end(`HTTP/1.1 ${s.code} ${STATUS_CODES[s.code] ?? ''}\r\nContent-Type: application/json\r\nCache-Control: no-cache, private\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
}

function readLimited(stream: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let n = 0;
    stream.on('data', (b: Buffer) => {
      if (n < max) chunks.push(b.subarray(0, max - n));
      n += b.length;
    });
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
