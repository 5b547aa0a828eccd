/**
 * Where an imported disk image comes from, written to a scratch file as plain image data: an
 * HTTP(S) URL (CDI's `http` source: redirects followed, an optional CA bundle — certConfigMap —
 * and basic credentials — secretRef accessKeyId/secretKey), or any byte stream (uploads, local
 * files). gzip and xz compression is recognised by its magic bytes and undone on the way, as
 * CDI does; progress is the share of the source's bytes read, when its length is known.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { PassThrough, type Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

export class ImageSourceError extends Error {
  override name = 'ImageSourceError';
}

export interface HttpSourceOptions {
  /** PEM CA certificates trusted for an https URL (CDI's certConfigMap). */
  caPem?: string;
  /** Basic credentials (CDI's secretRef with accessKeyId / secretKey). */
  basicAuth?: { username: string; password: string };
  signal?: AbortSignal;
}

export interface OpenedSource {
  stream: Readable;
  /** The source's length in bytes, when the server said. */
  totalBytes?: number;
}

const MAX_REDIRECTS = 10;

/** Opens an http(s) URL for reading; a status other than 200 is an error naming it. */
export async function openHttpSource(url: string, o: HttpSourceOptions = {}, redirects = 0): Promise<OpenedSource> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ImageSourceError(`invalid URL ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ImageSourceError(`unsupported URL scheme ${u.protocol.replace(/:$/, '')} (http and https are)`);
  const headers: Record<string, string> = {};
  if (o.basicAuth) headers.authorization = `Basic ${Buffer.from(`${o.basicAuth.username}:${o.basicAuth.password}`).toString('base64')}`;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, { headers, signal: o.signal, ...(o.caPem ? { ca: o.caPem } : {}) }, resolve);
    req.setTimeout(60_000, () => req.destroy(new ImageSourceError(`no answer from ${u.host} in 60 s`)));
    req.on('error', (e) => reject(e instanceof ImageSourceError ? e : new ImageSourceError(`fetching ${url}: ${e.message}`)));
    req.end();
  });
  const status = res.statusCode ?? 0;
  if (status >= 300 && status < 400 && res.headers.location) {
    res.resume();
    if (redirects >= MAX_REDIRECTS) throw new ImageSourceError(`fetching ${url}: more than ${MAX_REDIRECTS} redirects`);
    return openHttpSource(new URL(res.headers.location, u).toString(), o, redirects + 1);
  }
  if (status !== 200) {
    res.resume();
    throw new ImageSourceError(`fetching ${url}: HTTP ${status} ${res.statusMessage ?? ''}`.trim());
  }
  const length = Number(res.headers['content-length']);
  return { stream: res, totalBytes: Number.isFinite(length) && length > 0 ? length : undefined };
}

type Compression = 'gzip' | 'xz' | 'none';

function compressionOf(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  return 'none';
}

/** Counts the bytes that pass, for progress. */
class Counter extends Transform {
  bytes = 0;
  constructor(private readonly onBytes: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.onBytes(this.bytes);
    cb(null, chunk);
  }
}

/**
 * Writes the source, decompressed, to `dest`. `onProgress` gets the percentage of source bytes
 * read (only when the total is known).
 */
export async function saveSource(src: OpenedSource, dest: string, onProgress?: (percent: number) => void, signal?: AbortSignal): Promise<{ sourceBytes: number; compression: Compression }> {
  const counter = new Counter((n) => src.totalBytes && onProgress?.(Math.min(100, (100 * n) / src.totalBytes)));
  const counted = src.stream.pipe(counter);
  src.stream.on('error', (e) => counter.destroy(e));
  const head = await firstChunk(counted);
  const compression = compressionOf(head);
  const rest = new PassThrough();
  rest.write(head);
  counted.pipe(rest);
  counted.on('error', (e) => rest.destroy(e));
  const file = createWriteStream(dest, { mode: 0o600 });
  try {
    if (compression === 'gzip') await pipeline(rest, createGunzip(), file, { signal });
    else if (compression === 'xz') await pipeXz(rest, dest, file, signal);
    else await pipeline(rest, file, { signal });
  } catch (e) {
    if (e instanceof ImageSourceError) throw e;
    const what = compression === 'none' ? 'reading the image' : `decompressing ${compression} data`;
    throw new ImageSourceError(`${what}: ${(e as Error).message}`);
  }
  return { sourceBytes: counter.bytes, compression };
}

/** xz has no decoder in Node: the xz tool does it, fed and drained as streams. */
async function pipeXz(input: Readable, dest: string, file: NodeJS.WritableStream, signal?: AbortSignal): Promise<void> {
  const child = spawn('xz', ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'], signal });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const feed = pipeline(input, child.stdin).catch(() => undefined);
  const drain = pipeline(child.stdout, file);
  const [code] = await Promise.all([exited, feed, drain.catch(() => undefined)]);
  if (code !== 0) throw new ImageSourceError(`decompressing xz data into ${dest}: ${stderr.trim().replace(/^xz: \(stdin\): /, '') || `xz exited with ${code}`}`);
  await drain;
}

function firstChunk(s: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const onData = (b: Buffer) => {
      cleanup();
      s.pause();
      resolve(b);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.alloc(0));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(new ImageSourceError(`reading the image: ${e.message}`));
    };
    const cleanup = () => {
      s.off('data', onData);
      s.off('end', onEnd);
      s.off('error', onError);
    };
    s.on('data', onData);
    s.on('end', onEnd);
    s.on('error', onError);
  });
}
