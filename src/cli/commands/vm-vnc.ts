/**
 * `cairn vm vnc NAME [--proxy-only] [--port N]`: virtctl vnc's local proxy. It checks the VMI's
 * vnc subresource answers (the first WebSocket is kept for the first viewer), then listens on
 * 127.0.0.1 (--port, else a free port) and prints where: `{"port":N}` with --proxy-only, as
 * virtctl, else a line for people. Every TCP client gets its own WebSocket, so viewers can come
 * and go; as in KubeVirt a new session replaces the one before. No viewer is launched. It runs
 * until interrupted.
 */
import { createServer, type Socket } from 'node:net';
import type { ClusterConnection } from '../../client/kubeconfig.js';
import type { WebSocketTunnel } from '../../agent/server/ws-tunnel.js';
import { CliError } from '../errors.js';
import { openVmiStream, VmiStreamError } from './vmi-websocket.js';

export async function runVnc(conn: ClusterConnection, namespace: string, name: string, opts: { proxyOnly: boolean; port: number }): Promise<number> {
  const open = async () => {
    try {
      return await openVmiStream(conn, namespace, name, 'vnc');
    } catch (e) {
      if (e instanceof VmiStreamError) throw new CliError(`can't access VMI ${name}: ${e.message}`);
      throw e;
    }
  };
  let ready: WebSocketTunnel | undefined = await open();
  const dropReady = () => (ready = undefined);
  ready.once('error', dropReady);
  ready.once('end', dropReady);
  const clients = new Set<Socket>();
  const server = createServer((client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => client.destroy());
    const first = ready;
    ready = undefined;
    first?.off('error', dropReady).off('end', dropReady);
    (first ? Promise.resolve(first) : open()).then(
      (tunnel) => join(client, tunnel),
      (e: Error) => {
        process.stderr.write(`${e.message}\n`);
        client.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new CliError(`can't listen on 127.0.0.1:${opts.port}: ${e.message}`)));
    server.listen(opts.port, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  if (opts.proxyOnly) console.log(JSON.stringify({ port }));
  else console.log(`VNC of VMI ${name} on 127.0.0.1:${port}: point a VNC viewer there (Ctrl+C to stop)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  server.close();
  ready?.destroy();
  for (const c of clients) c.destroy();
  return 0;
}

/** One viewer's connection and its WebSocket, until either ends. */
function join(client: Socket, tunnel: WebSocketTunnel): void {
  if (client.destroyed) {
    tunnel.destroy();
    return;
  }
  client.pipe(tunnel);
  tunnel.pipe(client);
  tunnel.on('error', () => client.destroy());
  client.on('close', () => tunnel.destroy());
}
