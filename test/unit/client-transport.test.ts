/**
 * The HTTPS transport against local node:http / node:https servers (TLS material made with the
 * openssl CLI, skipped if absent), and the newline-delimited JSON reader.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  AbortedError,
  Client,
  HttpsTransport,
  StatusError,
  TimeoutError,
  TransportError,
  isNotFound,
  loadKubeconfig,
} from '../../src/client/index.js';
import { ndjson } from '../../src/client/ndjson.js';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

test('ndjson survives any chunk boundary, including inside multi-byte characters', async () => {
  const values = [{ type: 'ADDED', object: { metadata: { name: 'ünïcødé-✓' } } }, { type: 'BOOKMARK', object: { x: '🚀' } }, { n: 3 }];
  const bytes = Buffer.from(values.map((v) => JSON.stringify(v)).join('\n') + '\n\n', 'utf8');
  for (let cut = 1; cut < bytes.length; cut++) {
    async function* chunks() {
      yield bytes.subarray(0, cut);
      yield bytes.subarray(cut);
    }
    assert.deepEqual(await collect(ndjson(chunks())), values, `cut at ${cut}`);
  }
  async function* bytewise() {
    for (const b of bytes) yield Buffer.from([b]);
  }
  assert.deepEqual(await collect(ndjson(bytewise())), values);
  async function* noTrailingNewline() {
    yield '{"a":1}\n{"b":2}';
  }
  assert.deepEqual(await collect(ndjson(noTrailingNewline())), [{ a: 1 }, { b: 2 }]);
  async function* garbage() {
    yield '{"a":1}\nnot json\n';
  }
  await assert.rejects(collect(ndjson(garbage())), /invalid JSON in stream/);
});

type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function listen(server: http.Server | https.Server, routes: Record<string, Route>) {
  server.on('request', (req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    (routes[path] ?? ((_q, r) => r.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found')))(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const json = (res: http.ServerResponse, code: number, body: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));

test('HTTP transport: JSON in and out, Status errors, auth header, keep-alive, watch streaming', async (t) => {
  const ports = new Set<number>();
  const server = http.createServer();
  t.after(() => server.close());
  const addr = await listen(server, {
    '/api/v1/namespaces/default/configmaps': (req, res) => {
      ports.add(req.socket.remotePort!);
      if (req.method === 'POST') {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => json(res, 201, { ...JSON.parse(body), auth: req.headers.authorization, ct: req.headers['content-type'] }));
        return;
      }
      if (req.url!.includes('watch=true')) {
        // Split events awkwardly across writes, then end the stream like a server-side timeout.
        res.writeHead(200, { 'content-type': 'application/json' });
        const text = [1, 2, 3].map((i) => JSON.stringify({ type: 'ADDED', object: { metadata: { name: `cm${i}`, resourceVersion: String(i) } } })).join('\n') + '\n';
        let i = 0;
        const step = () => {
          if (i >= text.length) return res.end();
          res.write(text.slice(i, i + 7));
          i += 7;
          setTimeout(step, 1);
        };
        step();
        return;
      }
      json(res, 200, { kind: 'ConfigMapList', apiVersion: 'v1', metadata: { resourceVersion: '9' }, items: [] });
    },
    '/api/v1/namespaces/default/configmaps/missing': (_req, res) =>
      json(res, 404, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', code: 404, message: 'configmaps "missing" not found', details: { name: 'missing', kind: 'configmaps' } }),
    '/api/v1/namespaces/default/configmaps/broken': (_req, res) => res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway'),
  });
  const transport = new HttpsTransport({ contextName: 't', server: `http://${addr}`, namespace: 'default', token: 's3cret' });
  t.after(() => transport.close());
  const cms = new Client(transport).resource({ group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap' });

  const list = await cms.list({ namespace: 'default' });
  assert.equal(list.metadata.resourceVersion, '9');
  const created = (await cms.create({ metadata: { name: 'a', namespace: 'default' } })) as Record<string, unknown>;
  assert.equal(created.auth, 'Bearer s3cret');
  assert.equal(created.ct, 'application/json');
  assert.equal(created.kind, 'ConfigMap');
  assert.equal(ports.size, 1, 'one kept-alive connection for sequential requests');

  const nf = await cms.get('missing', 'default').catch((e: unknown) => e);
  assert.ok(nf instanceof StatusError && isNotFound(nf));
  assert.equal(nf.message, 'configmaps "missing" not found');
  const bad = await cms.get('broken', 'default').catch((e: unknown) => e);
  assert.ok(bad instanceof StatusError);
  assert.equal(bad.code, 502);
  assert.match(bad.message, /bad gateway/);
  const unknown = await cms.get('x', 'nope').catch((e: unknown) => e);
  assert.ok(unknown instanceof StatusError && isNotFound(unknown));

  const events = await collect(cms.watch({ namespace: 'default', resourceVersion: '0' }));
  assert.deepEqual(events.map((e) => e.object.metadata.name), ['cm1', 'cm2', 'cm3']);
});

test('HTTP transport: timeouts, aborts and refused connections are typed', async (t) => {
  const server = http.createServer();
  const open = new Set<http.ServerResponse>();
  t.after(() => {
    for (const r of open) r.destroy();
    server.close();
  });
  const addr = await listen(server, {
    '/slow': (_req, res) => void open.add(res), // never answers
    '/stream': (_req, res) => {
      open.add(res);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"type":"ADDED","object":{"metadata":{}}}\n'); // then stays open
    },
  });
  const transport = new HttpsTransport({ contextName: 't', server: `http://${addr}`, namespace: 'default' }, { timeoutMs: 50 });
  t.after(() => transport.close());
  await assert.rejects(transport.request({ method: 'GET', path: '/slow' }), TimeoutError);
  const ac = new AbortController();
  const pending = transport.request({ method: 'GET', path: '/slow', signal: ac.signal, timeoutMs: 5000 });
  ac.abort();
  await assert.rejects(pending, AbortedError);

  // A stream outlives the request timeout (it bounds only the headers) and ends quietly on abort.
  const ac2 = new AbortController();
  const stream = await transport.stream({ method: 'GET', path: '/stream', signal: ac2.signal });
  const seen: unknown[] = [];
  setTimeout(() => ac2.abort(), 150);
  for await (const ev of stream) seen.push(ev);
  assert.equal(seen.length, 1);

  const refused = new HttpsTransport({ contextName: 't', server: 'http://127.0.0.1:1', namespace: 'default' });
  const err = await refused.request({ method: 'GET', path: '/api' }).catch((e: unknown) => e);
  assert.ok(err instanceof TransportError && !(err instanceof TimeoutError));
  assert.match(err.message, /ECONNREFUSED/);
});

function haveOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function makePki(dir: string) {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const key = (name: string) => ssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
  const sign = (name: string, subj: string, ext?: string) => {
    key(name);
    ssl('req', '-new', '-key', `${name}.key`, '-subj', subj, '-out', `${name}.csr`);
    const extArgs = ext ? (writeFileSync(join(dir, `${name}.ext`), ext), ['-extfile', `${name}.ext`]) : [];
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-out', `${name}.crt`, ...extArgs);
  };
  key('ca');
  ssl('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=test-ca', '-days', '1', '-out', 'ca.crt');
  sign('server', '/CN=localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  sign('admin', '/O=system:masters/CN=admin');
  // A second, unrelated CA to prove pinning.
  ssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'other.key');
  ssl('req', '-x509', '-new', '-key', 'other.key', '-subj', '/CN=other-ca', '-days', '1', '-out', 'other.crt');
}

test('HTTPS transport from a kubeconfig: CA pinning and client-certificate auth', async (t) => {
  assert.ok(haveOpenssl(), 'openssl is missing: run scripts/setup.sh');
  const dir = mkdtempSync(join(tmpdir(), 'cairn-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  makePki(dir);
  const read = (f: string) => readFileSync(join(dir, f));
  const server = https.createServer({ key: read('server.key'), cert: read('server.crt'), ca: read('ca.crt'), requestCert: true, rejectUnauthorized: true });
  t.after(() => server.close());
  const addr = await listen(server, {
    '/api/v1/namespaces/default/pods/me': (req, res) => {
      const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
      json(res, 200, { metadata: { name: peer.subject.CN, namespace: 'default' }, org: peer.subject.O });
    },
  });
  const kubeconfig = (ca: string) => `
apiVersion: v1
kind: Config
current-context: admin
clusters: [{ name: c, cluster: { server: "https://${addr}", certificate-authority: ${ca} } }]
contexts: [{ name: admin, context: { cluster: c, user: admin } }]
users: [{ name: admin, user: { client-certificate: admin.crt, client-key-data: ${read('admin.key').toString('base64')} } }]
`;
  writeFileSync(join(dir, 'good.kubeconfig'), kubeconfig('ca.crt'));
  writeFileSync(join(dir, 'wrong-ca.kubeconfig'), kubeconfig('other.crt'));

  const good = HttpsTransport.fromKubeconfig(join(dir, 'good.kubeconfig'));
  t.after(() => good.close());
  const me = await new Client(good).resource({ group: '', version: 'v1', plural: 'pods', namespaced: true }).get('me', 'default');
  assert.equal(me.metadata.name, 'admin');
  assert.equal((me as Record<string, unknown>).org, 'system:masters');

  const wrong = new HttpsTransport(loadKubeconfig(join(dir, 'wrong-ca.kubeconfig')));
  t.after(() => wrong.close());
  const err = await wrong.request({ method: 'GET', path: '/api/v1/namespaces/default/pods/me' }).catch((e: unknown) => e);
  assert.ok(err instanceof TransportError, String(err));
  assert.match(err.message, /certificate|self.signed|verify/i);
});
