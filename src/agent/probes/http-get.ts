/**
 * The HTTP GET that httpGet probes and lifecycle hooks send, built and sent the way the
 * kubelet's Go client does (upstream pkg/probe/http: request.go and http.go): a fresh connection
 * per request, no certificate verification for HTTPS, no proxy, no compression, headers with
 * Go's canonical names, `User-Agent: kube-probe/1.32` and `Accept: *\/*` unless the spec sets
 * them, redirects followed only while they stay on the same host, at most 10 KiB of the body
 * read. Failures carry Go's error text (`Get "URL": dial tcp …: connect: connection refused`).
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { HTTPGetAction } from '../pods/api-types.js';
import { dialErrorText, isDialError, joinHostPort, readErrorText } from './net-errors.js';
import { KUBE_VERSION, resolvePort, type ProbeTarget } from './probe.js';

/** Upstream reads at most 10 KiB of a probe's response body. */
const MAX_BODY_BYTES = 10 * 1024;
const MAX_REDIRECTS = 10;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export interface HttpGetRequest {
  url: URL;
  /** The URL as Go prints it (`http://10.244.1.5:8080/healthz`; the port always shown). */
  urlText: string;
  /** Header name → values, Go-canonical names, without Host. */
  headers: Record<string, string[]>;
  /** The Host header's value when the spec sets one. */
  host?: string;
}

export interface HttpGetResponse {
  status: number;
  /** The first 10 KiB of the body. */
  body: string;
}

/** The request could not complete; `message` is Go's error text. */
export class HttpGetError extends Error {
  constructor(
    message: string,
    /** The error came while reading the body, after the status line (upstream treats this as a probe error, not a failure). */
    readonly duringBody = false,
    /** An HTTPS request answered in plain HTTP (lifecycle hooks retry over HTTP). */
    readonly httpResponseToHttps = false,
  ) {
    super(message);
    this.name = 'HttpGetError';
  }
}

/**
 * NewRequestForHTTPGetAction: scheme (default http), host (default the pod IP), the port
 * resolved against the container's named ports, the path, the headers. Throws
 * PortResolutionError for a port that does not resolve.
 */
export function buildHttpGetRequest(action: HTTPGetAction, target: ProbeTarget, purpose: 'probe' | 'lifecycle'): HttpGetRequest {
  const scheme = (action.scheme ?? 'HTTP').toLowerCase();
  const host = action.host || target.podIP;
  const port = resolvePort(action.port, target.container);
  const hostPort = joinHostPort(host, port);
  const path = action.path ?? '';
  const url = new URL(path.startsWith('/') || path === '' ? path || '/' : `/${path}`, `${scheme}://${hostPort}`);
  // Go prints the URL it was given: the port kept even when it is the scheme's default, no "/" for an empty path.
  const urlText = `${scheme}://${hostPort}${path === '' ? '' : url.pathname + url.search}`;

  const headers: Record<string, string[]> = {};
  for (const h of action.httpHeaders ?? []) (headers[canonicalHeaderKey(h.name)] ??= []).push(h.value);
  if (!headers['User-Agent']) headers['User-Agent'] = [`kube-${purpose}/${KUBE_VERSION}`];
  // Go sends only the first User-Agent value, and none when it is empty.
  else if (headers['User-Agent'][0] === '') delete headers['User-Agent'];
  else headers['User-Agent'] = [headers['User-Agent'][0]];
  if (!headers.Accept) headers.Accept = ['*/*'];
  else if (headers.Accept[0] === '') delete headers.Accept; // set empty on purpose: send none
  const hostHeader = headers.Host?.[0];
  delete headers.Host;
  return { url, urlText, headers, host: hostHeader || undefined };
}

/**
 * Sends the GET, follows redirects while they stay on the first URL's host name (a redirect
 * elsewhere is returned as the 3xx response, as upstream's redirect checker does), and reads
 * the body up to MAX_BODY_BYTES. The timeout covers everything, as Go's Client.Timeout.
 */
