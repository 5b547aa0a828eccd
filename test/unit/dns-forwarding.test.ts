// Forwarding (src/dns/forwarder.ts, upstreams.ts) against stand-in resolvers on loopback: the
// answer comes back under the client's ID, a silent upstream is skipped for the next one, none
// answering is an error (SERVFAIL upstream of here), TCP goes out as TCP; the upstream list
// from resolv.conf and flags, without this server itself. And the answer cache's bounds.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { AnswerCache } from '../../src/dns/answer-cache.js';
import { ClusterZone } from '../../src/dns/cluster-zone.js';
import { DnsConfigError, ForwardError } from '../../src/dns/errors.js';
import { Forwarder } from '../../src/dns/forwarder.js';
import { parseServerAddress, systemUpstreams, withoutSelf } from '../../src/dns/upstreams.js';
import { startFakeUpstream, type FakeUpstream } from '../support/dns-fake-upstream.js';

const upstreams: FakeUpstream[] = [];
after(async () => {
  for (const u of upstreams) await u.close();
});
const fake = async (...args: Parameters<typeof startFakeUpstream>) => {
  const u = await startFakeUpstream(...args);
  upstreams.push(u);
  return u;
};

const query = (name: string, id = 999) => dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: 'A' }] });
const records = { 'outside.test A': [{ name: 'outside.test', type: 'A' as const, ttl: 60, data: '192.0.2.7' }] };

describe('forwarder', () => {
  it('returns the upstream answer under the client ID; the upstream saw another ID', async () => {
    const up = await fake({ host: '127.0.0.61', records });
    const f = new Forwarder([up.address]);
    const { answer, message } = await f.forward(query('outside.test', 31337), { name: 'outside.test', type: 'A' }, 'udp');
    assert.equal(answer.readUInt16BE(0), 31337);
    assert.deepEqual(message.answers!.map((a) => (a as { data: string }).data), ['192.0.2.7']);
    assert.deepEqual(up.asked, ['outside.test A udp']);
  });

  it('goes on to the next upstream when one does not answer, and over TCP when the client came over TCP', async () => {
    const silent = await fake({ host: '127.0.0.62', silent: true });
    const good = await fake({ host: '127.0.0.63', records });
    const f = new Forwarder([silent.address, good.address], { attemptTimeoutMs: 300 });
    const t0 = Date.now();
    const { message } = await f.forward(query('outside.test'), { name: 'outside.test', type: 'A' }, 'tcp');
    assert.equal(message.answers!.length, 1);
    assert.ok(Date.now() - t0 < 2000);
    assert.deepEqual(good.asked, ['outside.test A tcp']);
  });

  it('fails with ForwardError when no upstream answers in time, or there is none', async () => {
    const silent = await fake({ host: '127.0.0.64', silent: true });
    await assert.rejects(new Forwarder([silent.address], { attemptTimeoutMs: 200 }).forward(query('x.test'), { name: 'x.test', type: 'A' }, 'udp'), ForwardError);
    await assert.rejects(new Forwarder([]).forward(query('x.test'), { name: 'x.test', type: 'A' }, 'udp'), /no upstream resolvers/);
  });
});

describe('upstream list', () => {
  it('parses IP, IP:PORT and [IPv6]:PORT, refusing names and bad ports', () => {
    assert.deepEqual(parseServerAddress('10.0.0.2'), { host: '10.0.0.2', port: 53 });
    assert.deepEqual(parseServerAddress('127.0.0.9:5353'), { host: '127.0.0.9', port: 5353 });
    assert.deepEqual(parseServerAddress('[fd00::1]:54'), { host: 'fd00::1', port: 54 });
    assert.deepEqual(parseServerAddress('fd00::1'), { host: 'fd00::1', port: 53 });
    assert.throws(() => parseServerAddress('dns.example'), DnsConfigError);
    assert.throws(() => parseServerAddress('10.0.0.2:0'), DnsConfigError);
    assert.throws(() => parseServerAddress('10.0.0.2:70000'), DnsConfigError);
  });

  it("reads the host's nameservers from resolv.conf", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-dns-test-'));
    try {
      await writeFile(join(dir, 'resolv.conf'), '# comment\nnameserver 10.0.0.2\nsearch example.com\nnameserver fd00::53\noptions ndots:2\n');
      assert.deepEqual(await systemUpstreams(join(dir, 'resolv.conf')), [
        { host: '10.0.0.2', port: 53 },
        { host: 'fd00::53', port: 53 },
      ]);
      await assert.rejects(systemUpstreams(join(dir, 'missing')), DnsConfigError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('leaves out upstreams that are this server', () => {
    const listens = [{ host: '172.20.0.1', port: 53 }, { host: '0.0.0.0', port: 5353 }];
    const r = withoutSelf([{ host: '172.20.0.1', port: 53 }, { host: '172.20.0.1', port: 54 }, { host: '127.0.0.1', port: 5353 }, { host: '10.255.255.53', port: 53 }], listens);
    assert.deepEqual(r.dropped, [{ host: '172.20.0.1', port: 53 }, { host: '127.0.0.1', port: 5353 }]);
    assert.deepEqual(r.kept, [{ host: '172.20.0.1', port: 54 }, { host: '10.255.255.53', port: 53 }]);
  });
});

describe('answer cache', () => {
  it('holds at most its size, dropping the oldest; 0 turns it off', () => {
    const zone = new ClusterZone();
    const cache = new AnswerCache(zone, 2);
    const [a, b, c] = ['a.test', 'b.test', 'c.test'].map((n) => query(n));
    for (const q of [a!, b!, c!]) cache.set(q, 'udp', { answer: Buffer.from(q), rcode: 'NOERROR' });
    assert.equal(cache.size, 2);
    assert.equal(cache.get(a!, 'udp'), undefined);
    assert.ok(cache.get(c!, 'udp'));
    assert.equal(cache.get(c!, 'tcp'), undefined, 'UDP and TCP answers are kept apart');
    const off = new AnswerCache(zone, 0);
    off.set(a!, 'udp', { answer: a!, rcode: 'NOERROR' });
    assert.equal(off.get(a!, 'udp'), undefined);
  });
});
