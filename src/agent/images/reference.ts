/**
 * Image references, normalized like Docker/containerd: `busybox` is
 * `docker.io/library/busybox:latest`; the first path component is a registry host when it has a
 * `.` or `:` or is `localhost`; `name@sha256:…` pins a digest (a tag next to a digest is kept for
 * display only, the digest wins).
 */
import { ImageError } from './errors.js';

export const DEFAULT_REGISTRY = 'docker.io';
/** Where docker.io's API actually lives. */
export const DOCKER_HUB_ENDPOINT = 'registry-1.docker.io';

export interface ImageReference {
  /** Registry host[:port], e.g. `docker.io`, `127.0.0.1:5000`. */
  registry: string;
  /** Repository path, e.g. `library/busybox`. */
  repository: string;
  tag?: string;
  /** `sha256:<64 hex>` */
  digest?: string;
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

export function parseReference(input: string): ImageReference {
  const s = input.trim();
  if (!s) throw new ImageError('invalid image reference: empty');
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw new ImageError(`invalid image reference "${input}": bad digest "${digest}" (want sha256:<64 hex>)`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw new ImageError(`invalid image reference "${input}": bad tag "${tag}"`);
  }
  let registry = DEFAULT_REGISTRY;
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      registry = first;
      repository = rest.slice(slash + 1);
    }
  }
  if (!/^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:]+\])(?::\d{1,5})?$/.test(registry)) {
    throw new ImageError(`invalid image reference "${input}": bad registry host "${registry}"`);
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DEFAULT_REGISTRY;
  if (registry === DEFAULT_REGISTRY && !repository.includes('/')) repository = `library/${repository}`;
  if (!repository || repository.split('/').some((c) => !COMPONENT_RE.test(c))) {
    throw new ImageError(`invalid image reference "${input}": repository name must be lowercase alphanumerics separated by . _ - /`);
  }
  if (!tag && !digest) tag = 'latest';
  return { registry, repository, tag, digest };
}

/** The canonical string: `registry/repo:tag`, `registry/repo@digest`, or both. */
export function formatReference(r: ImageReference): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** `registry/repo` */
export function repoName(r: ImageReference): string {
  return `${r.registry}/${r.repository}`;
}

/** Normalizes any accepted spelling to the canonical string. */
export function normalizeReference(input: string): string {
  return formatReference(parseReference(input));
}
