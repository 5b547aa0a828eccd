// The Ingress → nginx model: path types as locations, hosts, default backends, conflicts, TLS
// selection, upstreams from EndpointSlices, and the warnings a user sees as events.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EndpointSlice, Ingress, IngressSpec } from '../../src/ingress/ingress-api.js';
import { buildIngressModel, type CertificateLookup, hostMatches, type Location, type ModelSource } from '../../src/ingress/ingress-model.js';
import type { KubeObject } from '../../src/util/object.js';

const ing = (name: string, spec: IngressSpec, opts: { created?: string; annotations?: Record<string, string>; namespace?: string } = {}): Ingress => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name, namespace: opts.namespace ?? 'default', uid: `uid-${name}`, creationTimestamp: opts.created ?? '2024-01-01T00:00:00Z', annotations: opts.annotations },
  spec,
});
const svc = (name: string, ports: { name?: string; port: number }[], type?: string): KubeObject => ({ metadata: { name, namespace: 'default' }, spec: { ports, type } });
const slice = (service: string, ips: string[], port: number, portName = '', ready = true): EndpointSlice => ({
  metadata: { name: `${service}-abc`, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
  addressType: 'IPv4',
  ports: [{ name: portName, port, protocol: 'TCP' }],
  endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready } })),
});

function source(services: KubeObject[], slices: EndpointSlice[], certs: Record<string, CertificateLookup> = {}): ModelSource {
  return {
    service: (ns, name) => services.find((s) => s.metadata.namespace === ns && s.metadata.name === name),
    endpointSlices: (ns, name) => slices.filter((s) => s.metadata.namespace === ns && s.metadata.labels?.['kubernetes.io/service-name'] === name),
    certificate: (ns, name) => certs[`${ns}/${name}`] ?? { ok: false, reason: 'SecretNotFound', message: `Secret ${ns}/${name} not found` },
  };
}

const backend = (name: string, port: number | string) => ({ service: { name, port: typeof port === 'number' ? { number: port } : { name: port } } });
const path = (p: string, pathType: string, svcName = 'web', port: number | string = 80) => ({ path: p, pathType, backend: backend(svcName, port) });
const world = source([svc('web', [{ name: 'http', port: 80 }]), svc('api', [{ port: 8080 }])], [slice('web', ['10.0.0.2', '10.0.0.1'], 8080, 'http'), slice('api', ['10.0.0.3'], 9000)]);

/** `modifier path -> target` per location of a server, as a compact table. */
const table = (locs: Location[]) => locs.map((l) => `${l.modifier ? `${l.modifier} ` : ''}${l.path} -> ${'upstream' in l.action ? l.action.upstream : l.action.status}`);

test('Prefix becomes element-wise locations, Exact beats it, the root falls back to 404', () => {
  const m = buildIngressModel(
    [
      ing('a', {
        rules: [{ host: 'foo.bar.com', http: { paths: [path('/aaa', 'Prefix'), path('/aaa/bbb/', 'Prefix', 'api', 8080), path('/exact', 'Exact', 'api', 8080), path('/exact', 'Prefix'), path('/impl', 'ImplementationSpecific')] } }],
      }),
    ],
    world,
  );
  const host = m.servers.find((s) => s.name === 'foo.bar.com')!;
  assert.deepEqual(table(host.locations), [
    '= /aaa -> default_web_80',
    '= /aaa/bbb -> default_api_8080',
    '= /exact -> default_api_8080',
    '= /impl -> default_web_80',
    '/aaa/ -> default_web_80',
    '/aaa/bbb/ -> default_api_8080',
    '/exact/ -> default_web_80',
    '/impl/ -> default_web_80',
    '/ -> 404',
  ]);
  assert.deepEqual(m.servers.map((s) => s.name), ['_', 'foo.bar.com']);
  assert.deepEqual(table(m.servers[0]!.locations), ['/ -> 404']);
  assert.deepEqual(m.upstreams, [
    { name: 'default_api_8080', servers: ['10.0.0.3:9000'] },
    { name: 'default_web_80', servers: ['10.0.0.1:8080', '10.0.0.2:8080'] },
  ]);
  assert.deepEqual(m.warnings, []);
});

