/**
 * Typed errors of the image subsystem. Every pull failure the agent reports carries the kubelet
 * reason (`ErrImagePull`, or `ErrImageNeverPull` for policy Never) and a message shaped like
 * containerd's, e.g. `failed to pull and unpack image "docker.io/library/x:1": failed to resolve
 * reference "docker.io/library/x:1": docker.io/library/x:1: not found`.
 */
export class ImageError extends Error {
  /** The kubelet waiting reason this error maps to. */
  reason = 'ErrImagePull';
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The registry does not know the repository, tag or digest (HTTP 404 / MANIFEST_UNKNOWN / NAME_UNKNOWN). */
export class ManifestUnknownError extends ImageError {
  readonly code = 'NotFound';
}

/** Credentials missing or refused (HTTP 401/403, or the token endpoint said no). */
export class UnauthorizedError extends ImageError {
  readonly code = 'Unauthorized';
}

/** Content whose sha256 is not the digest it was asked for or announced with. */
export class DigestMismatchError extends ImageError {
  readonly code = 'DigestMismatch';
  constructor(
    readonly expected: string,
    readonly actual: string,
    what: string,
  ) {
    super(`digest mismatch for ${what}: expected ${expected}, got ${actual}`);
  }
}

/** Any other registry failure (5xx, malformed responses, unsupported media types, no linux/amd64). */
export class RegistryError extends ImageError {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** A layer archive that is malformed or tries to write outside the rootfs. */
export class LayerError extends ImageError {}

/** imagePullPolicy Never and the image is not on the node. */
export class ImageNeverPullError extends ImageError {
  constructor(ref: string) {
    super(`Container image "${ref}" is not present with pull policy of Never`);
    this.reason = 'ErrImageNeverPull';
  }
}

/** The image is not in the local store. */
export class ImageNotPresentError extends ImageError {
  constructor(ref: string) {
    super(`image "${ref}" is not present on this node`);
    this.reason = 'ImageNotPresent';
  }
}

/**
 * Wraps a failure during pull into containerd's message shape. Resolution failures (manifest
 * fetch) read `failed to resolve reference "REF": ...`; later ones are appended as they are.
 */
export function pullFailure(ref: string, err: unknown, resolving: boolean): ImageError {
  const inner = err instanceof Error ? err.message : String(err);
  const detail = resolving ? `failed to resolve reference "${ref}": ${inner}` : inner;
  const msg = `failed to pull and unpack image "${ref}": ${detail}`;
  let out: ImageError;
  if (err instanceof DigestMismatchError) out = new DigestMismatchError(err.expected, err.actual, '');
  else if (err instanceof ManifestUnknownError) out = new ManifestUnknownError(msg);
  else if (err instanceof UnauthorizedError) out = new UnauthorizedError(msg);
  else if (err instanceof LayerError) out = new LayerError(msg);
  else out = new RegistryError(msg, (err as RegistryError)?.status);
  out.message = msg;
  out.cause = err;
  return out;
}
