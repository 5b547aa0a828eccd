/**
 * A Docker Registry HTTP API v2 / OCI distribution client: manifest and blob GETs with
 * token/basic auth, index resolution to linux/amd64, and sha256 verification of every byte it
 * hands back (manifests in memory, blobs streamed to a temp file, verified, then renamed).
 */
import { open, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { credentialsFor, parseChallenges, type Credentials } from './auth.js';
import { newHash, sha256 } from './digest.js';
import { DigestMismatchError, ManifestUnknownError, RegistryError, UnauthorizedError } from './errors.js';
import { MANIFEST_ACCEPT, choosePlatform, isIndex, isManifest, type Descriptor, type ImageIndex, type ImageManifest } from './media.js';
import { DOCKER_HUB_ENDPOINT, DEFAULT_REGISTRY, formatReference, type ImageReference } from './reference.js';

export interface Progress {
  digest: string;
  /** Bytes of this blob received so far. */
  downloaded: number;
  total: number;
}

export interface RegistryClientOptions {
  /** dockerconfigjson payloads (imagePullSecrets), tried in order. */
  pullSecrets?: (string | Buffer | object)[];
  /** Hosts spoken to over plain HTTP; default: loopback hosts (localhost, 127.x, [::1]) only. */
  plainHttp?: (registry: string) => boolean;
  /** Maps a registry name to the host[:port] to connect to (mirrors, tests). */
  endpoint?: (registry: string) => string;
  /** Timeout for each request's response headers, ms. Default 30 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface FetchedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

export interface ResolvedImage {
  /** The manifest the image is made of (after choosing linux/amd64 from an index). */
  manifest: ImageManifest;
  manifestDigest: string;
  manifestMediaType: string;
  manifestBytes: Buffer;
  /** The index the reference pointed at, if it pointed at one. */
  index?: FetchedManifest;
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/;

export class RegistryClient {
  private readonly tokens = new Map<string, string>();
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly opts: RegistryClientOptions = {}) {
    this.fetchImpl = opts.fetch ?? fetch;
  }

  private baseUrl(registry: string): string {
    const host = this.opts.endpoint?.(registry) ?? (registry === DEFAULT_REGISTRY ? DOCKER_HUB_ENDPOINT : registry);
    const plain = this.opts.plainHttp ? this.opts.plainHttp(registry) : LOOPBACK.test(host);
    return `${plain ? 'http' : 'https'}://${host}`;
  }

  private creds(registry: string): Credentials | undefined {
    return credentialsFor(registry, this.opts.pullSecrets ?? []);
  }

  /** GET /v2/<repo>/<path> with auth; returns the response (2xx) or throws a typed error. */
  private async get(ref: ImageReference, path: string, accept?: string, what = formatReference(ref)): Promise<Response> {
    const url = `${this.baseUrl(ref.registry)}/v2/${ref.repository}/${path}`;
    const scope = `repository:${ref.repository}:pull`;
    const cacheKey = `${ref.registry}|${scope}`;
    let auth = this.tokens.get(cacheKey);
    for (let attempt = 0; attempt < 2; attempt++) {
      const headers: Record<string, string> = { 'user-agent': 'cairn-agent' };
      if (accept) headers.accept = accept;
      if (auth) headers.authorization = auth;
      let res: Response;
      try {
        res = await this.fetchImpl(url, { headers, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000) });
      } catch (e) {
        const c = (e as { cause?: { code?: string; message?: string } }).cause;
        throw new RegistryError(`failed to do request: GET ${url}: ${c?.code ?? c?.message ?? (e as Error).message}`);
      }
      if (res.ok) return res;
      if (res.status === 401 && attempt === 0) {
        const challenges = parseChallenges(res.headers.get('www-authenticate'));
        await res.body?.cancel();
        const bearer = challenges.find((c) => c.scheme === 'bearer');
        const basic = challenges.find((c) => c.scheme === 'basic');
        const creds = this.creds(ref.registry);
        if (bearer?.params.realm) {
          auth = `Bearer ${await this.fetchToken(bearer.params, scope, creds)}`;
        } else if (basic && creds) {
          auth = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
        } else {
          throw new UnauthorizedError(`pull access denied, repository does not exist or may require authorization: ${await errorText(res)}`);
        }
        this.tokens.set(cacheKey, auth);
        continue;
      }
      const text = await errorText(res);
      if (res.status === 401 || res.status === 403) {
        this.tokens.delete(cacheKey);
        throw new UnauthorizedError(`pull access denied, repository does not exist or may require authorization: server message: ${text}`);
      }
      if (res.status === 404) throw new ManifestUnknownError(`${what}: not found`);
      throw new RegistryError(`unexpected status from GET request to ${url}: ${res.status} ${res.statusText}${text ? `: ${text}` : ''}`, res.status);
    }
    throw new UnauthorizedError('pull access denied: authorization failed');
  }

  private async fetchToken(p: Record<string, string>, defaultScope: string, creds: Credentials | undefined): Promise<string> {
    const u = new URL(p.realm);
    if (p.service) u.searchParams.set('service', p.service);
    u.searchParams.set('scope', p.scope || defaultScope);
    const headers: Record<string, string> = { 'user-agent': 'cairn-agent' };
    if (creds) headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    let res: Response;
    try {
      res = await this.fetchImpl(u, { headers, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000) });
    } catch (e) {
      throw new RegistryError(`failed to authorize: failed to fetch token from ${u.origin}${u.pathname}: ${(e as Error).message}`);
    }
    if (res.status === 401 || res.status === 403) {
      throw new UnauthorizedError(`failed to authorize: failed to fetch ${creds ? 'oauth' : 'anonymous'} token: unexpected status: ${res.status} ${res.statusText}`);
    }
    if (!res.ok) throw new RegistryError(`failed to authorize: token endpoint answered ${res.status} ${res.statusText}`, res.status);
    const body = (await res.json().catch(() => ({}))) as { token?: string; access_token?: string };
    const t = body.token ?? body.access_token;
    if (!t) throw new RegistryError('failed to authorize: token endpoint returned no token');
    return t;
  }

  /** GETs a manifest or index by tag or digest and verifies its sha256. */
  async fetchManifest(ref: ImageReference, reference = ref.digest ?? ref.tag ?? 'latest'): Promise<FetchedManifest> {
    const res = await this.get(ref, `manifests/${reference}`, MANIFEST_ACCEPT);
    const bytes = Buffer.from(await res.arrayBuffer());
    if (bytes.length > 4 << 20) throw new RegistryError(`manifest for ${formatReference(ref)} is larger than 4 MiB`);
    const digest = sha256(bytes);
    const pinned = reference.startsWith('sha256:') ? reference : res.headers.get('docker-content-digest');
    if (pinned && pinned.startsWith('sha256:') && pinned !== digest) {
      throw new DigestMismatchError(pinned, digest, `manifest ${formatReference(ref)}`);
    }
    let mediaType = (res.headers.get('content-type') ?? '').split(';')[0].trim();
    try {
      const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: string };
      if (doc.mediaType) mediaType = doc.mediaType;
    } catch {
      throw new RegistryError(`manifest for ${formatReference(ref)} is not JSON`);
    }
    return { digest, mediaType, bytes };
  }

  /** Resolves a reference to a single-platform manifest (linux/amd64 when it names an index). */
  async resolve(ref: ImageReference): Promise<ResolvedImage> {
    const first = await this.fetchManifest(ref);
    const doc = JSON.parse(first.bytes.toString('utf8')) as unknown;
    if (isIndex(first.mediaType, doc)) {
      const d = choosePlatform(doc as ImageIndex);
      if (!d) {
        const have = ((doc as ImageIndex).manifests ?? []).map((m) => `${m.platform?.os}/${m.platform?.architecture}`).join(', ');
        throw new ManifestUnknownError(`no match for platform in manifest ${first.digest}: not found (linux/amd64 wanted; index has ${have || 'nothing'})`);
      }
      const m = await this.fetchManifest(ref, d.digest);
      const mdoc = JSON.parse(m.bytes.toString('utf8')) as ImageManifest;
      if (!isManifest(m.mediaType, mdoc)) throw new RegistryError(`${d.digest}: not an image manifest (${m.mediaType})`);
      return { manifest: mdoc, manifestDigest: m.digest, manifestMediaType: m.mediaType, manifestBytes: m.bytes, index: first };
    }
    if (!isManifest(first.mediaType, doc)) throw new RegistryError(`unsupported manifest media type "${first.mediaType}" (schema 1 manifests are not supported)`);
    return { manifest: doc as ImageManifest, manifestDigest: first.digest, manifestMediaType: first.mediaType, manifestBytes: first.bytes };
  }

  /** Fetches a small blob (a config) into memory, verified. */
  async fetchBlobBytes(ref: ImageReference, desc: Descriptor): Promise<Buffer> {
    const res = await this.get(ref, `blobs/${desc.digest}`, undefined, `${formatReference(ref)}: blob ${desc.digest}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const actual = sha256(bytes);
    if (actual !== desc.digest) throw new DigestMismatchError(desc.digest, actual, `blob ${desc.digest}`);
    return bytes;
  }

  /**
   * Streams a blob to `dest`: written to a temp file beside it, hashed on the way, checked
   * against the descriptor's digest and size, then renamed into place. A failed or interrupted
   * download leaves no file at `dest`.
   */
  async downloadBlob(ref: ImageReference, desc: Descriptor, dest: string, onProgress?: (p: Progress) => void): Promise<void> {
    const res = await this.get(ref, `blobs/${desc.digest}`, undefined, `${formatReference(ref)}: blob ${desc.digest}`);
    const tmp = join(dirname(dest), `.tmp-${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, 'w', 0o644);
    const hash = newHash();
    let n = 0;
    let lastReport = 0;
    try {
      if (res.body) {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          hash.update(chunk);
          n += chunk.length;
          if (desc.size >= 0 && n > desc.size) throw new DigestMismatchError(desc.digest, `(more than ${desc.size} bytes)`, `blob ${desc.digest}`);
          await fh.write(chunk);
          if (onProgress && (n - lastReport >= 256 * 1024 || n === desc.size)) {
            lastReport = n;
            onProgress({ digest: desc.digest, downloaded: n, total: desc.size });
          }
        }
      }
      await fh.sync();
      await fh.close();
      const actual = `sha256:${hash.digest('hex')}`;
      if (actual !== desc.digest) throw new DigestMismatchError(desc.digest, actual, `blob ${desc.digest}`);
      if (n !== desc.size) throw new DigestMismatchError(desc.digest, `${actual} (${n} bytes, want ${desc.size})`, `blob ${desc.digest}`);
      await rename(tmp, dest);
    } catch (e) {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw e;
    }
  }
}

async function errorText(res: Response): Promise<string> {
  try {
    const t = await res.text();
    try {
      const j = JSON.parse(t) as { errors?: { code?: string; message?: string }[] };
      if (j.errors?.length) return j.errors.map((e) => `${e.code ?? ''}: ${e.message ?? ''}`.trim()).join('; ').toLowerCase();
    } catch {
      /* not JSON */
    }
    return t.slice(0, 200).trim();
  } catch {
    return '';
  }
}
