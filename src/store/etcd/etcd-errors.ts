import {
  ClientClosedError,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCResourceExhastedError,
  GRPCUnavailableError,
} from 'etcd3';
import { StoreClosedError, StoreError, StoreUnavailableError } from '../errors.js';

/*
 * etcd reports most conditions only as gRPC status messages (the etcd3 client maps just a few to
 * classes), so the mapping below matches the server's fixed error strings from
 * etcd/mvcc and etcdserver/api/v3rpc/rpctypes.
 */

/** A read (or compaction) at a revision that compaction already removed. */
export function isCompactedError(err: unknown): boolean {
  return err instanceof Error && err.message.includes('required revision has been compacted');
}

/** A read (or compaction) at a revision the store has not reached. */
export function isFutureRevisionError(err: unknown): boolean {
  return err instanceof Error && err.message.includes('required revision is a future revision');
}

/** Server-side conditions that pass when the cluster settles (elections, overload, timeouts). */
const TRANSIENT_SERVER_ERRORS = [
  'etcdserver: request timed out',
  'etcdserver: leader changed',
  'etcdserver: no leader',
  'etcdserver: too many requests',
  'etcdserver: server stopped',
  'etcdserver: not capable',
];

/**
 * True when the request certainly never reached etcd (the connection could not be set up), so
 * even a write may be sent again. After anything else a write's outcome is unknown.
 */
export function neverSent(err: unknown): boolean {
  return err instanceof GRPCUnavailableError && /No connection established|ECONNREFUSED/.test(err.message);
}

/**
 * gRPC status codes meaning "not now": CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED,
 * UNAVAILABLE. Stream errors reach us as raw gRPC errors with just this code (etcd3 only casts
 * the errors of unary calls into its classes).
 */
const TRANSIENT_GRPC_CODES = new Set([1, 4, 8, 14]);

/** Translates an etcd3/gRPC error into the Store's typed errors; StoreErrors pass through. */
export function translateEtcdError(err: unknown, context: string): Error {
  if (err instanceof StoreError) return err;
  if (err instanceof ClientClosedError) return new StoreClosedError();
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  if (
    err instanceof GRPCUnavailableError ||
    err instanceof GRPCDeadlineExceededError ||
    err instanceof GRPCCancelledError ||
    err instanceof GRPCResourceExhastedError ||
    (typeof code === 'number' && TRANSIENT_GRPC_CODES.has(code)) ||
    TRANSIENT_SERVER_ERRORS.some((m) => message.includes(m))
  ) {
    return new StoreUnavailableError(`etcd ${context}: ${message}`, { cause: err });
  }
  return new StoreError(`etcd ${context}: ${message}`, { cause: err });
}
