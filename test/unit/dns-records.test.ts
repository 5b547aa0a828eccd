// The cluster domain's records (src/dns/records.ts) from a zone fed with Service, EndpointSlice
// and Namespace objects as the informers deliver them: every record kind of the Kubernetes DNS
// specification and CoreDNS's answers to the edge cases (endpoint names on ClusterIP Services,
// SRV weights, ExternalName chains, NXDOMAIN against NODATA, reverse lookups).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Answer } from 'dns-packet';
import { ClusterZone } from '../../src/dns/cluster-zone.js';
import { ClusterRecords, type Resolution } from '../../src/dns/records.js';
import type { KubeObject } from '../../src/util/object.js';

const D = 'cluster.local';

function service(ns: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: ns, name }, spec };
}

type Ep = { ip: string; hostname?: string; ready?: boolean };
function slice(ns: string, name: string, svc: string, eps: Ep[], ports: { name?: string; port: number; protocol?: string }[] = []): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: ns, name, labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    endpoints: eps.map((e) => ({ addresses: [e.ip], ...(e.hostname ? { hostname: e.hostname } : {}), conditions: e.ready === undefined ? {} : { ready: e.ready } })),
    ports,
  } as KubeObject;
}

function fixture(): { zone: ClusterZone; records: ClusterRecords } {
  const zone = new ClusterZone();
  for (const ns of ['default', 'demo', 'kube-system']) zone.setNamespace(ns);
  zone.setService(service('default', 'kubernetes', { clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'], ports: [{ name: 'https', port: 443, protocol: 'TCP' }] }));
  zone.setService(service('kube-system', 'kube-dns', { clusterIP: '10.96.0.10', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }));
  zone.setService(
    service('demo', 'web', {
      clusterIP: '10.96.5.5',
      ports: [
        { name: 'http', port: 80, protocol: 'TCP' },
        { name: 'metrics', port: 9090, protocol: 'TCP' },
      ],
    }),
  );
  zone.setSlice(slice('demo', 'web-abc', 'web', [{ ip: '10.244.1.9' }], [{ name: 'http', port: 8080, protocol: 'TCP' }]));
  zone.setService(service('demo', 'db', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] }));
  zone.setSlice(
    slice(
      'demo',
      'db-1',
      'db',
      [
        { ip: '10.244.1.5', hostname: 'db-0' },
        { ip: '10.244.2.6', hostname: 'db-1', ready: true },
        { ip: '10.244.2.7', ready: false },
      ],
      [{ name: 'pg', port: 5432, protocol: 'TCP' }],
    ),
  );
  zone.setSlice(slice('demo', 'db-2', 'db', [{ ip: '10.244.3.3' }], [{ name: 'pg', port: 5432, protocol: 'TCP' }]));
  zone.setService(service('demo', 'portless', { clusterIP: 'None' }));
  zone.setSlice(slice('demo', 'portless-1', 'portless', [{ ip: '10.244.4.4' }]));
  zone.setService(service('demo', 'empty', { clusterIP: 'None', ports: [{ name: 'x', port: 1 }] }));
  zone.setService(service('demo', 'ext', { type: 'ExternalName', externalName: 'example.org.' }));
  zone.setService(service('demo', 'alias', { type: 'ExternalName', externalName: 'web.demo.svc.cluster.local' }));
  zone.setService(service('demo', 'ipname', { type: 'ExternalName', externalName: '192.0.2.1' }));
  zone.markSynced();
  return { zone, records: new ClusterRecords(zone, { domain: D }) };
}

function answer(r: Resolution) {
  assert.equal(r.kind, 'answer', 'expected an answer from the zone, got forward');
  return r as Extract<Resolution, { kind: 'answer' }>;
}
const data = (rrs: Answer[]) => rrs.map((a) => `${a.name} ${a.type} ${typeof (a as { data: unknown }).data === 'object' ? JSON.stringify((a as { data: unknown }).data) : (a as { data: unknown }).data}`);
const ask = (name: string, type: string) => {
  const r = answer(fixture().records.resolve(name, type));
  return { rcode: r.reply.rcode, answers: data(r.reply.answers), authorities: r.reply.authorities.map((a) => a.type), additionals: data(r.reply.additionals), aa: r.reply.authoritative, chase: r.chase, ttls: r.reply.answers.map((a) => (a as { ttl?: number }).ttl) };
};

describe('Services', () => {
  it('a ClusterIP Service has an A record of its cluster IP, TTL 30, authoritative', () => {
    const r = ask('web.demo.svc.cluster.local', 'A');
    assert.deepEqual(r, { rcode: 'NOERROR', answers: ['web.demo.svc.cluster.local A 10.96.5.5'], authorities: [], additionals: [], aa: true, chase: undefined, ttls: [30] });
  });

  it('keeps the case the client asked in (names are case-insensitive)', () => {
    assert.deepEqual(ask('Web.DEMO.svc.Cluster.Local', 'A').answers, ['Web.DEMO.svc.Cluster.Local A 10.96.5.5']);
  });

  it('AAAA of an IPv4-only Service is NODATA with the SOA', () => {
    const r = ask('web.demo.svc.cluster.local', 'AAAA');
    assert.equal(r.rcode, 'NOERROR');
    assert.deepEqual(r.answers, []);
    assert.deepEqual(r.authorities, ['SOA']);
  });

  it('other types of an existing name are NODATA too (TXT, MX)', () => {
    for (const t of ['TXT', 'MX', 'CNAME']) {
      const r = ask('web.demo.svc.cluster.local', t);
      assert.equal(r.rcode, 'NOERROR', t);
      assert.deepEqual(r.answers, [], t);
      assert.deepEqual(r.authorities, ['SOA'], t);
    }
  });

  it('a headless Service has one A per ready endpoint across its slices, not-ready ones left out', () => {
    assert.deepEqual(ask('db.demo.svc.cluster.local', 'A').answers.sort(), [
      'db.demo.svc.cluster.local A 10.244.1.5',
      'db.demo.svc.cluster.local A 10.244.2.6',
      'db.demo.svc.cluster.local A 10.244.3.3',
    ]);
  });

  it('endpoints with a hostname have their own A record (StatefulSet pods)', () => {
    assert.deepEqual(ask('db-0.db.demo.svc.cluster.local', 'A').answers, ['db-0.db.demo.svc.cluster.local A 10.244.1.5']);
    assert.deepEqual(ask('db-1.db.demo.svc.cluster.local', 'A').answers, ['db-1.db.demo.svc.cluster.local A 10.244.2.6']);
  });

  it('endpoints without one are named by their dashed address, on headless and ClusterIP Services alike (CoreDNS)', () => {
    assert.deepEqual(ask('10-244-3-3.db.demo.svc.cluster.local', 'A').answers, ['10-244-3-3.db.demo.svc.cluster.local A 10.244.3.3']);
    assert.deepEqual(ask('10-244-1-9.web.demo.svc.cluster.local', 'A').answers, ['10-244-1-9.web.demo.svc.cluster.local A 10.244.1.9']);
  });

  it('a not-ready endpoint, an unknown endpoint and an unknown Service are NXDOMAIN with the SOA', () => {
    for (const name of ['10-244-2-7.db.demo.svc.cluster.local', 'db-9.db.demo.svc.cluster.local', 'nope.demo.svc.cluster.local', 'web.nowhere.svc.cluster.local']) {
      const r = ask(name, 'A');
      assert.equal(r.rcode, 'NXDOMAIN', name);
      assert.deepEqual(r.authorities, ['SOA'], name);
    }
  });

  it('a headless Service without ready endpoints is NXDOMAIN (CoreDNS)', () => {
    assert.equal(ask('empty.demo.svc.cluster.local', 'A').rcode, 'NXDOMAIN');
  });

  it('a headless Service whose slices have no ports still names its endpoints', () => {
    assert.deepEqual(ask('portless.demo.svc.cluster.local', 'A').answers, ['portless.demo.svc.cluster.local A 10.244.4.4']);
    const srv = ask('portless.demo.svc.cluster.local', 'SRV');
    assert.equal(srv.rcode, 'NOERROR');
    assert.deepEqual(srv.answers, []);
  });
});

describe('SRV', () => {
  it('a named port of a ClusterIP Service targets the Service name, priority 0 weight 100, address as additional', () => {
    const r = ask('_http._tcp.web.demo.svc.cluster.local', 'SRV');
    assert.deepEqual(r.answers, ['_http._tcp.web.demo.svc.cluster.local SRV {"priority":0,"weight":100,"port":80,"target":"web.demo.svc.cluster.local"}']);
    assert.deepEqual(r.additionals, ['web.demo.svc.cluster.local A 10.96.5.5']);
  });

  it('a headless Service has one SRV per ready endpoint, each targeting the endpoint name, weight split evenly', () => {
    const r = ask('_pg._tcp.db.demo.svc.cluster.local', 'SRV');
    assert.deepEqual(r.answers.sort(), [
      '_pg._tcp.db.demo.svc.cluster.local SRV {"priority":0,"weight":33,"port":5432,"target":"10-244-3-3.db.demo.svc.cluster.local"}',
      '_pg._tcp.db.demo.svc.cluster.local SRV {"priority":0,"weight":33,"port":5432,"target":"db-0.db.demo.svc.cluster.local"}',
      '_pg._tcp.db.demo.svc.cluster.local SRV {"priority":0,"weight":33,"port":5432,"target":"db-1.db.demo.svc.cluster.local"}',
    ]);
    assert.deepEqual(r.additionals.sort(), ['10-244-3-3.db.demo.svc.cluster.local A 10.244.3.3', 'db-0.db.demo.svc.cluster.local A 10.244.1.5', 'db-1.db.demo.svc.cluster.local A 10.244.2.6']);
  });

  it('SRV of the bare Service name lists every port', () => {
    assert.deepEqual(ask('web.demo.svc.cluster.local', 'SRV').answers, [
      'web.demo.svc.cluster.local SRV {"priority":0,"weight":50,"port":80,"target":"web.demo.svc.cluster.local"}',
      'web.demo.svc.cluster.local SRV {"priority":0,"weight":50,"port":9090,"target":"web.demo.svc.cluster.local"}',
    ]);
  });

  it('matches port and protocol case-insensitively, with or without the underscores', () => {
    assert.equal(ask('_HTTP._TCP.web.demo.svc.cluster.local', 'SRV').answers.length, 1);
    assert.equal(ask('http.tcp.web.demo.svc.cluster.local', 'SRV').answers.length, 1);
  });

  it('a port or protocol the Service does not have is NXDOMAIN', () => {
    assert.equal(ask('_nope._tcp.web.demo.svc.cluster.local', 'SRV').rcode, 'NXDOMAIN');
    assert.equal(ask('_http._udp.web.demo.svc.cluster.local', 'SRV').rcode, 'NXDOMAIN');
  });

  it('an A query of a port name gives the Service address (the name exists)', () => {
    assert.deepEqual(ask('_http._tcp.web.demo.svc.cluster.local', 'A').answers, ['_http._tcp.web.demo.svc.cluster.local A 10.96.5.5']);
  });

  it('names deeper than _port._proto are NXDOMAIN', () => {
    assert.equal(ask('a._http._tcp.web.demo.svc.cluster.local', 'A').rcode, 'NXDOMAIN');
  });
});

describe('ExternalName', () => {
  it('is a CNAME; outside the zone the target is left to the upstream (chase)', () => {
    const r = ask('ext.demo.svc.cluster.local', 'A');
    assert.deepEqual(r.answers, ['ext.demo.svc.cluster.local CNAME example.org']);
    assert.deepEqual(r.chase, { name: 'example.org', type: 'A' });
  });

  it('a CNAME query gets the CNAME alone', () => {
    const r = ask('ext.demo.svc.cluster.local', 'CNAME');
    assert.deepEqual(r.answers, ['ext.demo.svc.cluster.local CNAME example.org']);
    assert.equal(r.chase, undefined);
  });

  it('a target inside the zone is followed here', () => {
    assert.deepEqual(ask('alias.demo.svc.cluster.local', 'A').answers, ['alias.demo.svc.cluster.local CNAME web.demo.svc.cluster.local', 'web.demo.svc.cluster.local A 10.96.5.5']);
  });

  it('an IP address as externalName, endpoint and port names under it are NXDOMAIN', () => {
    assert.equal(ask('ipname.demo.svc.cluster.local', 'A').rcode, 'NXDOMAIN');
    assert.equal(ask('x.ext.demo.svc.cluster.local', 'A').rcode, 'NXDOMAIN');
    assert.equal(ask('_http._tcp.ext.demo.svc.cluster.local', 'SRV').rcode, 'NXDOMAIN');
  });

  it('a CNAME loop inside the zone ends', () => {
    const zone = new ClusterZone();
    zone.setNamespace('x');
    zone.setService(service('x', 'a', { type: 'ExternalName', externalName: 'b.x.svc.cluster.local' }));
    zone.setService(service('x', 'b', { type: 'ExternalName', externalName: 'a.x.svc.cluster.local' }));
    zone.markSynced();
    const r = answer(new ClusterRecords(zone, { domain: D }).resolve('a.x.svc.cluster.local', 'A'));
    assert.equal(r.reply.rcode, 'NOERROR');
    assert.ok(r.reply.answers.length <= 10 && r.reply.answers.every((a) => a.type === 'CNAME'));
  });
});

describe('pods, the zone apex, namespaces', () => {
  it('a-b-c-d.ns.pod answers a.b.c.d for an existing namespace (pods insecure)', () => {
    assert.deepEqual(ask('10-244-1-5.demo.pod.cluster.local', 'A').answers, ['10-244-1-5.demo.pod.cluster.local A 10.244.1.5']);
    assert.equal(ask('10-244-1-5.nowhere.pod.cluster.local', 'A').rcode, 'NXDOMAIN');
    assert.equal(ask('10-244-1-500.demo.pod.cluster.local', 'A').rcode, 'NXDOMAIN');
    assert.equal(ask('web.demo.pod.cluster.local', 'A').rcode, 'NXDOMAIN');
  });

  it('dns-version has the schema version in TXT with TTL 28800', () => {
    const r = ask('dns-version.cluster.local', 'TXT');
    assert.deepEqual(r.answers, ['dns-version.cluster.local TXT 1.1.0']);
    assert.deepEqual(r.ttls, [28800]);
  });

  it('the apex has the SOA and NS ns.dns.<zone> (the kube-dns address); namespaces and svc/pod are NODATA', () => {
    assert.deepEqual(ask('cluster.local', 'SOA').answers.map((a) => a.split(' ')[1]), ['SOA']);
    const ns = ask('cluster.local', 'NS');
    assert.deepEqual(ns.answers, ['cluster.local NS ns.dns.cluster.local']);
    assert.deepEqual(ns.additionals, ['ns.dns.cluster.local A 10.96.0.10']);
    assert.deepEqual(ask('ns.dns.cluster.local', 'A').answers, ['ns.dns.cluster.local A 10.96.0.10']);
    for (const name of ['cluster.local', 'svc.cluster.local', 'pod.cluster.local', 'demo.svc.cluster.local', 'demo.pod.cluster.local']) {
      const r = ask(name, 'A');
      assert.equal(r.rcode, 'NOERROR', name);
      assert.deepEqual(r.answers, [], name);
    }
    for (const name of ['nowhere.svc.cluster.local', 'other.cluster.local', 'x.y.cluster.local']) assert.equal(ask(name, 'A').rcode, 'NXDOMAIN', name);
  });

  it('the negative SOA says 5 s', () => {
    const r = answer(fixture().records.resolve('nope.demo.svc.cluster.local', 'A'));
    const soa = r.reply.authorities[0] as Answer & { ttl: number; data: { minimum: number; mname: string; rname: string } };
    assert.equal(soa.name, 'cluster.local');
    assert.equal(soa.ttl, 5);
    assert.equal(soa.data.minimum, 5);
    assert.equal(soa.data.mname, 'ns.dns.cluster.local');
    assert.equal(soa.data.rname, 'hostmaster.cluster.local');
  });
});

describe('reverse lookups', () => {
  it('a cluster IP points at its Service', () => {
    assert.deepEqual(ask('5.5.96.10.in-addr.arpa', 'PTR').answers, ['5.5.96.10.in-addr.arpa PTR web.demo.svc.cluster.local']);
  });

  it('an endpoint address points at its endpoint name (hostname, else dashed address)', () => {
    assert.deepEqual(ask('5.1.244.10.in-addr.arpa', 'PTR').answers, ['5.1.244.10.in-addr.arpa PTR db-0.db.demo.svc.cluster.local']);
    assert.deepEqual(ask('9.1.244.10.in-addr.arpa', 'PTR').answers, ['9.1.244.10.in-addr.arpa PTR 10-244-1-9.web.demo.svc.cluster.local']);
  });

  it("other addresses, other reverse types and names outside the zone are forwarded", () => {
    const { records } = fixture();
    assert.deepEqual(records.resolve('7.2.244.10.in-addr.arpa', 'PTR'), { kind: 'forward' }); // not ready
    assert.deepEqual(records.resolve('1.2.0.192.in-addr.arpa', 'PTR'), { kind: 'forward' });
    assert.deepEqual(records.resolve('5.5.96.10.in-addr.arpa', 'A'), { kind: 'forward' });
    assert.deepEqual(records.resolve('example.org', 'A'), { kind: 'forward' });
    assert.deepEqual(records.resolve('local', 'A'), { kind: 'forward' });
  });
});

describe('the zone', () => {
  it('answers SERVFAIL, not NXDOMAIN, until the caches have synced', () => {
    const zone = new ClusterZone();
    const r = answer(new ClusterRecords(zone, { domain: D }).resolve('web.demo.svc.cluster.local', 'A'));
    assert.equal(r.reply.rcode, 'SERVFAIL');
  });

  it('changes the generation only when what DNS shows changes', () => {
    const { zone } = fixture();
    const g = zone.generation;
    zone.setService({ ...service('demo', 'web', { clusterIP: '10.96.5.5', ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'metrics', port: 9090, protocol: 'TCP' }], sessionAffinity: 'ClientIP' }), metadata: { namespace: 'demo', name: 'web', annotations: { a: 'b' } } });
    zone.setNamespace('demo');
    assert.equal(zone.generation, g);
    zone.setSlice(slice('demo', 'web-abc', 'web', [{ ip: '10.244.1.9' }, { ip: '10.244.1.10' }], [{ name: 'http', port: 8080, protocol: 'TCP' }]));
    assert.equal(zone.generation, g + 1);
    zone.deleteSlice('demo', 'web-abc');
    zone.deleteService('demo', 'web');
    assert.equal(zone.generation, g + 3);
  });

  it('forgets a deleted Service, slice and namespace, and their reverse entries', () => {
    const { zone, records } = fixture();
    zone.deleteService('demo', 'web');
    zone.deleteSlice('demo', 'db-1');
    zone.deleteNamespace('kube-system');
    assert.equal(answer(records.resolve('web.demo.svc.cluster.local', 'A')).reply.rcode, 'NXDOMAIN');
    assert.deepEqual(records.resolve('5.5.96.10.in-addr.arpa', 'PTR'), { kind: 'forward' });
    assert.deepEqual(records.resolve('5.1.244.10.in-addr.arpa', 'PTR'), { kind: 'forward' });
    assert.deepEqual(data(answer(records.resolve('db.demo.svc.cluster.local', 'A')).reply.answers), ['db.demo.svc.cluster.local A 10.244.3.3']);
    assert.equal(answer(records.resolve('kube-system.svc.cluster.local', 'A')).reply.rcode, 'NXDOMAIN');
  });

  it('serves another cluster domain', () => {
    const zone = new ClusterZone();
    zone.setNamespace('a');
    zone.setService(service('a', 's', { clusterIP: '10.96.0.7', ports: [{ port: 80 }] }));
    zone.markSynced();
    const records = new ClusterRecords(zone, { domain: 'corp.internal' });
    assert.deepEqual(data(answer(records.resolve('s.a.svc.corp.internal', 'A')).reply.answers), ['s.a.svc.corp.internal A 10.96.0.7']);
    assert.deepEqual(records.resolve('s.a.svc.cluster.local', 'A'), { kind: 'forward' });
  });
});
