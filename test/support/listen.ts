/**
 * Starts a server on `host` (port 0: any free port) and returns the port. A failure to listen
 * rejects instead of surfacing as an unhandled 'error' event, which would leave the test runner
 * with nothing but "Promise resolution is still pending".
 */
import type { Server } from 'node:net';

export function listenOn(server: Server, host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(new Error(`cannot listen on ${host}:${port}: ${e.message}`));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : port);
    });
  });
}
