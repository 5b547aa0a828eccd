/**
 * The client side of a DataVolume upload, as virtctl image-upload does it against CDI: wait for
 * the DataVolume to be UploadReady, send the image file to its upload server, wait for
 * Succeeded. The server is reached through pods/portforward (upload-port-forward.ts) with the
 * DataVolume's token from its upload Secret (upload-api.ts); the server's refusal (a bad image:
 * `Saving stream failed: ...`) becomes an UploadError carrying its text, and the DataVolume stays
 * UploadReady for another try.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request, type IncomingMessage } from 'node:http';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Client, isNotFound } from '../../client/index.js';
import type { ClusterConnection } from '../../client/kubeconfig.js';
import type { KubeObject } from '../../util/object.js';
import { SECRETS } from '../../ingress/ingress-api.js';
import { type DataVolume, type DataVolumePhase, DATAVOLUMES } from './datavolume-api.js';
import { UPLOAD_PATHS, UPLOAD_PORT, UPLOAD_TOKEN_KEY, uploadPodName, uploadTokenSecretName } from './upload-api.js';
import { openPodPort } from './upload-port-forward.js';

export class UploadError extends Error {
  override name = 'UploadError';
}

const POLL_MS = 1000;

/**
 * Polls the DataVolume until its phase is one of `phases`; a Failed phase, or the time running
 * out, is an UploadError naming the last phase and the Running condition's message.
 */
export async function waitForPhase(client: Client, namespace: string, name: string, phases: DataVolumePhase[], timeoutMs: number): Promise<DataVolume> {
  const deadline = Date.now() + timeoutMs;
  let last: DataVolume | undefined;
  for (;;) {
    try {
      last = (await client.resource(DATAVOLUMES).get(name, namespace)) as DataVolume;
    } catch (e) {
      if (isNotFound(e)) throw new UploadError(`DataVolume ${namespace}/${name} is gone`);
      throw e;
    }
    const phase = last.status?.phase;
    if (phase && phases.includes(phase)) return last;
    const running = last.status?.conditions?.find((c) => c.type === 'Running');
    if (phase === 'Failed') throw new UploadError(`DataVolume ${name} failed${running?.message ? `: ${running.message}` : ''}`);
    if (Date.now() > deadline) {
      const why = running?.message || running?.reason;
      throw new UploadError(`DataVolume ${name} is still ${phase ?? 'without a phase'} after ${Math.round(timeoutMs / 1000)} s (waiting for ${phases.join(' or ')})${why ? `: ${why}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function uploadToken(client: Client, dv: DataVolume): Promise<string> {
  const ns = dv.metadata.namespace!;
  let secret: KubeObject & { data?: Record<string, string> };
  try {
    secret = await client.resource(SECRETS).get(uploadTokenSecretName(dv), ns);
  } catch (e) {
    if (isNotFound(e)) throw new UploadError(`DataVolume ${dv.metadata.name} has no upload token (Secret ${uploadTokenSecretName(dv)}) yet`);
    throw e;
  }
  const token = secret.data?.[UPLOAD_TOKEN_KEY];
  if (!token) throw new UploadError(`Secret ${uploadTokenSecretName(dv)} holds no ${UPLOAD_TOKEN_KEY}`);
  return Buffer.from(token, 'base64').toString('utf8');
}

async function readAll(res: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const b of res) parts.push(b as Buffer);
  return Buffer.concat(parts).toString('utf8').trim();
}

export interface SendImageOptions {
  client: Client;
  connection: ClusterConnection;
  /** An UploadReady DataVolume. */
  dataVolume: DataVolume;
  file: string;
  /** Bytes sent so far and the file's size. */
  onProgress?: (sent: number, total: number) => void;
}

/** Sends the file to the DataVolume's upload server; resolves once the server wrote the disk. */
export async function sendImage(o: SendImageOptions): Promise<void> {
  const { size } = await stat(o.file);
  const token = await uploadToken(o.client, o.dataVolume);
  const conn = await openPodPort(o.connection, o.dataVolume.metadata.namespace!, uploadPodName(o.dataVolume), UPLOAD_PORT);
  try {
    await postImage({ via: { createConnection: () => conn as never, host: 'localhost' }, body: createReadStream(o.file), size, token, what: o.file, onProgress: o.onProgress });
  } finally {
    conn.destroy();
  }
}

export interface PostImageOptions {
  /** How to reach the upload server: a port-forwarded connection, or its pod address. */
  via: { createConnection: () => never; host: string } | { host: string; port: number };
  body: Readable;
  size: number;
  token: string;
  /** What is sent, for messages. */
  what: string;
  onProgress?: (sent: number, total: number) => void;
}

/** POSTs an image to an upload server (upload-server.ts); its refusal is an UploadError with its text. */
export async function postImage(o: PostImageOptions): Promise<void> {
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sent += chunk.length;
      o.onProgress?.(sent, o.size);
      cb(null, chunk);
    },
  });
  const req = request({
    ...o.via,
    method: 'POST',
    path: UPLOAD_PATHS[0],
    headers: { ...('port' in o.via ? {} : { host: o.via.host }), authorization: `Bearer ${o.token}`, 'content-type': 'application/octet-stream', 'content-length': String(o.size) },
  });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => void readAll(res).then((body) => resolve({ status: res.statusCode ?? 0, body }), reject));
    req.on('error', reject);
  });
  // The server may answer (a 401, a refused image) before it read everything: its answer is
  // what counts, and the send's own failure (the connection closed under it) is only a symptom.
  void pipeline(o.body, counter, req).catch(() => undefined);
  const { status, body } = await answer.catch((e: Error) => {
    throw new UploadError(`uploading ${o.what}: ${e.message}`);
  });
  if (status !== 200) throw new UploadError(body || `the upload server answered HTTP ${status}`);
}