export async function httpGet(req: HttpGetRequest, timeoutMs: number): Promise<HttpGetResponse> {
  const deadline = AbortSignal.timeout(Math.max(1, timeoutMs));
  const firstHost = req.url.hostname;
  let cur = req;
  for (let redirects = 0; ; redirects++) {
    const res = await sendOnce(cur, deadline);
    const location = res.headers.location;
    if (REDIRECT_STATUSES.has(res.statusCode ?? 0) && location) {
      let next: URL;
      try {
        next = new URL(location, cur.url);
      } catch (e) {
        res.destroy();
        throw new HttpGetError(`Get ${JSON.stringify(cur.urlText)}: failed to parse Location header ${JSON.stringify(location)}: ${(e as Error).message}`);
      }
      if (next.hostname === firstHost) {
        res.destroy();
        if (redirects + 1 >= MAX_REDIRECTS) throw new HttpGetError(`Get ${JSON.stringify(cur.urlText)}: stopped after ${MAX_REDIRECTS} redirects`);
        // Go keeps a custom Host header only through a relative redirect.
        const relative = !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(location);
        cur = { url: next, urlText: `${next.protocol}//${next.host}${next.pathname}${next.search}`, headers: req.headers, host: relative ? req.host : undefined };
        continue;
      }
    }
    const body = await readBody(res, deadline);
    return { status: res.statusCode ?? 0, body };
  }
}

function sendOnce(req: HttpGetRequest, deadline: AbortSignal): Promise<IncomingMessage> {
  const u = req.url;
  const hostname = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
  const hostPort = joinHostPort(hostname, port);
  const fail = (text: string, flags?: { httpResponseToHttps?: boolean }) =>
    new HttpGetError(`Get ${JSON.stringify(req.urlText)}: ${text}`, false, flags?.httpResponseToHttps ?? false);
  return new Promise((resolve, reject) => {
    if (deadline.aborted) return reject(fail('context deadline exceeded (Client.Timeout exceeded while awaiting headers)'));
    const options: https.RequestOptions = {
      method: 'GET',
      host: hostname,
      port,
      path: u.pathname + u.search,
      headers: { ...req.headers, Host: req.host ?? hostPort },
      agent: false, // a new connection each time (Go: DisableKeepAlives), no proxy
      rejectUnauthorized: false, // the kubelet does not verify probe targets' certificates
      signal: deadline,
    };
    let local = '';
    let remote = hostPort;
    let cr;
    try {
      cr = (u.protocol === 'https:' ? https : http).request(options);
    } catch (e) {
      // Invalid header names or values are refused before anything is sent.
      return reject(fail((e as Error).message));
    }
    cr.on('socket', (s) => {
      s.once('connect', () => {
        local = joinHostPort(s.localAddress ?? '', s.localPort ?? 0);
        remote = joinHostPort(s.remoteAddress ?? hostname, s.remotePort ?? port);
      });
    });
    cr.on('response', resolve);
    cr.on('error', (e: Error & { code?: string; address?: string; port?: number }) => {
      if (deadline.aborted) return reject(fail('context deadline exceeded (Client.Timeout exceeded while awaiting headers)'));
      if (e.code === 'EPROTO' && /wrong version number|packet length too long|http request/i.test(e.message)) {
        return reject(fail('http: server gave HTTP response to HTTPS client', { httpResponseToHttps: true }));
      }
      if (isDialError(e)) return reject(fail(dialErrorText(e.address ? joinHostPort(e.address, e.port ?? port) : hostPort, e)));
      reject(fail(local ? readErrorText(local, remote, e) : e.message));
    });
    cr.end();
  });
}

function readBody(res: IncomingMessage, deadline: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8'));
    };
    res.on('data', (b: Buffer) => {
      chunks.push(b);
      size += b.length;
      if (size >= MAX_BODY_BYTES) {
        // Enough for the message; the rest is never read (upstream: a non-fatal truncation).
        finish();
        res.destroy();
      }
    });
    res.on('end', finish);
    res.on('error', (e) => {
      if (done) return;
      done = true;
      const text = deadline.aborted ? 'context deadline exceeded (Client.Timeout or context cancellation while reading body)' : e.message;
      reject(new HttpGetError(text, true));
    });
    res.on('close', () => {
      if (!done && !res.complete) {
        done = true;
        reject(new HttpGetError(deadline.aborted ? 'context deadline exceeded (Client.Timeout or context cancellation while reading body)' : 'unexpected EOF', true));
      }
    });
  });
}

/** textproto.CanonicalMIMEHeaderKey: `x-custom-header` → `X-Custom-Header`; names with invalid characters unchanged. */
function canonicalHeaderKey(name: string): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return name;
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_, sep: string, c: string) => sep + c.toUpperCase());
}
