/**
 * DNS messages on the wire, through dns-packet (RFC 1035 encoding, EDNS(0) OPT records): a query
 * read and checked the way a server must before answering it, and answers encoded to fit the
 * client's size limit. The question section of an answer is the client's own bytes, so the
 * name comes back exactly as asked (case and all), which clients check.
 */
import dnsPacket, { type Answer, type DecodedPacket, type OptAnswer, type RecordType } from 'dns-packet';
import { PacketDropped, QueryRejected, type Rcode } from './errors.js';

/** No query needs more (a name is at most 255 bytes): anything longer is refused unread. */
export const MAX_QUERY_BYTES = 4096;
/** The UDP payload size without EDNS (RFC 1035 4.2.1). */
export const CLASSIC_UDP_SIZE = 512;
/** The largest EDNS size honoured; bigger answers go over TCP. */
export const MAX_UDP_SIZE = 4096;
/** The size this server announces in its OPT record (the DNS flag day 2020 value, which avoids IP fragmentation). */
export const ADVERTISED_UDP_SIZE = 1232;
/** A TCP message's two-byte length prefix caps it here. */
export const MAX_TCP_MESSAGE = 65535;

const QR = 0x8000;
const OPCODE = 0x7800;
const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
const RA = 0x0080;
const CD = 0x0010;
const HEADER_BYTES = 12;

const RCODES: Record<Rcode, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 };

export interface Query {
  id: number;
  /** The client's RD and CD bits, echoed in the answer. */
  flags: number;
  /** The name as asked (case kept, no trailing dot; "." for the root). */
  name: string;
  /** dns-packet's type name: 'A', 'SRV', ... or 'UNKNOWN_<n>'. */
  type: RecordType | `UNKNOWN_${number}`;
  /** 'IN', 'CH', ... or 'UNKNOWN_<n>'. */
  klass: string;
  /** The question section as the client sent it. */
  question: Buffer;
  /** EDNS(0): the client's UDP payload size (at least 512). */
  edns?: { udpSize: number };
}

