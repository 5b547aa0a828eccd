// The node agent on a real 3-node `cairn up` cluster, seen through the real kubectl: nodes Ready
// with capacity and conditions; pod to pod on one node and across nodes (the VXLAN overlay); pod
// to a server outside the cluster network, masqueraded to the node's address; the pod status
// fields a user reads; an agent killed with SIGKILL re-adopting its containers (never starting
// them twice) and finishing a deletion made while it was down; and a node that disappears (agent
// killed, namespace deleted) going NotReady, its pods evicted and replaced on the other nodes,
// then coming back with `cairn up`.
//
// Host side, the test only listens on the cluster's own bridge address (<underlay>.1) and kills
// its own cluster's processes and namespace; everything else it makes lives in the cluster,
// which `down()` removes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Runc } from '../../src/agent/runtime/runc.js';
import { cidrContains, netns, parseCidr } from '../../src/net/ip.js';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { until } from '../support/until.js';

let cluster: CairnCluster;

before(
  async () => {
    cluster = await upCluster({ nodes: 3, label: 'agent' });
  },
  { timeout: 300_000 },
);

after(async () => {
  await cluster?.down();
});

// ---- shapes of what kubectl returns ----

interface Condition {
  type: string;
  status: string;
  reason?: string;
  lastTransitionTime?: string;
}

interface NodeObj {
  metadata: { name: string };
  spec: { podCIDR?: string; taints?: { key: string; effect: string }[] };
  status: {
    conditions: Condition[];
    addresses: { type: string; address: string }[];
    capacity: Record<string, string>;
    allocatable: Record<string, string>;
  };
}

interface PodObj {
  metadata: { name: string; uid: string; creationTimestamp: string; deletionTimestamp?: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status: {
    phase?: string;
    podIP?: string;
    podIPs?: { ip: string }[];
    hostIP?: string;
    hostIPs?: { ip: string }[];
    startTime?: string;
    qosClass?: string;
    conditions?: Condition[];
    containerStatuses?: { name: string; containerID?: string; restartCount: number; ready: boolean; started?: boolean; state: { running?: { startedAt: string } } }[];
  };
}

// ---- helpers ----

const nodeName = (n: number) => `node-${n}`;
const internalIP = (node: NodeObj) => node.status.addresses.find((a) => a.type === 'InternalIP')?.address;
const condition = (o: { status: { conditions?: Condition[] } }, type: string) => o.status.conditions?.find((c) => c.type === type);

const getNode = (n: number) => cluster.json<NodeObj>(['get', 'node', nodeName(n)]);
const getPod = (name: string) => cluster.json<PodObj>(['get', 'pod', name]);

/** Rows of a kubectl table, keyed by header (columns start where a header word follows 2+ spaces). */
function table(text: string): Record<string, string>[] {
  const [header = '', ...rows] = text.split('\n').filter((l) => l.trim());
  const starts = [0];
  for (let i = 2; i < header.length; i++) if (header[i] !== ' ' && header[i - 1] === ' ' && header[i - 2] === ' ') starts.push(i);
  const names = starts.map((s, k) => header.slice(s, starts[k + 1]).trim());
  return rows.map((row) => Object.fromEntries(names.map((name, k) => [name, row.slice(starts[k], starts[k + 1]).trim()])));
}

/** A busybox pod pinned to a node (as `nodeName` in the spec: no scheduler involved). */
function pinnedPod(name: string, node: number, command: string[], extra: { resources?: object } = {}): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name } },
    spec: {
      nodeName: nodeName(node),
      // `sleep` as pid 1 ignores SIGTERM: a short grace keeps deletions quick.
      terminationGracePeriodSeconds: 3,
      containers: [{ name: 'main', image: cluster.busybox, command, ...(extra.resources ? { resources: extra.resources } : {}) }],
    },
  };
}

const SLEEP = ['sleep', '3600'];

/** `kubectl apply` of a stream of JSON objects (a v1 List fails kubectl's validation: the server has no /openapi/v2). */
async function apply(...objects: object[]): Promise<void> {
  await cluster.ok(['apply', '-f', '-'], { input: objects.map((o) => JSON.stringify(o)).join('\n') });
}

