/**
 * The network front of the API server: HTTPS only (a plain-HTTP request on the port gets a 400
 * and is closed, as Go's server answers), client-certificate and bearer-token authentication,
 * body size limits, JSON and watch-stream responses, and a graceful stop that lets in-flight
 * requests finish and ends watches cleanly. Pod logs and the upgrades of exec, attach and
 * port-forward are handed, authenticated, to `streams` (the node proxy), which answers them itself.
 */
import { setMaxListeners } from 'node:events';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import YAML from 'yaml';
import { authenticate, AuthenticationError, type Authenticator } from './authn.js';
import { ApiError } from './errors.js';
import { MAX_BODY_BYTES } from './decode.js';
import { rejectUpgrade } from './node-proxy.js';
import { isRaw, isStream, type ApiHandler, type ApiRequest, type ApiResponse } from './types.js';
import type { Logger } from '../util/log.js';

export interface HttpsFrontOptions {
  host: string;
  port: number;
  /** More addresses to serve on, at the same port (e.g. the host's bridge address pods reach through the `kubernetes` Service). */
  extraHosts?: string[];
  certPem: string;
  keyPem: string;
  caPem: string;
  authenticators: Authenticator[];
  handler: ApiHandler;
  logger: Logger;
  /** Requests answered by streaming rather than with an ApiResponse (see NodeProxy). */
  streams?: StreamingRoutes;
}

/** Paths served with raw streams and connection upgrades, after authentication. */
export interface StreamingRoutes {
  handles(path: string): boolean;
  serve(req: ApiRequest, res: ServerResponse): Promise<void>;
  upgrade(req: ApiRequest, raw: IncomingMessage, socket: Duplex, head: Buffer): Promise<void>;
}

const PLAIN_HTTP_REPLY = 'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n';

