import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeconfigError, loadKubeconfig, parseKubeconfig } from '../../src/client/index.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('resolves current-context with inline data', () => {
  const conn = parseKubeconfig(
    `
apiVersion: v1
kind: Config
current-context: admin@cairn
clusters:
- name: other
  cluster: { server: https://elsewhere:6443 }
- name: cairn
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: ${b64('CA')}
    tls-server-name: api.cairn
contexts:
- name: admin@cairn
  context: { cluster: cairn, user: admin, namespace: team-a }
users:
- name: admin
  user:
    client-certificate-data: ${b64('CERT')}
    client-key-data: ${b64('KEY')}
`,
    '/nowhere',
  );
  assert.equal(conn.server, 'https://127.0.0.1:6443');
  assert.equal(conn.namespace, 'team-a');
  assert.equal(conn.contextName, 'admin@cairn');
  assert.equal(conn.ca?.toString(), 'CA');
  assert.equal(conn.clientCert?.toString(), 'CERT');
  assert.equal(conn.clientKey?.toString(), 'KEY');
  assert.equal(conn.tlsServerName, 'api.cairn');
  assert.equal(conn.token, undefined);
});

test('reads files relative to the kubeconfig directory; token and tokenFile; explicit context', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-kc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'pki'));
  writeFileSync(join(dir, 'pki', 'ca.crt'), 'CAFILE');
  writeFileSync(join(dir, 'token'), 'tok-from-file\n');
  const path = join(dir, 'config');
  writeFileSync(
    path,
    `
current-context: a
clusters:
- name: c
  cluster: { server: https://h:6443, certificate-authority: pki/ca.crt }
- name: insecure
  cluster: { server: https://h:6443, insecure-skip-tls-verify: true }
contexts:
- name: a
  context: { cluster: c, user: bearer }
- name: b
  context: { cluster: insecure, user: filetoken }
users:
- name: bearer
  user: { token: abc }
- name: filetoken
  user: { tokenFile: ${join(dir, 'token')} }
`,
  );
  const a = loadKubeconfig(path);
  assert.equal(a.ca?.toString(), 'CAFILE');
  assert.equal(a.token, 'abc');
  assert.equal(a.namespace, 'default');
  const b = loadKubeconfig(path, { context: 'b' });
  assert.equal(b.insecureSkipTlsVerify, true);
  assert.equal(b.tokenFile, join(dir, 'token'));
  assert.equal(b.ca, undefined);
});

test('clear errors for broken kubeconfigs', () => {
  assert.throws(() => loadKubeconfig('/does/not/exist'), KubeconfigError);
  assert.throws(() => parseKubeconfig('contexts: []', '/'), /no current-context/);
  assert.throws(() => parseKubeconfig('current-context: x\ncontexts: []', '/'), /no context named "x"/);
  assert.throws(
    () => parseKubeconfig('current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\nclusters: [{name: c, cluster: {}}]', '/'),
    /has no server/,
  );
  assert.throws(
    () =>
      parseKubeconfig(
        'current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: "https://h"}}]\nusers: [{name: u, user: {client-certificate: missing.crt, client-key-data: eA==}}]',
        '/tmp',
      ),
    /cannot read client certificate \/tmp\/missing.crt/,
  );
  assert.throws(() => parseKubeconfig(': : :\n  - [', '/'), KubeconfigError);
});
