/**
 * Raw HTTPS requests to a Cairn server with node:https (no client library in between), for tests
 * that look at exact status codes, headers and bodies: the admin client certificate and the CA
 * come from DATA/pki; other credentials (none, a foreign certificate, a bearer token) on request.
 */
import { Agent, request as httpsRequest, type AgentOptions } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';

export interface Credentials {
  ca: string;
  cert?: string;
  key?: string;
}

/** The CA and admin client certificate of the server whose data dir this is. */
export function adminCredentials(dataDir: string): Required<Credentials> {
  const pki = join(dataDir, 'pki');
  return {
    ca: readFileSync(join(pki, 'ca.crt'), 'utf8'),
    cert: readFileSync(join(pki, 'admin.crt'), 'utf8'),
    key: readFileSync(join(pki, 'admin.key'), 'utf8'),
  };
}

export interface RawRequest {
  method?: string;
  path: string;
  headers?: Record<string, string | number | string[]>;
  body?: string | Buffer | object;
  /** Fails the request (rejects) after this long; default 30 s. */
  timeoutMs?: number;
  /** Use this agent instead of the client's (e.g. agent: false for a fresh connection). */
  agent?: Agent | false;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
  /** Local port of the connection that carried the request (to tell connections apart). */
  localPort?: number;
}

export class RawClient {
  readonly agent: Agent;
  readonly base: URL;

  constructor(
    url: string,
    readonly creds: Credentials,
    agentOpts: AgentOptions = {},
  ) {
    this.base = new URL(url);
    this.agent = new Agent({ keepAlive: true, maxSockets: 8, ...agentOpts, ca: creds.ca, cert: creds.cert, key: creds.key });
  }

  static admin(url: string, dataDir: string, agentOpts: AgentOptions = {}): RawClient {
    return new RawClient(url, adminCredentials(dataDir), agentOpts);
  }

  request(r: RawRequest): Promise<RawResponse> {
    let body: Buffer | undefined;
    const headers: Record<string, string | number | string[]> = { ...(r.headers ?? {}) };
    if (r.body !== undefined) {
      body = Buffer.isBuffer(r.body) ? r.body : Buffer.from(typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
      headers['content-length'] = body.length;
    }
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: this.base.hostname,
          port: this.base.port,
          method: r.method ?? 'GET',
          path: r.path,
          headers,
          agent: r.agent ?? this.agent,
          ca: this.creds.ca,
          cert: this.creds.cert,
          key: this.creds.key,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            clearTimeout(timer);
            const buf = Buffer.concat(chunks);
            const text = buf.toString('utf8');
            let json: any;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, text, json, localPort: req.socket?.localPort });
          });
        },
      );
      const timer = setTimeout(() => {
        req.destroy(new Error(`request ${r.method ?? 'GET'} ${r.path.slice(0, 200)} timed out after ${r.timeoutMs ?? 30_000} ms`));
      }, r.timeoutMs ?? 30_000);
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.end(body);
    });
  }

  /** Opens a watch (or any streaming GET) and hands back its newline-delimited JSON events as they arrive. */
  stream(path: string, headers: Record<string, string> = {}): Promise<WatchStream> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        { host: this.base.hostname, port: this.base.port, method: 'GET', path, headers, agent: false, ca: this.creds.ca, cert: this.creds.cert, key: this.creds.key },
        (res) => resolve(new WatchStream(req, res.statusCode ?? 0, res)),
      );
      req.on('error', reject);
      req.end();
    });
  }

  close() {
    this.agent.destroy();
  }
}

/** A streaming response read as JSON lines. `ended` resolves when the server ends the body; `error` records a socket error. */
export class WatchStream {
  readonly events: any[] = [];
  error: Error | undefined;
  readonly ended: Promise<void>;
  private buf = '';
  private waiters: (() => void)[] = [];
  private done = false;

  constructor(
    private readonly req: import('node:http').ClientRequest,
    readonly status: number,
    res: import('node:http').IncomingMessage,
  ) {
    this.ended = new Promise((resolve) => {
      res.on('data', (c: Buffer) => {
        this.buf += c.toString('utf8');
        let i;
        while ((i = this.buf.indexOf('\n')) >= 0) {
          const line = this.buf.slice(0, i).trim();
          this.buf = this.buf.slice(i + 1);
          if (line) {
            try {
              this.events.push(JSON.parse(line));
            } catch {
              this.events.push({ unparsable: line });
            }
          }
        }
        this.wake();
      });
      const finish = () => {
        this.done = true;
        this.wake();
        resolve();
      };
      res.on('end', finish);
      res.on('error', (e) => {
        this.error = e;
        finish();
      });
      res.on('aborted', () => {
        this.error ??= new Error('response aborted');
      });
      res.on('close', finish);
      req.on('error', (e) => {
        this.error = e;
        finish();
      });
    });
  }

  get finished() {
    return this.done;
  }

  /** Waits until an event satisfies `pred` (or the stream ends, or the time is up). */
  async waitFor(pred: (ev: any) => boolean, ms = 10_000): Promise<any> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.events.find(pred);
      if (hit) return hit;
      if (this.done) throw new Error(`stream ended before the awaited event; events: ${JSON.stringify(this.events).slice(0, 2000)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a watch event; events: ${JSON.stringify(this.events).slice(0, 2000)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  close() {
    this.req.destroy();
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }
}
