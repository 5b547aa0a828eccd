/**
 * The API server's request handler seen without HTTP: the HTTPS front turns a Node request into
 * an ApiRequest, and the client library's in-process transport calls the same handler directly,
 * so controllers inside the server process and clients across the network take one code path.
 */

export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export interface ApiRequest {
  method: string;
  /** URL path, not decoded further than the HTTP layer does (e.g. `/api/v1/namespaces/default/pods`). */
  path: string;
  query: URLSearchParams;
  /** Header names in lower case. */
  headers: Record<string, string | undefined>;
  body?: Buffer;
  /** The authenticated user; the in-process transport sets it, the HTTPS front sets it after authentication. */
  user?: UserInfo;
  /** The client's address (HTTPS front only), for the audit log. */
  remoteAddress?: string;
  /** Aborted when the client goes away or the server shuts down (ends watches). */
  signal: AbortSignal;
}

export type ResponseHeaders = Record<string, string | string[]>;

/** A JSON body (objects, lists, Status, Table, discovery documents). */
export interface JsonResponse {
  status: number;
  headers?: ResponseHeaders;
  body: unknown;
}

/** Bytes with their content type (OpenAPI in protobuf would go here; text for /healthz, /metrics). */
export interface RawResponse {
  status: number;
  headers?: ResponseHeaders;
  contentType: string;
  raw: string | Uint8Array;
}

/** A watch: each item is one `{type, object}` event, sent as a JSON line over HTTP. */
export interface StreamResponse {
  status: number;
  headers?: ResponseHeaders;
  stream: AsyncIterable<unknown>;
}

export type ApiResponse = JsonResponse | RawResponse | StreamResponse;

export type ApiHandler = (req: ApiRequest) => Promise<ApiResponse>;

export const isStream = (r: ApiResponse): r is StreamResponse => 'stream' in r;

/** The same stream answer, calling `onEnd` once its stream finishes, fails or is stopped by the reader. */
export function onStreamEnd(res: StreamResponse, onEnd: () => void): StreamResponse {
  const inner = res.stream;
  return {
    ...res,
    stream: (async function* () {
      try {
        yield* inner;
      } finally {
        onEnd();
      }
    })(),
  };
}
export const isRaw = (r: ApiResponse): r is RawResponse => 'raw' in r;
