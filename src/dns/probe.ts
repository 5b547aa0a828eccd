/**
 * Is a cluster DNS server answering for the cluster? One UDP query for the `kubernetes`
 * Service, which every cluster has: healthy when it comes back NOERROR with an address (a
 * server whose caches have not synced answers SERVFAIL).
 */
import { randomInt } from 'node:crypto';
import { udpExchange, formatAddress, type ServerAddress } from './exchange.js';
import { decodeMessage, encodeQuestion, rcodeOf, withId } from './wire.js';

export interface DnsHealth {
  ok: boolean;
  /** "ok", the answer's code, or why there was none. */
  detail: string;
}

export async function probeDns(server: ServerAddress, clusterDomain = 'cluster.local', timeoutMs = 2000): Promise<DnsHealth> {
  const name = `kubernetes.default.svc.${clusterDomain}`;
  const query = withId(encodeQuestion(name, 'A'), randomInt(0, 0x10000));
  try {
    const answer = decodeMessage(await udpExchange(server, query, timeoutMs));
    const rcode = rcodeOf(answer);
    if (rcode === 'NOERROR' && answer.answers?.some((a) => a.type === 'A')) return { ok: true, detail: 'ok' };
    return { ok: false, detail: `${name} A: ${rcode}${rcode === 'SERVFAIL' ? ' (caches not synced yet?)' : ''} from ${formatAddress(server)}` };
  } catch (e) {
    return { ok: false, detail: (e as Error).message };
  }
}
