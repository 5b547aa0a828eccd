/**
 * The audit log: one audit.k8s.io/v1 Event per request in DATA/audit.log, with who (user,
 * groups, impersonated user), what (verb, objectRef, request URI), the outcome (code, decision),
 * source IP, user agent, timestamps and latency; no bodies at level Metadata (the default), and
 * Secret and TokenRequest bodies never, even at RequestResponse.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RawClient } from '../support/raw-https.js';
import { startTestServer } from '../support/server.js';
import { userClient } from '../support/users.js';

const SECRET = 'audit-secret-value-93bd1';
const b64 = Buffer.from(SECRET).toString('base64');

async function run(level?: 'RequestResponse') {
  // Our own data dir: a test server removes the one it made when it stops, and the log is read after.
  const dataDir = await mkdtemp(join(tmpdir(), 'cairn-audit-'));
  const server = await startTestServer({ dataDir, server: level ? { auditLevel: level } : {} });
  const admin = RawClient.admin(server.url, server.dataDir);
  const alice = await userClient(server, 'alice', ['qa']);
  let text: string;
  try {
    const ua = { 'user-agent': 'audit-test/1.0' };
    assert.equal((await admin.request({ method: 'POST', path: '/api/v1/namespaces/default/secrets', headers: ua, body: { metadata: { name: 's1' }, data: { v: b64 }, stringData: { w: SECRET } } })).status, 201);
    assert.equal((await admin.request({ path: '/api/v1/namespaces/default/secrets/s1', headers: ua })).status, 200);
    assert.equal((await admin.request({ method: 'POST', path: '/api/v1/namespaces/default/configmaps', headers: ua, body: { metadata: { name: 'c1' }, data: { k: 'configmap-body' } } })).status, 201);
    await admin.request({ method: 'POST', path: '/api/v1/namespaces/default/serviceaccounts', body: { metadata: { name: 'sa1' } } });
    const tr = await admin.request({ method: 'POST', path: '/api/v1/namespaces/default/serviceaccounts/sa1/token', body: { kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1', spec: {} } });
    assert.equal(tr.status, 201);
    assert.equal((await alice.request({ path: '/api/v1/namespaces/default/pods?limit=5', headers: ua })).status, 403);
    assert.equal((await admin.request({ path: '/api/v1/namespaces/default/configmaps/c1', headers: { ...ua, 'impersonate-user': 'bob' } })).status, 403);
    alice.close();
    admin.close();
    await server.stop();
    text = await readFile(join(dataDir, 'audit.log'), 'utf8');
    await rm(dataDir, { recursive: true, force: true });
    return { events: text.split('\n').filter(Boolean).map((l) => JSON.parse(l)), text, token: tr.json.status.token as string };
  } catch (e) {
    alice.close();
    admin.close();
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
}

describe('audit log', () => {
  it('records who, what and the outcome as audit.k8s.io/v1 Events, with no bodies at level Metadata', async () => {
    const { events, text, token } = await run();
    assert.equal(text.indexOf(SECRET), -1);
    assert.equal(text.indexOf(b64), -1);
    assert.equal(text.indexOf(token), -1);
    assert.equal(text.indexOf('configmap-body'), -1, 'no bodies at Metadata');
    const create = events.find((e) => e.verb === 'create' && e.objectRef?.resource === 'secrets');
    assert.ok(create, text);
    assert.equal(create.kind, 'Event');
    assert.equal(create.apiVersion, 'audit.k8s.io/v1');
    assert.equal(create.level, 'Metadata');
    assert.equal(create.stage, 'ResponseComplete');
    assert.equal(create.requestURI, '/api/v1/namespaces/default/secrets');
    assert.deepEqual(create.user, { username: 'admin', groups: ['system:masters', 'system:authenticated'] });
    assert.deepEqual(create.objectRef, { resource: 'secrets', namespace: 'default', apiVersion: 'v1' });
    assert.deepEqual(create.responseStatus, { metadata: {}, code: 201 });
    assert.deepEqual(create.sourceIPs, ['127.0.0.1']);
    assert.equal(create.userAgent, 'audit-test/1.0');
    assert.match(create.auditID, /^[0-9a-f-]{36}$/);
    assert.ok(Date.parse(create.stageTimestamp) >= Date.parse(create.requestReceivedTimestamp));
    assert.match(create.annotations['cairn.io/latency'], /^\d+\.\d{3}ms$/);
    assert.equal(create.annotations['authorization.k8s.io/decision'], 'allow');
    assert.equal(create.requestObject, undefined);
    assert.equal(create.responseObject, undefined);
    const get = events.find((e) => e.verb === 'get' && e.objectRef?.name === 's1');
    assert.deepEqual(get.objectRef, { resource: 'secrets', namespace: 'default', name: 's1', apiVersion: 'v1' });
    const token1 = events.find((e) => e.objectRef?.subresource === 'token');
    assert.deepEqual(token1.objectRef, { resource: 'serviceaccounts', namespace: 'default', name: 'sa1', apiVersion: 'v1', subresource: 'token' });
    const denied = events.find((e) => e.user.username === 'alice');
    assert.equal(denied.verb, 'list');
    assert.equal(denied.requestURI, '/api/v1/namespaces/default/pods?limit=5');
    assert.deepEqual(denied.user.groups, ['qa', 'system:authenticated']);
    assert.equal(denied.responseStatus.code, 403);
    assert.equal(denied.responseStatus.reason, 'Forbidden');
    assert.equal(denied.annotations['authorization.k8s.io/decision'], 'forbid');
    const imp = events.find((e) => e.impersonatedUser);
    assert.deepEqual(imp.impersonatedUser, { username: 'bob', groups: ['system:authenticated'] });
    assert.equal(imp.user.username, 'admin');
    assert.equal(imp.responseStatus.code, 403);
  });

  it('at RequestResponse writes bodies, except those of Secrets and token requests', async () => {
    const { events, text, token } = await run('RequestResponse');
    assert.equal(text.indexOf(SECRET), -1);
    assert.equal(text.indexOf(b64), -1);
    assert.equal(text.indexOf(token), -1);
    const cm = events.find((e) => e.verb === 'create' && e.objectRef?.resource === 'configmaps');
    assert.equal(cm.level, 'RequestResponse');
    assert.equal(cm.requestObject.data.k, 'configmap-body');
    assert.equal(cm.responseObject.metadata.name, 'c1');
    const secret = events.find((e) => e.verb === 'create' && e.objectRef?.resource === 'secrets');
    assert.equal(secret.requestObject, undefined);
    assert.equal(secret.responseObject, undefined);
  });
});
