/**
 * The HTTPS transport: Kubernetes REST over node:https with a keep-alive agent (one TLS session
 * pool per transport), CA pinning and client-certificate or bearer-token auth from a kubeconfig.
 * Watches are read as newline-delimited JSON. Plain `http://` servers work too (tests, proxies).
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { AbortedError, ClientError, StatusError, TimeoutError, TransportError, statusFromResponse } from './errors.js';
import { type ClusterConnection, type LoadKubeconfigOptions, loadKubeconfig } from './kubeconfig.js';
import { ndjson } from './ndjson.js';
import {
  type Transport,
  type TransportHeaders,
  type TransportRequest,
  type TransportResponse,
  assertOk,
  decodeBody,
  encodeBody,
  pathWithQuery,
  requestHeaders,
} from './transport.js';

export interface HttpsTransportOptions {
  /** Default client-side timeout for non-streaming requests (ms); default 30 s. */
  timeoutMs?: number;
  userAgent?: string;
  /** Concurrent connections per server; default 64 (watches each hold one). */
  maxSockets?: number;
}

/** How long a token read from tokenFile is reused before the file is read again. */
const TOKEN_FILE_TTL_MS = 60_000;

interface Opened {
  res: http.IncomingMessage;
  /** Stops the timeout and abort handling; call once the response is fully consumed. */
  done(): void;
  describe: string;
  /** Why the client ended the request (timeout or abort), if it did: the socket error that follows is only a symptom. */
  failure(): ClientError | undefined;
}

export class HttpsTransport implements Transport {
  readonly connection: ClusterConnection;
  private readonly agent: http.Agent;
  private readonly base: URL;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  private cachedToken?: { value: string; readAt: number };

  static fromKubeconfig(path: string, opts: HttpsTransportOptions & LoadKubeconfigOptions = {}): HttpsTransport {
    return new HttpsTransport(loadKubeconfig(path, opts), opts);
  }

  constructor(connection: ClusterConnection, opts: HttpsTransportOptions = {}) {
    this.connection = connection;
    this.base = new URL(connection.server);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.userAgent = opts.userAgent ?? 'cairn-client/0.1';
    const common = { keepAlive: true, maxSockets: opts.maxSockets ?? 64 };
    if (this.base.protocol === 'https:') {
      this.agent = new https.Agent({
        ...common,
        ca: connection.ca,
        cert: connection.clientCert,
        key: connection.clientKey,
        rejectUnauthorized: !connection.insecureSkipTlsVerify,
        servername: connection.tlsServerName,
      });
    } else if (this.base.protocol === 'http:') {
      this.agent = new http.Agent(common);
    } else {
      throw new ClientError(`unsupported server URL ${connection.server}`);
    }
  }

  async request(req: TransportRequest): Promise<TransportResponse> {
    const opened = await this.open(req, req.timeoutMs ?? this.timeoutMs, false);
    try {
      const bytes = await readAll(opened.res);
      const headers = opened.res.headers as TransportHeaders;
      const status = opened.res.statusCode ?? 0;
      const body = decodeBody(bytes, headers['content-type'] as string | undefined);
      assertOk(status, body);
      return { status, headers, body };
    } catch (err) {
      throw opened.failure() ?? this.mapError(err, req, opened.describe);
    } finally {
      opened.done();
    }
  }

  async stream(req: TransportRequest): Promise<AsyncIterable<unknown>> {
    const opened = await this.open(req, req.timeoutMs ?? this.timeoutMs, true);
    const status = opened.res.statusCode ?? 0;
    if (status < 200 || status > 299) {
      try {
        const bytes = await readAll(opened.res);
        throw new StatusError(statusFromResponse(status, decodeBody(bytes, opened.res.headers['content-type'])));
      } catch (err) {
        throw opened.failure() ?? this.mapError(err, req, opened.describe);
      } finally {
        opened.done();
      }
    }
    return this.events(opened, req);
  }

  close(): void {
    this.agent.destroy();
  }

  private async *events(opened: Opened, req: TransportRequest): AsyncGenerator<unknown> {
    try {
      yield* ndjson(opened.res);
    } catch (err) {
      if (req.signal?.aborted) return; // the caller ended the watch: a quiet end, not an error
      throw opened.failure() ?? this.mapError(err, req, opened.describe);
    } finally {
      opened.res.destroy();
      opened.done();
    }
  }

  /** Sends the request and resolves at the response headers. */
  private open(req: TransportRequest, timeoutMs: number, streaming: boolean): Promise<Opened> {
    const url = `${this.base.origin}${this.base.pathname.replace(/\/+$/, '')}${pathWithQuery(req.path, req.query)}`;
    const describe = `${req.method} ${url}`;
    if (req.signal?.aborted) return Promise.reject(new AbortedError(`${describe}: aborted`));
    const payload = encodeBody(req);
    const headers = requestHeaders(req, payload, { 'user-agent': this.userAgent });
    const token = this.token();
    if (token) headers.authorization = `Bearer ${token}`;
    const mod = this.base.protocol === 'https:' ? https : http;

    return new Promise<Opened>((resolve, reject) => {
      const creq = mod.request(url, { method: req.method, headers, agent: this.agent });
      let failure: ClientError | undefined;
      const fail = (err: ClientError) => {
        failure ??= err;
        creq.destroy(err);
      };
      let timer: NodeJS.Timeout | undefined = setTimeout(() => fail(new TimeoutError(`${describe}: no complete response within ${timeoutMs} ms`)), timeoutMs);
      const onAbort = () => fail(new AbortedError(`${describe}: aborted`));
      req.signal?.addEventListener('abort', onAbort, { once: true });
      const stopTimer = () => {
        if (timer) clearTimeout(timer);
        timer = undefined;
      };
      const done = () => {
        stopTimer();
        req.signal?.removeEventListener('abort', onAbort);
      };
      creq.on('error', (err) => {
        done();
        reject(failure ?? this.mapError(err, req, describe));
      });
      creq.on('response', (res) => {
        // A stream may stay open as long as the server keeps it; only the wait for headers is bounded.
        if (streaming) stopTimer();
        resolve({ res, done, describe, failure: () => failure });
      });
      creq.end(payload?.bytes);
    });
  }

  private token(): string | undefined {
    if (this.connection.token) return this.connection.token;
    const file = this.connection.tokenFile;
    if (!file) return undefined;
    const now = Date.now();
    if (!this.cachedToken || now - this.cachedToken.readAt > TOKEN_FILE_TTL_MS) {
      try {
        this.cachedToken = { value: readFileSync(file, 'utf8').trim(), readAt: now };
      } catch (err) {
        throw new TransportError(`cannot read token file ${file}: ${(err as Error).message}`, { cause: err });
      }
    }
    return this.cachedToken.value;
  }

  private mapError(err: unknown, req: TransportRequest, describe: string): ClientError {
    if (err instanceof ClientError) return err;
    if (req.signal?.aborted) return new AbortedError(`${describe}: aborted`);
    const e = err as NodeJS.ErrnoException;
    return new TransportError(`${describe}: ${e.code ? `${e.code} ` : ''}${e.message}`, { cause: err });
  }
}

async function readAll(res: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
