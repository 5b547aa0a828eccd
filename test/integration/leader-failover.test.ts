/**
 * Controller-manager failover: two `cairn server` processes on one etcd (same key prefix, same
 * encryption keys), simulated nodes (run by the test, over HTTPS to the second server); a Deployment is mid-rollout when the
 * server holding the kube-system/cairn-controller-manager Lease is SIGKILLed. The other server
 * takes the Lease within 15 s of the death and the rollout finishes under it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ENCRYPTION_CONFIG_FILE, ensureEncryptionConfig } from '../../src/store/encryption.js';
import { startEtcd, type EtcdHandle } from '../support/etcd.js';
import { RawClient } from '../support/raw-https.js';
import { spawnServerProcess, type ServerProcess } from '../support/server.js';
import { startHttpsSimulator } from '../support/sim-https.js';
import type { Simulator } from '../../src/sim/simulator.js';
import { until } from '../support/until.js';

const LEASE = '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/cairn-controller-manager';
const NS = 'failover';
const DEPLOY = `/apis/apps/v1/namespaces/${NS}/deployments`;
const REPLICAS = 6;

let etcd: EtcdHandle | undefined;
let skip: string | false = false;
let dirs: string[] = [];
let a: ServerProcess | undefined;
let b: ServerProcess | undefined;
let ca: RawClient | undefined;
let cb: RawClient | undefined;
let sim: Simulator | undefined;

/** Whether this server runs the controllers now: its /metrics lists them only while it leads. */
async function leads(c: RawClient): Promise<boolean> {
  const res = await c.request({ path: '/metrics', timeoutMs: 5000 });
  return res.status === 200 && /controller_runtime_reconcile_total\{controller="deployment"/.test(res.text);
}

const holder = async (c: RawClient) => ((await c.request({ path: LEASE })).json?.spec?.holderIdentity as string | undefined) ?? '';

function deployment(image: string) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: NS },
    spec: {
      replicas: REPLICAS,
      minReadySeconds: 1,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'web', image }] } },
    },
  };
}

interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
}

function complete(d: { metadata: { generation: number }; status?: DeploymentStatus }): boolean {
  const s = d.status ?? {};
  return s.observedGeneration === d.metadata.generation && s.updatedReplicas === REPLICAS && s.replicas === REPLICAS && s.availableReplicas === REPLICAS;
}

before(async () => {
  try {
    etcd = await startEtcd();
  } catch (e) {
    skip = `no etcd: ${(e as Error).message}`;
    return;
  }
  const shared = await mkdtemp(join(tmpdir(), 'cairn-failover-keys-'));
  await ensureEncryptionConfig(shared);
  const dirA = await mkdtemp(join(tmpdir(), 'cairn-failover-a-'));
  const dirB = await mkdtemp(join(tmpdir(), 'cairn-failover-b-'));
  dirs = [shared, dirA, dirB];
  const common = ['--store', 'etcd', '--etcd-endpoints', etcd.endpoints.join(','), '--etcd-prefix', `/cairn-failover-${randomBytes(4).toString('hex')}`, '--encryption-config', join(shared, ENCRYPTION_CONFIG_FILE), '--audit-log', 'none'];
  // A first, so it takes the Lease. The simulated nodes talk to B (they must outlive A); they run
  // in this process rather than with `--simulated-nodes` because of the registration race
  // described in test/support/sim-https.ts.
  a = await spawnServerProcess(common, dirA);
  ca = RawClient.admin(a.url, dirA);
  await until('server A to lead', () => leads(ca!), 15_000);
  b = await spawnServerProcess(common, dirB);
  cb = RawClient.admin(b.url, dirB);
  sim = await startHttpsSimulator(b.kubeconfigPath, 3, { podStartDelayMs: 300, podTerminateDelayMs: 300 });
});

