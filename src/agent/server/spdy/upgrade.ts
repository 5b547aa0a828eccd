/**
 * The HTTP side of getting onto SPDY: answering `Upgrade: SPDY/3.1` with 101 the way
 * k8s.io/apimachinery's spdy ResponseUpgrader does, and refusing an upgrade with a plain-text
 * error the way Go's http.Error writes one (the client shows that body to its user).
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

const SPDY_UPGRADE = 'SPDY/3.1';

/** Whether the request asks to upgrade to SPDY/3.1 (Connection: upgrade, Upgrade: SPDY/3.1). */
export function isSpdyUpgrade(req: IncomingMessage): boolean {
  const connection = (req.headers.connection ?? '').toLowerCase();
  const upgrade = (req.headers.upgrade ?? '').toLowerCase();
  return connection.includes('upgrade') && upgrade.includes(SPDY_UPGRADE.toLowerCase());
}

/**
 * Sends the 101 response (with the negotiated X-Stream-Protocol-Version) and gives back the socket
 * as the SPDY transport, with the bytes the HTTP parser read past the request put back in front.
 */
export function acceptSpdyUpgrade(socket: Duplex, head: Buffer, protocol: string): Duplex {
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\n' +
      'Connection: Upgrade\r\n' +
      `Upgrade: ${SPDY_UPGRADE}\r\n` +
      `X-Stream-Protocol-Version: ${protocol}\r\n` +
      `Date: ${new Date().toUTCString()}\r\n\r\n`,
  );
  prepareSocket(socket);
  if (head.length) socket.unshift(head);
  return socket;
}

/** Answers with an error status and a text body, then closes the connection. */
export function rejectUpgrade(socket: Duplex, status: number, message: string, headers: Record<string, string[]> = {}): void {
  // The client may already be gone; nothing more is owed to it.
  socket.on('error', () => {});
  const body = `${message}\n`;
  const extra = Object.entries(headers)
    .flatMap(([name, values]) => values.map((v) => `${name}: ${v}\r\n`))
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      'X-Content-Type-Options: nosniff\r\n' +
      extra +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
    () => socket.destroy(),
  );
}

/** A hijacked connection lives by the stream idle timeout alone: no HTTP inactivity timer, no Nagle delay. */
function prepareSocket(socket: Duplex): void {
  if (socket instanceof Socket) {
    socket.setTimeout(0);
    socket.setNoDelay(true);
  }
}
