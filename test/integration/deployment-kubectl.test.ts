/**
 * The real kubectl driving Deployments through the controllers: create, rollout status,
 * set image with change-cause, rollout history, undo, pause/resume, restart, scale, and describe
 * showing the controller's ScalingReplicaSet events. Each call has its own --kubeconfig and a
 * --cache-dir made for this run; argument arrays only. Pods run on simulated nodes (scheduled,
 * then made Running/Ready by the simulated kubelets). Steps build on each other, in order.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '../../src/client/index.js';
import { DEPLOYMENTS, REPLICASETS, type Deployment, type ReplicaSet } from '../../src/controllers/deployment/util.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { adminClient, createNamespace, kubectl, until } from '../support/workloads.js';

let server: TestServer;
let client: Client;
let cacheDir: string;
const NS = 'rollouts';

before(async () => {
  // Simulated nodes (scheduler + simulated kubelets) run the pods.
  server = await startTestServer({ server: { simulatedNodes: 3, simulator: { podStartDelayMs: 100, podTerminateDelayMs: 100 } } });
  client = adminClient(server);
  cacheDir = await mkdtemp(join(tmpdir(), 'cairn-kubectl-cache-'));
  await createNamespace(client, NS);
});
after(async () => {
  await server?.stop();
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
});

async function ok(args: string[], timeoutMs?: number): Promise<string> {
  const r = await kubectl(server, cacheDir, ['-n', NS, ...args], { timeoutMs });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

const rev = (o: { metadata: { annotations?: Record<string, string> } }) => o.metadata.annotations?.['deployment.kubernetes.io/revision'];
const getD = () => client.resource<Deployment>(DEPLOYMENTS).get('web', NS);
const rsList = async () => (await client.resource<ReplicaSet>(REPLICASETS).list({ namespace: NS })).items;
const imageOf = (o: Deployment | ReplicaSet) => (o.spec.template!.spec as { containers: { image: string }[] }).containers[0].image;

/** The history table as [revision, change-cause] rows. */
function historyRows(out: string): string[][] {
  const lines = out.split('\n').filter((l) => l.trim());
  const h = lines.findIndex((l) => /^REVISION\s+CHANGE-CAUSE/.test(l));
  assert.ok(h >= 0, out);
  return lines.slice(h + 1).map((l) => {
    const m = /^(\d+)\s+(.*)$/.exec(l.trim())!;
    return [m[1], m[2].trim()];
  });
}

