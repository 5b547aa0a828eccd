/**
 * No controller spins. A `cairn server` process with simulated nodes runs a small cluster — a
 * Deployment, a DaemonSet, a StatefulSet, a completed Job, a suspended CronJob, Services — and
 * once everything has settled, the server's CPU over 10 s (utime+stime from /proc/PID/stat)
 * stays near idle and the controllers' reconcile counters (controller_runtime_reconcile_total on
 * /metrics) barely move. Then bad input that makes controllers fail — a Deployment whose pods a
 * ResourceQuota refuses, an ownerReference cycle between two ConfigMaps (one of them deleted in
 * the foreground) — must not change that: failures back off instead of retrying hot.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RawClient } from '../support/raw-https.js';
import { spawnServerProcess, type ServerProcess } from '../support/server.js';
import { startHttpsSimulator } from '../support/sim-https.js';
import type { Simulator } from '../../src/sim/simulator.js';
import { until } from '../support/until.js';

const NS = 'idle';
const BAD = 'idle-bad';
/** Share of one core the server may use over the window while nothing changes. */
const MAX_CPU_SHARE = 0.05;
const WINDOW_MS = 10_000;
/**
 * Reconciles allowed over the window. Three simulated nodes renew their Leases every 10 s, and the
 * node-lifecycle controller looks at each renewal (measured: 6 per window); everything else should be still.
 */
const MAX_RECONCILES = 15;

let dir: string;
let server: ServerProcess | undefined;
let c: RawClient;
let sim: Simulator | undefined;

/** USER_HZ: /proc times are in clock ticks of 1/100 s on Linux. */
const ticks = () => 100;
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / ticks();
}

async function create(path: string, body: object): Promise<any> {
  const res = await c.request({ method: 'POST', path, body });
  assert.equal(res.status, 201, `${path}: ${res.text}`);
  return res.json;
}

const get = async (path: string) => {
  const res = await c.request({ path });
  assert.equal(res.status, 200, `${path}: ${res.text}`);
  return res.json;
};

/** controller → reconciles so far (all results). */
async function reconcileCounts(): Promise<Map<string, number>> {
  const text = (await c.request({ path: '/metrics' })).text;
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^controller_runtime_reconcile_total\{controller="([^"]+)",result="[^"]+"\} (\d+)$/gm)) out.set(m[1], (out.get(m[1]) ?? 0) + Number(m[2]));
  return out;
}

interface Window {
  cpuShare: number;
  reconciles: number;
  byController: Record<string, number>;
}

async function measure(): Promise<Window> {
  const pid = server!.child.pid!;
  const r0 = await reconcileCounts();
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const c1 = cpuSeconds(pid);
  const t1 = performance.now();
  const r1 = await reconcileCounts();
  const byController: Record<string, number> = {};
  let reconciles = 0;
  for (const [name, n] of r1) {
    const d = n - (r0.get(name) ?? 0);
    if (d) byController[name] = d;
    reconciles += d;
  }
  return { cpuShare: (c1 - c0) / ((t1 - t0) / 1000), reconciles, byController };
}

const labels = (app: string) => ({ matchLabels: { app } });
const template = (app: string, extra: Record<string, unknown> = {}, annotations?: Record<string, string>) => ({
  metadata: { labels: { app }, ...(annotations ? { annotations } : {}) },
  spec: { terminationGracePeriodSeconds: 1, containers: [{ name: app, image: `registry.example/${app}:1`, ports: [{ name: 'http', containerPort: 8080 }] }], ...extra },
});

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-idle-'));
  server = await spawnServerProcess(['--store', 'sqlite', '--audit-log', 'none'], dir);
  c = RawClient.admin(server.url, dir);
  // In this process, over HTTPS (see test/support/sim-https.ts for why not --simulated-nodes).
  sim = await startHttpsSimulator(server.kubeconfigPath, 3);
});

after(async () => {
  await sim?.stop();
  c?.close();
  await server?.terminate();
  await rm(dir, { recursive: true, force: true });
});

