/**
 * ServiceAccounts and the TokenRequest API: a `default` account per namespace, tokens that the
 * server accepts as bearer tokens for its own audience only, until they expire or the account
 * (or the pod they are bound to) is gone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, InProcessTransport, type ResourceRef } from '../../src/client/index.js';
import { RawClient } from '../support/raw-https.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ADMIN, createNamespace, until } from '../support/workloads.js';

const SA: ResourceRef = { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true, kind: 'ServiceAccount' };
const PODS: ResourceRef = { group: '', version: 'v1', plural: 'pods', namespaced: true, kind: 'Pod' };
const NS = 'sa-test';

let server: TestServer;
let client: Client;
let admin: RawClient;
let anon: RawClient;

before(async () => {
  server = await startTestServer();
  client = new Client(new InProcessTransport(server.handler, ADMIN));
  admin = RawClient.admin(server.url, server.dataDir);
  anon = new RawClient(server.url, { ca: admin.creds.ca });
  await createNamespace(client, NS);
});
after(async () => server?.stop());

async function token(spec: Record<string, unknown>, sa = 'default') {
  return admin.request({ method: 'POST', path: `/api/v1/namespaces/${NS}/serviceaccounts/${sa}/token`, body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec } });
}

/** Who the server says the bearer of this token is (SelfSubjectReview), or the HTTP status. */
async function whoami(tok: string): Promise<string | number> {
  const res = await anon.request({
    method: 'POST',
    path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    headers: { authorization: `Bearer ${tok}` },
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  return res.status === 201 ? res.json.status.userInfo.username : res.status;
}

describe('service accounts and tokens', () => {
  it('every namespace gets a default ServiceAccount', async () => {
    await until('default service account', async () => (await client.resource(SA).list({ namespace: NS })).items.some((s) => s.metadata.name === 'default'));
  });

  it('a requested token authenticates as the service account, with its expiry', async () => {
    const res = await token({ expirationSeconds: 3600 });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.kind, 'TokenRequest');
    const exp = Date.parse(res.json.status.expirationTimestamp);
    assert.ok(Math.abs(exp - (Date.now() + 3600_000)) < 60_000, `expiry ${res.json.status.expirationTimestamp}`);
    assert.equal(await whoami(res.json.status.token), `system:serviceaccount:${NS}:default`);
  });

  it('a token for another audience is refused by the API server', async () => {
    const res = await token({ audiences: ['vault'] });
    assert.equal(res.status, 201);
    assert.equal(await whoami(res.json.status.token), 401);
  });

  it('too short an expiry is invalid', async () => {
    const res = await token({ expirationSeconds: 60 });
    assert.equal(res.status, 422);
    assert.match(res.json.message, /spec\.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes/);
  });

  it('a token bound to a pod stops working when the pod is deleted', async () => {
    const pod = await client.resource(PODS).create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'bound', namespace: NS },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    });
    const res = await token({ boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'bound', uid: pod.metadata.uid } });
    assert.equal(res.status, 201, res.text);
    const tok = res.json.status.token as string;
    assert.equal(await whoami(tok), `system:serviceaccount:${NS}:default`);
    await client.resource(PODS).delete('bound', { namespace: NS, gracePeriodSeconds: 0 });
    assert.equal(await whoami(tok), 401);
  });

  it('a token stops working when its service account is deleted, even if one of that name comes back', async () => {
    await client.resource(SA).create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'robot', namespace: NS } });
    const res = await token({}, 'robot');
    const tok = res.json.status.token as string;
    assert.equal(await whoami(tok), `system:serviceaccount:${NS}:robot`);
    await client.resource(SA).delete('robot', { namespace: NS });
    await client.resource(SA).create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'robot', namespace: NS } });
    assert.equal(await whoami(tok), 401);
  });

  it('a token for a missing service account cannot be requested', async () => {
    const res = await token({}, 'nobody');
    assert.equal(res.status, 404);
    assert.equal(res.json.reason, 'NotFound');
  });
});
