/**
 * A byte stream tunnelled through a WebSocket, as kubectl's port-forward does since 1.31 (client-go
 * tools/portforward TunnelingConnection): every write is one binary message, a reader sees the
 * messages' bytes back to back with no boundaries, a text message is an error, and a normal
 * closure (1000) is end-of-stream. The SPDY session runs on top of this exactly as on a socket.
 */
import type { IncomingMessage } from 'node:http';
import { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';

/** The WebSocket failed or carried something other than binary messages. */
export class WebSocketTunnelError extends Error {
  override readonly name = 'WebSocketTunnelError';
}

/** Largest message accepted: a whole SPDY frame (24-bit length plus its 8-byte head) fits. */
const MAX_MESSAGE = (1 << 24) + 8;

export class WebSocketTunnel extends Duplex {
  constructor(private readonly ws: WebSocket) {
    super({ allowHalfOpen: true });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) {
        this.destroy(new WebSocketTunnelError('invalid message type received'));
        return;
      }
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (!this.push(bytes)) ws.pause();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      // 1000 is TunnelingConnection.Close's normal closure; 1005 a close frame without a code.
      if (code === 1000 || code === 1005) this.push(null);
      else this.destroy(new WebSocketTunnelError(`websocket closed: ${code}${reason.length ? ` ${reason.toString()}` : ''}`));
    });
    ws.on('error', (err: Error) => this.destroy(new WebSocketTunnelError(`websocket: ${err.message}`)));
  }

  override _read(): void {
    this.ws.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.ws.readyState !== WebSocket.OPEN) return done(new WebSocketTunnelError('websocket closed'));
    this.ws.send(chunk, { binary: true }, (err) => done(err ? new WebSocketTunnelError(`websocket: ${err.message}`) : null));
  }

  override _final(done: (err?: Error | null) => void): void {
    // A normal closure; ws finishes the closing handshake and then closes the socket itself.
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    done(err);
  }
}

/**
 * Completes the WebSocket handshake of an upgrade request, answering with `protocol` as the
 * subprotocol (the caller has negotiated it; undefined: none, for a client that offered none),
 * and hands over the tunnel. An invalid handshake is answered (400/405) by ws itself and `onOpen`
 * is never called.
 */
export function acceptWebSocketTunnel(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  protocol: string | undefined,
  onOpen: (tunnel: WebSocketTunnel) => void,
): void {
  const server = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false, maxPayload: MAX_MESSAGE });
  // ws rejects subprotocols that are not RFC 7230 tokens, and kubectl's (`SPDY/3.1+portforward.k8s.io`)
  // has a '/': the caller has read and chosen it, so ws never sees the header and the answer is
  // added to its 101 response instead.
  delete req.headers['sec-websocket-protocol'];
  if (protocol) server.on('headers', (headers: string[]) => headers.push(`Sec-WebSocket-Protocol: ${protocol}`));
  server.handleUpgrade(req, socket, head, (ws) => onOpen(new WebSocketTunnel(ws)));
}
