/**
 * A stand-in upstream resolver on a loopback address, so forwarding tests never ask real
 * outside names: UDP and TCP on one port, answering the records it is given (NXDOMAIN for
 * anything else), recording what it was asked. Modes for the failure cases: `silent` never
 * answers; `truncateUdp` answers UDP with TC and no records (the full answer only over TCP);
 * `relayTo` passes every query on unchanged to another server and its answer back (a forwarding
 * loop when that server forwards here).
 */
import { createSocket } from 'node:dgram';
import { createServer, type Socket } from 'node:net';
import dnsPacket, { type Answer } from 'dns-packet';
import { udpExchange, type ServerAddress } from '../../src/dns/exchange.js';

export interface FakeUpstreamOptions {
  host?: string;
  /** `name TYPE` (name lowercase, no trailing dot) → the answer records. */
  records?: Record<string, Answer[]>;
  silent?: boolean;
  truncateUdp?: boolean;
  relayTo?: ServerAddress;
}

export interface FakeUpstream {
  address: ServerAddress;
  /** Where queries are passed on to (settable once the server to loop through is known). */
  relayTo?: ServerAddress;
  /** `name TYPE transport` of every query received. */
  asked: string[];
  close(): Promise<void>;
}

export async function startFakeUpstream(opts: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const host = opts.host ?? '127.0.0.1';
  const asked: string[] = [];
  const answer = async (packet: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> => {
    const q = dnsPacket.decode(packet);
    const question = q.questions![0]!;
    asked.push(`${question.name} ${question.type} ${transport}`);
    if (opts.silent) return undefined;
    if (self.relayTo) return udpExchange(self.relayTo, packet, 3000).catch(() => undefined);
    const records = opts.records?.[`${question.name.toLowerCase()} ${question.type}`];
    const truncated = opts.truncateUdp && transport === 'udp';
    return dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags: (q.flags ?? 0) | dnsPacket.RECURSION_AVAILABLE | (truncated ? dnsPacket.TRUNCATED_RESPONSE : 0) | (records ? 0 : 3),
      questions: q.questions,
      answers: truncated ? [] : (records ?? []),
    });
  };
  const udp = createSocket('udp4');
  udp.on('message', (msg, peer) => {
    void answer(msg, 'udp').then((out) => out && udp.send(out, peer.port, peer.address));
  });
  await new Promise<void>((resolve) => udp.bind(0, host, resolve));
  const port = udp.address().port;
  const conns = new Set<Socket>();
  const tcp = createServer((conn) => {
    conns.add(conn);
    conn.on('close', () => conns.delete(conn));
    let buf = Buffer.alloc(0);
    conn.on('error', () => conn.destroy());
    conn.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const packet = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + packet.length);
        void answer(packet, 'tcp').then((out) => {
          if (!out) return;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(out.length);
          conn.write(Buffer.concat([len, out]));
        });
      }
    });
  });
  await new Promise<void>((resolve) => tcp.listen(port, host, resolve));
  const self: FakeUpstream = {
    address: { host, port },
    relayTo: opts.relayTo,
    asked,
    async close() {
      udp.close();
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
  return self;
}
