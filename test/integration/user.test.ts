/**
 * `cairn user create`: a kubeconfig with a client certificate signed by the cluster CA (CN the
 * user, O the groups) that the real kubectl uses as that user; clear one-line errors otherwise.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { startTestServer, type TestServer } from '../support/server.js';

const CAIRN_BIN = new URL('../../../bin/cairn.js', import.meta.url).pathname;

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

describe('cairn user create', () => {
  let server: TestServer;
  let dir: string;
  before(async () => {
    server = await startTestServer();
    dir = await mkdtemp(join(tmpdir(), 'cairn-user-'));
  });
  after(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes a kubeconfig (0600) whose certificate names the user and groups, and kubectl uses it', async () => {
    const out = join(dir, 'jane.kubeconfig');
    const r = await run(process.execPath, [CAIRN_BIN, 'user', 'create', 'jane', '--group', 'dev', '--group', 'ops', '--data-dir', server.dataDir, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /wrote .*jane\.kubeconfig for user "jane" \(groups: dev, ops\)/);
    assert.equal((await stat(out)).mode & 0o777, 0o600);
    const kc = YAML.parse(await readFile(out, 'utf8'));
    assert.equal(kc.clusters[0].cluster.server, server.url);
    const cert = new X509Certificate(Buffer.from(kc.users[0].user['client-certificate-data'], 'base64'));
    assert.match(cert.subject, /CN=jane/);
    assert.match(cert.subject, /O=dev/);
    assert.match(cert.subject, /O=ops/);
    const ca = new X509Certificate(await readFile(join(server.dataDir, 'pki', 'ca.crt')));
    assert.ok(cert.verify(ca.publicKey), 'signed by the cluster CA');
    const who = await run('kubectl', ['--kubeconfig', out, '--cache-dir', join(dir, 'cache'), 'auth', 'whoami', '-o', 'json']);
    assert.equal(who.code, 0, who.stderr);
    assert.deepEqual(JSON.parse(who.stdout).status.userInfo, { username: 'jane', groups: ['dev', 'ops', 'system:authenticated'] });
    const pods = await run('kubectl', ['--kubeconfig', out, '--cache-dir', join(dir, 'cache'), 'get', 'pods']);
    assert.equal(pods.code, 1);
    assert.match(pods.stderr, /pods is forbidden: User "jane" cannot list resource "pods"/);
  });

  it('prints to stdout without --out, and fails with one clear line on bad input', async () => {
    const r = await run(process.execPath, [CAIRN_BIN, 'user', 'create', 'kim', '--data-dir', server.dataDir, '--server', 'https://cairn.example:6443']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(YAML.parse(r.stdout).clusters[0].cluster.server, 'https://cairn.example:6443');
    const missing = await run(process.execPath, [CAIRN_BIN, 'user', 'create', 'kim', '--data-dir', join(dir, 'nope')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: the cluster CA certificate not found at .*: is --data-dir the server's data directory\?\n$/);
    const noName = await run(process.execPath, [CAIRN_BIN, 'user', 'create']);
    assert.equal(noName.code, 2);
    assert.equal(noName.stderr.split('\n').filter(Boolean).length, 1);
    const badServer = await run(process.execPath, [CAIRN_BIN, 'user', 'create', 'kim', '--data-dir', server.dataDir, '--server', 'http://x']);
    assert.equal(badServer.code, 1);
    assert.match(badServer.stderr, /--server wants an https URL/);
  });
});
