/**
 * The snapshot.storage.k8s.io/v1 kinds are served from a fresh server's first start, as the
 * real kubectl sees them: discovery (short names, scope), upstream's printer columns, schema
 * validation (deletionPolicy enum, a snapshot source naming exactly one of claim or content),
 * and a second bootstrap leaving the stored definitions untouched.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapCrds } from '../../src/api/bootstrap-crds.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let cacheDir: string;

function kubectl(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'kubectl',
      ['--kubeconfig', server.kubeconfigPath, '--cache-dir', cacheDir, ...args],
      { timeout: 30_000, env: { ...process.env, KUBECONFIG: '' } },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(new Error(`kubectl ${args.join(' ')}: ${err.message}\n${stderr}`));
        resolve({ code: err ? (err.code as unknown as number) : 0, stdout, stderr });
      },
    );
    child.stdin!.end(input ?? '');
  });
}
async function ok(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}
const rows = (out: string) => out.split('\n').filter((l) => l.trim()).map((l) => l.trim().split(/\s{2,}|\t/));

describe('snapshot.storage.k8s.io CRDs', () => {
  before(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'cairn-kubectl-cache-'));
    server = await startTestServer({ server: { controllers: false } });
  });
  after(async () => {
    await server?.stop();
    await rm(cacheDir, { recursive: true, force: true });
  });

  test('discovery lists the three kinds with upstream short names and scopes', async () => {
    const out = await ok(['api-resources', '--api-group=snapshot.storage.k8s.io', '--no-headers']);
    const got = rows(out).map((r) => r.join(' ').split(/\s+/)).sort((a, b) => a[0]!.localeCompare(b[0]!));
    assert.deepEqual(got, [
      ['volumesnapshotclasses', 'vsclass,vsclasses', 'snapshot.storage.k8s.io/v1', 'false', 'VolumeSnapshotClass'],
      ['volumesnapshotcontents', 'vsc,vscs', 'snapshot.storage.k8s.io/v1', 'false', 'VolumeSnapshotContent'],
      ['volumesnapshots', 'vs', 'snapshot.storage.k8s.io/v1', 'true', 'VolumeSnapshot'],
    ]);
  });

  test('objects print upstream columns; bad ones are refused by the schema', async () => {
    await ok(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: 'snap' }, driver: 'local.cairn.io', deletionPolicy: 'Delete' }));
    assert.deepEqual(rows(await ok(['get', 'vsclass']))[0]!.join(' ').split(/\s+/), ['NAME', 'DRIVER', 'DELETIONPOLICY', 'AGE']);
    await ok(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', metadata: { name: 's1', namespace: 'default' }, spec: { volumeSnapshotClassName: 'snap', source: { persistentVolumeClaimName: 'data' } } }));
    const vs = rows(await ok(['get', 'vs', '-n', 'default']));
    assert.deepEqual(vs[0]!.join(' ').split(/\s+/), ['NAME', 'READYTOUSE', 'SOURCEPVC', 'SOURCESNAPSHOTCONTENT', 'RESTORESIZE', 'SNAPSHOTCLASS', 'SNAPSHOTCONTENT', 'CREATIONTIME', 'AGE']);
    assert.match(await ok(['get', 'vs', 's1', '-n', 'default', '-o', 'custom-columns=PVC:.spec.source.persistentVolumeClaimName', '--no-headers']), /^data\s*$/);
    await ok(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotContent', metadata: { name: 'c1' }, spec: { deletionPolicy: 'Retain', driver: 'local.cairn.io', source: { snapshotHandle: 'h1' }, volumeSnapshotRef: { name: 's2', namespace: 'default' } } }));
    assert.deepEqual(rows(await ok(['get', 'vsc']))[0]!.join(' ').split(/\s+/), ['NAME', 'READYTOUSE', 'RESTORESIZE', 'DELETIONPOLICY', 'DRIVER', 'VOLUMESNAPSHOTCLASS', 'VOLUMESNAPSHOT', 'VOLUMESNAPSHOTNAMESPACE', 'AGE']);

    const badPolicy = await kubectl(['create', '-f', '-'], JSON.stringify({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: 'bad' }, driver: 'x', deletionPolicy: 'Maybe' }));
    assert.notEqual(badPolicy.code, 0);
    assert.match(badPolicy.stderr, /deletionPolicy: Unsupported value: "Maybe": supported values: "Delete", "Retain"/);
    const bothSources = await kubectl(['create', '-f', '-'], JSON.stringify({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', metadata: { name: 'both', namespace: 'default' }, spec: { source: { persistentVolumeClaimName: 'a', volumeSnapshotContentName: 'b' } } }));
    assert.notEqual(bothSources.code, 0);
    assert.match(bothSources.stderr, /spec\.source/);
    const noRef = await kubectl(['create', '-f', '-'], JSON.stringify({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotContent', metadata: { name: 'noref' }, spec: { deletionPolicy: 'Delete', driver: 'x', source: { snapshotHandle: 'h' } } }));
    assert.notEqual(noRef.code, 0);
    assert.match(noRef.stderr, /spec\.volumeSnapshotRef: Required value/);
  });

  test('bootstrapping again (a restart) leaves the stored definitions as they are', async () => {
    const before = await ok(['get', 'crd', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}']);
    await bootstrapCrds(server.server.api);
    const after = await ok(['get', 'crd', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}']);
    assert.equal(after, before);
    assert.match(before, /volumesnapshots\.snapshot\.storage\.k8s\.io=/);
  });
});
