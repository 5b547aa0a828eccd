/**
 * Bad input against the real HTTPS server, sent with node:https so the exact status, reason and
 * body are visible: every case answers with the Kubernetes Status upstream gives (or, for a
 * plain-HTTP request, Go's fixed 400 line), quickly, and the server stays usable afterwards.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCa, issueCertificate } from '../../src/api/pki.js';
import { RawClient, type RawResponse } from '../support/raw-https.js';
import { startTestServer, type TestServer } from '../support/server.js';

const TOKEN = `tok-${randomBytes(12).toString('hex')}`;
const NS = 'bad-input';
const CM = `/api/v1/namespaces/${NS}/configmaps`;

let server: TestServer;
let client: RawClient;
let tokenDir: string;

before(async () => {
  tokenDir = await mkdtemp(join(tmpdir(), 'cairn-tokens-'));
  const tokenFile = join(tokenDir, 'tokens.csv');
  await writeFile(tokenFile, `${TOKEN},token-user,1001,"system:masters,dev"\n`);
  server = await startTestServer({ tokenFile });
  client = RawClient.admin(server.url, server.dataDir);
  const ns = await client.request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: NS } } });
  assert.equal(ns.status, 201, ns.text);
});

after(async () => {
  client?.close();
  await server?.stop();
  await rm(tokenDir, { recursive: true, force: true });
});

/** Asserts a well-formed failure Status with this code and reason; returns it. */
function assertStatus(res: RawResponse, code: number, reason: string, message?: RegExp) {
  const s = res.json;
  assert.equal(res.status, code, `HTTP status; body: ${res.text.slice(0, 500)}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.ok(s && typeof s === 'object', `body is JSON: ${res.text.slice(0, 500)}`);
  assert.equal(s.kind, 'Status');
  assert.equal(s.apiVersion, 'v1');
  assert.equal(s.status, 'Failure');
  assert.equal(s.code, code);
  assert.equal(s.reason, reason, `reason; message: ${s.message}`);
  assert.equal(typeof s.message, 'string');
  assert.ok(s.message.length > 0);
  if (message) assert.match(s.message, message);
  return s;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t };
}

const cm = (name: string, data: Record<string, string> = { a: '1' }) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data });

describe('malformed bodies', () => {
  it('malformed JSON is 400 BadRequest', async () => {
    for (const body of ['{', '{"metadata": {"name": "x"}', '{"a":}', 'nul', '{"metadata":{"name":"x"}} trailing', '\u0000\u0001', '[1,2', '"unterminated']) {
      const res = await client.request({ method: 'POST', path: CM, body, headers: { 'content-type': 'application/json' } });
      assertStatus(res, 400, 'BadRequest');
    }
  });

  it('a JSON body that is not an object is 400', async () => {
    for (const body of ['[]', '42', '"str"', 'null', 'true']) {
      const res = await client.request({ method: 'POST', path: CM, body, headers: { 'content-type': 'application/json' } });
      assertStatus(res, 400, 'BadRequest');
    }
  });

  it('malformed YAML is 400 BadRequest', async () => {
    for (const body of ['metadata: {name: x', 'a: b: c', '- [', 'metadata:\n  name: x\n bad-indent: 1', 'key: "unterminated', '*unknownalias']) {
      const res = await client.request({ method: 'POST', path: CM, body, headers: { 'content-type': 'application/yaml' } });
      assertStatus(res, 400, 'BadRequest');
    }
  });

  it('YAML alias bombs are refused, quickly', async () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 12; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill('*' + String.fromCharCode(96 + i)).join(',')}]`);
    const { value: res, ms } = await timed(() => client.request({ method: 'POST', path: CM, body: lines.join('\n'), headers: { 'content-type': 'application/yaml' } }));
    assertStatus(res, 400, 'BadRequest');
    assert.ok(ms < 5000, `took ${ms} ms`);
  });

  it('an empty body on create is 400', async () => {
    const res = await client.request({ method: 'POST', path: CM, headers: { 'content-type': 'application/json' } });
    assertStatus(res, 400, 'BadRequest');
  });
});

