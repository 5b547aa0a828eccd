// `cairn dns` as a process against a real API server, asked with the real dig on loopback: every
// record kind from live Services and EndpointSlices (and an update seen within a second),
// NXDOMAIN and NODATA, truncation with dig's TCP retry, forwarding to a stand-in upstream on
// 127.0.0.x (an ExternalName chased through it too), SERVFAIL when the upstream is silent or the
// upstream sends the query back (a loop), bad packets over UDP and TCP, /metrics, and the
// system:cairn-dns user's RBAC being enough.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { CAIRN_DNS_USER } from '../../src/api/authz/bootstrap-policy.js';
import { renderKubeconfig } from '../../src/api/kubeconfig-writer.js';
import { issueCertificate } from '../../src/api/pki.js';
import type { Client } from '../../src/client/index.js';
import { tcpExchange } from '../../src/dns/exchange.js';
import type { KubeObject } from '../../src/util/object.js';
import { dig, rdata, requireDig } from '../support/dig.js';
import { startFakeUpstream, type FakeUpstream } from '../support/dns-fake-upstream.js';
import { adminClient, createNamespace, R } from '../support/objects.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { until } from '../support/until.js';

const CAIRN = new URL('../../../bin/cairn.js', import.meta.url).pathname;
const NS = 'dnstest';
const LO = '127.0.0.1';

interface DnsProcess {
  port: number;
  metricsPort?: number;
  child: ChildProcess;
  log: () => string;
  stop(): Promise<void>;
}

const processes: DnsProcess[] = [];
const upstreams: FakeUpstream[] = [];
let server: TestServer;
let c: Client;
let kubeconfig: string;
let dns: DnsProcess;
let upstream: FakeUpstream;

/** `cairn dns --listen 127.0.0.1:0 ...`: resolves once it says where it serves. */
async function startDns(args: string[]): Promise<DnsProcess> {
  const child = spawn(process.execPath, [CAIRN, 'dns', '--kubeconfig', kubeconfig, '--listen', `${LO}:0`, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d));
  const p: DnsProcess = {
    port: 0,
    child,
    log: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
  processes.push(p);
  p.port = await until(`cairn dns to start (log: ${log})`, () => {
    if (child.exitCode !== null) assert.fail(`cairn dns exited ${child.exitCode}: ${log}`);
    const m = /serving on 127\.0\.0\.1:(\d+)/.exec(log);
    return m ? Number(m[1]) : undefined;
  });
  return p;
}

function svc(name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec };
}
function endpoints(name: string, addresses: { ip: string; hostname?: string }[], ports: { name: string; port: number; protocol?: string }[]): KubeObject {
  return { apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace: NS }, subsets: [{ addresses, ports }] } as KubeObject;
}

before(async () => {
  requireDig();
  // The advertised address keeps the API server's own EndpointSlice valid (loopback is refused there).
  server = await startTestServer({ server: { advertise: ['192.0.2.10'] } });
  c = adminClient(server);
  // The DNS server's own user, with only the ClusterRole the API server bootstraps for it.
  const ca = { certPem: await readFile(join(server.dataDir, 'pki', 'ca.crt'), 'utf8'), keyPem: await readFile(join(server.dataDir, 'pki', 'ca.key'), 'utf8') };
  const cert = await issueCertificate(ca, { commonName: CAIRN_DNS_USER, usage: 'client' });
  kubeconfig = join(server.dataDir, 'dns.kubeconfig');
  await writeFile(kubeconfig, renderKubeconfig({ server: server.url, caPem: ca.certPem, clusterName: 'test', userName: CAIRN_DNS_USER, clientCertPem: cert.certPem, clientKeyPem: cert.keyPem }), { mode: 0o600 });

  await createNamespace(c, NS);
  await c.resource(R.services).create(svc('web', { ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }] }));
  await c.resource(R.services).create(svc('db', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] }));
  await c.resource(R.endpoints).create(endpoints('db', [{ ip: '10.244.1.5', hostname: 'db-0' }, { ip: '10.244.2.6', hostname: 'db-1' }, { ip: '10.244.3.7' }], [{ name: 'pg', port: 5432 }]));
  await c.resource(R.services).create(svc('big', { clusterIP: 'None', ports: [{ name: 'p', port: 1 }] }));
  await c.resource(R.endpoints).create(endpoints('big', Array.from({ length: 60 }, (_, i) => ({ ip: `10.244.9.${i + 1}` })), [{ name: 'p', port: 1 }]));
  await c.resource(R.services).create(svc('ext', { type: 'ExternalName', externalName: 'outside.test' }));

  upstream = await startFakeUpstream({
    host: '127.0.0.71',
    records: {
      'outside.test A': [{ name: 'outside.test', type: 'A', ttl: 60, data: '192.0.2.7' }],
      '7.2.0.192.in-addr.arpa PTR': [{ name: '7.2.0.192.in-addr.arpa', type: 'PTR', ttl: 60, data: 'outside.test' }],
    },
  });
  upstreams.push(upstream);
  dns = await startDns(['--upstream', `${upstream.address.host}:${upstream.address.port}`, '--metrics', `${LO}:0`]);
  // The mirrored slices are made by the controllers: wait until the DNS server sees them.
  await until('the mirrored slices in DNS', async () => (await dig(LO, dns.port, ['db.dnstest.svc.cluster.local', 'A'])).answer.length === 3 && (await dig(LO, dns.port, ['+tcp', 'big.dnstest.svc.cluster.local', 'A'])).answer.length === 60);
});