describe('controllers at rest', { timeout: 120_000 }, () => {
  it('a settled cluster leaves the server idle and the reconcile counters still', async () => {
    await until('3 nodes Ready', async () => {
      const nodes = (await get('/api/v1/nodes')).items as any[];
      return nodes.filter((n) => n.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True')).length === 3;
    });
    await create('/api/v1/namespaces', { metadata: { name: NS } });
    await create(`/apis/apps/v1/namespaces/${NS}/deployments`, { metadata: { name: 'web' }, spec: { replicas: 2, selector: labels('web'), template: template('web') } });
    await create(`/apis/apps/v1/namespaces/${NS}/daemonsets`, { metadata: { name: 'agent' }, spec: { selector: labels('agent'), template: template('agent') } });
    await create(`/api/v1/namespaces/${NS}/services`, { metadata: { name: 'db' }, spec: { clusterIP: 'None', selector: { app: 'db' }, ports: [{ port: 5432 }] } });
    await create(`/apis/apps/v1/namespaces/${NS}/statefulsets`, { metadata: { name: 'db' }, spec: { serviceName: 'db', replicas: 2, selector: labels('db'), template: template('db') } });
    await create(`/apis/batch/v1/namespaces/${NS}/jobs`, {
      metadata: { name: 'once' },
      spec: { completions: 1, template: template('once', { restartPolicy: 'Never' }, { 'sim.cairn.io/exit-after': '500ms', 'sim.cairn.io/exit-code': '0' }) },
    });
    await create(`/apis/batch/v1/namespaces/${NS}/cronjobs`, {
      metadata: { name: 'nightly' },
      spec: { schedule: '* * * * *', suspend: true, jobTemplate: { spec: { template: template('nightly', { restartPolicy: 'OnFailure' }) } } },
    });
    await create(`/api/v1/namespaces/${NS}/services`, { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] } });
    await create(`/api/v1/namespaces/${NS}/services`, { metadata: { name: 'web-np' }, spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } });

    await until('the Deployment available', async () => (await get(`/apis/apps/v1/namespaces/${NS}/deployments/web`)).status?.availableReplicas === 2);
    await until('the DaemonSet on every node', async () => (await get(`/apis/apps/v1/namespaces/${NS}/daemonsets/agent`)).status?.numberReady === 3);
    await until('the StatefulSet ready', async () => (await get(`/apis/apps/v1/namespaces/${NS}/statefulsets/db`)).status?.readyReplicas === 2);
    await until('the Job complete', async () => (await get(`/apis/batch/v1/namespaces/${NS}/jobs/once`)).status?.conditions?.some((x: any) => x.type === 'Complete' && x.status === 'True'));
    await until('the web Endpoints', async () => (await get(`/api/v1/namespaces/${NS}/endpoints/web`)).subsets?.[0]?.addresses?.length === 2);
    // Let the last status writes and their echoes through.
    await new Promise((r) => setTimeout(r, 3000));

    const w = await measure();
    const diag = `CPU ${(w.cpuShare * 100).toFixed(2)} % of a core; reconciles ${w.reconciles} ${JSON.stringify(w.byController)}`;
    console.log(`# settled cluster: ${diag}`);
    assert.ok(w.cpuShare < MAX_CPU_SHARE, diag);
    assert.ok(w.reconciles <= MAX_RECONCILES, diag);
  });

  it('controllers failing on bad input back off: the server stays idle', async () => {
    await create('/api/v1/namespaces', { metadata: { name: BAD } });
    // A quota that refuses all but one pod; the Deployment wants three.
    await create(`/api/v1/namespaces/${BAD}/resourcequotas`, { metadata: { name: 'one-pod' }, spec: { hard: { pods: '1' } } });
    await create(`/apis/apps/v1/namespaces/${BAD}/deployments`, { metadata: { name: 'over' }, spec: { replicas: 3, selector: labels('over'), template: template('over') } });
    // An ownerReference cycle: a owned by b, b owned by a.
    const a = await create(`/api/v1/namespaces/${BAD}/configmaps`, { metadata: { name: 'a' }, data: { x: '1' } });
    const b = await create(`/api/v1/namespaces/${BAD}/configmaps`, { metadata: { name: 'b', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'a', uid: a.metadata.uid, blockOwnerDeletion: true }] }, data: { x: '1' } });
    const upd = await c.request({
      method: 'PATCH',
      path: `/api/v1/namespaces/${BAD}/configmaps/a`,
      headers: { 'content-type': 'application/merge-patch+json' },
      body: { metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'b', uid: b.metadata.uid, blockOwnerDeletion: true }] } },
    });
    assert.equal(upd.status, 200, upd.text);
    // And one of them deleted in the foreground: each waits for the other.
    const del = await c.request({ method: 'DELETE', path: `/api/v1/namespaces/${BAD}/configmaps/a`, body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Foreground' } });
    assert.ok(del.status === 200 || del.status === 202, del.text);

    // The quota is enforced (one pod, a ReplicaFailure condition on the ReplicaSet) ...
    await until('the quota to refuse pods', async () => {
      const rs = ((await get(`/apis/apps/v1/namespaces/${BAD}/replicasets?labelSelector=app%3Dover`)).items as any[])[0];
      return rs?.status?.conditions?.some((x: any) => x.type === 'ReplicaFailure' && x.status === 'True');
    });
    const pods = (await get(`/api/v1/namespaces/${BAD}/pods`)).items as any[];
    assert.equal(pods.length, 1);
    // ... and after the first retries, the failing keys are in backoff.
    await new Promise((r) => setTimeout(r, 8000));
    const w = await measure();
    const diag = `CPU ${(w.cpuShare * 100).toFixed(2)} % of a core; reconciles ${w.reconciles} ${JSON.stringify(w.byController)}`;
    console.log(`# with failing controllers: ${diag}`);
    assert.ok(w.cpuShare < MAX_CPU_SHARE, diag);
    // Backed-off retries of the two or three failing keys come on top of the idle ones.
    assert.ok(w.reconciles <= MAX_RECONCILES + 15, diag);
  });
});