export class HttpsFront {
  private readonly tls: HttpsServer;
  private readonly net: NetServer;
  private readonly extraNets: NetServer[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly shutdown = new AbortController();
  private inflight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: HttpsFrontOptions) {
    // Every in-flight request listens on the shutdown signal (and stops listening when done):
    // more than 10 concurrent requests are normal, not a listener leak.
    setMaxListeners(0, this.shutdown.signal);
    this.tls = createHttpsServer(
      {
        cert: opts.certPem,
        key: opts.keyPem,
        ca: [opts.caPem],
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
        keepAlive: true,
      },
      (req, res) => void this.serve(req, res),
    );
    this.tls.keepAliveTimeout = 65_000;
    this.tls.headersTimeout = 70_000;
    this.tls.requestTimeout = 0; // watches are long-lived
    this.tls.on('tlsClientError', () => {});
    this.tls.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.serveUpgrade(req, socket, head));
    // No TLS renegotiation (Go's TLS server, kube-apiserver's, has none either): a connection's
    // client certificate is then fixed, which lets authn cache its identity per connection.
    this.tls.on('secureConnection', (s: TLSSocket) => s.disableRenegotiation());
    // Peek at the first byte: TLS starts with a handshake record (0x16); anything else is plain HTTP.
    // noDelay: the sockets are accepted by this plain net server (not by the https server, whose
    // own default is noDelay), so without it Nagle's algorithm is on: a small write behind
    // unacknowledged data (a watch event, a response on a busy keep-alive connection) waits for
    // the peer's delayed ACK, 40 ms or more. Go's net/http (kube-apiserver) disables Nagle too.
    const accept = (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
      socket.once('readable', () => {
        const first: Buffer | null = socket.read(1);
        if (!first) {
          socket.destroy();
          return;
        }
        socket.unshift(first);
        if (first[0] === 0x16) this.tls.emit('connection', socket);
        else socket.end(PLAIN_HTTP_REPLY);
      });
    };
    this.net = createNetServer({ noDelay: true }, accept);
    for (const _ of opts.extraHosts ?? []) this.extraNets.push(createNetServer({ noDelay: true }, accept));
  }

  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.net.once('error', reject);
      this.net.listen(this.opts.port, this.opts.host, () => resolve());
    });
    const addr = this.net.address();
    if (!addr || typeof addr === 'string') throw new Error('server has no address');
    const extra = this.opts.extraHosts ?? [];
    for (let i = 0; i < extra.length; i++) {
      const srv = this.extraNets[i]!;
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(addr.port, extra[i], () => resolve());
      });
    }
    return { host: addr.address, port: addr.port };
  }

  /** Stops accepting, ends watches, waits for in-flight requests (up to timeoutMs), then closes connections. */
  async close(timeoutMs = 10_000): Promise<void> {
    this.net.close();
    for (const n of this.extraNets) n.close();
    this.shutdown.abort();
    if (this.inflight > 0) {
      // The deadline timer is cleared once requests are done, so a stopped server keeps no process alive.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((r) => this.idleWaiters.push(r)), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    this.tls.closeIdleConnections?.();
    for (const s of this.sockets) s.destroy();
  }

  private async serve(req: IncomingMessage, res: ServerResponse) {
    this.inflight++;
    const abort = new AbortController();
    const onShutdown = () => abort.abort();
    this.shutdown.signal.addEventListener('abort', onShutdown);
    // Abort only a request whose response was cut short (client gone, watch dropped): aborting
    // after a completed response would just build an AbortError per request for nobody.
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    try {
      const { apiReq, rejected } = await this.authenticated(req, abort.signal);
      if (rejected) {
        await this.write(res, { status: 401, body: ApiError.unauthorized().toStatus() }, apiReq);
        return;
      }
      const body = await readBody(req);
      if (body === 'too-large') {
        // Answer at once and leave the connection open: Node discards the rest of the body
        // (bounded by drainExcess), so the client reads the 413 instead of a reset, and the
        // connection stays usable, as Go's server does for a MaxBytesReader overflow.
        drainExcess(req);
        await this.write(res, { status: 413, body: ApiError.tooLarge(`Request entity too large: limit is ${MAX_BODY_BYTES}`).toStatus() }, apiReq);
        return;
      }
      if (body === 'aborted') return;
      // Streaming routes read bodies too (the VMI pause and unpause options).
      apiReq.body = body;
      if (this.opts.streams?.handles(apiReq.path)) {
        await this.opts.streams.serve(apiReq, res);
        return;
      }
      const out = await this.opts.handler(apiReq);
      await this.write(res, out, apiReq);
    } catch (e) {
      this.opts.logger.error('unhandled request error', { error: (e as Error)?.message, stack: (e as Error)?.stack });
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify(ApiError.internal('unexpected server error').toStatus()));
      } else res.destroy();
    } finally {
      this.shutdown.signal.removeEventListener('abort', onShutdown);
      this.inflight--;
      if (this.inflight === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** The request as an ApiRequest with its user; `rejected` when credentials were offered and refused (401, even on public paths). */
  private async authenticated(req: IncomingMessage, signal: AbortSignal): Promise<{ apiReq: ApiRequest; rejected: boolean }> {
    const url = new URL(req.url ?? '/', 'https://cairn.invalid');
    const headers = lowerHeaders(req);
    let user;
    let refused = false;
    try {
      user = await authenticate(this.opts.authenticators, { headers, socket: req.socket as TLSSocket });
    } catch (e) {
      if (!(e instanceof AuthenticationError)) throw e;
      user = null;
      refused = true;
    }
    const apiReq: ApiRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers,
      user: user ?? undefined,
      remoteAddress: req.socket.remoteAddress,
      signal,
    };
    return { apiReq, rejected: !user && (refused || !!headers.authorization) };
  }

  /** A connection upgrade (exec, attach, port-forward): authenticated here, then the streaming routes' own. */
  private async serveUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    socket.on('error', () => {});
    try {
      const { apiReq, rejected } = await this.authenticated(req, this.shutdown.signal);
      if (rejected) return rejectUpgrade(socket, ApiError.unauthorized().toStatus());
      if (!this.opts.streams?.handles(apiReq.path)) return rejectUpgrade(socket, ApiError.badRequest('connection upgrades are not served on this path').toStatus());
      await this.opts.streams.upgrade(apiReq, req, socket, head);
    } catch (e) {
      this.opts.logger.error('unhandled upgrade error', { error: (e as Error)?.message, stack: (e as Error)?.stack });
      rejectUpgrade(socket, ApiError.internal('unexpected server error').toStatus());
    }
  }

  private async write(res: ServerResponse, out: ApiResponse, req: ApiRequest) {
    const headers: Record<string, string | string[]> = { 'cache-control': 'no-cache, private', ...wireHeaders(out.headers) };
    if (isStream(out)) {
      headers['content-type'] ??= 'application/json';
      res.writeHead(out.status, headers);
      res.flushHeaders();
      for await (const ev of out.stream) {
        if (res.destroyed) break;
        const ok = res.write(watchLine(ev));
        if (!ok) await new Promise<void>((r) => (res.once('drain', r), res.once('close', r)));
      }
      if (!res.destroyed) res.end();
      return;
    }
    if (isRaw(out)) {
      headers['content-type'] = out.contentType;
      res.writeHead(out.status, headers);
      res.end(req.method === 'HEAD' ? undefined : out.raw);
      return;
    }
    const yaml = wantsYaml(req.headers.accept);
    const text = yaml ? YAML.stringify(out.body) : JSON.stringify(out.body);
    headers['content-type'] ??= yaml ? 'application/yaml' : 'application/json';
    res.writeHead(out.status, headers);
    res.end(req.method === 'HEAD' ? undefined : text);
  }
}