after(async () => {
  for (const p of processes) await p.stop();
  for (const u of upstreams) await u.close();
  await server?.stop();
});

const q = (args: string[]) => dig(LO, dns.port, args);

describe('records from the API', () => {
  it('A of a ClusterIP Service is its cluster IP; AAAA is NODATA with the SOA', async () => {
    const ip = ((await c.resource(R.services).get('web', NS)).spec as { clusterIP: string }).clusterIP;
    const a = await q(['web.dnstest.svc.cluster.local', 'A']);
    assert.equal(a.status, 'NOERROR');
    assert.ok(a.flags.includes('aa'));
    assert.deepEqual(a.answer, [`web.dnstest.svc.cluster.local. 30 IN A ${ip}`]);
    const aaaa = await q(['web.dnstest.svc.cluster.local', 'AAAA']);
    assert.equal(aaaa.status, 'NOERROR');
    assert.deepEqual(aaaa.answer, []);
    assert.match(aaaa.authority[0] ?? '', /^cluster\.local\. 5 IN SOA ns\.dns\.cluster\.local\. hostmaster\.cluster\.local\. \d+ 7200 1800 86400 5$/);
  });

  it('headless: one A per endpoint, hostname records, SRV per endpoint', async () => {
    assert.deepEqual(rdata((await q(['db.dnstest.svc.cluster.local', 'A'])).answer), ['10.244.1.5', '10.244.2.6', '10.244.3.7']);
    assert.deepEqual(rdata((await q(['db-1.db.dnstest.svc.cluster.local', 'A'])).answer), ['10.244.2.6']);
    const srv = await q(['_pg._tcp.db.dnstest.svc.cluster.local', 'SRV']);
    assert.deepEqual(rdata(srv.answer), ['0 33 5432 10-244-3-7.db.dnstest.svc.cluster.local.', '0 33 5432 db-0.db.dnstest.svc.cluster.local.', '0 33 5432 db-1.db.dnstest.svc.cluster.local.']);
    assert.equal(srv.additional.length, 3);
  });

  it('SRV of a ClusterIP Service port targets the Service; UDP ports by _udp', async () => {
    assert.deepEqual(rdata((await q(['_http._tcp.web.dnstest.svc.cluster.local', 'SRV'])).answer), ['0 100 80 web.dnstest.svc.cluster.local.']);
    assert.deepEqual(rdata((await q(['_dns._udp.web.dnstest.svc.cluster.local', 'SRV'])).answer), ['0 100 53 web.dnstest.svc.cluster.local.']);
    assert.equal((await q(['_dns._tcp.web.dnstest.svc.cluster.local', 'SRV'])).status, 'NXDOMAIN');
  });

  it('PTR of a cluster IP and of an endpoint address', async () => {
    const ip = ((await c.resource(R.services).get('web', NS)).spec as { clusterIP: string }).clusterIP;
    assert.deepEqual(rdata((await q(['-x', ip])).answer), ['web.dnstest.svc.cluster.local.']);
    assert.deepEqual(rdata((await q(['-x', '10.244.1.5'])).answer), ['db-0.db.dnstest.svc.cluster.local.']);
  });

  it('pod A records, dns-version TXT, NXDOMAIN for names that do not exist', async () => {
    assert.deepEqual(rdata((await q(['10-244-7-8.dnstest.pod.cluster.local', 'A'])).answer), ['10.244.7.8']);
    assert.deepEqual(rdata((await q(['dns-version.cluster.local', 'TXT'])).answer), ['"1.1.0"']);
    const nx = await q(['nope.dnstest.svc.cluster.local', 'A']);
    assert.equal(nx.status, 'NXDOMAIN');
    assert.equal(nx.authority.length, 1);
    assert.equal((await q(['web.nonamespace.svc.cluster.local', 'A'])).status, 'NXDOMAIN');
  });

  it('a change in the API shows within a second', async () => {
    await c.resource(R.services).create(svc('late', { ports: [{ port: 8080 }] }));
    const t0 = Date.now();
    await until('late.dnstest in DNS', async () => (await q(['late.dnstest.svc.cluster.local', 'A'])).status === 'NOERROR', 5000, 20);
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
    await c.resource(R.services).delete('late', { namespace: NS });
    await until('late.dnstest gone from DNS', async () => (await q(['late.dnstest.svc.cluster.local', 'A'])).status === 'NXDOMAIN', 5000, 20);
  });
});

