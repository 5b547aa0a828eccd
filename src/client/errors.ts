/**
 * Typed errors seen by API clients. Every non-2xx answer becomes a StatusError carrying the
 * Kubernetes Status the server sent (or one synthesized from the HTTP code when the body is not
 * a Status, as client-go does), so callers branch on reason/code with the is* helpers instead of
 * parsing messages. Failures below HTTP (refused connection, TLS, timeout) are TransportErrors.
 */
import type { Status, StatusDetails } from '../api/errors.js';
import { isPlainObject } from '../util/object.js';

export type { Status, StatusDetails };

/** Base class of everything the client library throws on purpose. */
export class ClientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClientError';
  }
}

/** The server answered with a non-2xx status (or a watch ERROR event). */
export class StatusError extends ClientError {
  readonly status: Status;
  constructor(status: Status) {
    super(status.message || `the server responded with status ${status.code}${status.reason ? ` (${status.reason})` : ''}`);
    this.name = 'StatusError';
    this.status = status;
  }
  get code(): number {
    return this.status.code;
  }
  get reason(): string | undefined {
    return this.status.reason;
  }
  get details(): StatusDetails | undefined {
    return this.status.details;
  }
}

/** The request did not get an HTTP answer: connection, TLS or protocol failure. */
export class TransportError extends ClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransportError';
  }
}

/** The request exceeded its client-side timeout. */
export class TimeoutError extends TransportError {
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

/** The caller aborted the request through its AbortSignal. */
export class AbortedError extends ClientError {
  constructor(message = 'the request was aborted') {
    super(message);
    this.name = 'AbortedError';
  }
}

/** A kubeconfig that cannot be read or lacks what a connection needs. */
export class KubeconfigError extends ClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KubeconfigError';
  }
}

/** Upstream's reasons for codes whose body was not a Status (apimachinery's NewGenericServerResponse). */
const REASON_BY_CODE: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export function isStatus(v: unknown): v is Status {
  return isPlainObject(v) && v.kind === 'Status' && typeof v.code === 'number';
}

/** The Status for a non-2xx answer: the body's if it is one, else one built from the code. */
export function statusFromResponse(code: number, body: unknown): Status {
  if (isStatus(body)) return { ...body, code: body.code || code };
  const text = typeof body === 'string' ? body.trim() : Buffer.isBuffer(body) ? body.toString('utf8').trim() : '';
  const reason = REASON_BY_CODE[code] ?? (code >= 500 ? 'InternalError' : 'Unknown');
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    code,
    reason,
    message: text ? `the server responded with status ${code}: ${text.slice(0, 512)}` : `the server responded with status ${code} (${reason})`,
  };
}

function statusOf(err: unknown): Status | undefined {
  return err instanceof StatusError ? err.status : undefined;
}

export const reasonOf = (err: unknown): string | undefined => statusOf(err)?.reason;
export const codeOf = (err: unknown): number | undefined => statusOf(err)?.code;

export const isNotFound = (err: unknown): boolean => reasonOf(err) === 'NotFound' || (codeOf(err) === 404 && !reasonOf(err));
export const isAlreadyExists = (err: unknown): boolean => reasonOf(err) === 'AlreadyExists';
/** A precondition or resourceVersion conflict (409 Conflict), the signal to re-read and retry. */
export const isConflict = (err: unknown): boolean => reasonOf(err) === 'Conflict' || (codeOf(err) === 409 && !reasonOf(err));
/** 410: a compacted resourceVersion or continue token (reason Expired or Gone); relist from scratch. */
export const isGone = (err: unknown): boolean => codeOf(err) === 410 || reasonOf(err) === 'Expired' || reasonOf(err) === 'Gone';
export const isExpired = isGone;
export const isInvalid = (err: unknown): boolean => reasonOf(err) === 'Invalid' || codeOf(err) === 422;
export const isForbidden = (err: unknown): boolean => codeOf(err) === 403;
export const isUnauthorized = (err: unknown): boolean => codeOf(err) === 401;
export const isBadRequest = (err: unknown): boolean => codeOf(err) === 400;
export const isTooManyRequests = (err: unknown): boolean => codeOf(err) === 429;
export const isServerTimeout = (err: unknown): boolean => codeOf(err) === 504 || reasonOf(err) === 'Timeout';
export const isServiceUnavailable = (err: unknown): boolean => codeOf(err) === 503;
