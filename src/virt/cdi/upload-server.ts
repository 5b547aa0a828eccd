/**
 * The upload server of a DataVolume (CDI's uploadserver, sync mode): it accepts one image as the
 * raw body of a POST (or PUT) to `/v1beta1/upload` (or `/v1alpha1/upload`), authorised by the
 * DataVolume's bearer token, and runs it through the importer (importer.ts: gzip/xz undone,
 * qemu-img inspection, backing files refused, CDI's "A larger PVC is required." size check,
 * conversion to disk.img or onto the Block device) before answering. As CDI's:
 * - a bad image is answered 400 with `Saving stream failed: <why>`, and the server keeps
 *   waiting for another try (the DataVolume stays UploadReady);
 * - a second upload while one runs gets 503, one after success 409;
 * - after a success, `done` resolves (the pod then exits 0 and the DataVolume is Succeeded).
 * GET /healthz answers OK for the pod's readiness probe.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ImageSourceError } from './image-source.js';
import { ImportError, type ImportResult, type ImportTarget, importImage } from './importer.js';
import { QemuImgError } from './qemu-img.js';
import { HEALTHZ_PATH, UPLOAD_PATHS } from './upload-api.js';

export interface UploadServerOptions {
  /** The bearer token a client must present. */
  token: string;
  target: ImportTarget;
  scratchDir: string;
  filesystemOverhead?: number;
  log?: (line: string) => void;
}

export interface UploadServer {
  server: Server;
  /** Resolves with the import's result once an upload succeeded and its answer was sent. */
  done: Promise<ImportResult>;
}

/** What the client did wrong (its image or its request) rather than what failed here. */
const isClientFault = (e: unknown) => e instanceof ImportError || e instanceof ImageSourceError || e instanceof QemuImgError;

function authorised(req: IncomingMessage, token: string): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const got = Buffer.from(m[1]!);
  const want = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}

const reply = (res: ServerResponse, status: number, body = '') => res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(body);

export function createUploadServer(o: UploadServerOptions): UploadServer {
  if (!o.token) throw new Error('the upload server needs a token');
  const log = o.log ?? (() => undefined);
  let busy = false;
  let finished = false;
  let resolveDone!: (r: ImportResult) => void;
  const done = new Promise<ImportResult>((resolve) => (resolveDone = resolve));

  async function upload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const length = Number(req.headers['content-length']);
    busy = true;
    try {
      const result = await importImage({
        source: { stream: req, totalBytes: Number.isFinite(length) && length > 0 ? length : undefined },
        target: o.target,
        scratchDir: o.scratchDir,
        filesystemOverhead: o.filesystemOverhead,
      });
      finished = true;
      log(`wrote a ${result.format} image of ${result.imageSizeBytes} bytes into a disk of ${result.diskSizeBytes} bytes`);
      res.on('finish', () => resolveDone(result));
      reply(res, 200);
    } catch (e) {
      const message = `Saving stream failed: ${(e as Error).message}`;
      log(message);
      // The body may not have been read to its end: the connection cannot carry another request.
      req.resume();
      reply(res, isClientFault(e) ? 400 : 500, message);
    } finally {
      busy = false;
    }
  }

  // No request timeout: a big image over a slow port-forward takes as long as it takes.
  const server = createServer({ requestTimeout: 0 }, (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    if (path === HEALTHZ_PATH && (req.method === 'GET' || req.method === 'HEAD')) return reply(res, 200, 'OK');
    if (!UPLOAD_PATHS.includes(path) || (req.method !== 'POST' && req.method !== 'PUT')) return reply(res, 404, 'not found');
    if (!authorised(req, o.token)) return reply(res, 401, 'Unauthorized');
    if (busy) return reply(res, 503, 'an upload is already in progress');
    if (finished) return reply(res, 409, 'the upload already completed');
    void upload(req, res);
  });
  return { server, done };
}
