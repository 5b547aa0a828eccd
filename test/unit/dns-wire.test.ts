// DNS messages on the wire (src/dns/wire.ts) and the query handler's answers to bad input:
// malformed, oversized, multi-question, non-query, wrong-class and EDNS-version packets get the
// right code (or none), truncation keeps what fits and sets TC, and random bytes — fuzzed, and
// valid queries with bytes flipped — never make the handler throw.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import dnsPacket, { type Answer, type Packet } from 'dns-packet';
import { AnswerCache } from '../../src/dns/answer-cache.js';
import { ClusterZone } from '../../src/dns/cluster-zone.js';
import { PacketDropped, QueryRejected } from '../../src/dns/errors.js';
import { Forwarder } from '../../src/dns/forwarder.js';
import { DnsMetrics } from '../../src/dns/metrics.js';
import { QueryHandler } from '../../src/dns/query-handler.js';
import { ClusterRecords } from '../../src/dns/records.js';
import { encodeReply, parseQuery } from '../../src/dns/wire.js';

const query = (p: Packet) => dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, ...p });
const q1 = (name = 'web.demo.svc.cluster.local', type: 'A' | 'SRV' | 'TXT' = 'A') => query({ questions: [{ name, type }] });
const opt = (udpPayloadSize: number, ednsVersion = 0): Answer => ({ type: 'OPT', name: '.', udpPayloadSize, extendedRcode: 0, ednsVersion, flags: 0, flag_do: false, options: [] });

function rejected(packet: Buffer): QueryRejected {
  try {
    parseQuery(packet);
  } catch (e) {
    if (e instanceof QueryRejected) return e;
    throw e;
  }
  assert.fail('the query was accepted');
}

function handler(opts: { cacheSize?: number } = {}) {
  const zone = new ClusterZone();
  zone.setNamespace('demo');
  zone.setService({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'demo', name: 'web' }, spec: { clusterIP: '10.96.5.5', ports: [{ name: 'http', port: 80 }] } });
  zone.setService({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'demo', name: 'big' }, spec: { clusterIP: 'None' } });
  const endpoints = Array.from({ length: 100 }, (_, i) => ({ addresses: [`10.244.${i >> 8}.${i & 255}`], conditions: { ready: true } }));
  zone.setSlice({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { namespace: 'demo', name: 'big-1', labels: { 'kubernetes.io/service-name': 'big' } }, addressType: 'IPv4', endpoints } as never);
  zone.markSynced();
  const metrics = new DnsMetrics();
  // No upstreams: nothing leaves the machine; outside names get SERVFAIL.
  return { zone, metrics, h: new QueryHandler(new ClusterRecords(zone, { domain: 'cluster.local' }), new Forwarder([]), new AnswerCache(zone, opts.cacheSize ?? 100), metrics) };
}

const rdata = (a: Answer) => (a as { data?: unknown }).data;
const decode = (b: Buffer | undefined) => {
  assert.ok(b, 'expected an answer');
  return dnsPacket.decode(b) as ReturnType<typeof dnsPacket.decode> & { rcode: string };
};