describe('kubectl rollout against the deployment controller', () => {
  test('create deployment and rollout status completes', async () => {
    await ok(['create', 'deployment', 'web', '--image=nginx:1.25', '--replicas=3']);
    await ok(['annotate', 'deployment/web', 'kubernetes.io/change-cause=initial nginx 1.25']);
    const out = await ok(['rollout', 'status', 'deployment/web', '--timeout=30s'], 40_000);
    assert.match(out, /deployment "web" successfully rolled out/);
    const get = await ok(['get', 'deployment', 'web']);
    assert.match(get, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE/);
    assert.match(get, /\nweb\s+3\/3\s+3\s+3\s+\d+s/);
  });

  test('set image rolls out revision 2; history lists revisions with CHANGE-CAUSE', async () => {
    await ok(['set', 'image', 'deployment/web', 'nginx=nginx:1.26']);
    await ok(['annotate', 'deployment/web', '--overwrite', 'kubernetes.io/change-cause=upgrade to 1.26']);
    const out = await ok(['rollout', 'status', 'deployment/web', '--timeout=30s'], 40_000);
    assert.match(out, /deployment "web" successfully rolled out/);
    await until('change-cause copied to the new ReplicaSet', async () => (await rsList()).some((rs) => rev(rs) === '2' && rs.metadata.annotations?.['kubernetes.io/change-cause'] === 'upgrade to 1.26'));
    const hist = await ok(['rollout', 'history', 'deployment/web']);
    assert.match(hist, /^deployment\.apps\/web/);
    assert.deepEqual(historyRows(hist), [
      ['1', 'initial nginx 1.25'],
      ['2', 'upgrade to 1.26'],
    ]);
    const one = await ok(['rollout', 'history', 'deployment/web', '--revision=1']);
    assert.match(one, /Image:\s+nginx:1\.25/);
  });

  test('rollout undo goes back to revision 1 as revision 3 on the same ReplicaSet', async () => {
    const before = await rsList();
    const out = await ok(['rollout', 'undo', 'deployment/web']);
    assert.match(out, /deployment\.apps\/web rolled back/);
    await ok(['rollout', 'status', 'deployment/web', '--timeout=30s'], 40_000);
    await until('revision 3', async () => rev(await getD()) === '3');
    const after = await rsList();
    assert.equal(after.length, before.length, 'the old ReplicaSet was reused');
    const r3 = after.find((rs) => rev(rs) === '3')!;
    assert.equal(imageOf(r3), 'nginx:1.25');
    assert.equal(r3.metadata.annotations!['deployment.kubernetes.io/revision-history'], '1');
    assert.equal(imageOf(await getD()), 'nginx:1.25');
    const hist = historyRows(await ok(['rollout', 'history', 'deployment/web']));
    assert.deepEqual(hist, [
      ['2', 'upgrade to 1.26'],
      ['3', 'initial nginx 1.25'],
    ]);
    // Undo to an explicit revision, then undo the undo.
    await ok(['rollout', 'undo', 'deployment/web', '--to-revision=2']);
    await ok(['rollout', 'status', 'deployment/web', '--timeout=30s'], 40_000);
    await until('revision 4 is nginx 1.26', async () => rev(await getD()) === '4' && imageOf(await getD()) === 'nginx:1.26');
  });

  test('rollout pause holds template changes; resume rolls them out', async () => {
    assert.match(await ok(['rollout', 'pause', 'deployment/web']), /deployment\.apps\/web paused/);
    await ok(['set', 'image', 'deployment/web', 'nginx=nginx:1.27']);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!(await rsList()).some((rs) => imageOf(rs) === 'nginx:1.27'), 'no rollout while paused');
    const undo = await kubectl(server, cacheDir, ['-n', NS, 'rollout', 'undo', 'deployment/web']);
    assert.notEqual(undo.code, 0);
    assert.match(undo.stderr, /you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again|cannot rollback a paused deployment/);
    assert.match(await ok(['rollout', 'resume', 'deployment/web']), /deployment\.apps\/web resumed/);
    await ok(['rollout', 'status', 'deployment/web', '--timeout=30s'], 40_000);
    assert.ok((await rsList()).some((rs) => imageOf(rs) === 'nginx:1.27' && rev(rs) === '5'));
  });

  test('rollout restart starts a new rollout with a restartedAt template annotation', async () => {
    const before = (await rsList()).length;
    assert.match(await ok(['rollout', 'restart', 'deployment/web']), /deployment\.apps\/web restarted/);
    await ok(['rollout', 'status', 'deployment/web', '--timeout=30s'], 40_000);
    const rss = await rsList();
    assert.equal(rss.length, before + 1);
    const r6 = rss.find((rs) => rev(rs) === '6')!;
    assert.ok(r6.spec.template!.metadata!.annotations?.['kubectl.kubernetes.io/restartedAt']);
    assert.equal(r6.spec.replicas, 3);
  });

  test('scale changes replicas and rollout status waits for them', async () => {
    assert.match(await ok(['scale', 'deployment/web', '--replicas=5']), /deployment\.apps\/web scaled/);
    await ok(['rollout', 'status', 'deployment/web', '--timeout=30s'], 40_000);
    await until('5 available', async () => (await getD()).status?.availableReplicas === 5);
    assert.match(await ok(['get', 'deployment', 'web']), /\nweb\s+5\/5\s+5\s+5\s+/);
    await ok(['scale', 'deployment/web', '--replicas=2']);
    await until('2 replicas', async () => {
      const d = await getD();
      return d.status?.replicas === 2 && d.status.availableReplicas === 2;
    });
  });

  test('describe deployment shows the controller\'s ScalingReplicaSet events and conditions', async () => {
    const out = await ok(['describe', 'deployment', 'web']);
    assert.match(out, /^Name:\s+web$/m);
    assert.match(out, /^Replicas:\s+2 desired \| 2 updated \| 2 total \| 2 available \| 0 unavailable$/m);
    assert.match(out, /^StrategyType:\s+RollingUpdate$/m);
    assert.match(out, /^RollingUpdateStrategy:\s+25% max unavailable, 25% max surge$/m);
    assert.match(out, /^\s+Available\s+True\s+MinimumReplicasAvailable$/m);
    assert.match(out, /^\s+Progressing\s+True\s+NewReplicaSetAvailable$/m);
    assert.match(out, /^NewReplicaSet:\s+web-[a-z0-9]+ \(2\/2 replicas created\)$/m);
    assert.match(out, /^Events:/m);
    assert.match(out, /Normal\s+ScalingReplicaSet\s+.*deployment-controller\s+Scaled up replica set web-[a-z0-9]+ from 0 to 3/);
    assert.match(out, /Normal\s+ScalingReplicaSet\s+.*deployment-controller\s+Scaled down replica set web-[a-z0-9]+ from 5 to 2/);
    const rs = await ok(['describe', 'rs', '-l', 'app=web']);
    assert.match(rs, /Normal\s+SuccessfulCreate\s+.*replicaset-controller\s+Created pod: web-[a-z0-9]+-[a-z0-9]{5}/);
  });
});
