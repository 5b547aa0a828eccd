// httpGet probes against real HTTP/HTTPS servers on 127.0.0.1: results and messages as the
// kubelet reports them, and the request as a server sees it.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createCa, issueCertificate } from '../../src/api/pki.js';
import type { Container, HTTPGetAction } from '../../src/agent/pods/api-types.js';
import { ProbeManager } from '../../src/agent/probes/probe-manager.js';
import { runProbe, type ProbeTarget } from '../../src/agent/probes/probe.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const routes = new Map<string, Handler>();
const seen: { path: string; raw: string[] }[] = [];
const handle: Handler = (req, res) => {
  seen.push({ path: req.url ?? '', raw: req.rawHeaders });
  const h = routes.get((req.url ?? '').split('?')[0]);
  if (h) h(req, res);
  else {
    res.writeHead(404);
    res.end('no route');
  }
};
let http: Server;
let https: Server;
let port = 0;
let tlsPort = 0;
let closedPort = 0;
const sockets = new Set<import('node:net').Socket>();

before(async () => {
  http = createServer(handle);
  const ca = await createCa('cairn-test-probe-ca');
  const cert = await issueCertificate(ca, { commonName: 'cairn-test-probe', ips: ['127.0.0.1'], usage: 'server' });
  https = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, handle);
  for (const s of [http, https]) s.on('connection', (c) => (sockets.add(c), c.on('close', () => sockets.delete(c))));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
  port = (http.address() as AddressInfo).port;
  tlsPort = (https.address() as AddressInfo).port;
  const tmp = createServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  closedPort = (tmp.address() as AddressInfo).port;
  await new Promise((r) => tmp.close(r));

  routes.set('/healthz', (_q, s) => s.end('ok'));
  routes.set('/empty', (_q, s) => (s.writeHead(204), s.end()));
  routes.set('/error', (_q, s) => (s.writeHead(500), s.end('secret detail')));
  routes.set('/big', (_q, s) => s.end('x'.repeat(50_000)));
  routes.set('/hop', (_q, s) => (s.writeHead(302, { Location: '/healthz' }), s.end()));
  routes.set('/away', (_q, s) => (s.writeHead(301, { Location: `http://localhost:${port}/healthz` }), s.end('moved away')));
  routes.set('/loop', (_q, s) => (s.writeHead(302, { Location: '/loop' }), s.end()));
  routes.set('/slow', () => undefined); // never answers
});

after(async () => {
  for (const c of sockets) c.destroy();
  await new Promise((r) => http.close(r));
  await new Promise((r) => https.close(r));
});

function target(container: Partial<Container> = {}): ProbeTarget {
  return {
    podIP: '127.0.0.1',
    container: { name: 'app', ...container },
    exec: async () => {
      throw new Error('no exec here');
    },
  };
}
const get = (a: Partial<HTTPGetAction>, t = target(), timeoutMs = 2000) => runProbe({ httpGet: { port, ...a } }, t, timeoutMs);

test('2xx is success with the body as message; the request looks like the kubelet', async () => {
  seen.length = 0;
  assert.deepEqual(await get({ path: '/healthz' }), { result: 'success', message: 'ok' });
  const raw = seen[0].raw;
  const h = (name: string) => raw.filter((_, i) => i % 2 === 0 && raw[i] === name).map((n) => raw[raw.indexOf(n) + 1]);
  assert.deepEqual(h('User-Agent'), ['kube-probe/1.32']);
  assert.deepEqual(h('Accept'), ['*/*']);
  assert.deepEqual(h('Host'), [`127.0.0.1:${port}`]);
  assert.ok(!raw.some((n) => /^accept-encoding$/i.test(n)), 'no compression asked for');
  assert.deepEqual(await get({ path: '/empty' }), { result: 'success', message: '' });
});

test('headers from the spec: canonical names, overrides of User-Agent, Accept and Host', async () => {
  seen.length = 0;
  await get({ path: '/healthz', httpHeaders: [{ name: 'x-custom-header', value: 'a' }, { name: 'X-Custom-Header', value: 'b' }, { name: 'user-agent', value: 'mine' }, { name: 'Accept', value: '' }, { name: 'host', value: 'example.test' }] });
  const raw = seen[0].raw;
  const pairs = raw.flatMap((v, i) => (i % 2 === 0 ? [`${v}: ${raw[i + 1]}`] : []));
  assert.ok(pairs.includes('X-Custom-Header: a') && pairs.includes('X-Custom-Header: b'), pairs.join('\n'));
  assert.ok(pairs.includes('User-Agent: mine'));
  assert.ok(pairs.includes('Host: example.test'));
  assert.ok(!pairs.some((p) => /^accept:/i.test(p)), 'an empty Accept removes the header');
});

