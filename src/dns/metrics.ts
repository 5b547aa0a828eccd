/**
 * The DNS server's counters in Prometheus text, served on the kube-dns Service's `metrics` port
 * (9153, CoreDNS's): requests per transport, answers per response code, cache hits, forwards and
 * their failures, and malformed packets.
 */
export class DnsMetrics {
  readonly requests = { udp: 0, tcp: 0 };
  readonly responses = new Map<string, number>();
  cacheHits = 0;
  forwards = 0;
  forwardFailures = 0;
  /** Packets dropped or rejected as malformed (FORMERR, or no answer at all). */
  malformed = 0;

  countResponse(rcode: string): void {
    this.responses.set(rcode, (this.responses.get(rcode) ?? 0) + 1);
  }

  render(extra: { synced: boolean; cacheEntries: number }): string {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples.map(([labels, v]) => `${name}${labels} ${v}`));
    };
    metric('cairn_dns_requests_total', 'counter', 'DNS requests received, by transport.', [
      ['{proto="udp"}', this.requests.udp],
      ['{proto="tcp"}', this.requests.tcp],
    ]);
    metric('cairn_dns_responses_total', 'counter', 'DNS responses sent, by response code.', [...this.responses].sort().map(([rcode, n]) => [`{rcode="${rcode}"}`, n]));
    metric('cairn_dns_cache_hits_total', 'counter', 'Cluster answers served from the answer cache.', [['', this.cacheHits]]);
    metric('cairn_dns_cache_entries', 'gauge', 'Answers in the answer cache.', [['', extra.cacheEntries]]);
    metric('cairn_dns_forward_requests_total', 'counter', 'Queries forwarded to the upstream resolvers.', [['', this.forwards]]);
    metric('cairn_dns_forward_failures_total', 'counter', 'Forwarded queries no upstream answered (SERVFAIL).', [['', this.forwardFailures]]);
    metric('cairn_dns_malformed_requests_total', 'counter', 'Packets dropped or answered FORMERR.', [['', this.malformed]]);
    metric('cairn_dns_synced', 'gauge', '1 once the Service, EndpointSlice and Namespace caches have synced.', [['', extra.synced ? 1 : 0]]);
    return out.join('\n') + '\n';
  }
}