describe('reading queries', () => {
  it('reads the question, the flags to echo and the EDNS size', () => {
    const q = parseQuery(query({ questions: [{ name: 'Web.Demo.svc.cluster.local', type: 'SRV' }], additionals: [opt(1232)] }));
    assert.equal(q.id, 4242);
    assert.equal(q.name, 'Web.Demo.svc.cluster.local');
    assert.equal(q.type, 'SRV');
    assert.equal(q.klass, 'IN');
    assert.equal(q.flags, dnsPacket.RECURSION_DESIRED);
    assert.deepEqual(q.edns, { udpSize: 1232 });
  });

  it('drops what is not a query: too short for a header, or a response', () => {
    assert.throws(() => parseQuery(Buffer.alloc(11)), PacketDropped);
    assert.throws(() => parseQuery(dnsPacket.encode({ type: 'response', id: 1, questions: [{ name: 'a', type: 'A' }] })), PacketDropped);
  });

  it('FORMERR for undecodable bytes, no question, two questions, two OPT records, and queries over 4 KiB', () => {
    assert.equal(rejected(Buffer.concat([q1().subarray(0, 12), Buffer.from([5, 0x61])])).rcode, 'FORMERR');
    assert.equal(rejected(query({ questions: [] })).rcode, 'FORMERR');
    assert.equal(rejected(query({ questions: [{ name: 'a', type: 'A' }, { name: 'b', type: 'A' }] })).rcode, 'FORMERR');
    assert.equal(rejected(query({ questions: [{ name: 'a', type: 'A' }], additionals: [opt(512), opt(512)] })).rcode, 'FORMERR');
    const huge = query({ questions: [{ name: 'a', type: 'A' }], additionals: [{ ...opt(512), options: [{ code: 65001 as never, data: Buffer.alloc(5000) }] } as Answer] });
    const r = rejected(huge);
    assert.equal(r.rcode, 'FORMERR');
    assert.equal(r.id, 4242);
  });

  it('NOTIMP for other opcodes, BADVERS for EDNS above version 0, REFUSED for a label holding a dot', () => {
    const notify = q1();
    notify[2] |= 4 << 3;
    assert.equal(rejected(notify).rcode, 'NOTIMP');
    assert.equal(rejected(query({ questions: [{ name: 'a', type: 'A' }], additionals: [opt(1232, 1)] })).rcode, 'BADVERS');
    const dotted = Buffer.concat([q1().subarray(0, 12), Buffer.from([3, 0x61, 0x2e, 0x62, 0, 0, 1, 0, 1])]);
    assert.equal(rejected(dotted).rcode, 'REFUSED');
  });
});

describe('encoding answers', () => {
  const many = (n: number): Answer[] => Array.from({ length: n }, (_, i) => ({ name: 'big.demo.svc.cluster.local', type: 'A', ttl: 30, class: 'IN', data: `10.0.${i >> 8}.${i & 255}` }));
  const reply = (answers: Answer[], additionals: Answer[] = []) => ({ rcode: 'NOERROR' as const, authoritative: true, answers, authorities: [], additionals });

  it('echoes the question bytes, ID, RD; sets QR, AA, RA', () => {
    const packet = q1('WEB.demo.svc.cluster.local');
    const out = encodeReply(parseQuery(packet), reply(many(1)), 512);
    assert.deepEqual(out.subarray(12, packet.length), packet.subarray(12));
    const m = decode(out);
    assert.equal(m.id, 4242);
    assert.ok(m.flag_qr && m.flag_aa && m.flag_rd && m.flag_ra && !m.flag_tc);
  });

  it('over the size limit: additional records go quietly first, then answers go and TC is set', () => {
    const q = parseQuery(q1());
    const extraOnly = decode(encodeReply(q, reply(many(2), many(40)), 512));
    assert.equal(extraOnly.flag_tc, false);
    assert.equal(extraOnly.answers!.length, 2);
    assert.equal(extraOnly.additionals!.length, 0);
    const cut = encodeReply(q, reply(many(100)), 512);
    assert.ok(cut.length <= 512);
    const m = decode(cut);
    assert.equal(m.flag_tc, true);
    assert.ok(m.answers!.length > 5 && m.answers!.length < 100, `${m.answers!.length} answers kept`);
  });

  it('with EDNS the client size counts and the answer carries an OPT record', () => {
    // dns-packet does not compress names: 60 A records of this name take about 2.5 KB.
    const q = parseQuery(query({ questions: [{ name: 'big.demo.svc.cluster.local', type: 'A' }], additionals: [opt(4096)] }));
    const m = decode(encodeReply(q, reply(many(60)), 4096));
    assert.equal(m.flag_tc, false);
    assert.equal(m.answers!.length, 60);
    assert.equal(m.additionals!.filter((a) => a.type === 'OPT').length, 1);
  });
});

