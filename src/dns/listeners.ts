/**
 * The sockets: UDP and TCP on each listening address, feeding packets to the query handler.
 * Everything a client controls is bounded — a UDP datagram is read at most once into a 64 KiB
 * buffer by the kernel; a TCP connection holds at most one query's worth of unread bytes (a
 * length prefix over MAX_QUERY_BYTES closes it), a few answers in flight, an idle timeout, and
 * the number of connections is capped. A failure answering one packet is logged, never fatal.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import type { ServerAddress } from './exchange.js';
import type { QueryHandler } from './query-handler.js';
import { MAX_QUERY_BYTES } from './wire.js';

/** CoreDNS's idle timeout for TCP connections. */
const TCP_IDLE_MS = 10_000;
const MAX_TCP_CONNECTIONS = 1000;
/** Answers a connection may have pending (forwarded queries) before it is read no further. */
const MAX_TCP_IN_FLIGHT = 16;
/** A client that does not read its answers is cut off past this much unsent data. */
const MAX_TCP_UNSENT = 1 << 20;
/** Room in the kernel for bursts of queries while the event loop is busy. */
const UDP_RECEIVE_BUFFER = 4 << 20;

export interface ListenersOptions {
  addresses: ServerAddress[];
  handler: QueryHandler;
  onError: (what: string, e: unknown) => void;
}

export class Listeners {
  private constructor(
    private readonly udp: UdpSocket[],
    private readonly tcp: Server[],
  ) {}

  /** Binds every address, UDP and TCP; fails (closing what was bound) if any cannot be. */
  static async open(opts: ListenersOptions): Promise<Listeners> {
    const udp: UdpSocket[] = [];
    const tcp: Server[] = [];
    const listeners = new Listeners(udp, tcp);
    try {
      for (const a of opts.addresses) {
        const [u, t] = await bindBoth(a, opts);
        udp.push(u);
        tcp.push(t);
      }
    } catch (e) {
      await listeners.close();
      throw e;
    }
    return listeners;
  }

  /** The bound addresses (the real port when 0 was asked for), UDP first then TCP per address. */
  addresses(): { udp: ServerAddress[]; tcp: ServerAddress[] } {
    return {
      udp: this.udp.map((s) => ({ host: s.address().address, port: s.address().port })),
      tcp: this.tcp.map((s) => {
        const a = s.address() as { address: string; port: number };
        return { host: a.address, port: a.port };
      }),
    };
  }

  async close(): Promise<void> {
    for (const s of this.udp) s.close();
    await Promise.all(this.tcp.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** Tries for port 0: any free port, the same for UDP and TCP. */
const ANY_PORT_ATTEMPTS = 20;

/**
 * UDP and TCP on one address and port. Port 0 asks for any port: TCP takes the one UDP got, and
 * when that one is taken for TCP another is tried.
 */
async function bindBoth(a: ServerAddress, opts: ListenersOptions): Promise<[UdpSocket, Server]> {
  for (let attempt = 1; ; attempt++) {
    const socket = await bindUdp(a, opts);
    try {
      return [socket, await listenTcp({ host: a.host, port: socket.address().port }, opts)];
    } catch (e) {
      socket.close();
      if (a.port !== 0 || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= ANY_PORT_ATTEMPTS) throw e;
    }
  }
}

function bindUdp(a: ServerAddress, opts: ListenersOptions): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: isIPv6(a.host) ? 'udp6' : 'udp4', recvBufferSize: UDP_RECEIVE_BUFFER });
    socket.once('error', reject);
    socket.on('message', (packet, peer) => {
      const reply = (answer: Buffer | undefined) => {
        if (answer) socket.send(answer, peer.port, peer.address);
      };
      try {
        const out = opts.handler.handle(packet, 'udp');
        if (out instanceof Promise) out.then(reply, (e) => opts.onError(`answering ${peer.address}:${peer.port} over UDP`, e));
        else reply(out);
      } catch (e) {
        opts.onError(`answering ${peer.address}:${peer.port} over UDP`, e);
      }
    });
    socket.bind(a.port, a.host, () => {
      socket.off('error', reject);
      socket.on('error', (e) => opts.onError(`UDP socket ${a.host}:${a.port}`, e));
      resolve(socket);
    });
  });
}

function listenTcp(a: ServerAddress, opts: ListenersOptions): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((conn) => serveConnection(conn, opts));
    server.maxConnections = MAX_TCP_CONNECTIONS;
    server.once('error', reject);
    server.listen(a.port, a.host, () => {
      server.off('error', reject);
      server.on('error', (e) => opts.onError(`TCP listener ${a.host}:${a.port}`, e));
      resolve(server);
    });
  });
}

/** RFC 7766: length-prefixed queries, pipelined; answers go back as they are ready (out of order is allowed). */
function serveConnection(conn: Socket, opts: ListenersOptions): void {
  let pending: Buffer = Buffer.alloc(0);
  let inFlight = 0;
  const peer = `${conn.remoteAddress}:${conn.remotePort}`;
  conn.setTimeout(TCP_IDLE_MS, () => conn.destroy());
  conn.on('error', () => conn.destroy());
  const send = (answer: Buffer | undefined) => {
    if (!answer || conn.destroyed) return;
    const len = Buffer.alloc(2);
    len.writeUInt16BE(answer.length);
    conn.write(Buffer.concat([len, answer]));
    if (conn.writableLength > MAX_TCP_UNSENT) conn.destroy();
  };
  const drain = () => {
    if (conn.destroyed) return;
    while (pending.length >= 2 && inFlight < MAX_TCP_IN_FLIGHT) {
      const len = pending.readUInt16BE(0);
      if (len > MAX_QUERY_BYTES) return void conn.destroy();
      if (pending.length < 2 + len) break;
      const packet = pending.subarray(2, 2 + len);
      pending = pending.subarray(2 + len);
      try {
        const out = opts.handler.handle(packet, 'tcp');
        if (out instanceof Promise) {
          inFlight++;
          out.then(send, (e) => opts.onError(`answering ${peer} over TCP`, e)).finally(settle);
        } else send(out);
      } catch (e) {
        opts.onError(`answering ${peer} over TCP`, e);
      }
    }
    // Unread bytes stay at one chunk at most: reading stops while answers are owed.
    if (inFlight >= MAX_TCP_IN_FLIGHT) conn.pause();
    else if (conn.isPaused()) conn.resume();
  };
  const settle = () => {
    inFlight--;
    drain();
  };
  conn.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    drain();
  });
}
