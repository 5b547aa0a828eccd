/**
 * One packet in, its answer out, for both transports: the answer cache first (bytes only), then
 * the query read and checked, answered from the cluster zone or forwarded upstream. Cluster
 * answers are synchronous, so the common case never waits on a promise; forwarding is async.
 *
 * What gets no records: a non-IN class and zone transfers (REFUSED: the zone is built from the
 * API, there is nothing to transfer); malformed packets (FORMERR, or nothing when not even a
 * query header is there); an upstream that does not answer (SERVFAIL).
 */
import type { Answer, DecodedPacket } from 'dns-packet';
import type { AnswerCache } from './answer-cache.js';
import { ForwardError, PacketDropped, QueryRejected, type Rcode } from './errors.js';
import type { Forwarder } from './forwarder.js';
import type { DnsMetrics } from './metrics.js';
import type { Chase, ClusterRecords } from './records.js';
import { encodeQuestion, encodeRejection, encodeReply, parseQuery, rcodeOf, sizeLimit, type Query, type Reply } from './wire.js';

export type Transport = 'udp' | 'tcp';

const empty = (rcode: Rcode): Reply => ({ rcode, authoritative: false, answers: [], authorities: [], additionals: [] });
const withoutOpt = (rrs: Answer[] | undefined) => (rrs ?? []).filter((a) => a.type !== 'OPT');

export class QueryHandler {
  constructor(
    private readonly records: ClusterRecords,
    private readonly forwarder: Forwarder,
    private readonly cache: AnswerCache,
    readonly metrics: DnsMetrics,
    private readonly onForwardError: (e: ForwardError) => void = () => {},
  ) {}

  /** The answer: bytes now (cache, cluster zone, a rejection), a promise (forwarded), or undefined (no answer at all). */
  handle(packet: Buffer, transport: Transport): Buffer | Promise<Buffer> | undefined {
    this.metrics.requests[transport]++;
    const hit = this.cache.get(packet, transport);
    if (hit) {
      this.metrics.cacheHits++;
      return this.sent(hit.rcode, hit.answer);
    }
    let query: Query;
    try {
      query = parseQuery(packet);
    } catch (e) {
      if (e instanceof PacketDropped) {
        this.metrics.malformed++;
        return undefined;
      }
      if (!(e instanceof QueryRejected)) throw e;
      if (e.rcode === 'FORMERR') this.metrics.malformed++;
      return this.sent(e.rcode, encodeRejection(e));
    }
    if (query.klass !== 'IN' || query.type === 'AXFR' || query.type === 'IXFR') return this.sent('REFUSED', encodeReply(query, empty('REFUSED'), sizeLimit(query, transport)));
    const resolution = this.records.resolve(query.name, query.type);
    if (resolution.kind === 'forward') return this.forward(packet, query, transport);
    if (resolution.chase) return this.chase(query, resolution.reply, resolution.chase, transport);
    const answer = encodeReply(query, resolution.reply, sizeLimit(query, transport));
    // SERVFAIL only means the caches have not synced yet: not an answer to keep.
    if (resolution.reply.rcode !== 'SERVFAIL') this.cache.set(packet, transport, { answer, rcode: resolution.reply.rcode });
    return this.sent(resolution.reply.rcode, answer);
  }

  private sent(rcode: string, answer: Buffer): Buffer {
    this.metrics.countResponse(rcode);
    return answer;
  }

  private async forward(packet: Buffer, query: Query, transport: Transport): Promise<Buffer> {
    this.metrics.forwards++;
    let upstream: { answer: Buffer; message: DecodedPacket };
    try {
      upstream = await this.forwarder.forward(packet, query, transport);
    } catch (e) {
      if (!(e instanceof ForwardError)) throw e;
      this.metrics.forwardFailures++;
      this.onForwardError(e);
      return this.sent('SERVFAIL', encodeReply(query, empty('SERVFAIL'), sizeLimit(query, transport)));
    }
    const rcode = rcodeOf(upstream.message);
    const limit = sizeLimit(query, transport);
    if (upstream.answer.length <= limit) return this.sent(rcode, upstream.answer);
    // The upstream was more generous than this client allows: cut it down the same way as our own answers.
    const m = upstream.message;
    const reply: Reply = { rcode: rcode as Rcode, authoritative: !!m.flag_aa, answers: m.answers ?? [], authorities: m.authorities ?? [], additionals: withoutOpt(m.additionals) };
    return this.sent(rcode, encodeReply(query, reply, limit));
  }

  /** An ExternalName pointing outside the zone: the CNAME, then what the upstream has for its target (just the CNAME if nothing). */
  private async chase(query: Query, reply: Reply, chase: Chase, transport: Transport): Promise<Buffer> {
    let answers = reply.answers;
    let rcode = reply.rcode;
    try {
      const { message } = await this.forwarder.forward(encodeQuestion(chase.name, chase.type), chase, transport);
      answers = [...answers, ...(message.answers ?? [])];
      if (rcodeOf(message) === 'NXDOMAIN') rcode = 'NXDOMAIN';
    } catch (e) {
      if (!(e instanceof ForwardError)) throw e;
      this.onForwardError(e);
    }
    return this.sent(rcode, encodeReply(query, { ...reply, rcode, answers }, sizeLimit(query, transport)));
  }
}
