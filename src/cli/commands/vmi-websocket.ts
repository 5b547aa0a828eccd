/**
 * The client side of the VMI console and vnc subresources, as KubeVirt's client-go dials them
 * (kubevirt/typed/core/v1 async.go): a WebSocket GET to
 * `/apis/subresources.kubevirt.io/v1/namespaces/NS/virtualmachineinstances/NAME/{console,vnc}`
 * offering `plain.kubevirt.io`, with the kubeconfig's credentials, carrying the raw byte stream
 * in binary messages. A refusal becomes a VmiStreamError with the server's Status message.
 */
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import type { ClusterConnection } from '../../client/kubeconfig.js';
import { PLAIN_STREAM_PROTOCOL } from '../../agent/server/virt-routes.js';
import { WebSocketTunnel } from '../../agent/server/ws-tunnel.js';

/** The server refused the connection (`code` its HTTP status; 0: no answer at all). */
export class VmiStreamError extends Error {
  override name = 'VmiStreamError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export function vmiSubresourcePath(namespace: string, name: string, sub: 'console' | 'vnc' | 'pause' | 'unpause'): string {
  return `/apis/subresources.kubevirt.io/v1/namespaces/${encodeURIComponent(namespace)}/virtualmachineinstances/${encodeURIComponent(name)}/${sub}`;
}

/** Opens the console or vnc stream of a VMI; the tunnel is the byte stream both ways. */
export function openVmiStream(conn: ClusterConnection, namespace: string, name: string, sub: 'console' | 'vnc'): Promise<WebSocketTunnel> {
  const base = new URL(conn.server);
  const url = new URL(`${base.pathname.replace(/\/+$/, '')}${vmiSubresourcePath(namespace, name, sub)}`, base);
  url.protocol = base.protocol === 'http:' ? 'ws:' : 'wss:';
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [PLAIN_STREAM_PROTOCOL], {
      ca: conn.ca,
      cert: conn.clientCert,
      key: conn.clientKey,
      rejectUnauthorized: !conn.insecureSkipTlsVerify,
      ...(conn.tlsServerName ? { servername: conn.tlsServerName } : {}),
      headers: conn.token ? { authorization: `Bearer ${conn.token}` } : {},
      perMessageDeflate: false,
    });
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (b: Buffer) => chunks.push(b));
      res.on('end', () => {
        reject(new VmiStreamError(res.statusCode ?? 0, refusalMessage(res, Buffer.concat(chunks).toString('utf8'))));
        ws.terminate();
      });
    });
    ws.once('error', (e) => reject(new VmiStreamError(0, `Can't connect to websocket: ${e.message}`)));
    ws.once('open', () => {
      // The tunnel reports errors from here on.
      ws.removeAllListeners('error');
      resolve(new WebSocketTunnel(ws));
    });
  });
}

/** The Status message of a refusal, else client-go's wording for the code. */
function refusalMessage(res: IncomingMessage, body: string): string {
  try {
    const s = JSON.parse(body) as { kind?: string; message?: string };
    if (s.kind === 'Status' && s.message) return s.message;
  } catch {
    /* not a Status */
  }
  if (res.statusCode === 404) return 'Virtual Machine not found.';
  if (res.statusCode === 500) return 'Websocket failed due to internal server error.';
  return `Websocket failed with http status: ${res.statusCode} ${res.statusMessage ?? ''}`.trim();
}