after(async () => {
  await sim?.stop();
  ca?.close();
  cb?.close();
  if (a && a.child.exitCode === null && a.child.signalCode === null) await a.kill();
  if (b && b.child.exitCode === null && b.child.signalCode === null) await b.terminate();
  await etcd?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('controller-manager leader failover', { timeout: 90_000 }, () => {
  it('the other server takes the Lease within 15 s of the leader being killed, and a rollout finishes', async (t) => {
    if (skip) return t.skip(skip);
    const c = cb!;
    // Exactly one of the two runs controllers.
    assert.equal(await leads(cb!), false, 'server B should not run controllers while A holds the Lease');
    const firstHolder = await holder(c);
    assert.ok(firstHolder, 'the Lease has a holder');

    assert.equal((await c.request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: NS } } })).status, 201);
    await until('3 simulated nodes Ready', async () => {
      const nodes = (await c.request({ path: '/api/v1/nodes?labelSelector=cairn.io%2Fsimulated%3Dtrue' })).json?.items ?? [];
      return nodes.filter((n: any) => n.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True')).length === 3;
    }, 20_000);
    const made = await c.request({ method: 'POST', path: DEPLOY, body: deployment('registry.example/web:v1') });
    assert.equal(made.status, 201, made.text);
    await until('v1 available', async () => complete((await c.request({ path: `${DEPLOY}/web` })).json), 30_000);

    // Start the rollout to v2; kill the leader once it is under way but not finished.
    const patched = await c.request({
      method: 'PATCH',
      path: `${DEPLOY}/web`,
      headers: { 'content-type': 'application/strategic-merge-patch+json' },
      body: { spec: { template: { spec: { containers: [{ name: 'web', image: 'registry.example/web:v2' }] } } } },
    });
    assert.equal(patched.status, 200, patched.text);
    const generation = patched.json.metadata.generation as number;
    const midway = await until('the rollout to be under way', async () => {
      const d = (await c.request({ path: `${DEPLOY}/web` })).json;
      const s = (d.status ?? {}) as DeploymentStatus;
      return s.observedGeneration === generation && (s.updatedReplicas ?? 0) >= 1 && (s.updatedReplicas ?? 0) < REPLICAS ? s : undefined;
    }, 20_000, 50);
    assert.ok((midway.updatedReplicas ?? 0) < REPLICAS);

    await a!.kill();
    const killedAt = Date.now();
    const newHolder = await until('server B to take the Lease', async () => {
      const h = await holder(c);
      return h && h !== firstHolder ? h : undefined;
    }, 15_000, 200);
    const takeoverMs = Date.now() - killedAt;
    t.diagnostic(`lease ${firstHolder} -> ${newHolder} ${takeoverMs} ms after SIGKILL`);
    assert.ok(takeoverMs <= 15_000);
    await until('server B to run the controllers', () => leads(c), 5_000);

    // The rollout finishes under B: every replica on v2, none left on v1.
    const done = await until('the rollout to finish under server B', async () => {
      const d = (await c.request({ path: `${DEPLOY}/web` })).json;
      return complete(d) ? d : undefined;
    }, 40_000, 200);
    assert.equal(done.status.observedGeneration, generation);
    const pods = (await c.request({ path: `/api/v1/namespaces/${NS}/pods?labelSelector=app%3Dweb` })).json.items as any[];
    const live = pods.filter((p) => !p.metadata.deletionTimestamp);
    assert.equal(live.length, REPLICAS, JSON.stringify(live.map((p) => p.metadata.name)));
    for (const p of live) {
      assert.equal(p.spec.containers[0].image, 'registry.example/web:v2');
      assert.equal(p.status?.phase, 'Running');
    }
    const rsList = (await c.request({ path: `/apis/apps/v1/namespaces/${NS}/replicasets?labelSelector=app%3Dweb` })).json.items as any[];
    const old = rsList.filter((rs) => rs.spec.template.spec.containers[0].image === 'registry.example/web:v1');
    assert.ok(old.length === 1 && old[0].spec.replicas === 0, `old ReplicaSet scaled to 0: ${JSON.stringify(old.map((r) => r.spec.replicas))}`);
  });
});
