/**
 * Several sets of streaming routes behind the HTTPS front's one `streams` slot: the pod
 * subresources proxied to agents (node-proxy.ts) and the VMI ones (virt-node-proxy.ts). A
 * request goes to the first set that handles its path.
 */
import type { ServerResponse, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { StreamingRoutes } from './https-front.js';
import type { ApiRequest } from './types.js';

export class StreamingRouter implements StreamingRoutes {
  constructor(private readonly routes: readonly StreamingRoutes[]) {}

  handles(path: string): boolean {
    return this.routes.some((r) => r.handles(path));
  }

  serve(req: ApiRequest, res: ServerResponse): Promise<void> {
    return this.route(req.path).serve(req, res);
  }

  upgrade(req: ApiRequest, raw: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    return this.route(req.path).upgrade(req, raw, socket, head);
  }

  /** The front asks `handles` first, so a set is always found. */
  private route(path: string): StreamingRoutes {
    return this.routes.find((r) => r.handles(path))!;
  }
}