/**
 * A watch event as one JSON line. Watchers of a kind share their event objects (registry/watch.ts),
 * so the line is built once per event and reused for every watcher that sends it.
 */
const watchLines = new WeakMap<object, Buffer>();
function watchLine(ev: unknown): Buffer | string {
  if (typeof ev !== 'object' || ev === null) return JSON.stringify(ev) + '\n';
  let line = watchLines.get(ev);
  if (!line) watchLines.set(ev, (line = Buffer.from(JSON.stringify(ev) + '\n')));
  return line;
}

/**
 * Header values as Go's server writes them: line breaks become spaces and text goes out as its
 * UTF-8 bytes (a Warning naming an unknown field "🦄" is legal there; node:http would throw on
 * characters above U+00FF, so they are handed over as the latin1 view of their UTF-8 bytes).
 */
function wireHeaders(h: ApiResponse['headers']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const clean = (v: string) => {
    if (!/[^\t\x20-\x7e]/.test(v)) return v;
    // eslint-disable-next-line no-control-regex
    return Buffer.from(v.replace(/[\x00-\x08\x0a-\x1f\x7f]+/g, ' '), 'utf8').toString('latin1');
  };
  for (const [k, v] of Object.entries(h ?? {})) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map((x) => clean(String(x))) : clean(String(v));
  }
  return out;
}

function lowerHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function wantsYaml(accept: string | undefined): boolean {
  if (!accept) return false;
  const first = accept.split(',')[0].split(';')[0].trim();
  return first === 'application/yaml';
}

/**
 * Reads the body up to MAX_BODY_BYTES. Never destroys the request (that would reset the
 * connection under the response): past the limit it stops collecting and lets the rest flow by.
 */
function readBody(req: IncomingMessage): Promise<Buffer | undefined | 'too-large' | 'aborted'> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) return Promise.resolve('too-large');
  if (req.readableEnded) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (v: Buffer | undefined | 'too-large' | 'aborted') => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      req.off('error', onClose);
      resolve(v);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) done('too-large');
      else chunks.push(chunk);
    };
    const onEnd = () => done(chunks.length ? Buffer.concat(chunks) : undefined);
    const onClose = () => done(req.complete ? (chunks.length ? Buffer.concat(chunks) : undefined) : 'aborted');
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    req.on('error', onClose);
  });
}

/** How much of an oversized body is discarded before the connection is closed instead. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

function drainExcess(req: IncomingMessage) {
  let drained = 0;
  req.on('error', () => {});
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > MAX_DRAIN_BYTES) req.socket?.destroy();
  });
}
