/**
 * Encoded answers from the cluster zone, keyed by the query's bytes after its ID: a query that
 * comes again (a client's retry, the next pod asking the same name) is answered by copying
 * bytes and setting the ID, with no decoding at all. Two queries with the same bytes ask the same
 * thing the same way (flags, EDNS size, name case), so they get the same answer. Every change of
 * the zone empties it; it holds at most `maxEntries`, dropping the oldest first. Forwarded
 * answers are not kept: their TTLs belong to the upstream.
 */
import type { ClusterZone } from './cluster-zone.js';
import type { Rcode } from './errors.js';
import { withId } from './wire.js';

const MAX_KEYED_QUERY = 512;

export interface CachedAnswer {
  answer: Buffer;
  rcode: Rcode;
}

export class AnswerCache {
  private readonly entries = new Map<string, CachedAnswer>();
  private generation = -1;

  constructor(
    private readonly zone: ClusterZone,
    /** 0 turns the cache off. */
    private readonly maxEntries: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The cached answer to this query, under the query's own ID. */
  get(query: Buffer, transport: 'udp' | 'tcp'): CachedAnswer | undefined {
    if (!this.maxEntries || !this.current()) return undefined;
    const hit = this.entries.get(keyOf(query, transport));
    return hit && { answer: withId(hit.answer, query.readUInt16BE(0)), rcode: hit.rcode };
  }

  set(query: Buffer, transport: 'udp' | 'tcp', entry: CachedAnswer): void {
    // Ordinary queries are well under 512 bytes; longer ones (EDNS padding) would make big keys.
    if (!this.maxEntries || query.length > MAX_KEYED_QUERY) return;
    this.current();
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(keyOf(query, transport), entry);
  }

  /** Empties the cache when the zone changed since it was filled; false when it did. */
  private current(): boolean {
    if (this.generation === this.zone.generation) return true;
    this.entries.clear();
    this.generation = this.zone.generation;
    return false;
  }
}

/** The transport matters: the same query may be truncated over UDP and whole over TCP. */
const keyOf = (query: Buffer, transport: 'udp' | 'tcp') => (transport === 'udp' ? 'u' : 't') + query.toString('latin1', 2);