/** Waits until the pod is Running with every container ready; returns it. */
function running(name: string, ms = 120_000): Promise<PodObj> {
  return until(
    `pod ${name} Running and ready`,
    async () => {
      const p = await getPod(name);
      if (p.status.phase === 'Running' && p.status.podIP && p.status.containerStatuses?.every((c) => c.ready)) return p;
      // Retried by until; the last one names what was wrong when the wait fails.
      throw new Error(`pod ${name} on ${p.spec.nodeName}: ${JSON.stringify(p.status)}`);
    },
    ms,
    500,
  );
}

/**
 * `kubectl exec POD -- wget` of a URL; the body, or throws with what wget said. Bounded by
 * busybox `timeout`: this busybox's own `wget -T` segfaults (exit 139).
 */
async function wgetFrom(pod: string, url: string): Promise<string> {
  const r = await cluster.kubectl(['exec', pod, '--', 'timeout', '10', 'wget', '-qO-', url], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`wget ${url} from ${pod} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function clusterState(): Promise<{ agentPids: Record<string, number> }> {
  return JSON.parse(await readFile(join(cluster.dir, 'cluster.json'), 'utf8')) as { agentPids: Record<string, number> };
}

function alive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Kills node n's agent with SIGKILL (the pid `cairn up` recorded) and waits until it is gone. */
async function killAgent(n: number): Promise<void> {
  const pid = (await clusterState()).agentPids[String(n)];
  assert.ok(pid && alive(pid), `node-${n}'s agent runs (cluster.json: ${pid})`);
  process.kill(pid, 'SIGKILL');
  await until(`node-${n}'s agent (pid ${pid}) to die`, () => !alive(pid), 10_000);
}

/** `cairn up` again over the same data dir: restarts whatever stopped. */
async function upAgain(): Promise<string> {
  const r = await cluster.cairn('up', '--data-dir', cluster.dir, '--timeout', '150');
  assert.equal(r.code, 0, `cairn up again failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The containers `runc list` shows for a pod under node n's runtime root (ids are `<pod uid>-<container>-<attempt>`). */
async function runcContainersOf(n: number, uid: string): Promise<{ id: string; status: string }[]> {
  const runc = new Runc({ root: join(cluster.dir, 'nodes', String(n), 'runtime', 'runc') });
  return (await runc.list()).filter((c) => c.id.startsWith(`${uid}-`)).map((c) => ({ id: c.id, status: c.status }));
}

// ---- the pods the first tests share: a web server on node-1, a client on every node ----

const WEB = 'cairn-web';
const client = (n: number) => `cairn-client-${n}`;

let basePods: Promise<{ web: PodObj }> | undefined;
function startBasePods(): Promise<{ web: PodObj }> {
  basePods ??= (async () => {
    const web = pinnedPod(WEB, 1, ['sh', '-c', 'mkdir -p /tmp/www && echo "hello from $(hostname)" > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www'], {
      // requests = limits: Guaranteed.
      resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { cpu: '50m', memory: '32Mi' } },
    });
    // Client 1 has a request only (Burstable), the others nothing (BestEffort).
    const clients = [1, 2, 3].map((n) => pinnedPod(client(n), n, SLEEP, n === 1 ? { resources: { requests: { memory: '16Mi' } } } : {}));
    await apply(web, ...clients);
    for (const n of [1, 2, 3]) await running(client(n));
    return { web: await running(WEB) };
  })();
  return basePods;
}

// ---- the tests ----

test('kubectl shows 3 Ready nodes with InternalIPs, capacity, allocatable and no pressure', { timeout: 120_000 }, async () => {
  const wide = table(await cluster.ok(['get', 'nodes', '-o', 'wide']));
  assert.deepEqual(
    wide.map((r) => [r.NAME, r.STATUS, r['INTERNAL-IP']]),
    [1, 2, 3].map((n) => [nodeName(n), 'Ready', `${cluster.underlayPrefix}.${10 + n}`]),
  );
  for (const n of [1, 2, 3]) {
    const node = await getNode(n);
    assert.equal(internalIP(node), `${cluster.underlayPrefix}.${10 + n}`);
    for (const field of ['capacity', 'allocatable'] as const) {
      for (const res of ['cpu', 'memory', 'pods', 'ephemeral-storage']) assert.ok(node.status[field][res], `${nodeName(n)} ${field}.${res}: ${JSON.stringify(node.status[field])}`);
    }
    assert.equal(node.status.allocatable.pods, '110');
    const describe = await cluster.ok(['describe', 'node', nodeName(n)]);
    for (const [type, status] of [['MemoryPressure', 'False'], ['DiskPressure', 'False'], ['PIDPressure', 'False'], ['Ready', 'True']])
      assert.match(describe, new RegExp(`^\\s+${type}\\s+${status}\\s`, 'm'), `describe node ${nodeName(n)}:\n${describe}`);
  }
});

test('pods reach a pod on the same node and across nodes', { timeout: 240_000 }, async () => {
  const { web } = await startBasePods();
  assert.equal(web.spec.nodeName, nodeName(1));
  const url = `http://${web.status.podIP}:8080/`;
  // Same node (node-1), then across the overlay from node-2 and node-3.
  for (const n of [1, 2, 3]) {
    const body = await until(`${client(n)} on ${nodeName(n)} to fetch ${url}`, () => wgetFrom(client(n), url), 60_000, 1000);
    assert.equal(body, `hello from ${WEB}\n`);
  }
});

test('a pod reaches a server outside the cluster network, which sees the node address (masquerade)', { timeout: 240_000 }, async () => {
  await startBasePods();
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    const from = req.socket.remoteAddress ?? '';
    seen.push(from);
    res.end(`you are ${from}\n`);
  });
  // Only on the cluster's own bridge address: reachable from the nodes, nowhere else.
  const host = `${cluster.underlayPrefix}.1`;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  try {
    const url = `http://${host}:${(server.address() as AddressInfo).port}/`;
    for (const n of [2, 3]) {
      const pod = await getPod(client(n));
      const nodeIP = `${cluster.underlayPrefix}.${10 + n}`;
      const body = await until(`${client(n)} to fetch ${url}`, () => wgetFrom(client(n), url), 60_000, 1000);
      assert.equal(body, `you are ${nodeIP}\n`, `the server must see ${nodeIP} (node), not the pod IP ${pod.status.podIP}`);
      assert.equal(seen.at(-1), nodeIP);
      assert.ok(!seen.includes(pod.status.podIP!), `pod IP ${pod.status.podIP} leaked: ${seen.join(', ')}`);
    }
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('pod status: IPs, conditions, QoS class, container ids and start time; get -o wide shows IP and NODE', { timeout: 240_000 }, async () => {
  await startBasePods();
  const nodes = new Map<string, NodeObj>();
  for (const n of [1, 2, 3]) nodes.set(nodeName(n), await getNode(n));
  const qos: Record<string, string> = { [WEB]: 'Guaranteed', [client(1)]: 'Burstable', [client(2)]: 'BestEffort', [client(3)]: 'BestEffort' };
  const ips = new Map<string, string>();
  for (const name of Object.keys(qos)) {
    const pod = await getPod(name);
    const node = nodes.get(pod.spec.nodeName!)!;
    const { status } = pod;
    assert.equal(status.phase, 'Running', name);
    assert.ok(node.spec.podCIDR && cidrContains(parseCidr(node.spec.podCIDR), status.podIP!), `${name}: podIP ${status.podIP} in ${node.spec.podCIDR}`);
    assert.deepEqual(status.podIPs, [{ ip: status.podIP }]);
    assert.equal(status.hostIP, internalIP(node), `${name}: hostIP`);
    assert.deepEqual(status.hostIPs, [{ ip: internalIP(node) }]);
    for (const type of ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready']) {
      const c = condition(pod, type);
      assert.equal(c?.status, 'True', `${name}: condition ${type}: ${JSON.stringify(status.conditions)}`);
      assert.ok(c.lastTransitionTime && !Number.isNaN(Date.parse(c.lastTransitionTime)), `${name}: ${type} lastTransitionTime`);
    }
    assert.equal(status.qosClass, qos[name], `${name}: qosClass`);
    const [cs] = status.containerStatuses ?? [];
    assert.equal(cs?.name, 'main');
    assert.match(cs.containerID ?? '', new RegExp(`^cairn://${pod.metadata.uid}-main-0$`), `${name}: containerID`);
    assert.equal(cs.restartCount, 0);
    assert.equal(cs.started, true);
    assert.ok(cs.state.running, `${name}: running state`);
    // Times as the API shows them (metav1.Time): RFC 3339, whole seconds.
    for (const t of [status.startTime, cs.state.running.startedAt]) assert.match(t ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, `${name}: time ${t}`);
    const start = Date.parse(status.startTime ?? '');
    assert.ok(start >= Date.parse(pod.metadata.creationTimestamp) && start <= Date.now() + 1000, `${name}: startTime ${status.startTime} (created ${pod.metadata.creationTimestamp})`);
    assert.ok(Date.parse(cs.state.running.startedAt) >= start, `${name}: container started ${cs.state.running.startedAt} before the pod's startTime ${status.startTime}`);
    ips.set(name, status.podIP!);
  }
  assert.equal(new Set(ips.values()).size, ips.size, `distinct pod IPs: ${[...ips.values()].join(', ')}`);

  const wide = table(await cluster.ok(['get', 'pods', '-o', 'wide']));
  for (const [name, ip] of ips) {
    const row = wide.find((r) => r.NAME === name);
    assert.ok(row, `get pods -o wide lists ${name}`);
    assert.equal(row.STATUS, 'Running');
    assert.equal(row.READY, '1/1');
    assert.equal(row.IP, ip);
    assert.equal(row.NODE, (await getPod(name)).spec.nodeName);
  }
});

test('an agent killed with SIGKILL re-adopts its running pod and finishes a deletion made while it was down', { timeout: 360_000 }, async () => {
  const KEEP = 'cairn-keep';
  const GONE = 'cairn-gone';
  await apply(pinnedPod(KEEP, 3, SLEEP), pinnedPod(GONE, 3, SLEEP));
  const keep = await running(KEEP);
  const gone = await running(GONE);
  const keepID = keep.status.containerStatuses![0]!.containerID;
  assert.equal(keep.status.containerStatuses![0]!.restartCount, 0);
  assert.deepEqual(await runcContainersOf(3, gone.metadata.uid), [{ id: `${gone.metadata.uid}-main-0`, status: 'running' }]);

  await killAgent(3);
  await cluster.ok(['delete', 'pod', GONE, '--wait=false']);
  // No agent to stop it: the pod stays, Terminating, and its container runs on.
  const terminating = table(await cluster.ok(['get', 'pod', GONE]));
  assert.equal(terminating[0]?.STATUS, 'Terminating');
  assert.ok((await getPod(GONE)).metadata.deletionTimestamp);
  assert.equal((await runcContainersOf(3, gone.metadata.uid)).length, 1);

  const out = await upAgain();
  assert.match(out, /node-3: agent starting \(pid \d+\)/);
  assert.match(out, /node-1: agent running \(pid \d+\)/);

  // The agent finishes the deletion: the container goes, then the pod object.
  await until(
    `pod ${GONE} to disappear`,
    async () => {
      const r = await cluster.kubectl(['get', 'pod', GONE]);
      return r.code !== 0 && /NotFound/.test(r.stderr);
    },
    120_000,
    500,
  );
  assert.deepEqual(await runcContainersOf(3, gone.metadata.uid), []);

  // The running pod was adopted, not restarted or started twice.
  const after = await getPod(KEEP);
  const [cs] = after.status.containerStatuses!;
  assert.equal(after.status.phase, 'Running');
  assert.equal(cs?.containerID, keepID);
  assert.equal(cs.restartCount, 0);
  assert.ok(cs.ready);
  assert.deepEqual(await runcContainersOf(3, keep.metadata.uid), [{ id: `${keep.metadata.uid}-main-0`, status: 'running' }]);
});

test('a node that disappears goes NotReady, its pods are replaced on the other nodes, and cairn up brings it back', { timeout: 600_000 }, async () => {
  const DEPLOY = 'cairn-spread';
  const toleration = (key: string) => ({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 });
  await apply({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: DEPLOY },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: DEPLOY } },
      template: {
        metadata: { labels: { app: DEPLOY } },
        spec: {
          terminationGracePeriodSeconds: 2,
          tolerations: [toleration('node.kubernetes.io/not-ready'), toleration('node.kubernetes.io/unreachable')],
          containers: [{ name: 'main', image: cluster.busybox, command: SLEEP }],
        },
      },
    },
  });
  const replicas = async () => (await cluster.json<{ items: PodObj[] }>(['get', 'pods', '-l', `app=${DEPLOY}`])).items;
  const first = await until(
    'both replicas Running',
    async () => {
      const pods = (await replicas()).filter((p) => !p.metadata.deletionTimestamp);
      return pods.length === 2 && pods.every((p) => p.status.phase === 'Running') ? pods : undefined;
    },
    120_000,
    500,
  );
  const victimName = first[0]!.spec.nodeName!;
  const victim = Number(victimName.replace('node-', ''));
  const onVictim = first.filter((p) => p.spec.nodeName === victimName).map((p) => p.metadata.uid);

  // The node vanishes: its agent dies and its network namespace (and with it every pod's link) goes.
  await killAgent(victim);
  const ns = `cairn-${cluster.name}-node-${victim}`;
  assert.equal(await netns.remove(ns), true, `namespace ${ns} removed`);

  // Silent past the grace period (40 s): Ready Unknown, kubectl says NotReady.
  await until(
    `${victimName} Ready=Unknown`,
    async () => condition(await getNode(victim), 'Ready')?.status === 'Unknown',
    150_000,
    1000,
  );
  const row = table(await cluster.ok(['get', 'nodes'])).find((r) => r.NAME === victimName);
  assert.equal(row?.STATUS, 'NotReady');
  assert.ok((await getNode(victim)).spec.taints?.some((t) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute'), 'unreachable:NoExecute taint');

  // The evicted pods are being deleted (no agent to finish it); the replacements run elsewhere.
  const replaced = await until(
    'two replicas Running on the other nodes',
    async () => {
      const pods = await replicas();
      const evicted = pods.filter((p) => onVictim.includes(p.metadata.uid));
      if (evicted.some((p) => !p.metadata.deletionTimestamp)) return undefined;
      const live = pods.filter((p) => !p.metadata.deletionTimestamp);
      return live.length === 2 && live.every((p) => p.status.phase === 'Running' && p.spec.nodeName !== victimName) ? live : undefined;
    },
    150_000,
    1000,
  );
  assert.equal(replaced.length, 2);
  const deploy = await until(
    'the Deployment to count 2 ready replicas',
    async () => {
      const d = await cluster.json<{ status: { readyReplicas?: number; availableReplicas?: number } }>(['get', 'deployment', DEPLOY]);
      return d.status.readyReplicas === 2 && d.status.availableReplicas === 2 ? d : undefined;
    },
    60_000,
    1000,
  );
  assert.equal(deploy.status.readyReplicas, 2);

  // cairn up makes the namespace again and restarts the agent: the node is Ready, and the agent
  // finishes the evicted pods.
  const out = await upAgain();
  assert.match(out, new RegExp(`${victimName}: agent starting \\(pid \\d+\\)`));
  assert.equal(condition(await getNode(victim), 'Ready')?.status, 'True');
  await until(
    'the evicted pods to disappear',
    async () => {
      const left = (await replicas()).filter((p) => onVictim.includes(p.metadata.uid));
      return left.length === 0;
    },
    120_000,
    1000,
  );
  // The pod object goes with the agent's delete; its stopped containers are removed just after.
  for (const uid of onVictim) await until(`containers of evicted pod ${uid} removed`, async () => (await runcContainersOf(victim, uid)).length === 0, 30_000, 500);
  assert.deepEqual(
    table(await cluster.ok(['get', 'nodes'])).map((r) => [r.NAME, r.STATUS]),
    [1, 2, 3].map((n) => [nodeName(n), 'Ready']),
  );
});
