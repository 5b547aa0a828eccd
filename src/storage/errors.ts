import { ToolError } from '../net/exec.js';

/**
 * Failures of a storage driver call, typed by the gRPC status codes CSI uses, so the control
 * loops can tell a final error (InvalidArgument) from one worth rescheduling (ResourceExhausted
 * on a node-local volume) or retrying (Unavailable), and so events read as upstream's sidecars
 * write them: `rpc error: code = ResourceExhausted desc = ...`.
 */
export type StorageErrorCode =
  | 'InvalidArgument'
  | 'NotFound'
  | 'AlreadyExists'
  | 'ResourceExhausted'
  | 'FailedPrecondition'
  | 'OutOfRange'
  | 'Unavailable'
  | 'Internal';

export class StorageError extends Error {
  override name = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    /** The description alone (upstream's `desc`). */
    readonly desc: string,
  ) {
    super(`rpc error: code = ${code} desc = ${desc}`);
  }
}

/** A failure of a program the storage code runs (losetup, mkfs, resize2fs, ...), with its stderr. */
export class StorageToolError extends ToolError {}

/** Internal unless it already is a StorageError: what a driver throws out of a call. */
export function asStorageError(e: unknown): StorageError {
  if (e instanceof StorageError) return e;
  return new StorageError('Internal', (e as Error).message);
}