describe('type meta', () => {
  it('a wrong apiVersion in the body is 400', async () => {
    const res = await client.request({ method: 'POST', path: CM, body: { ...cm('wrong-av'), apiVersion: 'apps/v1' } });
    assertStatus(res, 400, 'BadRequest', /apps\/v1/);
  });

  it('a wrong kind in the body is 400', async () => {
    const res = await client.request({ method: 'POST', path: CM, body: { ...cm('wrong-kind'), kind: 'Secret' } });
    assertStatus(res, 400, 'BadRequest', /Secret/);
  });

  it('a wrong kind on update is 400 and changes nothing', async () => {
    const created = await client.request({ method: 'POST', path: CM, body: cm('kind-update') });
    assert.equal(created.status, 201, created.text);
    const res = await client.request({ method: 'PUT', path: `${CM}/kind-update`, body: { ...created.json, kind: 'Pod' } });
    assertStatus(res, 400, 'BadRequest');
    const again = await client.request({ path: `${CM}/kind-update` });
    assert.equal(again.json.metadata.resourceVersion, created.json.metadata.resourceVersion);
  });

  it('a non-string apiVersion or a non-object metadata is 400', async () => {
    assertStatus(await client.request({ method: 'POST', path: CM, body: { ...cm('x'), apiVersion: 7 } }), 400, 'BadRequest');
    assertStatus(await client.request({ method: 'POST', path: CM, body: { kind: 'ConfigMap', metadata: 'x' } }), 400, 'BadRequest');
  });
});

describe('unknown resources and groups', () => {
  const paths = [
    '/api/v1/foos',
    '/api/v1/namespaces/default/foos',
    '/api/v1/namespaces/default/configmaps/x/nosuchsub',
    '/api/v2/pods',
    '/apis/nope.example.com/v1/things',
    '/apis/nope.example.com/v1/namespaces/default/things/x',
    '/apis/nope.example.com',
    '/apis/nope.example.com/v1',
    '/apis/apps/v9/deployments',
    '/apis/apps/v1/foos',
    '/nonsense',
    '/api/v1/nodes/x/y/z/w',
    '/api/v1/namespaces/default/namespaces',
  ];
  for (const p of paths) {
    it(`GET ${p} is a 404 NotFound Status`, async () => {
      assertStatus(await client.request({ path: p }), 404, 'NotFound');
    });
  }

  it('POST to an unknown resource is a 404 NotFound Status', async () => {
    assertStatus(await client.request({ method: 'POST', path: '/apis/nope.example.com/v1/namespaces/default/things', body: { metadata: { name: 'x' } } }), 404, 'NotFound');
  });

  it('a malformed %-escape in the path is 400', async () => {
    assertStatus(await client.request({ path: '/api/v1/namespaces/%ZZ/configmaps' }), 400, 'BadRequest');
    assertStatus(await client.request({ path: `${CM}/%E0%A4%A` }), 400, 'BadRequest');
  });

  it('a missing object is 404 with details', async () => {
    const s = assertStatus(await client.request({ path: `${CM}/does-not-exist` }), 404, 'NotFound', /configmaps "does-not-exist" not found/);
    assert.equal(s.details.name, 'does-not-exist');
    assert.equal(s.details.kind, 'configmaps');
  });
});

