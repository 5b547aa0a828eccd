import type { KeyValue } from './types.js';

/** Base of every error a Store backend raises; engine errors are translated into these. */
export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class KeyExistsError extends StoreError {
  constructor(readonly key: string) {
    super(`key already exists: ${key}`);
  }
}

export class KeyNotFoundError extends StoreError {
  constructor(readonly key: string) {
    super(`key not found: ${key}`);
  }
}

/** The key changed since the expected revision. */
export class ConflictError extends StoreError {
  constructor(
    readonly key: string,
    readonly current: KeyValue | null,
  ) {
    super(`key modified concurrently: ${key}`);
  }
}

/** The requested revision is older than what compaction kept (`compacted` is the compaction revision). */
export class CompactedError extends StoreError {
  constructor(
    readonly requested: number,
    readonly compacted: number,
  ) {
    super(`revision ${requested} has been compacted (compacted revision: ${compacted})`);
  }
}

/** A revision in the future was asked for. */
export class FutureRevisionError extends StoreError {
  constructor(
    readonly requested: number,
    readonly current: number,
  ) {
    super(`revision ${requested} is newer than the store's current revision ${current}`);
  }
}

/** The backend cannot be reached or has failed; the request may be retried. */
export class StoreUnavailableError extends StoreError {}

export class StoreClosedError extends StoreError {
  constructor() {
    super('store is closed');
  }
}
