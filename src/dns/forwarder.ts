/**
 * Names outside the cluster go to the upstream resolvers, tried in order, each with a deadline,
 * over the transport the client used (so a truncated UDP answer makes the client ask again over
 * TCP, and that goes upstream over TCP too). The query leaves with a fresh random ID and comes
 * back with the client's. A query that arrives while this server's own copy of it is still out
 * is a forwarding loop (an upstream that sends it back here): it fails at once instead of
 * circling until every hop times out.
 */
import { randomInt } from 'node:crypto';
import type { DecodedPacket } from 'dns-packet';
import { ForwardError } from './errors.js';
import { formatAddress, tcpExchange, udpExchange, type ServerAddress } from './exchange.js';
import { decodeMessage, withId, type Query } from './wire.js';

export interface ForwarderOptions {
  /** One upstream's deadline (default 2 s). */
  attemptTimeoutMs?: number;
  /** The whole forward's deadline across upstreams (default 5 s, the resolv.conf default timeout). */
  totalTimeoutMs?: number;
}

export class Forwarder {
  private readonly inFlight = new Set<string>();
  private readonly attemptTimeoutMs: number;
  private readonly totalTimeoutMs: number;

  constructor(
    readonly upstreams: ServerAddress[],
    opts: ForwarderOptions = {},
  ) {
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? 2000;
    this.totalTimeoutMs = opts.totalTimeoutMs ?? 5000;
  }

  /** The upstream's answer to `packet` (whose parsed form is `query`), under the packet's ID, and decoded. */
  async forward(packet: Buffer, query: Pick<Query, 'name' | 'type'>, transport: 'udp' | 'tcp'): Promise<{ answer: Buffer; message: DecodedPacket }> {
    if (!this.upstreams.length) throw new ForwardError('no upstream resolvers are configured');
    if (this.inFlight.has(packet.toString('latin1'))) throw new ForwardError(`forwarding loop: ${query.name} ${query.type} came back while this server was forwarding it`);
    const out = withId(packet, randomInt(0, 0x10000));
    const key = out.toString('latin1');
    this.inFlight.add(key);
    const deadline = Date.now() + this.totalTimeoutMs;
    const failures: string[] = [];
    try {
      for (const upstream of this.upstreams) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        try {
          const exchange = transport === 'tcp' ? tcpExchange : udpExchange;
          const answer = await exchange(upstream, out, Math.min(this.attemptTimeoutMs, left));
          const message = checkAnswer(answer, query, upstream);
          return { answer: withId(answer, packet.readUInt16BE(0)), message };
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
    } finally {
      this.inFlight.delete(key);
    }
    throw new ForwardError(`no upstream answered ${query.name} ${query.type}: ${failures.join('; ') || 'out of time'}`);
  }
}

/** An upstream's datagram counts only if it is a well-formed answer to this question. */
function checkAnswer(answer: Buffer, query: Pick<Query, 'name' | 'type'>, upstream: ServerAddress): DecodedPacket {
  let msg;
  try {
    msg = decodeMessage(answer);
  } catch (e) {
    throw new ForwardError(`${formatAddress(upstream)} sent an undecodable answer: ${(e as Error).message}`);
  }
  const q = msg.questions?.[0];
  if (msg.type !== 'response' || !q || q.name.toLowerCase() !== query.name.toLowerCase() || q.type !== query.type)
    throw new ForwardError(`${formatAddress(upstream)} answered another question`);
  return msg;
}