describe('size', () => {
  it('over UDP a big answer is truncated (TC, what fits); dig retries over TCP and gets all of it', async () => {
    const udp = await q(['+ignore', '+noedns', 'big.dnstest.svc.cluster.local', 'A']);
    assert.ok(udp.flags.includes('tc'), `flags ${udp.flags}`);
    assert.ok(udp.answer.length > 0 && udp.answer.length < 60, `${udp.answer.length} answers over UDP`);
    const retried = await q(['+noedns', 'big.dnstest.svc.cluster.local', 'A']);
    assert.ok(retried.retriedTcp);
    assert.equal(retried.answer.length, 60);
    // With EDNS the client's size counts: 4096 bytes hold all 60.
    const edns = await q(['+ignore', '+bufsize=4096', 'big.dnstest.svc.cluster.local', 'A']);
    assert.ok(!edns.flags.includes('tc'));
    assert.equal(edns.answer.length, 60);
  });
});

describe('forwarding', () => {
  it('names outside the cluster come from the upstream; an ExternalName is chased through it', async () => {
    const out = await q(['outside.test', 'A']);
    assert.equal(out.status, 'NOERROR');
    assert.deepEqual(rdata(out.answer), ['192.0.2.7']);
    assert.ok(!out.flags.includes('aa'));
    const ext = await q(['ext.dnstest.svc.cluster.local', 'A']);
    assert.deepEqual(ext.answer, ['ext.dnstest.svc.cluster.local. 30 IN CNAME outside.test.', 'outside.test. 60 IN A 192.0.2.7']);
    assert.equal((await q(['missing.test', 'A'])).status, 'NXDOMAIN');
    assert.deepEqual(rdata((await q(['-x', '192.0.2.7'])).answer), ['outside.test.']);
    assert.ok(upstream.asked.includes('outside.test A udp'));
    assert.ok(!upstream.asked.some((a) => a.includes('cluster.local')), `cluster names leaked upstream: ${upstream.asked}`);
  });

  it('SERVFAIL when the upstream does not answer, within the forward deadline', async () => {
    const silent = await startFakeUpstream({ host: '127.0.0.72', silent: true });
    upstreams.push(silent);
    const other = await startDns(['--upstream', `${silent.address.host}:${silent.address.port}`]);
    const t0 = Date.now();
    const r = await dig(LO, other.port, ['+time=8', 'outside.test', 'A']);
    assert.equal(r.status, 'SERVFAIL');
    assert.ok(Date.now() - t0 < 6000, `took ${Date.now() - t0} ms`);
    await other.stop();
  });

  it('a forwarding loop (the upstream sends queries back) ends in SERVFAIL at once', async () => {
    const relay = await startFakeUpstream({ host: '127.0.0.73' });
    upstreams.push(relay);
    const looped = await startDns(['--upstream', `${relay.address.host}:${relay.address.port}`]);
    relay.relayTo = { host: LO, port: looped.port };
    const t0 = Date.now();
    const r = await dig(LO, looped.port, ['+time=8', 'loop.test', 'A']);
    assert.equal(r.status, 'SERVFAIL');
    assert.ok(Date.now() - t0 < 1500, `took ${Date.now() - t0} ms`);
    assert.deepEqual(relay.asked, ['loop.test A udp'], 'the query went round once');
    await looped.stop();
  });
});