/** What an answer says, before it is encoded. */
export interface Reply {
  rcode: Rcode;
  authoritative: boolean;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

const echoedFlags = (flags: number) => flags & (RD | CD);

/**
 * Reads one query. Throws PacketDropped for what deserves no answer, QueryRejected (with the
 * code to answer) for what is malformed or not served: anything but one question, a standard
 * query opcode, at most one OPT record, EDNS version 0, a name that encodes back to the bytes sent.
 */
export function parseQuery(packet: Buffer): Query {
  if (packet.length < HEADER_BYTES) throw new PacketDropped(`${packet.length} bytes is shorter than a DNS header`);
  const id = packet.readUInt16BE(0);
  const flags = packet.readUInt16BE(2);
  if (flags & QR) throw new PacketDropped('a response, not a query');
  const reject = (rcode: QueryRejected['rcode'], why: string) => new QueryRejected(rcode, id, echoedFlags(flags), why);
  if (packet.length > MAX_QUERY_BYTES) throw reject('FORMERR', `a ${packet.length}-byte query (at most ${MAX_QUERY_BYTES})`);
  if (flags & OPCODE) throw reject('NOTIMP', `opcode ${(flags & OPCODE) >> 11} (only standard queries are served)`);
  let msg: DecodedPacket;
  try {
    msg = dnsPacket.decode(packet);
  } catch (e) {
    throw reject('FORMERR', `undecodable: ${(e as Error).message}`);
  }
  if (msg.questions?.length !== 1) throw reject('FORMERR', `${msg.questions?.length ?? 0} questions (exactly one is served)`);
  const opts = (msg.additionals ?? []).filter((a): a is OptAnswer => a.type === 'OPT');
  if (opts.length > 1) throw reject('FORMERR', 'more than one OPT record');
  const q = msg.questions[0]!;
  const nameBytes = dnsPacket.encode({ questions: [{ name: q.name, type: 'A' }] }).subarray(HEADER_BYTES, -4);
  // A label holding a '.' (or bytes that are not UTF-8) decodes to a name that means other labels.
  if (!nameBytes.equals(packet.subarray(HEADER_BYTES, HEADER_BYTES + nameBytes.length))) throw reject('REFUSED', 'a name whose labels hold dots or bytes that are not UTF-8');
  const query: Query = {
    id,
    flags: echoedFlags(flags),
    name: q.name,
    type: q.type as Query['type'],
    klass: String(q.class ?? 'IN'),
    question: Buffer.from(packet.subarray(HEADER_BYTES, HEADER_BYTES + nameBytes.length + 4)),
  };
  const opt = opts[0];
  if (opt) {
    query.edns = { udpSize: Math.max(CLASSIC_UDP_SIZE, opt.udpPayloadSize) };
    if (opt.ednsVersion !== 0) throw new BadVersion(query);
  }
  return query;
}

/** RFC 6891 6.1.3: an EDNS version above 0 gets BADVERS, in an answer that carries an OPT record. */
export class BadVersion extends QueryRejected {
  override name = 'BadVersion';
  constructor(readonly query: Query) {
    super('BADVERS', query.id, query.flags, 'EDNS version above 0');
  }
}

/** The most a client takes over this transport. */
export function sizeLimit(query: Query, transport: 'udp' | 'tcp'): number {
  if (transport === 'tcp') return MAX_TCP_MESSAGE;
  return query.edns ? Math.min(query.edns.udpSize, MAX_UDP_SIZE) : CLASSIC_UDP_SIZE;
}

function optRecord(query: Query, rcode: Rcode): OptAnswer[] {
  if (!query.edns) return [];
  return [{ type: 'OPT', name: '.', udpPayloadSize: ADVERTISED_UDP_SIZE, extendedRcode: RCODES[rcode] >> 4, ednsVersion: 0, flags: 0, flag_do: false, options: [] }];
}

function encode(query: Pick<Query, 'id' | 'flags' | 'question'>, flags: number, sections: Pick<Reply, 'answers' | 'authorities' | 'additionals'>): Buffer {
  const body = dnsPacket.encode({ type: 'response', id: query.id, flags, questions: [], ...sections });
  // dns-packet encodes no question here: the client's own bytes go in, and the count with them.
  const out = Buffer.concat([body.subarray(0, HEADER_BYTES), query.question, body.subarray(HEADER_BYTES)]);
  out.writeUInt16BE(query.question.length ? 1 : 0, 4);
  return out;
}

/**
 * The answer in at most `maxSize` bytes. Additional records that do not fit are left out
 * quietly (RFC 2181 9); when the answer and authority records do not fit, as many answers as
 * fit stay and TC tells the client to ask again over TCP.
 */
export function encodeReply(query: Query, reply: Reply, maxSize: number): Buffer {
  const flags = QR | (reply.authoritative ? AA : 0) | query.flags | RA | (RCODES[reply.rcode] & 0xf);
  const opt = optRecord(query, reply.rcode);
  const full = encode(query, flags, { answers: reply.answers, authorities: reply.authorities, additionals: [...reply.additionals, ...opt] });
  if (full.length <= maxSize) return full;
  const lean = encode(query, flags, { answers: reply.answers, authorities: reply.authorities, additionals: opt });
  if (lean.length <= maxSize) return lean;
  // The longest prefix of the answers that fits, by bisection (answers can run to thousands).
  let lo = 0;
  let hi = reply.answers.length - 1;
  let best = encode(query, flags | TC, { answers: [], authorities: [], additionals: opt });
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const attempt = encode(query, flags | TC, { answers: reply.answers.slice(0, mid + 1), authorities: [], additionals: opt });
    if (attempt.length <= maxSize) {
      best = attempt;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

/** The answer to a rejected query: its code, the question when it could be read, and nothing else. */
export function encodeRejection(rejected: QueryRejected, question?: Query): Buffer {
  const base = question ?? (rejected instanceof BadVersion ? rejected.query : { id: rejected.id, flags: rejected.flags, question: Buffer.alloc(0) });
  const flags = QR | base.flags | RA | (RCODES[rejected.rcode] & 0xf);
  const additionals = rejected instanceof BadVersion ? optRecord(rejected.query, 'BADVERS') : [];
  return encode(base, flags, { answers: [], authorities: [], additionals });
}

/** A copy of a message with another ID. */
export function withId(message: Buffer, id: number): Buffer {
  const out = Buffer.from(message);
  out.writeUInt16BE(id, 0);
  return out;
}

/** A recursive query for one name and type, as this server sends upstream (ID 0: the exchange sets it). */
export function encodeQuestion(name: string, type: RecordType, edns = false): Buffer {
  const additionals: OptAnswer[] = edns ? [{ type: 'OPT', name: '.', udpPayloadSize: ADVERTISED_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [];
  return dnsPacket.encode({ type: 'query', id: 0, flags: RD, questions: [{ name, type }], additionals });
}

/** Decodes a whole message (an upstream's answer); throws on malformed input. */
export function decodeMessage(message: Buffer): DecodedPacket {
  return dnsPacket.decode(message);
}

export const rcodeOf = (message: DecodedPacket): string => (message as DecodedPacket & { rcode?: string }).rcode ?? 'NOERROR';