describe('size limits', () => {
  it('a body over 3 MiB is 413, and the server takes new requests after it', async () => {
    const big = JSON.stringify(cm('too-big', { a: 'x'.repeat(3 * 1024 * 1024 + 10) }));
    const { value: res, ms } = await timed(() => client.request({ method: 'POST', path: CM, body: big }));
    assertStatus(res, 413, 'RequestEntityTooLarge');
    assert.ok(ms < 10_000, `took ${ms} ms`);
    const ok = await client.request({ path: CM });
    assert.equal(ok.status, 200, ok.text);
    // The same keep-alive connection carried the next request.
    assert.equal(ok.localPort, res.localPort);
    assert.equal(ok.json.kind, 'ConfigMapList');
    assert.ok(!ok.json.items.some((i: any) => i.metadata.name === 'too-big'));
  });

  it('a chunked body over 3 MiB (no content-length) is 413 too', async () => {
    const res = await new Promise<RawResponse>((resolve, reject) => {
      void import('node:https').then(({ request }) => {
        const req = request(
          { host: '127.0.0.1', port: client.base.port, method: 'POST', path: CM, agent: false, ca: client.creds.ca, cert: client.creds.cert, key: client.creds.key, headers: { 'content-type': 'application/json' } },
          (r) => {
            const chunks: Buffer[] = [];
            r.on('data', (c: Buffer) => chunks.push(c));
            r.on('end', () => {
              const text = Buffer.concat(chunks).toString();
              resolve({ status: r.statusCode!, headers: r.headers, body: Buffer.concat(chunks), text, json: JSON.parse(text) });
            });
          },
        );
        req.on('error', reject);
        const chunk = Buffer.alloc(256 * 1024, 'x');
        let sent = 0;
        const pump = () => {
          while (sent < 4 * 1024 * 1024) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        req.on('error', () => {});
        pump();
      });
    });
    assertStatus(res, 413, 'RequestEntityTooLarge');
    const ok = await client.request({ path: '/version' });
    assert.equal(ok.status, 200);
  });

  it('100k nested arrays are refused with 400, quickly', async () => {
    const depth = 100_000;
    const nested = '['.repeat(depth) + ']'.repeat(depth);
    for (const body of [`{"metadata":{"name":"deep"},"data":${nested}}`, nested, '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)]) {
      const { value: res, ms } = await timed(() => client.request({ method: 'POST', path: CM, body }));
      assertStatus(res, 400, 'BadRequest', /nesting|depth/);
      assert.ok(ms < 3000, `took ${ms} ms`);
    }
  });

  it('deeply nested YAML (flow and block) is refused with 400, quickly', async () => {
    const depth = 100_000;
    const flow = 'metadata: {name: deep}\ndata: ' + '['.repeat(depth) + ']'.repeat(depth);
    let block = 'metadata:\n  name: deep\nx:\n';
    for (let i = 0; i < 2000; i++) block += ' '.repeat(i + 1) + '-\n';
    for (const body of [flow, block]) {
      const { value: res, ms } = await timed(() => client.request({ method: 'POST', path: CM, body, headers: { 'content-type': 'application/yaml' } }));
      assertStatus(res, 400, 'BadRequest');
      assert.ok(ms < 5000, `took ${ms} ms`);
    }
  });

  it('deeply nested patches are refused with 400', async () => {
    await client.request({ method: 'POST', path: CM, body: cm('deep-patch') });
    const depth = 50_000;
    const merge = '{"data":' + '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) + '}';
    const res = await client.request({ method: 'PATCH', path: `${CM}/deep-patch`, body: merge, headers: { 'content-type': 'application/merge-patch+json' } });
    assertStatus(res, 400, 'BadRequest');
  });

  it('a document just under the limit gets a proper answer', async () => {
    // 3 MiB minus a little: the body is accepted, and the ConfigMap's 1 MiB cap makes it 422.
    const overhead = JSON.stringify(cm('just-under', { a: '' })).length;
    const body = JSON.stringify(cm('just-under', { a: 'y'.repeat(3 * 1024 * 1024 - overhead - 16) }));
    assert.ok(body.length < 3 * 1024 * 1024);
    const { value: res, ms } = await timed(() => client.request({ method: 'POST', path: CM, body }));
    assertStatus(res, 422, 'Invalid', /must have at most 1048576 bytes/);
    assert.ok(ms < 10_000, `took ${ms} ms`);
  });

  it('a ConfigMap just under its 1 MiB cap is stored and read back intact', async () => {
    const value = 'z'.repeat(1024 * 1024 - 100);
    const res = await client.request({ method: 'POST', path: CM, body: cm('big-ok', { a: value }) });
    assert.equal(res.status, 201, res.text.slice(0, 500));
    const got = await client.request({ path: `${CM}/big-ok` });
    assert.equal(got.status, 200);
    assert.equal(got.json.data.a.length, value.length);
  });

  it('a ConfigMap with 50k keys is stored', async () => {
    const data: Record<string, string> = {};
    for (let i = 0; i < 50_000; i++) data[`k${i}`] = String(i);
    const { value: res, ms } = await timed(() => client.request({ method: 'POST', path: CM, body: cm('many-keys', data) }));
    assert.equal(res.status, 201, res.text.slice(0, 500));
    assert.ok(ms < 10_000, `took ${ms} ms`);
    const got = await client.request({ path: `${CM}/many-keys` });
    assert.equal(Object.keys(got.json.data).length, 50_000);
  });
});

describe('validation', () => {
  it('invalid names are 422 with a metadata.name cause', async () => {
    for (const name of ['Bad_Name', 'UPPER', '-leading', 'trailing-', 'a'.repeat(254), 'has space', 'dots..dots', 'ünïcode']) {
      const res = await client.request({ method: 'POST', path: CM, body: cm(name) });
      const s = assertStatus(res, 422, 'Invalid');
      assert.equal(s.details.kind, 'ConfigMap');
      assert.ok(
        s.details.causes?.some((c: any) => c.field === 'metadata.name' && c.reason === 'FieldValueInvalid'),
        `${name}: causes ${JSON.stringify(s.details.causes)}`,
      );
    }
  });

  it('a missing name is 422 with a metadata.name Required cause', async () => {
    const s = assertStatus(await client.request({ method: 'POST', path: CM, body: { data: {} } }), 422, 'Invalid');
    assert.ok(s.details.causes?.some((c: any) => c.field === 'metadata.name' && c.reason === 'FieldValueRequired'), JSON.stringify(s.details));
  });

  it('invalid field values name their paths', async () => {
    const s = assertStatus(
      await client.request({ method: 'POST', path: CM, body: { metadata: { name: 'bad-labels', labels: { 'bad key!': 'v' } }, data: { 'bad/key': 'v' } } }),
      422,
      'Invalid',
    );
    const fields = s.details.causes.map((c: any) => c.field);
    assert.ok(fields.some((f: string) => f.startsWith('metadata.labels')), JSON.stringify(fields));
    assert.ok(fields.some((f: string) => f.startsWith('data[')), JSON.stringify(fields));
  });

  it('a name on the URL different from the body is 400', async () => {
    await client.request({ method: 'POST', path: CM, body: cm('url-name') });
    assertStatus(await client.request({ method: 'PUT', path: `${CM}/url-name`, body: cm('other-name') }), 400, 'BadRequest');
  });

  it('label selectors that do not parse are 400', async () => {
    for (const sel of ['a in (', 'a=b=c', '!', 'a in (x,', '===', 'a notin', 'a,,b', '(x)', 'a=b,']) {
      const res = await client.request({ path: `${CM}?labelSelector=${encodeURIComponent(sel)}` });
      assertStatus(res, 400, 'BadRequest');
      const w = await client.request({ path: `${CM}?watch=1&labelSelector=${encodeURIComponent(sel)}` });
      assertStatus(w, 400, 'BadRequest');
    }
  });

  it('field selectors on unsupported fields are 400', async () => {
    assertStatus(await client.request({ path: `${CM}?fieldSelector=${encodeURIComponent('spec.nope=1')}` }), 400, 'BadRequest');
    assertStatus(await client.request({ path: `${CM}?fieldSelector=${encodeURIComponent('metadata.name')}` }), 400, 'BadRequest');
  });

  it('bad limit and resourceVersion values on a list are 400', async () => {
    assertStatus(await client.request({ path: `${CM}?limit=-1` }), 400, 'BadRequest');
    assertStatus(await client.request({ path: `${CM}?limit=abc` }), 400, 'BadRequest');
    assertStatus(await client.request({ path: `${CM}?resourceVersion=abc` }), 400, 'BadRequest');
    assertStatus(await client.request({ path: `${CM}?limit=1&continue=${encodeURIComponent('not a token')}` }), 400, 'BadRequest');
  });
});

describe('watch resourceVersions', () => {
  it('a non-numeric resourceVersion is 400', async () => {
    for (const rv of ['abc', '-1', '1.5', '0x10']) {
      assertStatus(await client.request({ path: `${CM}?watch=true&resourceVersion=${encodeURIComponent(rv)}`, timeoutMs: 5000 }), 400, 'BadRequest');
    }
  });

  it('a compacted resourceVersion ends the watch with ERROR 410 Expired', async () => {
    const first = await client.request({ method: 'POST', path: CM, body: cm('compact-1') });
    const old = Number(first.json.metadata.resourceVersion);
    await client.request({ method: 'POST', path: CM, body: cm('compact-2') });
    const second = await client.request({ method: 'PUT', path: `${CM}/compact-2`, body: cm('compact-2', { b: '2' }) });
    const cur = Number(second.json.metadata.resourceVersion);
    await server.server.store.compact(cur);
    const w = await client.stream(`${CM}?watch=true&resourceVersion=${old}`);
    try {
      if (w.status === 410) {
        // Upstream may also refuse the request up front.
        return;
      }
      assert.equal(w.status, 200);
      const ev = await w.waitFor((e) => e.type === 'ERROR', 5000);
      assert.equal(ev.object.kind, 'Status');
      assert.equal(ev.object.code, 410);
      assert.equal(ev.object.reason, 'Expired');
      await Promise.race([w.ended, new Promise((_, rej) => setTimeout(() => rej(new Error('watch stream did not end after ERROR')), 5000))]);
      // A list at the compacted revision is 410 too.
      assertStatus(await client.request({ path: `${CM}?resourceVersion=${old}&resourceVersionMatch=Exact` }), 410, 'Expired');
    } finally {
      w.close();
    }
  });

  it('a watch far in the future waits, and a list at a future exact revision is a Status', async () => {
    const res = await client.request({ path: `${CM}?resourceVersion=999999999&resourceVersionMatch=Exact`, timeoutMs: 15_000 });
    assert.ok(res.status >= 400 && res.status < 600, String(res.status));
    assert.equal(res.json.kind, 'Status');
    assert.notEqual(res.status, 500, res.text);
  });
});

describe('conflicts', () => {
  it('an update with a stale resourceVersion is 409 Conflict', async () => {
    const created = await client.request({ method: 'POST', path: CM, body: cm('stale') });
    const fresh = await client.request({ method: 'PUT', path: `${CM}/stale`, body: { ...created.json, data: { a: '2' } } });
    assert.equal(fresh.status, 200, fresh.text);
    const s = assertStatus(await client.request({ method: 'PUT', path: `${CM}/stale`, body: { ...created.json, data: { a: '3' } } }), 409, 'Conflict', /has been modified/);
    assert.equal(s.details.name, 'stale');
    const patch = await client.request({
      method: 'PATCH',
      path: `${CM}/stale`,
      body: { metadata: { resourceVersion: created.json.metadata.resourceVersion }, data: { a: '4' } },
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    assertStatus(patch, 409, 'Conflict');
    const del = await client.request({
      method: 'DELETE',
      path: `${CM}/stale`,
      body: { preconditions: { resourceVersion: created.json.metadata.resourceVersion } },
    });
    assertStatus(del, 409, 'Conflict');
  });

  it('creating an existing object is 409 AlreadyExists', async () => {
    await client.request({ method: 'POST', path: CM, body: cm('twice') });
    assertStatus(await client.request({ method: 'POST', path: CM, body: cm('twice') }), 409, 'AlreadyExists');
  });
});

describe('transport and authentication', () => {
  it('plain HTTP to the HTTPS port gets Go\'s 400 line', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const s = connect(Number(client.base.port), '127.0.0.1', () => s.write('GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
      let out = '';
      s.on('data', (d) => (out += d.toString()));
      s.on('end', () => resolve(out));
      s.on('error', reject);
      s.setTimeout(5000, () => reject(new Error('no answer to plain HTTP')));
    });
    assert.match(text, /^HTTP\/1\.[01] 400 Bad Request\r\n/);
    assert.match(text, /Client sent an HTTP request to an HTTPS server\./);
  });

  it('a connection that sends nothing, or garbage, does not hurt the server', async () => {
    const idle = connect(Number(client.base.port), '127.0.0.1');
    await new Promise((r) => idle.once('connect', r));
    const junk = connect(Number(client.base.port), '127.0.0.1', () => junk.end(Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 0, 1, 2, 3])));
    junk.on('error', () => {});
    junk.resume();
    await new Promise((r) => junk.once('close', r));
    idle.destroy();
    assert.equal((await client.request({ path: '/version' })).status, 200);
  });

  it('no credentials is 401 Unauthorized', async () => {
    const anon = new RawClient(server.url, { ca: client.creds.ca });
    try {
      assertStatus(await anon.request({ path: '/api/v1/namespaces' }), 401, 'Unauthorized');
      assertStatus(await anon.request({ path: '/api' }), 401, 'Unauthorized');
      assertStatus(await anon.request({ method: 'POST', path: CM, body: cm('anon') }), 401, 'Unauthorized');
      // Health and version stay public, as upstream's system:public-info-viewer allows.
      assert.equal((await anon.request({ path: '/healthz' })).status, 200);
      assert.equal((await anon.request({ path: '/version' })).status, 200);
    } finally {
      anon.close();
    }
  });

  it('a client certificate signed by another CA is 401', async () => {
    const otherCa = await createCa('someone-else');
    const cert = await issueCertificate(otherCa, { commonName: 'admin', organizations: ['system:masters'], usage: 'client' });
    const intruder = new RawClient(server.url, { ca: client.creds.ca, cert: cert.certPem, key: cert.keyPem });
    try {
      assertStatus(await intruder.request({ path: '/api/v1/namespaces' }), 401, 'Unauthorized');
      assertStatus(await intruder.request({ path: '/version' }), 401, 'Unauthorized');
    } finally {
      intruder.close();
    }
  });

  it('a bad bearer token is 401, also on public paths', async () => {
    const anon = new RawClient(server.url, { ca: client.creds.ca });
    try {
      for (const auth of ['Bearer wrong-token', `Bearer ${TOKEN}x`, 'Bearer ', 'Basic YWRtaW46YWRtaW4=', 'Bearer a b']) {
        assertStatus(await anon.request({ path: '/api/v1/namespaces', headers: { authorization: auth } }), 401, 'Unauthorized');
      }
      assertStatus(await anon.request({ path: '/healthz', headers: { authorization: 'Bearer wrong-token' } }), 401, 'Unauthorized');
    } finally {
      anon.close();
    }
  });

  it('a good bearer token from the token file is 200', async () => {
    const anon = new RawClient(server.url, { ca: client.creds.ca });
    try {
      const res = await anon.request({ path: '/api/v1/namespaces', headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.kind, 'NamespaceList');
      const created = await anon.request({ method: 'POST', path: CM, body: cm('by-token'), headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(created.status, 201, created.text);
      assert.ok(JSON.stringify(created.json.metadata.managedFields ?? []).length > 0);
    } finally {
      anon.close();
    }
  });
});

describe('methods and media types', () => {
  it('an unsupported content type is 415', async () => {
    for (const ct of ['text/plain', 'application/xml', 'image/png', 'multipart/form-data']) {
      const res = await client.request({ method: 'POST', path: CM, body: JSON.stringify(cm('ct')), headers: { 'content-type': ct } });
      assertStatus(res, 415, 'UnsupportedMediaType');
    }
  });

  it('PATCH with an unknown patch type is 415', async () => {
    await client.request({ method: 'POST', path: CM, body: cm('patch-type') });
    for (const ct of ['application/json', 'application/foo-patch+json', 'text/plain', 'application/yaml']) {
      const res = await client.request({ method: 'PATCH', path: `${CM}/patch-type`, body: '{"data":{"a":"2"}}', headers: { 'content-type': ct } });
      assertStatus(res, 415, 'UnsupportedMediaType');
    }
  });

  it('apply without fieldManager is 400, and malformed patches are 400/422', async () => {
    await client.request({ method: 'POST', path: CM, body: cm('bad-patches') });
    const apply = await client.request({ method: 'PATCH', path: `${CM}/bad-patches`, body: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad-patches}\n', headers: { 'content-type': 'application/apply-patch+yaml' } });
    assertStatus(apply, 400, 'BadRequest', /fieldManager/);
    const jsonPatches = ['{"op":"add"}', '[{"op":"frobnicate","path":"/data/a"}]', '[{"op":"remove","path":"/data/nope"}]', '[{"op":"add","path":"no-slash","value":1}]', '[{"op":"test","path":"/data/a","value":"wrong"}]', '[1]'];
    for (const body of jsonPatches) {
      const res = await client.request({ method: 'PATCH', path: `${CM}/bad-patches`, body, headers: { 'content-type': 'application/json-patch+json' } });
      assert.ok([400, 409, 422].includes(res.status), `${body}: ${res.status} ${res.text}`);
      assert.equal(res.json?.kind, 'Status', res.text);
    }
  });

  // Upstream decodes built-in objects into typed structs: a wrong JSON type is 400 on create/update
  // ("cannot unmarshal string into Go struct field ConfigMap.data") and 422 (field "patch") after a
  // patch. Cairn checks types only for custom resources today.
  it('wrong JSON types in built-in objects are refused', async () => {
    assertStatus(await client.request({ method: 'POST', path: CM, body: { metadata: { name: 'typed-1' }, data: 'not a map' } }), 400, 'BadRequest');
    assertStatus(await client.request({ method: 'POST', path: CM, body: { metadata: { name: 'typed-2' }, data: { a: 1 } } }), 400, 'BadRequest');
    await client.request({ method: 'POST', path: CM, body: cm('typed-3') });
    const res = await client.request({ method: 'PATCH', path: `${CM}/typed-3`, body: '{"data":"not a map"}', headers: { 'content-type': 'application/merge-patch+json' } });
    assertStatus(res, 422, 'Invalid');
  });

  it('unsupported methods are 405 MethodNotAllowed', async () => {
    assertStatus(await client.request({ method: 'PATCH', path: CM, body: '{}', headers: { 'content-type': 'application/merge-patch+json' } }), 405, 'MethodNotAllowed');
    assertStatus(await client.request({ method: 'PUT', path: CM, body: cm('x') }), 405, 'MethodNotAllowed');
    assertStatus(await client.request({ method: 'POST', path: `${CM}/x`, body: cm('x') }), 405, 'MethodNotAllowed');
    assertStatus(await client.request({ method: 'OPTIONS', path: CM }), 405, 'MethodNotAllowed');
    assertStatus(await client.request({ method: 'OPTIONS', path: `${CM}/x` }), 405, 'MethodNotAllowed');
    assertStatus(await client.request({ method: 'POST', path: '/version', body: '{}' }), 405, 'MethodNotAllowed');
    assertStatus(await client.request({ method: 'DELETE', path: '/api' }), 405, 'MethodNotAllowed');
  });

  it('a method the HTTP parser does not know gets a 400 and the server lives on', async () => {
    const res = await client.request({ method: 'FROB', path: CM, agent: false }).catch((e: Error) => e);
    if (!(res instanceof Error)) assert.ok(res.status === 400 || res.status === 405, String(res.status));
    assert.equal((await client.request({ path: '/version' })).status, 200);
  });
});

describe('networking objects', () => {
  const SVC = `/api/v1/namespaces/${NS}/services`;
  const causes = (s: { details?: { causes?: { field?: string }[] } }) => (s.details?.causes ?? []).map((c) => c.field);

  it('a Service with a port out of range, duplicate port names or a clusterIP outside the range is refused with field paths', async () => {
    const port = assertStatus(
      await client.request({ method: 'POST', path: SVC, body: { metadata: { name: 'bad-port' }, spec: { selector: { a: 'b' }, ports: [{ port: 65536 }] } } }),
      422,
      'Invalid',
    );
    assert.ok(causes(port).includes('spec.ports[0].port'), JSON.stringify(port.details));
    const dup = assertStatus(
      await client.request({
        method: 'POST',
        path: SVC,
        body: { metadata: { name: 'dup-names' }, spec: { selector: { a: 'b' }, ports: [{ name: 'http', port: 80 }, { name: 'http', port: 81 }] } },
      }),
      422,
      'Invalid',
    );
    assert.ok(causes(dup).includes('spec.ports[1].name'), JSON.stringify(dup.details));
    assertStatus(
      await client.request({ method: 'POST', path: SVC, body: { metadata: { name: 'far-ip' }, spec: { clusterIP: '192.168.7.7', ports: [{ port: 80 }] } } }),
      422,
      'Invalid',
      /not in the valid range/,
    );
  });

  it('a NetworkPolicy with an invalid CIDR and an Ingress without a backend are refused with field paths', async () => {
    const np = assertStatus(
      await client.request({
        method: 'POST',
        path: `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`,
        body: { metadata: { name: 'bad-cidr' }, spec: { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.300/8' } }] }] } },
      }),
      422,
      'Invalid',
    );
    assert.ok(causes(np).includes('spec.ingress[0].from[0].ipBlock.cidr'), JSON.stringify(np.details));
    const ing = assertStatus(
      await client.request({
        method: 'POST',
        path: `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses`,
        body: { metadata: { name: 'no-backend' }, spec: { rules: [{ host: 'a.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: {} }] } }] } },
      }),
      422,
      'Invalid',
    );
    assert.ok(causes(ing).some((f) => f?.startsWith('spec.rules[0].http.paths[0].backend')), JSON.stringify(ing.details));
  });
});

describe('afterwards', () => {
  it('the server is healthy and nothing bad was stored', async () => {
    assert.equal((await client.request({ path: '/healthz' })).text, 'ok');
    assert.equal((await client.request({ path: '/readyz' })).text, 'ok');
    const list = await client.request({ path: CM });
    const names = list.json.items.map((i: any) => i.metadata.name);
    for (const bad of ['too-big', 'deep', 'just-under', 'wrong-av', 'wrong-kind', 'anon', 'ct', 'Bad_Name']) assert.ok(!names.includes(bad), bad);
    const services = (await client.request({ path: `/api/v1/namespaces/${NS}/services` })).json.items.map((i: any) => i.metadata.name);
    assert.deepEqual(services, []);
  });
});