describe('bad input', () => {
  it('random bytes, truncated and multi-question packets over UDP: no crash, FORMERR where a header is readable', async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, LO, r));
    const answers: Buffer[] = [];
    sock.on('message', (m) => answers.push(m));
    for (let i = 0; i < 500; i++) sock.send(randomBytes(1 + Math.floor(Math.random() * 600)), dns.port, LO);
    const two = dnsPacket.encode({ type: 'query', id: 77, questions: [{ name: 'a.test', type: 'A' }, { name: 'b.test', type: 'A' }] });
    sock.send(two, dns.port, LO);
    sock.send(Buffer.alloc(5000, 1), dns.port, LO);
    await until('the FORMERR for two questions', () => answers.some((a) => a.length >= 12 && a.readUInt16BE(0) === 77 && (dnsPacket.decode(a) as { rcode?: string }).rcode === 'FORMERR'), 5000);
    sock.close();
    assert.equal(dns.child.exitCode, null, `cairn dns exited: ${dns.log()}`);
    assert.equal((await q(['web.dnstest.svc.cluster.local', 'A'])).status, 'NOERROR');
  });

  it('over TCP an enormous length prefix closes the connection; pipelined queries are all answered', async () => {
    const closed = await new Promise<boolean>((resolve) => {
      const s = connect({ host: LO, port: dns.port }, () => s.write(Buffer.from([0xff, 0xff, 1, 2, 3])));
      s.on('close', () => resolve(true));
      s.on('error', () => undefined);
      setTimeout(() => resolve(false), 5000);
    });
    assert.ok(closed, 'the connection stayed open');
    const ids = [1, 2, 3, 4, 5];
    const got = await new Promise<number[]>((resolve, reject) => {
      const s = connect({ host: LO, port: dns.port }, () => {
        s.write(
          Buffer.concat(
            ids.map((id) => {
              const m = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: 'web.dnstest.svc.cluster.local', type: 'A' }] });
              const len = Buffer.alloc(2);
              len.writeUInt16BE(m.length);
              return Buffer.concat([len, m]);
            }),
          ),
        );
      });
      let buf = Buffer.alloc(0);
      const seen: number[] = [];
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          seen.push(buf.readUInt16BE(2));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
        }
        if (seen.length === ids.length) {
          s.destroy();
          resolve(seen);
        }
      });
      s.on('error', reject);
      setTimeout(() => reject(new Error(`answers for ${seen} only`)), 5000);
    });
    assert.deepEqual(got.sort(), ids);
  });

  it('CHAOS class and zone transfers are REFUSED', async () => {
    assert.equal((await q(['version.bind', 'TXT', 'CH'])).status, 'REFUSED');
    const axfr = await tcpExchange({ host: LO, port: dns.port }, dnsPacket.encode({ type: 'query', id: 9, questions: [{ name: 'cluster.local', type: 'AXFR' }] }), 3000);
    assert.equal((dnsPacket.decode(axfr) as { rcode?: string }).rcode, 'REFUSED');
  });
});

describe('metrics', () => {
  it('counts requests, answers by code and cache hits on /metrics', async () => {
    const withMetrics = await startDns(['--upstream', `${upstream.address.host}:${upstream.address.port}`, '--metrics', `${LO}:0`]);
    const port = Number(/metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(withMetrics.log())?.[1] ?? 0);
    assert.ok(port, withMetrics.log());
    // dig sends a fresh EDNS cookie each time, which makes every query's bytes new: without it the second is a cache hit.
    await until('synced', async () => (await dig(LO, withMetrics.port, ['+nocookie', 'web.dnstest.svc.cluster.local', 'A'])).status === 'NOERROR');
    await dig(LO, withMetrics.port, ['+nocookie', 'web.dnstest.svc.cluster.local', 'A']);
    const text = await (await fetch(`http://${LO}:${port}/metrics`)).text();
    assert.match(text, /cairn_dns_requests_total\{proto="udp"\} [1-9]/);
    assert.match(text, /cairn_dns_responses_total\{rcode="NOERROR"\} [1-9]/);
    assert.match(text, /cairn_dns_cache_hits_total [1-9]/);
    assert.match(text, /cairn_dns_synced 1/);
    await withMetrics.stop();
  });
});
