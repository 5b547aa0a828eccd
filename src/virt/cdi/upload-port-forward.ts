/**
 * One connection to a pod's port through the API server's pods/portforward, as `kubectl
 * port-forward` opens it (the portforward.k8s.io protocol over `Upgrade: SPDY/3.1`): a request
 * authenticated with the kubeconfig's credentials — so the user's RBAC on `pods/portforward`
 * decides — then an error stream and a data stream for the port, sharing requestID 0. The data
 * stream is returned as a Duplex that an HTTP client can run over (`createConnection`); what the
 * kubelet writes on the error stream (a refused port, a pod that is gone) destroys it with that
 * text. The SPDY frames are the agent's own framer (src/agent/server/spdy); there is no flow
 * control to honour, as spdystream has none.
 */
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { ClusterConnection } from '../../client/kubeconfig.js';
import { FrameSplitter, SpdyFramer } from '../../agent/server/spdy/framer.js';
import { FLAG_FIN, type Frame } from '../../agent/server/spdy/frames.js';

export class PortForwardError extends Error {
  override name = 'PortForwardError';
}

const ERROR_STREAM = 1;
const DATA_STREAM = 3;
const MAX_DATA_FRAME = 32 * 1024;
const UPGRADE_TIMEOUT_MS = 30_000;

/** The API server's refusal, from its Status body when it sent one. */
async function refusal(res: IncomingMessage): Promise<PortForwardError> {
  const parts: Buffer[] = [];
  for await (const b of res) parts.push(b as Buffer);
  const text = Buffer.concat(parts).toString('utf8').trim();
  let message = text;
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    // a plain-text answer is its own message
  }
  return new PortForwardError(`port-forward refused (HTTP ${res.statusCode}): ${message}`);
}

function upgrade(conn: ClusterConnection, path: string): Promise<Socket> {
  const url = new URL(path, conn.server);
  const headers: Record<string, string> = { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'portforward.k8s.io' };
  const token = conn.token;
  if (token) headers.authorization = `Bearer ${token}`;
  const tls = { ca: conn.ca, cert: conn.clientCert, key: conn.clientKey, rejectUnauthorized: !conn.insecureSkipTlsVerify, servername: conn.tlsServerName };
  const req = (url.protocol === 'https:' ? request : httpRequest)(url, { method: 'POST', headers, agent: false, timeout: UPGRADE_TIMEOUT_MS, ...(url.protocol === 'https:' ? tls : {}) });
  return new Promise((resolve, reject) => {
    req.on('upgrade', (_res, socket: Socket, head: Buffer) => {
      socket.setTimeout(0);
      if (head.length) socket.unshift(head);
      resolve(socket);
    });
    req.on('response', (res) => void refusal(res).then(reject, reject));
    req.on('timeout', () => req.destroy(new PortForwardError(`no answer from ${url.host} in ${UPGRADE_TIMEOUT_MS / 1000} s`)));
    req.on('error', (e) => reject(e instanceof PortForwardError ? e : new PortForwardError(`port-forward: ${e.message}`)));
    req.end();
  });
}

/** The data stream of one forwarded connection. */
class ForwardedConnection extends Duplex {
  private readonly framer = new SpdyFramer();
  private readonly splitter = new FrameSplitter();
  private writing: Promise<void> = Promise.resolve();
  private decoding: Promise<void> = Promise.resolve();
  private errorText = '';
  readonly replied: Promise<void>;
  private onReply!: () => void;

  constructor(private readonly socket: Socket) {
    super({ allowHalfOpen: true });
    this.replied = new Promise((resolve) => (this.onReply = resolve));
    socket.on('data', (chunk: Buffer) => {
      this.splitter.push(chunk);
      this.decoding = this.decoding.then(() => this.drainFrames()).catch((e: Error) => void this.destroy(new PortForwardError(`port-forward: ${e.message}`)));
    });
    socket.on('end', () => void this.decoding.then(() => this.push(null)));
    socket.on('error', (e) => this.destroy(new PortForwardError(`port-forward: ${e.message}`)));
  }

  private async drainFrames(): Promise<void> {
    for (let raw = this.splitter.next(); raw; raw = this.splitter.next()) {
      const f = await this.framer.decode(raw);
      if (f) this.receive(f);
    }
  }

  private receive(f: Frame): void {
    switch (f.type) {
      case 'syn_reply':
        if (f.streamId === DATA_STREAM) this.onReply();
        return;
      case 'data':
        if (f.streamId === ERROR_STREAM) {
          this.errorText += f.data.toString('utf8');
          if (f.flags & FLAG_FIN && this.errorText) this.destroy(new PortForwardError(this.errorText.trim()));
          return;
        }
        if (f.streamId !== DATA_STREAM) return;
        if (f.data.length) this.push(f.data);
        if (f.flags & FLAG_FIN) this.push(null);
        return;
      case 'rst_stream':
        if (f.streamId === DATA_STREAM) this.destroy(new PortForwardError(this.errorText.trim() || `the port-forward stream was reset (status ${f.status})`));
        return;
      case 'goaway':
        this.push(null);
        return;
      case 'ping':
        this.send(f);
        return;
      default:
        return;
    }
  }

  send(frame: Frame): Promise<void> {
    const bytes = this.framer.encode(frame);
    this.writing = this.writing.then(async () => {
      const b = await bytes;
      if (!this.socket.write(b)) await new Promise<void>((resolve) => this.socket.once('drain', resolve));
    });
    return this.writing;
  }

  open(streamId: number, streamType: 'error' | 'data', port: number): Promise<void> {
    const headers = { streamtype: [streamType], port: [String(port)], requestid: ['0'] };
    // The error stream carries nothing from this side: it is half-closed at once, as client-go does.
    return this.send({ type: 'syn_stream', streamId, associatedStreamId: 0, priority: 0, slot: 0, flags: streamType === 'error' ? FLAG_FIN : 0, headers });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    let last: Promise<void> = Promise.resolve();
    for (let at = 0; at < chunk.length; at += MAX_DATA_FRAME) last = this.send({ type: 'data', streamId: DATA_STREAM, flags: 0, data: chunk.subarray(at, at + MAX_DATA_FRAME) });
    last.then(() => done(), done);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.send({ type: 'data', streamId: DATA_STREAM, flags: FLAG_FIN, data: Buffer.alloc(0) }).then(() => done(), done);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.socket.destroy();
    this.framer.close();
    done(err);
  }
}

/** Opens a connection to `port` of the pod; resolves once the kubelet accepted the data stream. */
export async function openPodPort(conn: ClusterConnection, namespace: string, pod: string, port: number): Promise<Duplex> {
  const socket = await upgrade(conn, `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/portforward`);
  const c = new ForwardedConnection(socket);
  await c.open(ERROR_STREAM, 'error', port);
  await c.open(DATA_STREAM, 'data', port);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new PortForwardError(`the node did not accept the port-forward to ${pod}:${port} in ${UPGRADE_TIMEOUT_MS / 1000} s`)), UPGRADE_TIMEOUT_MS);
    c.once('error', reject);
    void c.replied.then(() => {
      clearTimeout(timer);
      c.off('error', reject);
      resolve();
    });
  }).catch((e: Error) => {
    c.destroy();
    throw e;
  });
  return c;
}
