/** The cluster DNS server's typed errors. */

/** Response codes the server itself produces (RFC 1035 4.1.1, RFC 6891 BADVERS). */
export type Rcode = 'NOERROR' | 'FORMERR' | 'SERVFAIL' | 'NXDOMAIN' | 'NOTIMP' | 'REFUSED' | 'BADVERS';

export class DnsError extends Error {
  override name = 'DnsError';
}

/** A query answered with an error code and no records: malformed, an opcode or EDNS version we do not serve. */
export class QueryRejected extends DnsError {
  override name = 'QueryRejected';
  constructor(
    readonly rcode: Exclude<Rcode, 'NOERROR' | 'NXDOMAIN'>,
    /** The query's ID, echoed in the answer. */
    readonly id: number,
    /** Flags to echo (RD, CD), from the header. */
    readonly flags: number,
    message: string,
  ) {
    super(message);
  }
}

/** A packet that gets no answer at all: too short to hold a header, or itself a response (answering those would let two servers ping-pong). */
export class PacketDropped extends DnsError {
  override name = 'PacketDropped';
}

/** No upstream resolver answered in time (the client gets SERVFAIL). */
export class ForwardError extends DnsError {
  override name = 'ForwardError';
}

/** A flag or option of `cairn dns` that cannot work. */
export class DnsConfigError extends DnsError {
  override name = 'DnsConfigError';
}
