/**
 * The real kubectl against RBAC: `auth can-i` (yes/no and exit codes; namespaces, subresources,
 * resource names, non-resource URLs, --list), `--as`/`--as-group` impersonation allowed for the
 * admin and refused for an ordinary user, and `auth whoami`, with kubeconfigs from `cairn user
 * create`'s code path.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RawClient } from '../support/raw-https.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { adminCreate, binding, role, roleBindingPath, rolePath, until, userClient, writeUserKubeconfig } from '../support/users.js';

let server: TestServer;
let admin: RawClient;
let dir: string;
let aliceKc: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function kubectl(kubeconfig: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

async function canI(kubeconfig: string, args: string[], want: 'yes' | 'no') {
  const r = await kubectl(kubeconfig, ['auth', 'can-i', ...args]);
  assert.equal(r.stdout.trim(), want, `can-i ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  assert.equal(r.code, want === 'yes' ? 0 : 1);
}

describe('kubectl auth against RBAC', () => {
  before(async () => {
    server = await startTestServer();
    admin = RawClient.admin(server.url, server.dataDir);
    dir = await mkdtemp(join(tmpdir(), 'cairn-rbac-kubectl-'));
    aliceKc = await writeUserKubeconfig(server, join(dir, 'alice.kubeconfig'), 'alice', ['devs']);
    await adminCreate(admin, '/api/v1/namespaces', { metadata: { name: 'apps' } });
    await adminCreate(admin, rolePath('apps'), role('dev', [
      { apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list'] },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['*'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get'], resourceNames: ['settings'] },
    ]));
    await adminCreate(admin, roleBindingPath('apps'), binding('devs', 'Role', 'dev', [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'devs' }]));
    // Wait until the server's RBAC cache has the binding.
    const alice = await userClient(server, 'alice', ['devs']);
    await until(() => alice.request({ path: '/api/v1/namespaces/apps/pods' }), 200);
    alice.close();
  });
  after(async () => {
    admin?.close();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('can-i answers yes/no with exit codes 0/1 by verb, namespace, subresource, name and URL', async () => {
    await canI(aliceKc, ['list', 'pods', '-n', 'apps'], 'yes');
    await canI(aliceKc, ['delete', 'pods', '-n', 'apps'], 'no');
    await canI(aliceKc, ['list', 'pods', '-n', 'default'], 'no');
    await canI(aliceKc, ['list', 'pods', '--all-namespaces'], 'no');
    await canI(aliceKc, ['get', 'pods', '--subresource=log', '-n', 'apps'], 'yes');
    await canI(aliceKc, ['get', 'pods', '--subresource=exec', '-n', 'apps'], 'no');
    await canI(aliceKc, ['create', 'deployments.apps', '-n', 'apps'], 'yes');
    await canI(aliceKc, ['get', 'configmap/settings', '-n', 'apps'], 'yes');
    await canI(aliceKc, ['get', 'configmap/other', '-n', 'apps'], 'no');
    await canI(aliceKc, ['get', '/healthz'], 'yes');
    await canI(aliceKc, ['get', '/metrics'], 'no');
    await canI(server.kubeconfigPath, ['delete', 'nodes'], 'yes');
    await canI(server.kubeconfigPath, ['get', '/metrics'], 'yes');
  });

  it('can-i --list shows the rules that apply in the namespace', async () => {
    const r = await kubectl(aliceKc, ['auth', 'can-i', '--list', '-n', 'apps']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').map((l) => l.trim().split(/\s{2,}/));
    assert.deepEqual(lines[0], ['Resources', 'Non-Resource URLs', 'Resource Names', 'Verbs']);
    const row = (res: string) => lines.find((l) => l[0] === res);
    assert.deepEqual(row('deployments.apps'), ['deployments.apps', '[]', '[]', '[*]']);
    assert.deepEqual(row('pods/log'), ['pods/log', '[]', '[]', '[get list]']);
    assert.deepEqual(row('configmaps'), ['configmaps', '[]', '[settings]', '[get]']);
    assert.deepEqual(row('selfsubjectaccessreviews.authorization.k8s.io'), ['selfsubjectaccessreviews.authorization.k8s.io', '[]', '[]', '[create]']);
    assert.ok(lines.some((l) => l[0] === '[/version]'), r.stdout);
    const other = await kubectl(aliceKc, ['auth', 'can-i', '--list', '-n', 'default']);
    assert.ok(!other.stdout.includes('deployments.apps'), other.stdout);
  });

  it('--as and --as-group work for the admin and are refused to others', async () => {
    await canI(server.kubeconfigPath, ['list', 'pods', '-n', 'apps', '--as', 'alice', '--as-group', 'devs'], 'yes');
    await canI(server.kubeconfigPath, ['list', 'pods', '-n', 'apps', '--as', 'alice'], 'no');
    await canI(server.kubeconfigPath, ['list', 'pods', '-n', 'apps', '--as', 'system:serviceaccount:apps:default'], 'no');
    const got = await kubectl(server.kubeconfigPath, ['get', 'pods', '-n', 'apps', '--as', 'bob', '--as-group', 'devs']);
    assert.equal(got.code, 0, got.stderr);
    const denied = await kubectl(server.kubeconfigPath, ['get', 'pods', '-n', 'default', '--as', 'bob', '--as-group', 'devs']);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /Error from server \(Forbidden\): pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default"/);
    const refused = await kubectl(aliceKc, ['get', 'pods', '-n', 'apps', '--as', 'admin']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /users "admin" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope/);
    const refusedGroup = await kubectl(aliceKc, ['auth', 'can-i', 'list', 'pods', '--as', 'alice', '--as-group', 'system:masters']);
    assert.notEqual(refusedGroup.code, 0);
    assert.match(refusedGroup.stderr + refusedGroup.stdout, /cannot impersonate resource "(users|groups)"/);
  });

  it('auth whoami shows the user, groups and impersonation', async () => {
    const me = await kubectl(aliceKc, ['auth', 'whoami']);
    assert.equal(me.code, 0, me.stderr);
    assert.match(me.stdout, /Username\s+alice/);
    assert.match(me.stdout, /Groups\s+\[devs system:authenticated\]/);
    const adminMe = await kubectl(server.kubeconfigPath, ['auth', 'whoami', '-o', 'json']);
    assert.deepEqual(JSON.parse(adminMe.stdout).status.userInfo, { username: 'admin', groups: ['system:masters', 'system:authenticated'] });
    const as = await kubectl(server.kubeconfigPath, ['auth', 'whoami', '--as', 'carol', '--as-group', 'qa']);
    assert.match(as.stdout, /Username\s+carol/);
    assert.match(as.stdout, /Groups\s+\[qa system:authenticated\]/);
  });
});
