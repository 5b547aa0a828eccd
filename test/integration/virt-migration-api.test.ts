/**
 * The migration API as kubectl users meet it, on a plain Cairn API server (no controllers: the
 * test writes the statuses KubeVirt's components would): a VMIM for a missing or a not running VMI
 * is refused with KubeVirt's messages; MigrationPolicy is served (cluster-scoped) and its bad
 * values refused; `kubectl drain` of a node carrying a LiveMigrate VMI's launcher pod is told to
 * retry (429) while an evacuation migration is created, instead of the pod being deleted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.js';
import { kubectl as runKubectl, type KubectlRun } from '../support/workloads.js';

const NS = 'migapi';
let server: TestServer;
let cacheDir: string;

const kubectl = (args: string[], input?: string): Promise<KubectlRun> => runKubectl(server, cacheDir, args, input === undefined ? {} : { input });

async function ok(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function fails(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  assert.notEqual(r.code, 0, `kubectl ${args.join(' ')} unexpectedly succeeded:\n${r.stdout}`);
  return r.stderr;
}

const vmim = (name: string, vmiName: string) => JSON.stringify({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name, namespace: NS }, spec: { vmiName } });
const vmi = (name: string, evictionStrategy: string) =>
  JSON.stringify({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name, namespace: NS }, spec: { evictionStrategy, domain: { devices: {}, resources: { requests: { memory: '64Mi' } } } } });

describe('migration API with kubectl', { timeout: 120_000 }, () => {
  before(async () => {
    server = await startTestServer({ server: { controllers: false } });
    cacheDir = await mkdtemp(join(tmpdir(), 'cairn-migration-api-kubectl-'));
    await ok(['create', 'namespace', NS]);
  });

  after(async () => {
    await server?.stop();
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  });

  test('a migration of a missing or a Pending VMI is refused with KubeVirt\'s messages', async () => {
    const missing = await fails(['create', '-f', '-'], vmim('m1', 'ghost'));
    // kube-apiserver keeps the webhook's 400 but no reason, so kubectl names none.
    assert.match(missing, /^Error from server: error when creating "STDIN": admission webhook "migration-create-validator\.kubevirt\.io" denied the request: the VMI "migapi\/ghost" does not exist/);
    await ok(['create', '-f', '-'], vmi('idle', 'None'));
    const pending = await fails(['create', '-f', '-'], vmim('m2', 'idle'));
    assert.match(pending, /admission webhook "migration-create-validator\.kubevirt\.io" denied the request: Cannot migrate VMI that is not running \(phase Pending\)\./);
    assert.equal((await ok(['get', 'vmim', '-n', NS, '-o', 'name'])).trim(), '');
  });

  test('MigrationPolicy is served cluster-scoped; its fields are kept and bad values refused', async () => {
    const rows = (await ok(['api-resources', '--api-group=migrations.kubevirt.io'])).trim().split('\n');
    assert.deepEqual(rows[1].trim().split(/\s{3,}/), ['migrationpolicies', 'migrations.kubevirt.io/v1alpha1', 'false', 'MigrationPolicy']);
    const policy = { apiVersion: 'migrations.kubevirt.io/v1alpha1', kind: 'MigrationPolicy', metadata: { name: 'slow-db' }, spec: { selectors: { virtualMachineInstanceSelector: { app: 'db' }, namespaceSelector: { team: 'a' } }, bandwidthPerMigration: '64Mi', completionTimeoutPerGiB: 300, allowAutoConverge: true, allowPostCopy: false } };
    await ok(['create', '-f', '-'], JSON.stringify(policy));
    const got = JSON.parse(await ok(['get', 'migrationpolicy', 'slow-db', '-o', 'json']));
    assert.deepEqual(got.spec, policy.spec);
    const bad = await fails(['create', '-f', '-'], JSON.stringify({ ...policy, metadata: { name: 'bad' }, spec: { ...policy.spec, completionTimeoutPerGiB: -5 } }));
    assert.match(bad, /The request is invalid: spec\.completionTimeoutPerGiB: must not be negative/);
  });

  test('kubectl drain is told to retry while the LiveMigrate VMI is evacuated by a migration', async () => {
    await ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1', labels: { 'kubernetes.io/hostname': 'node-1' } } }));
    await ok(['create', '-f', '-'], vmi('db', 'LiveMigrate'));
    const uid = (await ok(['get', 'vmi', 'db', '-n', NS, '-o', 'jsonpath={.metadata.uid}'])).trim();
    // The launcher pod as the VMI controller makes it, on node-1, and the VMI as the handler reports it.
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'virt-launcher-db-abcde', namespace: NS, labels: { 'kubevirt.io': 'virt-launcher', 'kubevirt.io/created-by': uid }, annotations: { 'kubevirt.io/domain': 'db' }, ownerReferences: [{ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', name: 'db', uid, controller: true, blockOwnerDeletion: true }] },
      spec: { nodeName: 'node-1', containers: [{ name: 'compute', image: 'busybox' }] },
    };
    await ok(['create', '-f', '-'], JSON.stringify(pod));
    await ok(['patch', 'pod', pod.metadata.name, '-n', NS, '--subresource=status', '--type=merge', '-p', '{"status":{"phase":"Running"}}']);
    await ok(['patch', 'vmi', 'db', '-n', NS, '--type=merge', '-p', JSON.stringify({ status: { phase: 'Running', nodeName: 'node-1', conditions: [{ type: 'LiveMigratable', status: 'True' }] } })]);

    const r = await kubectl(['drain', 'node-1', '--pod-selector=kubevirt.io=virt-launcher', '--timeout=4s']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /error when evicting pods\/"virt-launcher-db-abcde" -n "migapi" \(will retry after 5s\): admission webhook "virt-launcher-eviction-interceptor\.kubevirt\.io" denied the request: Eviction triggered evacuation of VMI "migapi\/db"/);
    const migrations = JSON.parse(await ok(['get', 'vmim', '-n', NS, '-o', 'json'])).items;
    assert.equal(migrations.length, 1);
    assert.match(migrations[0].metadata.name, /^kubevirt-evacuation-[a-z0-9]{5}$/);
    assert.deepEqual([migrations[0].spec.vmiName, migrations[0].metadata.annotations['kubevirt.io/evacuationMigration']], ['db', 'node-1']);
    assert.equal((await ok(['get', 'vmi', 'db', '-n', NS, '-o', 'jsonpath={.status.evacuationNodeName}'])).trim(), 'node-1');
    // The pod is still there: the guest has not moved.
    await ok(['get', 'pod', pod.metadata.name, '-n', NS]);
  });
});