test('non-2xx/3xx fails without the body', async () => {
  assert.deepEqual(await get({ path: '/error' }), { result: 'failure', message: 'HTTP probe failed with statuscode: 500' });
  assert.deepEqual(await get({ path: '/missing' }), { result: 'failure', message: 'HTTP probe failed with statuscode: 404' });
});

test('redirects: followed on the same host, reported as a warning when they leave it, loops stop at 10', async () => {
  assert.deepEqual(await get({ path: '/hop' }), { result: 'success', message: 'ok' });
  assert.deepEqual(await get({ path: '/away' }), { result: 'warning', message: 'Probe terminated redirects, Response body: moved away' });
  seen.length = 0;
  assert.deepEqual(await get({ path: '/loop' }), { result: 'failure', message: `Get "http://127.0.0.1:${port}/loop": stopped after 10 redirects` });
  assert.equal(seen.length, 10);
});

test('the body read stops at 10 KiB', async () => {
  const r = await get({ path: '/big' });
  assert.equal(r.result, 'success');
  assert.equal(r.message, 'x'.repeat(10 * 1024));
});

test('connection refused and timeouts fail with Go error text', async () => {
  assert.deepEqual(await get({ port: closedPort, path: '/healthz' }), {
    result: 'failure',
    message: `Get "http://127.0.0.1:${closedPort}/healthz": dial tcp 127.0.0.1:${closedPort}: connect: connection refused`,
  });
  const t0 = Date.now();
  assert.deepEqual(await get({ path: '/slow' }, target(), 300), {
    result: 'failure',
    message: `Get "http://127.0.0.1:${port}/slow": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
  });
  assert.ok(Date.now() - t0 < 2000);
});

test('ports by name from the container; an unknown name cannot run', async () => {
  const t = target({ ports: [{ name: 'web', containerPort: port }] });
  assert.equal((await runProbe({ httpGet: { port: 'web', path: '/healthz' } }, t, 2000)).result, 'success');
  assert.equal((await runProbe({ httpGet: { port: String(port), path: '/healthz' } }, t, 2000)).result, 'success', 'a number as a string');
  assert.deepEqual(await runProbe({ httpGet: { port: 'nope' } }, t, 2000), { result: 'unknown', message: 'strconv.Atoi: parsing "nope": invalid syntax' });
});

test('an explicit host; the pod IP otherwise', async () => {
  const t: ProbeTarget = { ...target(), podIP: '127.0.0.9' };
  assert.equal((await runProbe({ httpGet: { port, path: '/healthz', host: '127.0.0.1' } }, t, 2000)).result, 'success');
  const r = await runProbe({ httpGet: { port: closedPort } }, t, 2000);
  assert.match(r.message, new RegExp(`^Get "http://127\\.0\\.0\\.9:${closedPort}": dial tcp 127\\.0\\.0\\.9:${closedPort}: connect: connection refused$`));
});

test('HTTPS without certificate verification; HTTPS against plain HTTP fails as Go says', async () => {
  assert.deepEqual(await get({ port: tlsPort, scheme: 'HTTPS', path: '/healthz' }), { result: 'success', message: 'ok' });
  assert.deepEqual(await get({ scheme: 'HTTPS', path: '/healthz' }), {
    result: 'failure',
    message: `Get "https://127.0.0.1:${port}/healthz": http: server gave HTTP response to HTTPS client`,
  });
});

test('the probe manager reports a warning result as an event and counts it as success', async () => {
  const events: string[] = [];
  const m = new ProbeManager({ onChange: () => undefined, event: (_u, type, reason, message) => events.push(`${type} ${reason} ${message}`) });
  m.startContainer('pod1', 'app', 'c1', new Date(), { readinessProbe: { httpGet: { port, path: '/away' } } }, target());
  const deadline = Date.now() + 5000;
  while (!m.state('pod1', 'app').ready && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  m.removePod('pod1');
  assert.deepEqual(events, ['Warning ProbeWarning Readiness probe warning: Probe terminated redirects, Response body: moved away']);
});