describe('the query handler', () => {
  it('answers a cluster name, then the same query from the cache under the new ID', () => {
    const { h, metrics } = handler();
    const first = decode(h.handle(q1(), 'udp') as Buffer);
    assert.deepEqual(first.answers!.map(rdata), ['10.96.5.5']);
    const again = q1();
    again.writeUInt16BE(7, 0);
    const second = decode(h.handle(again, 'udp') as Buffer);
    assert.equal(second.id, 7);
    assert.deepEqual(second.answers!.map(rdata), ['10.96.5.5']);
    assert.equal(metrics.cacheHits, 1);
  });

  it('a zone change empties the cache', () => {
    const { h, zone } = handler();
    h.handle(q1(), 'udp');
    zone.setService({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'demo', name: 'web' }, spec: { clusterIP: '10.96.6.6', ports: [{ name: 'http', port: 80 }] } });
    assert.deepEqual(decode(h.handle(q1(), 'udp') as Buffer).answers!.map(rdata), ['10.96.6.6']);
  });

  it('truncates over UDP (512 bytes without EDNS), answers whole over TCP', () => {
    const { h } = handler();
    const udp = h.handle(q1('big.demo.svc.cluster.local'), 'udp') as Buffer;
    assert.ok(udp.length <= 512);
    assert.equal(decode(udp).flag_tc, true);
    const tcp = decode(h.handle(q1('big.demo.svc.cluster.local'), 'tcp') as Buffer);
    assert.equal(tcp.flag_tc, false);
    assert.equal(tcp.answers!.length, 100);
  });

  it('REFUSED for another class and for zone transfers; FORMERR echoes the ID; responses get nothing', () => {
    const { h } = handler();
    const chaos = decode(h.handle(query({ questions: [{ name: 'version.bind', type: 'TXT', class: 'CH' }] }), 'udp') as Buffer);
    assert.equal(chaos.rcode, 'REFUSED');
    assert.equal(decode(h.handle(query({ questions: [{ name: 'cluster.local', type: 'AXFR' }] }), 'tcp') as Buffer).rcode, 'REFUSED');
    const two = decode(h.handle(query({ questions: [{ name: 'a', type: 'A' }, { name: 'b', type: 'A' }] }), 'udp') as Buffer);
    assert.equal(two.rcode, 'FORMERR');
    assert.equal(two.id, 4242);
    assert.equal(h.handle(dnsPacket.encode({ type: 'response', id: 1, questions: [{ name: 'a', type: 'A' }] }), 'udp'), undefined);
  });

  it('SERVFAIL for an outside name when there is no upstream', async () => {
    const { h } = handler();
    assert.equal(decode(await h.handle(q1('example.org'), 'udp')).rcode, 'SERVFAIL');
  });

  it('survives random bytes and mangled queries: never throws, answers at most 512 bytes over UDP', async () => {
    const { h, metrics } = handler({ cacheSize: 10 });
    const seeds = [q1(), q1('big.demo.svc.cluster.local'), query({ questions: [{ name: '_http._tcp.web.demo.svc.cluster.local', type: 'SRV' }], additionals: [opt(1232)] })];
    const inputs: Buffer[] = [];
    for (let i = 0; i < 3000; i++) inputs.push(randomBytes(Math.floor(Math.random() * 300)));
    for (let i = 0; i < 6000; i++) {
      const b = Buffer.from(seeds[i % seeds.length]!);
      for (let flips = 1 + (i % 4); flips > 0; flips--) b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256);
      inputs.push(i % 7 === 0 ? b.subarray(0, Math.floor(Math.random() * b.length)) : b);
    }
    for (const input of inputs) {
      const out = await h.handle(input, 'udp');
      if (out === undefined) continue;
      assert.ok(out.length <= 512 || (input.length >= 12 && parseQueryOk(input)), `an answer of ${out.length} bytes to ${input.toString('hex')}`);
      dnsPacket.decode(out);
    }
    assert.ok(metrics.malformed > 1000, `${metrics.malformed} malformed`);
    // Still answering.
    assert.deepEqual(decode(h.handle(q1(), 'udp') as Buffer).answers!.map(rdata), ['10.96.5.5']);
  });
});

/** A mangled query may still be a valid one with a large EDNS size. */
function parseQueryOk(b: Buffer): boolean {
  try {
    return (parseQuery(b).edns?.udpSize ?? 0) > 512;
  } catch {
    return false;
  }
}
