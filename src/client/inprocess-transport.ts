/**
 * The in-process transport: controllers running inside the server process call the server's
 * ApiHandler directly, as a fixed user, with no HTTP or TLS in between. It keeps HTTP's
 * isolation — bodies go in as bytes, answers come out as copies — so a client can never mutate
 * an object the server (or another watcher) still holds, and behaviour matches the HTTPS path.
 */
import { type ApiHandler, type ApiResponse, type RawResponse, type UserInfo, isRaw, isStream } from '../api/types.js';
import { abortable } from './abortable.js';
import { AbortedError, ClientError, StatusError, TransportError, statusFromResponse } from './errors.js';
import {
  type Transport,
  type TransportHeaders,
  type TransportRequest,
  type TransportResponse,
  assertOk,
  decodeBody,
  encodeBody,
  requestHeaders,
  toSearchParams,
} from './transport.js';

/** Every this many in-process requests, yield to the event loop so timers and I/O get a turn. */
const YIELD_EVERY = 64;

export class InProcessTransport implements Transport {
  private calls = 0;

  constructor(
    private readonly handler: ApiHandler,
    private readonly user: UserInfo,
  ) {}

  async request(req: TransportRequest): Promise<TransportResponse> {
    // In-process calls resolve as microtasks; a long run of them (a controller writing events)
    // would otherwise starve timers such as lease renewals.
    if (++this.calls % YIELD_EVERY === 0) await new Promise<void>((r) => setImmediate(r));
    const res = await this.call(req, req.signal ?? new AbortController().signal);
    if (isStream(res)) {
      // A stream where a plain answer was expected: drain nothing, end it, report it.
      void res.stream[Symbol.asyncIterator]().return?.();
      throw new ClientError(`${req.method} ${req.path}: the server answered with a stream`);
    }
    const headers = (res.headers ?? {}) as TransportHeaders;
    const body = isRaw(res) ? rawBody(res) : copy(res.body);
    assertOk(res.status, body);
    return { status: res.status, headers, body };
  }

  async stream(req: TransportRequest): Promise<AsyncIterable<unknown>> {
    // The handler's signal ends the server side of the watch; it fires when the caller aborts or
    // stops iterating early.
    const ac = new AbortController();
    const onAbort = () => ac.abort(req.signal?.reason);
    if (req.signal?.aborted) throw new AbortedError(`${req.method} ${req.path}: aborted`);
    req.signal?.addEventListener('abort', onAbort, { once: true });
    let res: ApiResponse;
    try {
      res = await this.call(req, ac.signal);
    } catch (err) {
      req.signal?.removeEventListener('abort', onAbort);
      throw err;
    }
    if (!isStream(res)) {
      req.signal?.removeEventListener('abort', onAbort);
      assertOk(res.status, isRaw(res) ? rawBody(res) : res.body);
      throw new ClientError(`${req.method} ${req.path}: expected a stream, the server answered with a single body`);
    }
    const source = res.stream;
    return (async function* () {
      try {
        for await (const item of abortable(source, req.signal)) yield copy(item);
      } finally {
        req.signal?.removeEventListener('abort', onAbort);
        ac.abort();
      }
    })();
  }

  private async call(req: TransportRequest, signal: AbortSignal): Promise<ApiResponse> {
    if (signal.aborted) throw new AbortedError(`${req.method} ${req.path}: aborted`);
    const payload = encodeBody(req);
    const headers = requestHeaders(req, payload);
    try {
      return await this.handler({
        method: req.method,
        path: req.path,
        query: new URLSearchParams(toSearchParams(req.query)),
        headers,
        body: payload?.bytes,
        user: structuredClone(this.user),
        signal,
      });
    } catch (err) {
      if (err instanceof ClientError) throw err;
      // An ApiError that escaped the handler still carries its Status.
      const toStatus = (err as { toStatus?: unknown } | null)?.toStatus;
      if (typeof toStatus === 'function') throw new StatusError(statusFromResponse(0, toStatus.call(err)));
      // The handler should answer failures with a Status; a throw is a server bug, surfaced as such.
      throw new TransportError(`${req.method} ${req.path}: handler failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    }
  }
}

/** A raw (non-object) answer decoded as the HTTPS transport decodes the bytes it reads. */
function rawBody(res: RawResponse): unknown {
  return decodeBody(typeof res.raw === 'string' ? res.raw : Buffer.from(res.raw), res.contentType);
}

/** The copy HTTP would have made: the server may keep (and share) the object it answered with. */
function copy<T>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}
