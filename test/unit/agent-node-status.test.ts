// The node agent's Node registration, status, Lease and events against a real API server, as the
// node itself (client certificate CN system:node:<name>, O system:nodes): what `kubectl get node
// -o yaml` and `kubectl describe node` would show, and that the system:node role allows all of it.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { issueCertificate } from '../../src/api/pki.js';
import { Client, HttpsTransport, isForbidden, silentLogger } from '../../src/client/index.js';
import { conditionOf, LEASES, NODES } from '../../src/controllers/util/nodes.js';
import { NodeStatusManager } from '../../src/agent/node/node-status.js';
import type { KubeObject } from '../../src/util/object.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { until } from '../support/until.js';

const EVENTS = { group: '', version: 'v1', plural: 'events', namespaced: true, kind: 'Event' };
const NAMESPACES = { group: '', version: 'v1', plural: 'namespaces', namespaced: false, kind: 'Namespace' };
const NODE = 'node-a';

let server: TestServer;
let dataDir: string;
let transport: HttpsTransport;
let admin: HttpsTransport;
let client: Client;
const managers: NodeStatusManager[] = [];

before(async () => {
  server = await startTestServer();
  dataDir = await mkdtemp(join(tmpdir(), 'cairn-agent-node-'));
  const cert = await issueCertificate(server.server.pki.ca, { commonName: `system:node:${NODE}`, organizations: ['system:nodes'], usage: 'client' });
  transport = new HttpsTransport({
    contextName: NODE,
    server: server.url,
    namespace: 'default',
    ca: Buffer.from(server.server.pki.ca.certPem),
    clientCert: Buffer.from(cert.certPem),
    clientKey: Buffer.from(cert.keyPem),
  });
  client = new Client(transport);
  admin = HttpsTransport.fromKubeconfig(server.kubeconfigPath);
});

