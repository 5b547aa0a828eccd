/**
 * One DNS query and its answer, over UDP or TCP, with a deadline: what the forwarder sends
 * upstream and what `cairn up`/`cairn status` use to check the server. Each UDP exchange has its
 * own connected socket (a fresh random source port; the kernel drops datagrams from anyone but
 * the server), and only an answer with the query's ID counts.
 */
import { createSocket } from 'node:dgram';
import { isIPv6, connect } from 'node:net';
import { DnsError } from './errors.js';

export interface ServerAddress {
  host: string;
  port: number;
}

export class ExchangeError extends DnsError {
  override name = 'ExchangeError';
}

export const formatAddress = (a: ServerAddress) => (isIPv6(a.host) ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);

/** Sends `query` over UDP, resolves with the first datagram back carrying the same ID. */
export function udpExchange(server: ServerAddress, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4');
    const id = query.readUInt16BE(0);
    let settled = false;
    const done = (err: Error | undefined, answer?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => done(new ExchangeError(`no answer from ${formatAddress(server)} in ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (e) => done(new ExchangeError(`${formatAddress(server)}: ${e.message}`)));
    socket.on('message', (msg) => {
      if (msg.length >= 2 && msg.readUInt16BE(0) === id) done(undefined, msg);
    });
    socket.connect(server.port, server.host, () => socket.send(query));
  });
}

/** Sends `query` over a new TCP connection (two-byte length prefix), resolves with the one answer. */
export function tcpExchange(server: ServerAddress, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: server.host, port: server.port });
    let buf = Buffer.alloc(0);
    let settled = false;
    const done = (err: Error | undefined, answer?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => done(new ExchangeError(`no answer from ${formatAddress(server)} over TCP in ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (e) => done(new ExchangeError(`${formatAddress(server)} over TCP: ${e.message}`)));
    socket.on('end', () => done(new ExchangeError(`${formatAddress(server)} closed the TCP connection without an answer`)));
    socket.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      socket.write(Buffer.concat([len, query]));
    });
    socket.on('data', (chunk: Buffer) => {
      // Bounded: the answer is taken as soon as the prefix's length (at most 64 KiB) has arrived.
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(undefined, buf.subarray(2, 2 + buf.readUInt16BE(0)));
    });
  });
}
