import { test } from 'node:test';
import assert from 'node:assert/strict';
import { credentialsFor, normalizeReference, parseChallenges, parseReference, defaultPullPolicy, ImageError } from '../../src/agent/images/index.js';

const D = `sha256:${'a'.repeat(64)}`;

test('references normalize like docker/containerd', () => {
  assert.equal(normalizeReference('busybox'), 'docker.io/library/busybox:latest');
  assert.equal(normalizeReference('busybox:1.36'), 'docker.io/library/busybox:1.36');
  assert.equal(normalizeReference('user/app'), 'docker.io/user/app:latest');
  assert.equal(normalizeReference('index.docker.io/library/busybox:1'), 'docker.io/library/busybox:1');
  assert.equal(normalizeReference('registry.local:5000/busybox:1.36'), 'registry.local:5000/busybox:1.36');
  assert.equal(normalizeReference('localhost/a/b'), 'localhost/a/b:latest');
  assert.equal(normalizeReference('127.0.0.1:5000/x/y:2'), '127.0.0.1:5000/x/y:2');
  assert.deepEqual(parseReference(`registry.local:5000/busybox@${D}`), { registry: 'registry.local:5000', repository: 'busybox', tag: undefined, digest: D });
  assert.deepEqual(parseReference(`busybox:1.36@${D}`), { registry: 'docker.io', repository: 'library/busybox', tag: '1.36', digest: D });
  for (const bad of ['', 'UPPER/case', 'a@sha256:123', 'a:b:c/d', 'a//b', 'a:-x']) assert.throws(() => parseReference(bad), ImageError, bad);
});

test('default pull policy: Always for latest, IfNotPresent for tags and digests', () => {
  assert.equal(defaultPullPolicy('busybox'), 'Always');
  assert.equal(defaultPullPolicy('busybox:latest'), 'Always');
  assert.equal(defaultPullPolicy('busybox:1.36'), 'IfNotPresent');
  assert.equal(defaultPullPolicy(`busybox@${D}`), 'IfNotPresent');
});

test('WWW-Authenticate challenges', () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
  ]);
  assert.deepEqual(parseChallenges('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
  assert.deepEqual(parseChallenges('Basic realm="a, b", Bearer realm=x,error="invalid_token"'), [
    { scheme: 'basic', params: { realm: 'a, b' } },
    { scheme: 'bearer', params: { realm: 'x', error: 'invalid_token' } },
  ]);
  assert.deepEqual(parseChallenges('Bearer realm="q\\"uote"'), [{ scheme: 'bearer', params: { realm: 'q"uote' } }]);
  assert.deepEqual(parseChallenges(null), []);
});

test('credentials from dockerconfigjson secrets', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const s1 = { auths: { 'https://index.docker.io/v1/': { auth: b64('hub:pw') }, 'reg.local:5000': { username: 'u', password: 'p:w' } } };
  const s2 = JSON.stringify({ auths: { '*.example.com': { auth: b64('wild:card') } } });
  const legacy = { 'old.example.org': { auth: b64('old:cfg') } };
  assert.deepEqual(credentialsFor('docker.io', [s1]), { username: 'hub', password: 'pw' });
  assert.deepEqual(credentialsFor('reg.local:5000', [s1]), { username: 'u', password: 'p:w' });
  assert.equal(credentialsFor('reg.local', [s1]), undefined, 'ports must match');
  assert.deepEqual(credentialsFor('a.example.com', ['not json', b64(s2)]), { username: 'wild', password: 'card' });
  assert.equal(credentialsFor('a.b.example.com', [s2]), undefined, 'a glob covers one label');
  assert.deepEqual(credentialsFor('old.example.org', [legacy]), { username: 'old', password: 'cfg' });
  // first secret that matches wins
  const first = { auths: { 'reg.local:5000': { auth: b64('first:1') } } };
  assert.deepEqual(credentialsFor('reg.local:5000', [first, s1]), { username: 'first', password: '1' });
});