after(async () => {
  for (const m of managers) await m.stop();
  transport?.close();
  admin?.close();
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function manager(opts: { labels?: Record<string, string>; runtimeVersion?: () => Promise<string> } = {}): NodeStatusManager {
  const m = new NodeStatusManager({
    client,
    config: { nodeName: NODE, hostname: NODE, internalIP: '172.20.0.11', labels: opts.labels ?? { 'cairn.io/pool': 'a' }, dataDir, maxPods: 50, listenHost: '127.0.0.1', listenPort: 10251 },
    logger: silentLogger,
    runtimeVersion: opts.runtimeVersion ?? (async () => '1.1.5'),
    statusUpdateIntervalMs: 100,
    leaseRenewIntervalMs: 100,
  });
  managers.push(m);
  return m;
}

const adminNodes = () => new Client(admin).resource(NODES);
const status = (n: KubeObject) => n.status as { capacity: Record<string, string>; allocatable: Record<string, string>; addresses: unknown; daemonEndpoints: unknown; nodeInfo: Record<string, string> };

test('registers the node with labels, annotations, capacity, conditions, addresses and node info', async () => {
  const m = manager();
  await m.start();
  const n = await adminNodes().get(NODE);
  assert.equal(n.metadata.labels!['kubernetes.io/hostname'], NODE);
  assert.equal(n.metadata.labels!['kubernetes.io/os'], 'linux');
  assert.equal(n.metadata.labels!['beta.kubernetes.io/os'], 'linux');
  assert.ok(n.metadata.labels!['kubernetes.io/arch']);
  assert.equal(n.metadata.labels!['cairn.io/pool'], 'a');
  assert.equal(n.metadata.annotations!['cairn.io/agent-endpoint'], 'https://127.0.0.1:10251');
  assert.equal(n.metadata.annotations!['volumes.kubernetes.io/controller-managed-attach-detach'], 'true');
  const st = status(n);
  assert.equal(st.capacity.pods, '50');
  assert.match(st.capacity.cpu!, /^\d+$/);
  assert.match(st.capacity.memory!, /^\d+(Ki|Mi)?$/);
  assert.ok(st.capacity['ephemeral-storage']);
  assert.deepEqual(st.allocatable, m.allocatable());
  assert.deepEqual(st.addresses, [
    { type: 'InternalIP', address: '172.20.0.11' },
    { type: 'Hostname', address: NODE },
  ]);
  assert.deepEqual(st.daemonEndpoints, { kubeletEndpoint: { Port: 10251 } });
  assert.equal(st.nodeInfo.containerRuntimeVersion, 'runc://1.1.5');
  assert.match(st.nodeInfo.kubeletVersion!, /^v1\.32\.0-cairn\.\d+$/);
  assert.equal(st.nodeInfo.operatingSystem, 'linux');
  assert.ok(st.nodeInfo.kernelVersion && st.nodeInfo.osImage && st.nodeInfo.bootID);
  const ready = conditionOf(n, 'Ready');
  assert.equal(ready?.status, 'True');
  assert.equal(ready?.reason, 'KubeletReady');
  assert.equal(ready?.message, 'kubelet is posting ready status');
  for (const t of ['MemoryPressure', 'DiskPressure', 'PIDPressure']) assert.ok(conditionOf(n, t), `${t} condition`);
  assert.ok(m.memoryCapacityBytes() > 0);
});

test('heartbeats through its Lease in kube-node-lease, owned by the Node', async () => {
  const node = await adminNodes().get(NODE);
  const leases = new Client(admin).resource(LEASES);
  const first = await leases.get(NODE, 'kube-node-lease');
  const spec = first.spec as { holderIdentity: string; leaseDurationSeconds: number; renewTime: string };
  assert.equal(spec.holderIdentity, NODE);
  assert.equal(spec.leaseDurationSeconds, 40);
  assert.deepEqual(first.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Node', name: NODE, uid: node.metadata.uid }]);
  await until('the lease to be renewed', async () => ((await leases.get(NODE, 'kube-node-lease')).spec as typeof spec).renewTime !== spec.renewTime, 5000);
});

test('records the kubelet events on the Node', async () => {
  const events = new Client(admin).resource(EVENTS);
  const reasons = await until('node events', async () => {
    const items = (await events.list({ namespace: 'default' })).items.filter((e) => (e.involvedObject as { name: string; kind: string }).name === NODE);
    const r = items.map((e) => e.reason as string);
    return r.includes('NodeReady') && r.includes('Starting') ? items : undefined;
  });
  const ready = reasons.find((e) => e.reason === 'NodeReady')!;
  assert.equal(ready.message, `Node ${NODE} status is now: NodeReady`);
  assert.deepEqual(ready.source, { component: 'kubelet', host: NODE });
  assert.equal(reasons.find((e) => e.reason === 'Starting')!.message, 'Starting kubelet.');
  assert.ok(reasons.some((e) => e.reason === 'NodeHasSufficientMemory'));
});

test('waits for the podCIDR the node IPAM controller assigns', async () => {
  const cidr = await managers[0]!.waitForPodCIDR(AbortSignal.timeout(20_000));
  assert.match(cidr, /^10\.244\.\d+\.0\/24$/);
});

test('a ready error makes the node NotReady with that message, until cleared', async () => {
  const m = managers[0]!;
  m.setReadyError('network plugin not ready: no overlay yet');
  const notReady = await until('Ready=False', async () => {
    const c = conditionOf(await adminNodes().get(NODE), 'Ready');
    return c?.status === 'False' ? c : undefined;
  }, 5000);
  assert.equal(notReady.reason, 'KubeletNotReady');
  assert.equal(notReady.message, 'network plugin not ready: no overlay yet');
  m.setReadyError(undefined);
  await until('Ready=True again', async () => conditionOf(await adminNodes().get(NODE), 'Ready')?.status === 'True', 5000);
});

test('sets annotations on the Node', async () => {
  await managers[0]!.setAnnotations({ 'cairn.io/vtep-mac': '02:00:00:00:00:01' });
  assert.equal((await adminNodes().get(NODE)).metadata.annotations!['cairn.io/vtep-mac'], '02:00:00:00:00:01');
});

test('a restarted agent adopts the existing Node: labels and annotations set back, same uid', async () => {
  const before = await adminNodes().get(NODE);
  await managers[0]!.stop();
  const labels = { ...before.metadata.labels };
  delete labels['kubernetes.io/hostname'];
  labels['cairn.io/pool'] = 'changed-by-hand';
  labels['user.example/keep'] = 'yes';
  const annotations = { ...before.metadata.annotations };
  delete annotations['cairn.io/agent-endpoint'];
  await adminNodes().update({ ...before, metadata: { ...before.metadata, labels, annotations } });

  // The runtime is down this time: the node must say so.
  const m = manager({ labels: { 'cairn.io/pool': 'b' }, runtimeVersion: async () => Promise.reject(new Error('runc not found')) });
  await m.start();
  const n = await adminNodes().get(NODE);
  assert.equal(n.metadata.uid, before.metadata.uid);
  assert.equal(n.metadata.labels!['kubernetes.io/hostname'], NODE);
  assert.equal(n.metadata.labels!['cairn.io/pool'], 'b');
  assert.equal(n.metadata.labels!['user.example/keep'], 'yes');
  assert.equal(n.metadata.annotations!['cairn.io/agent-endpoint'], 'https://127.0.0.1:10251');
  const ready = conditionOf(n, 'Ready');
  assert.equal(ready?.status, 'False');
  assert.equal(ready?.message, 'container runtime is down: runc not found');
});

test('the node identity may not do more than a node does', async () => {
  await assert.rejects(
    client.resource(NAMESPACES).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'not-for-nodes' } }),
    (e: unknown) => isForbidden(e),
  );
});