test("a Prefix '/' rule takes the root; an Ingress defaultBackend is the root of the hosts it names first", () => {
  const m = buildIngressModel(
    [
      ing('a', { defaultBackend: backend('api', 8080), rules: [{ host: 'a.com', http: { paths: [path('/x', 'Prefix')] } }] }),
      ing('b', { rules: [{ host: 'b.com', http: { paths: [path('/', 'Prefix')] } }] }),
      ing('c', { defaultBackend: backend('web', 'http') }),
    ],
    world,
  );
  const by = (n: string) => table(m.servers.find((s) => s.name === n)!.locations);
  assert.deepEqual(by('a.com'), ['= /x -> default_web_80', '/x/ -> default_web_80', '/ -> default_api_8080']);
  assert.deepEqual(by('b.com'), ['/ -> default_web_80']);
  // The catch-all: the first Ingress with a backend and no rules.
  assert.deepEqual(by('_'), ['/ -> default_web_80']);
});

test('the older Ingress keeps a conflicting host+path; the newer gets a warning', () => {
  const m = buildIngressModel(
    [
      ing('newer', { rules: [{ host: 'x.com', http: { paths: [path('/p/', 'Prefix', 'api', 8080), path('/q', 'Prefix', 'api', 8080)] } }] }, { created: '2024-02-01T00:00:00Z' }),
      ing('older', { rules: [{ host: 'x.com', http: { paths: [path('/p', 'Prefix')] } }] }, { created: '2024-01-01T00:00:00Z' }),
    ],
    world,
  );
  assert.deepEqual(table(m.servers[1]!.locations), ['= /p -> default_web_80', '= /q -> default_api_8080', '/p/ -> default_web_80', '/q/ -> default_api_8080', '/ -> 404']);
  assert.deepEqual(
    m.warnings.map((w) => [w.ingress.metadata.name, w.reason, w.message]),
    [['newer', 'RuleConflict', 'host x.com path /p/ (Prefix) is already served by Ingress default/older, which is older: this path is ignored']],
  );
});

test('missing Services and ports answer 503 with a warning; no ready endpoints answer 503 without one', () => {
  const m = buildIngressModel(
    [
      ing('a', {
        rules: [
          {
            host: 'x.com',
            http: { paths: [path('/gone', 'Prefix', 'nope', 80), path('/badport', 'Prefix', 'web', 81), path('/empty', 'Exact', 'idle', 80), path('/ext', 'Exact', 'ext', 80)] },
          },
        ],
      }),
    ],
    source([svc('web', [{ port: 80 }]), svc('idle', [{ port: 80 }]), svc('ext', [{ port: 80 }], 'ExternalName')], [slice('idle', ['10.0.0.9'], 80, '', false)]),
  );
  assert.deepEqual(table(m.servers[1]!.locations), ['= /badport -> 503', '= /empty -> 503', '= /ext -> 503', '= /gone -> 503', '/badport/ -> 503', '/gone/ -> 503', '/ -> 404']);
  assert.deepEqual(m.upstreams, []);
  assert.deepEqual(
    m.warnings.map((w) => w.reason),
    ['ServiceNotFound', 'ServicePortNotFound', 'UnsupportedBackend'],
  );
  assert.deepEqual([...m.services].sort(), ['default/ext', 'default/idle', 'default/nope', 'default/web']);
});

test('use-regex and rewrite-target make a regex server: user regexes caseless, other prefixes element-wise, longest first', () => {
  const m = buildIngressModel(
    [
      ing('plain', { rules: [{ host: 'r.com', http: { paths: [path('/a.b', 'Prefix'), path('/x', 'Exact')] } }] }),
      ing('rx', { rules: [{ host: 'r.com', http: { paths: [path('/something(/|$)(.*)', 'ImplementationSpecific', 'api', 8080)] } }] }, {
        created: '2024-03-01T00:00:00Z',
        annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true', 'nginx.ingress.kubernetes.io/rewrite-target': '/$2' },
      }),
    ],
    world,
  );
  const locs = m.servers[1]!.locations;
  assert.deepEqual(table(locs), ['= /x -> default_web_80', '~* ^/something(/|$)(.*) -> default_api_8080', '~ ^/a\\.b(/|$) -> default_web_80', '~ ^/ -> 404']);
  assert.deepEqual(locs[1]!.rewrite, { regex: '(?i)/something(/|$)(.*)', target: '/$2' });
});

