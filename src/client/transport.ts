/**
 * The one seam between the client library and the API server. Two implementations: HTTPS (for
 * anything outside the server process) and in-process (controllers inside the server call the
 * server's ApiHandler directly). Everything above — typed client, informers, controllers — is
 * written against this interface only, so a controller moves between the two unchanged.
 */
import { StatusError, statusFromResponse } from './errors.js';

export type QueryInput = Record<string, string | number | boolean | undefined> | URLSearchParams;

export interface TransportRequest {
  method: string;
  /** Absolute API path, e.g. `/api/v1/namespaces/default/pods`. */
  path: string;
  query?: QueryInput;
  headers?: Record<string, string>;
  /** A Buffer is sent as is; anything else is sent as JSON. */
  body?: unknown;
  /** Defaults to application/json when there is a body. */
  contentType?: string;
  /** Aborts the request; for a stream, ends the iteration quietly. */
  signal?: AbortSignal;
  /** Client-side timeout; for a stream it covers only the wait for the response headers. */
  timeoutMs?: number;
}

export type TransportHeaders = Record<string, string | string[] | undefined>;

export interface TransportResponse {
  status: number;
  headers: TransportHeaders;
  /** Parsed JSON for JSON answers, a string for text, a Buffer for anything else, undefined when empty. */
  body: unknown;
}

export interface Transport {
  /** Resolves with a 2xx answer; rejects with StatusError (non-2xx) or TransportError. */
  request(req: TransportRequest): Promise<TransportResponse>;
  /**
   * Opens a stream of JSON values (watch events). Resolves once the server accepted it (rejects
   * with StatusError otherwise); the iterable ends when the server ends the stream or the
   * request's signal aborts.
   */
  stream(req: TransportRequest): Promise<AsyncIterable<unknown>>;
  /** Releases pooled connections. */
  close?(): void;
}

export function toSearchParams(query: QueryInput | undefined): URLSearchParams {
  if (query instanceof URLSearchParams) return query;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) q.set(k, String(v));
  return q;
}

export function pathWithQuery(path: string, query: QueryInput | undefined): string {
  const qs = toSearchParams(query).toString();
  return qs ? `${path}?${qs}` : path;
}

/** The bytes and content type to send for a request body (undefined: no body). */
export function encodeBody(req: TransportRequest): { bytes: Buffer; contentType: string } | undefined {
  if (req.body === undefined) return undefined;
  if (Buffer.isBuffer(req.body)) return { bytes: req.body, contentType: req.contentType ?? 'application/json' };
  if (req.body instanceof Uint8Array) return { bytes: Buffer.from(req.body), contentType: req.contentType ?? 'application/octet-stream' };
  return { bytes: Buffer.from(JSON.stringify(req.body), 'utf8'), contentType: req.contentType ?? 'application/json' };
}

/**
 * The request headers both transports send: JSON accepted, `defaults` (such as the user agent),
 * the caller's headers (names lower-cased, overriding those), and the body's type and length.
 */
export function requestHeaders(req: TransportRequest, payload: ReturnType<typeof encodeBody>, defaults: Record<string, string> = {}): Record<string, string> {
  const headers: Record<string, string> = { accept: 'application/json', ...defaults };
  for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
  if (payload) {
    headers['content-type'] = payload.contentType;
    headers['content-length'] = String(payload.bytes.length);
  }
  return headers;
}

/** Rejects a non-2xx answer with the server's Status (StatusError), as every transport must. */
export function assertOk(status: number, body: unknown): void {
  if (status < 200 || status > 299) throw new StatusError(statusFromResponse(status, body));
}

const isJsonType = (ct: string) => /^application\/(?:[\w.+-]+\+)?json\b/i.test(ct);
const isTextType = (ct: string) => /^text\/|^application\/(?:yaml|x-yaml)\b/i.test(ct);

/** Decodes a response body by its content type; a JSON body that fails to parse is kept as text. */
export function decodeBody(bytes: Buffer | Uint8Array | string, contentType: string | undefined): unknown {
  if (bytes.length === 0) return undefined;
  const ct = contentType ?? '';
  if (typeof bytes === 'string') return isJsonType(ct) ? parseJsonOr(bytes) : bytes;
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  if (isJsonType(ct) || ct === '') return parseJsonOr(buf.toString('utf8'), ct === '' ? buf : undefined);
  if (isTextType(ct)) return buf.toString('utf8');
  return buf;
}

function parseJsonOr(text: string, fallback?: Buffer): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback ?? text;
  }
}

export function headerValue(headers: TransportHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
