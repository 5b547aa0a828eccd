/**
 * CDI's `registry` source, pod pull method: the importer itself pulls a containerDisk image
 * (`docker://REGISTRY/REPO:TAG`) from its registry and takes the one file under /disk in it as
 * the image to convert, as CDI's registry-datasource does. The registry client is the node's
 * (src/agent/images: token and basic auth, index resolution, digest checks); the importer adds
 * what CDI's source adds — a CA bundle for the registry (certConfigMap) and credentials
 * (secretRef accessKeyId/secretKey). Layers are read in order so a later layer's /disk file
 * replaces an earlier one's, as in the image's filesystem.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ImageError, parseReference, readTar, RegistryClient, type ImageReference } from '../../agent/images/index.js';
import type { OpenedSource } from './image-source.js';

export class RegistrySourceError extends Error {
  override name = 'RegistrySourceError';
}

/** CDI's registry URL scheme; the only one a DataVolume's registry url may use. */
export const DOCKER_SCHEME = 'docker://';
/** CDI's message when no disk is in the image (registry-datasource). */
export const NO_DISK_IN_IMAGE = 'Failed to find VM disk image file in the container image';

export interface RegistrySourceOptions {
  /** PEM CA certificates the registry's TLS certificate is checked against. */
  caPem?: string;
  credentials?: { username: string; password: string };
  onProgress?: (percent: number) => void;
  /** Replaces the https fetch (tests). */
  fetchImpl?: typeof fetch;
}

/** The image reference of a `docker://` URL (CDI strips the scheme before parsing it). */
export function registryReference(url: string): ImageReference {
  if (!url.startsWith(DOCKER_SCHEME)) throw new RegistrySourceError(`unsupported registry URL ${JSON.stringify(url)}: it must start with ${DOCKER_SCHEME}`);
  try {
    return parseReference(url.slice(DOCKER_SCHEME.length));
  } catch (e) {
    throw new RegistrySourceError((e as Error).message);
  }
}

/** Whether a layer path is a regular file directly under /disk (tar names carry no leading slash, maybe `./`). */
export function diskFileName(tarPath: string): string | undefined {
  const m = /^(?:\.\/|\/)?disk\/([^/]+)$/.exec(tarPath);
  return m && !m[1]!.startsWith('.wh.') ? m[1] : undefined;
}

/**
 * A fetch over node:https that trusts `caPem` (global fetch takes no per-request CA). Only what
 * RegistryClient uses: GET with headers and a signal, redirects followed.
 */
export function fetchTrusting(caPem: string | undefined): typeof fetch {
  const get = (url: URL, headers: Record<string, string>, signal: AbortSignal | undefined, hops: number): Promise<Response> =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { headers, signal, ...(caPem ? { ca: caPem } : {}) }, resolve);
      req.on('error', reject);
      req.end();
    }).then((res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location && hops < 5) {
        res.resume();
        // A redirect to blob storage elsewhere must not carry the registry's credentials.
        const next = new URL(res.headers.location, url);
        const { authorization: _dropped, ...rest } = headers;
        return get(next, next.host === url.host ? headers : rest, signal, hops + 1);
      }
      const h = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
      const body = status === 204 || status === 304 ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
      return new Response(body, { status, statusText: res.statusMessage ?? '', headers: h });
    });
  return ((input: string | URL | Request, init?: RequestInit) => {
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    return get(new URL(input instanceof Request ? input.url : input), headers, init?.signal ?? undefined, 0);
  }) as typeof fetch;
}

/**
 * Pulls the image and writes its disk file to `scratchDir/disk`, then opens it as the source of
 * an import. Download progress covers the layers' bytes.
 */
export async function openRegistrySource(url: string, scratchDir: string, o: RegistrySourceOptions = {}): Promise<OpenedSource> {
  const ref = registryReference(url);
  const client = new RegistryClient({
    fetch: o.fetchImpl ?? fetchTrusting(o.caPem),
    ...(o.credentials ? { pullSecrets: [{ auths: { [ref.registry]: o.credentials } }] } : {}),
  });
  await mkdir(scratchDir, { recursive: true, mode: 0o700 });
  const disk = join(scratchDir, 'disk');
  let found: string | undefined;
  try {
    const { manifest } = await client.resolve(ref);
    const total = manifest.layers.reduce((n, l) => n + Math.max(0, l.size), 0);
    let done = 0;
    for (const [i, layer] of manifest.layers.entries()) {
      const blob = join(scratchDir, `layer-${i}`);
      await client.downloadBlob(ref, layer, blob, (p) => total && o.onProgress?.((100 * (done + p.downloaded)) / total));
      done += layer.size;
      const name = await extractDisk(blob, disk);
      if (name) found = name;
      await rm(blob, { force: true });
    }
  } catch (e) {
    if (e instanceof ImageError) throw new RegistrySourceError(`Unable to pull image ${url.slice(DOCKER_SCHEME.length)}: ${e.message}`);
    throw e;
  }
  if (!found) throw new RegistrySourceError(NO_DISK_IN_IMAGE);
  return { stream: createReadStream(disk), totalBytes: (await stat(disk)).size };
}

/** Copies the layer's /disk file (if it has one) to `dest`; returns its name. */
async function extractDisk(blob: string, dest: string): Promise<string | undefined> {
  const head = await new Promise<Buffer>((resolve, reject) => {
    const s = createReadStream(blob, { start: 0, end: 1 });
    const parts: Buffer[] = [];
    s.on('data', (b) => parts.push(b as Buffer)).on('end', () => resolve(Buffer.concat(parts))).on('error', reject);
  });
  const gz = head.length === 2 && head[0] === 0x1f && head[1] === 0x8b;
  const raw = createReadStream(blob);
  const tar = gz ? raw.pipe(createGunzip()) : raw;
  raw.on('error', (e) => tar.destroy(e));
  let name: string | undefined;
  for await (const entry of readTar(tar)) {
    const n = entry.header.type === 'file' ? diskFileName(entry.header.name) : undefined;
    if (!n) continue;
    await pipeline(Readable.from(entry.body), createWriteStream(dest, { mode: 0o600 }));
    name = n;
  }
  return name;
}