test('wildcard hosts cover exactly one label', () => {
  assert.equal(hostMatches('*.foo.com', 'a.foo.com'), true);
  assert.equal(hostMatches('*.foo.com', 'a.b.foo.com'), false);
  assert.equal(hostMatches('*.foo.com', 'foo.com'), false);
  assert.equal(hostMatches('bar.foo.com', 'bar.foo.com'), true);
});

test("TLS: the Secret listing the host, else one covering it; a missing Secret means the default certificate and a warning", () => {
  const good = (hosts: string[]): CertificateLookup => ({ ok: true, file: `/ssl/${hosts[0]}.pem`, covers: (h) => hosts.includes(h) });
  const m = buildIngressModel(
    [
      ing('t', {
        tls: [{ hosts: ['a.com'], secretName: 'a-tls' }, { secretName: 'wild' }, { hosts: ['m.com'], secretName: 'missing' }, { hosts: ['w.com'], secretName: 'a-tls' }],
        rules: ['a.com', 'b.com', 'm.com', 'w.com', 'plain.com'].map((host) => ({ host, http: { paths: [path('/', 'Prefix')] } })),
      }),
    ],
    source([svc('web', [{ name: 'http', port: 80 }])], [slice('web', ['10.0.0.1'], 8080, 'http')], { 'default/a-tls': good(['a.com']), 'default/wild': good(['b.com']) }),
  );
  const tls = Object.fromEntries(m.servers.map((s) => [s.name, s.tls]));
  assert.deepEqual(tls, { _: undefined, 'a.com': { certFile: '/ssl/a.com.pem' }, 'b.com': { certFile: '/ssl/b.com.pem' }, 'm.com': {}, 'w.com': {}, 'plain.com': undefined });
  assert.deepEqual(
    m.warnings.map((w) => [w.reason, w.message]),
    [
      ['SecretNotFound', 'Secret default/missing not found: host m.com is served with the default certificate'],
      ['InvalidCertificate', 'the certificate in Secret default/a-tls is not valid for host w.com: the host is served with the default certificate'],
    ],
  );
  // TLS hosts redirect to HTTPS (ssl-redirect defaults to true); others do not.
  assert.equal(m.servers.find((s) => s.name === 'a.com')!.locations[0]!.sslRedirect, true);
  assert.equal(m.servers.find((s) => s.name === 'plain.com')!.locations[0]!.sslRedirect, false);
  assert.deepEqual([...m.secrets].sort(), ['default/a-tls', 'default/missing', 'default/wild']);
});

test('bad hosts, paths and annotations are reported and left out', () => {
  const m = buildIngressModel(
    [
      ing('bad', { rules: [{ host: 'UPPER..com', http: { paths: [path('/', 'Prefix')] } }, { host: 'ok.com', http: { paths: [path('/a b', 'Prefix'), path('/fine', 'Prefix')] } }] }, {
        annotations: { 'nginx.ingress.kubernetes.io/ssl-redirect': 'maybe', 'nginx.ingress.kubernetes.io/rewrite-target': '/x; return 200' },
      }),
    ],
    world,
  );
  assert.deepEqual(m.servers.map((s) => s.name), ['_', 'ok.com']);
  assert.deepEqual(table(m.servers[1]!.locations), ['= /fine -> default_web_80', '/fine/ -> default_web_80', '/ -> 404']);
  assert.deepEqual(
    m.warnings.map((w) => w.reason),
    ['InvalidAnnotation', 'InvalidAnnotation', 'InvalidHost', 'InvalidPath'],
  );
});
