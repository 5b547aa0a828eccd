/**
 * Storage on a 2-node `cairn up` cluster, through the real kubectl: the default `local` class
 * and its capacity per node; a dynamic local volume bound on the pod's node whose data survives
 * the pod and comes back with it on the same node; Block volumes written and read with dd;
 * read-only mounts (readOnly, ReadOnlyMany), subPath and fsGroup;
 * ReadWriteOncePod keeping a second pod Pending; expansion seen inside the pod (xfs online,
 * ext4 online or at the pod's restart) and refused when shrinking or when the class forbids it;
 * reclaim Delete leaving no image or loop device, Retain leaving the volume Released; PVC and PV
 * protection; a StatefulSet whose replicas keep their volumes; a static local volume that
 * decides where its pod runs; requests too big for any node,
 * unknown parameters, volume modes and access modes; volume stats on the agent's /metrics; an
 * agent killed with SIGKILL leaving no stale mount or loop device; and the seed's manifests
 * (static hostPath PV with ReadWriteOncePod, an NFS PV object, the aws-ebs class).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Container, Pod, PodSpec } from '../../src/agent/pods/api-types.js';
import { mountsUnder } from '../../src/agent/mount.js';
import { loadKubeconfig } from '../../src/client/kubeconfig.js';
import { listLoopDevices } from '../../src/storage/losetup.js';
import { stagingDir } from '../../src/storage/node-paths.js';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { until } from '../support/until.js';

const TEST_TIMEOUT = 300_000;
const WAIT = 120_000;
const POLL = 1000;

let cluster: CairnCluster;

// ---- what a user does with kubectl ----

async function namespace(short: string): Promise<string> {
  const ns = `st-${short}`;
  await cluster.ok(['create', 'namespace', ns]);
  return ns;
}

async function apply(ns: string, ...items: object[]): Promise<void> {
  await cluster.ok(['apply', '-n', ns, '-f', '-'], { input: items.map((o) => JSON.stringify(o)).join('\n') });
}

const box = (script: string, extra: Partial<Container> = {}): Container => ({ name: 'main', image: cluster.busybox, command: ['sh', '-c', script], ...extra });
const SLEEP = 'trap "exit 0" TERM; sleep 3600 & wait';

function pod(name: string, claim: string, c: Container, spec: Partial<PodSpec> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { terminationGracePeriodSeconds: 1, containers: [c], volumes: [{ name: 'data', persistentVolumeClaim: { claimName: claim } }], ...spec },
  };
}
const mounted = (script: string) => box(script, { volumeMounts: [{ name: 'data', mountPath: '/data' }] });

function claim(name: string, size: string, extra: Record<string, unknown> = {}): object {
  return { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: size } }, ...extra } };
}

function storageClass(name: string, extra: Record<string, unknown>): object {
  return { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name }, provisioner: 'cairn.io/local', volumeBindingMode: 'WaitForFirstConsumer', ...extra };
}

interface Obj {
  metadata: { name: string; uid: string; deletionTimestamp?: string; finalizers?: string[]; annotations?: Record<string, string> };
  spec: Record<string, any>;
  status?: Record<string, any>;
}

/** `-n NS`, or nothing for cluster-scoped kinds. */
const inNs = (ns: string) => (ns ? ['-n', ns] : []);
const get = (ns: string, kind: string, name: string) => cluster.json<Obj>(['get', kind, name, ...inNs(ns)]);

function waitFor<T>(what: string, check: () => Promise<T>, ms = WAIT): Promise<T> {
  return until(what, async () => ({ value: await check() }), ms, POLL).then((r) => r.value);
}

async function running(ns: string, name: string): Promise<Pod> {
  return waitFor(`pod ${name} Running`, async () => {
    const p = await cluster.json<Pod>(['get', 'pod', name, '-n', ns]);
    if (p.status?.phase !== 'Running' || !p.status.containerStatuses?.[0]?.ready) throw new Error(`status ${JSON.stringify(p.status)}`);
    return p;
  });
}

async function gone(ns: string, kind: string, name: string): Promise<void> {
  await waitFor(`${kind} ${name} to be gone`, async () => {
    const r = await cluster.kubectl(['get', kind, name, ...inNs(ns)]);
    if (r.code === 0 || !/NotFound/.test(r.stderr)) throw new Error(`still there: ${r.stdout}${r.stderr}`);
  });
}

async function exec(ns: string, podName: string, script: string): Promise<string> {
  return cluster.ok(['exec', podName, '-n', ns, '--', 'sh', '-c', script]);
}

/** The events about an object, as `kubectl get events` gives them. */
async function events(ns: string, kind: string, name: string): Promise<{ type: string; reason: string; message: string; source: string }[]> {
  const list = await cluster.json<{ items: { type: string; reason: string; message: string; source?: { component?: string }; involvedObject: { kind: string; name: string } }[] }>([
    'get',
    'events',
    '-n',
    ns,
    '--field-selector',
    `involvedObject.kind=${kind},involvedObject.name=${name}`,
  ]);
  return list.items.map((e) => ({ type: e.type, reason: e.reason, message: e.message, source: e.source?.component ?? '' }));
}

async function event(ns: string, kind: string, name: string, reason: string, message: RegExp): Promise<string> {
  return waitFor(`${kind} ${name} event ${reason} ${message}`, async () => {
    const e = (await events(ns, kind, name)).find((x) => x.reason === reason && message.test(x.message));
    if (!e) throw new Error(`events: ${JSON.stringify(await events(ns, kind, name))}`);
    return e.message;
  });
}

const nodeIndex = (nodeName: string) => Number(/^node-(\d+)$/.exec(nodeName)![1]);
const imageOf = (node: string, pv: string) => join(cluster.dir, 'nodes', String(nodeIndex(node)), 'storage', 'local', `${pv}.img`);
const loopsOf = async (image: string) => (await listLoopDevices()).filter((d) => d.backFile.startsWith(image));

/** The columns of one `kubectl get` row, by header. */
async function row(ns: string, kind: string, name: string): Promise<Record<string, string>> {
  const [head, line] = (await cluster.ok(['get', kind, name, ...inNs(ns)])).trim().split('\n');
  // Headers may hold one space (ACCESS MODES); columns are at least two apart.
  const starts = [...head.matchAll(/(?<=^| {2})\S/g)].map((m) => m.index!);
  return Object.fromEntries(starts.map((s, i) => [head.slice(s, starts[i + 1]).trim(), line.slice(s, starts[i + 1]).trim()]));
}

/** GET /metrics from a node's agent, with the admin's client certificate. */
async function agentMetrics(node: string): Promise<string> {
  const n = await cluster.json<Obj>(['get', 'node', node]);
  const url = new URL(n.metadata.annotations!['cairn.io/agent-endpoint']);
  const conn = loadKubeconfig(cluster.kubeconfig);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: '/metrics', ca: conn.ca, cert: conn.clientCert, key: conn.clientKey, servername: undefined, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET /metrics: ${res.statusCode} ${body}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

const hasCapSysResource = () => (BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`) >> 24n) & 1n;

before(async () => {
  cluster = await upCluster({ nodes: 2, label: 'storage' });
});

after(async () => {
  await cluster?.down();
});

describe('local volumes on cairn up', () => {
  it('has the default class local, its CSIDriver and every node’s capacity', { timeout: TEST_TIMEOUT }, async () => {
    const sc = await row('default', 'storageclass', 'local');
    assert.deepEqual([sc.NAME, sc.PROVISIONER, sc.RECLAIMPOLICY, sc.VOLUMEBINDINGMODE, sc.ALLOWVOLUMEEXPANSION], ['local (default)', 'cairn.io/local', 'Delete', 'WaitForFirstConsumer', 'true']);
    const driver = await cluster.json<Obj>(['get', 'csidriver', 'local.cairn.io']);
    assert.equal(driver.spec.storageCapacity, true);
    const caps = await waitFor('a CSIStorageCapacity per node', async () => {
      const list = await cluster.json<{ items: { metadata: { name: string }; storageClassName: string; capacity: string; nodeTopology: { matchLabels: Record<string, string> } }[] }>(['get', 'csistoragecapacities', '-n', 'kube-system']);
      if (list.items.length !== 2) throw new Error(JSON.stringify(list.items));
      return list.items;
    });
    assert.deepEqual(caps.map((c) => c.nodeTopology.matchLabels['kubernetes.io/hostname']).sort(), ['node-1', 'node-2']);
    for (const c of caps) assert.ok(/^\d+(Mi|Gi|Ti)$/.test(c.capacity) && c.storageClassName === 'local', JSON.stringify(c));
  });

  it('binds a dynamic volume on the pod’s node; its data survives the pod and comes back with it there', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('dyn');
    await apply(ns, claim('data', '64Mi'), pod('writer', 'data', mounted(`echo kept > /data/note; ${SLEEP}`)));
    const p = await running(ns, 'writer');
    const node = p.spec.nodeName!;
    const pvc = await get(ns, 'pvc', 'data');
    assert.equal(pvc.spec.storageClassName, 'local');
    assert.equal(pvc.metadata.annotations?.['volume.kubernetes.io/selected-node'], node);
    const pvName = pvc.spec.volumeName as string;
    const pv = await cluster.json<Obj>(['get', 'pv', pvName]);
    assert.equal(pv.spec.csi.driver, 'local.cairn.io');
    assert.equal(pv.spec.csi.fsType, 'ext4');
    assert.deepEqual(pv.spec.nodeAffinity.required.nodeSelectorTerms, [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }]);
    assert.equal(pv.metadata.annotations?.['pv.kubernetes.io/provisioned-by'], 'cairn.io/local');
    const r = await row(ns, 'pvc', 'data');
    assert.deepEqual([r.STATUS, r.VOLUME, r.CAPACITY, r['ACCESS MODES'], r.STORAGECLASS], ['Bound', pvName, '64Mi', 'RWO', 'local']);
    await event(ns, 'PersistentVolumeClaim', 'data', 'ProvisioningSucceeded', new RegExp(`Successfully provisioned volume ${pvName}`));
    // A real size limit: the filesystem in the pod is the volume's.
    const df = (await exec(ns, 'writer', 'df -k /data | tail -1')).trim().split(/\s+/);
    assert.ok(Number(df[1]) > 50_000 && Number(df[1]) <= 65_536, `df: ${df.join(' ')}`);
    assert.ok(existsSync(imageOf(node, pvName)));

    // Volume stats on the node's agent.
    await exec(ns, 'writer', 'dd if=/dev/zero of=/data/blob bs=1024 count=4096 2>/dev/null; sync');
    const metrics = await waitFor('kubelet_volume_stats_used_bytes', async () => {
      const m = await agentMetrics(node);
      const used = new RegExp(`kubelet_volume_stats_used_bytes\\{namespace="${ns}",persistentvolumeclaim="data"\\} (\\d+)`).exec(m);
      if (!used || Number(used[1]) < 4 * 1024 * 1024) throw new Error(m);
      return m;
    });
    for (const s of ['capacity_bytes', 'available_bytes', 'inodes', 'inodes_free', 'inodes_used']) assert.match(metrics, new RegExp(`kubelet_volume_stats_${s}\\{namespace="${ns}",persistentvolumeclaim="data"\\} \\d+`));

    await cluster.ok(['delete', 'pod', 'writer', '-n', ns]);
    await apply(ns, pod('reader', 'data', mounted(SLEEP)));
    const again = await running(ns, 'reader');
    assert.equal(again.spec.nodeName, node);
    assert.equal((await exec(ns, 'reader', 'cat /data/note')).trim(), 'kept');
  });

  it('hands a Block volume to the pod at its devicePath', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('block');
    const dev = box(`printf cairn-block | dd of=/dev/xvda bs=512 count=1 conv=sync 2>/dev/null; ${SLEEP}`, { volumeDevices: [{ name: 'data', devicePath: '/dev/xvda' }] });
    await apply(ns, claim('raw', '16Mi', { volumeMode: 'Block' }), pod('blk', 'raw', dev));
    await running(ns, 'blk');
    assert.equal((await exec(ns, 'blk', 'dd if=/dev/xvda bs=11 count=1 2>/dev/null')).trim(), 'cairn-block');
    assert.equal((await exec(ns, 'blk', 'blockdev --getsize64 /dev/xvda')).trim(), String(16 * 1024 * 1024));
    assert.match(await exec(ns, 'blk', 'ls -l /dev/xvda'), /^b/);
    const r = await row(ns, 'pvc', 'raw');
    assert.equal(r.CAPACITY, '16Mi');
    // A Block claim in volumeMounts is the kubelet's error.
    await apply(ns, pod('wrong', 'raw', mounted(SLEEP), { nodeName: (await cluster.json<Pod>(['get', 'pod', 'blk', '-n', ns])).spec.nodeName }));
    await event(ns, 'Pod', 'wrong', 'Failed', /volume data has volumeMode Block, but is specified in volumeMounts/);
  });

  it('mounts read-only for ReadOnlyMany and readOnly, with subPath and fsGroup', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('mounts');
    const shared = box(`id -G > /tmp/groups; ${SLEEP}`, {
      securityContext: { runAsUser: 1000 },
      volumeMounts: [
        { name: 'data', mountPath: '/data' },
        { name: 'data', mountPath: '/sub', subPath: 'a/b' },
        { name: 'data', mountPath: '/ro', readOnly: true },
      ],
    });
    await apply(ns, claim('rw', '16Mi'), pod('owner', 'rw', shared, { securityContext: { fsGroup: 3000 } }), claim('rox', '16Mi', { accessModes: ['ReadOnlyMany'] }), pod('reader', 'rox', mounted(SLEEP)));
    await running(ns, 'owner');
    assert.match(await exec(ns, 'owner', 'cat /tmp/groups'), /\b3000\b/);
    assert.equal((await exec(ns, 'owner', 'stat -c %g /data')).trim(), '3000');
    // The pod's user writes through its group; the subPath is a directory of the same volume.
    await exec(ns, 'owner', 'echo via-sub > /sub/f && echo root > /data/top');
    assert.equal((await exec(ns, 'owner', 'cat /data/a/b/f')).trim(), 'via-sub');
    const ro = await cluster.kubectl(['exec', 'owner', '-n', ns, '--', 'sh', '-c', 'echo x > /ro/nope']);
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /Read-only file system/);
    await running(ns, 'reader');
    assert.equal((await row(ns, 'pvc', 'rox'))['ACCESS MODES'], 'ROX');
    const rox = await cluster.kubectl(['exec', 'reader', '-n', ns, '--', 'sh', '-c', 'echo x > /data/nope']);
    assert.notEqual(rox.code, 0);
    assert.match(rox.stderr, /Read-only file system/);
  });

  it('keeps a second pod of a ReadWriteOncePod claim Pending until the first is gone', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('rwop');
    await apply(ns, claim('single', '16Mi', { accessModes: ['ReadWriteOncePod'] }), pod('first', 'single', mounted(SLEEP)));
    await running(ns, 'first');
    await apply(ns, pod('second', 'single', mounted(SLEEP)));
    const msg = await event(ns, 'Pod', 'second', 'FailedScheduling', /ReadWriteOncePod/);
    assert.equal(
      msg,
      '0/2 nodes are available: 2 node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.',
    );
    assert.equal((await row(ns, 'pod', 'second')).STATUS, 'Pending');
    await cluster.ok(['delete', 'pod', 'first', '-n', ns]);
    await running(ns, 'second');
  });

  it('gives pods created together on one unbound WaitForFirstConsumer claim one volume on one node', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('shared');
    // One apply: both pods reach the scheduler before the claim has a node.
    await apply(ns, claim('both', '16Mi'), pod('one', 'both', mounted(SLEEP)), pod('two', 'both', mounted(SLEEP)));
    const [a, b] = [await running(ns, 'one'), await running(ns, 'two')];
    assert.equal(a.spec.nodeName, b.spec.nodeName);
    const pvc = await get(ns, 'pvc', 'both');
    assert.equal(pvc.metadata.annotations?.['volume.kubernetes.io/selected-node'], a.spec.nodeName);
    const provisioned = (await events(ns, 'PersistentVolumeClaim', 'both')).filter((e) => e.reason === 'ProvisioningSucceeded');
    assert.equal(provisioned.length, 1, JSON.stringify(provisioned));
    // No second image on the other node.
    const other = a.spec.nodeName === 'node-1' ? 'node-2' : 'node-1';
    assert.ok(!existsSync(imageOf(other, pvc.spec.volumeName as string)));
  });

  it('expands volumes, seen in the pod; refuses shrinking and classes without expansion', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('grow');
    await apply(ns, storageClass('grow-xfs', { parameters: { fsType: 'xfs' }, allowVolumeExpansion: true }), storageClass('fixed', { allowVolumeExpansion: false }));
    await apply(
      ns,
      claim('x', '300Mi', { storageClassName: 'grow-xfs' }),
      pod('px', 'x', mounted(SLEEP)),
      claim('e', '32Mi'),
      pod('pe', 'e', mounted(SLEEP)),
      claim('f', '16Mi', { storageClassName: 'fixed' }),
      pod('pf', 'f', mounted(SLEEP)),
    );
    for (const p of ['px', 'pe', 'pf']) await running(ns, p);
    const size = async (p: string) => Number((await exec(ns, p, 'df -k /data | tail -1')).trim().split(/\s+/)[1]);

    // xfs grows online.
    const before = await size('px');
    await cluster.ok(['patch', 'pvc', 'x', '-n', ns, '-p', '{"spec":{"resources":{"requests":{"storage":"600Mi"}}}}']);
    await waitFor('pvc x capacity 600Mi', async () => {
      const c = await get(ns, 'pvc', 'x');
      if (c.status?.capacity?.storage !== '600Mi' || c.status.conditions?.length) throw new Error(JSON.stringify(c.status));
    });
    assert.ok((await size('px')) - before > 250_000, `xfs in the pod: ${before} KiB before, ${await size('px')} after`);
    await event(ns, 'PersistentVolumeClaim', 'x', 'FileSystemResizeSuccessful', /MountVolume.NodeExpandVolume succeeded for volume "pvc-/);

    // ext4 grows online where the agent may (CAP_SYS_RESOURCE), else when the pod restarts.
    await cluster.ok(['patch', 'pvc', 'e', '-n', ns, '-p', '{"spec":{"resources":{"requests":{"storage":"96Mi"}}}}']);
    const pvE = (await get(ns, 'pvc', 'e')).spec.volumeName as string;
    await waitFor('the PV of e at 96Mi', async () => {
      const pv = await cluster.json<Obj>(['get', 'pv', pvE]);
      if (pv.spec.capacity.storage !== '96Mi') throw new Error(JSON.stringify(pv.spec.capacity));
    });
    if (!hasCapSysResource()) {
      const c = await waitFor('FileSystemResizePending', async () => {
        const c = await get(ns, 'pvc', 'e');
        if (!c.status?.conditions?.some((x: { type: string }) => x.type === 'FileSystemResizePending')) throw new Error(JSON.stringify(c.status));
        return c;
      });
      assert.equal(c.status!.capacity.storage, '32Mi');
      assert.equal(c.status!.allocatedResourceStatuses.storage, 'NodeResizePending');
      const node = (await cluster.json<Pod>(['get', 'pod', 'pe', '-n', ns])).spec.nodeName;
      await cluster.ok(['delete', 'pod', 'pe', '-n', ns]);
      await apply(ns, pod('pe', 'e', mounted(SLEEP)));
      assert.equal((await running(ns, 'pe')).spec.nodeName, node);
    }
    await waitFor('pvc e capacity 96Mi', async () => {
      const c = await get(ns, 'pvc', 'e');
      if (c.status?.capacity?.storage !== '96Mi' || c.status.conditions?.length || c.status.allocatedResourceStatuses) throw new Error(JSON.stringify(c.status));
    });
    assert.ok((await size('pe')) > 80_000, `ext4 in the pod: ${await size('pe')} KiB`);

    const shrink = await cluster.kubectl(['patch', 'pvc', 'x', '-n', ns, '-p', '{"spec":{"resources":{"requests":{"storage":"400Mi"}}}}']);
    assert.notEqual(shrink.code, 0);
    assert.match(shrink.stderr, /spec.resources.requests.storage: Forbidden: field can not be less than status.capacity/);
    const fixed = await cluster.kubectl(['patch', 'pvc', 'f', '-n', ns, '-p', '{"spec":{"resources":{"requests":{"storage":"32Mi"}}}}']);
    assert.notEqual(fixed.code, 0);
    assert.match(
      fixed.stderr,
      /persistentvolumeclaims "f" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize/,
    );
  });

  it('deletes the image and loop device with reclaimPolicy Delete; Retain leaves the volume Released', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('reclaim');
    await apply(ns, storageClass('keep', { reclaimPolicy: 'Retain' }));
    await apply(ns, claim('del', '16Mi'), pod('pd', 'del', mounted(SLEEP)), claim('ret', '16Mi', { storageClassName: 'keep' }), pod('pr', 'ret', mounted(`echo retained > /data/x; ${SLEEP}`)));
    const nodeD = (await running(ns, 'pd')).spec.nodeName!;
    const nodeR = (await running(ns, 'pr')).spec.nodeName!;
    const pvD = (await get(ns, 'pvc', 'del')).spec.volumeName as string;
    const pvR = (await get(ns, 'pvc', 'ret')).spec.volumeName as string;
    assert.equal((await loopsOf(imageOf(nodeD, pvD))).length, 1);
    await cluster.ok(['delete', 'pod', 'pd', 'pr', '-n', ns]);
    await cluster.ok(['delete', 'pvc', 'del', 'ret', '-n', ns]);
    await gone('', 'pv', pvD);
    await waitFor('no image, no loop device', async () => {
      if (existsSync(imageOf(nodeD, pvD)) || (await loopsOf(imageOf(nodeD, pvD))).length) throw new Error('still there');
    });
    await waitFor(`${pvR} Released`, async () => {
      const r = await row('', 'pv', pvR);
      if (r.STATUS !== 'Released' || r['RECLAIM POLICY'] !== 'Retain') throw new Error(JSON.stringify(r));
    });
    assert.ok(existsSync(imageOf(nodeR, pvR)), 'a retained volume keeps its data');
    assert.equal((await loopsOf(imageOf(nodeR, pvR))).length, 0, 'and is not attached while nothing uses it');
    // A Released volume is never handed to another claim.
    await apply(ns, claim('ret', '16Mi', { storageClassName: 'keep' }), pod('pr2', 'ret', mounted(SLEEP)));
    await running(ns, 'pr2');
    assert.notEqual((await get(ns, 'pvc', 'ret')).spec.volumeName, pvR);
    await cluster.ok(['delete', 'pv', pvR]);
  });

  it('keeps a claim in use until its pod is gone, and a bound volume until its claim is', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('protect');
    await apply(ns, claim('held', '16Mi'), pod('user', 'held', mounted(SLEEP)));
    await running(ns, 'user');
    const c = await get(ns, 'pvc', 'held');
    assert.deepEqual(c.metadata.finalizers, ['kubernetes.io/pvc-protection']);
    const pvName = c.spec.volumeName as string;
    assert.deepEqual((await cluster.json<Obj>(['get', 'pv', pvName])).metadata.finalizers, ['kubernetes.io/pv-protection']);
    await cluster.ok(['delete', 'pvc', 'held', '-n', ns, '--wait=false']);
    await cluster.ok(['delete', 'pv', pvName, '--wait=false']);
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal((await row(ns, 'pvc', 'held')).STATUS, 'Terminating');
    assert.equal((await row('', 'pv', pvName)).STATUS, 'Terminating');
    assert.equal((await exec(ns, 'user', 'echo still > /data/w && cat /data/w')).trim(), 'still');
    // A new pod may not start on a claim being deleted.
    await apply(ns, pod('late', 'held', mounted(SLEEP)));
    await event(ns, 'Pod', 'late', 'FailedScheduling', /persistentvolumeclaim "held" is being deleted/);
    await cluster.ok(['delete', 'pod', 'user', 'late', '-n', ns]);
    await gone(ns, 'pvc', 'held');
    await gone('', 'pv', pvName);
  });

  it('gives each StatefulSet replica its own volume, kept when the pod comes back', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('sts');
    await apply(ns, {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db' },
      spec: {
        serviceName: 'db',
        replicas: 2,
        selector: { matchLabels: { app: 'db' } },
        template: {
          metadata: { labels: { app: 'db' } },
          spec: { terminationGracePeriodSeconds: 1, containers: [box(`[ -f /data/id ] || hostname > /data/id; ${SLEEP}`, { volumeMounts: [{ name: 'data', mountPath: '/data' }] })] },
        },
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '16Mi' } } } }],
      },
    });
    for (const p of ['db-0', 'db-1']) await running(ns, p);
    assert.equal((await row(ns, 'pvc', 'data-db-0')).STATUS, 'Bound');
    assert.equal((await row(ns, 'pvc', 'data-db-1')).STATUS, 'Bound');
    assert.equal((await exec(ns, 'db-1', 'cat /data/id')).trim(), 'db-1');
    const before = await cluster.json<Pod>(['get', 'pod', 'db-0', '-n', ns]);
    await exec(ns, 'db-0', 'echo more >> /data/id');
    await cluster.ok(['delete', 'pod', 'db-0', '-n', ns]);
    const after = await waitFor('db-0 back', async () => {
      const p = await running(ns, 'db-0');
      if (p.metadata.uid === before.metadata.uid) throw new Error('the old pod');
      return p;
    });
    assert.equal(after.spec.nodeName, before.spec.nodeName);
    assert.equal((await exec(ns, 'db-0', 'cat /data/id')).trim(), 'db-0\nmore');
  });

  it('schedules a pod to the node of the static local volume its claim binds (no-provisioner, WaitForFirstConsumer)', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('static');
    const dir = join(cluster.dir, 'static-local-disk');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'seed'), 'on node-2');
    await apply(
      ns,
      { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'local-static' }, provisioner: 'kubernetes.io/no-provisioner', volumeBindingMode: 'WaitForFirstConsumer' },
      {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: `static-${cluster.name}` },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteOnce'],
          storageClassName: 'local-static',
          local: { path: dir },
          nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-2'] }] }] } },
        },
      },
      claim('disk', '512Mi', { storageClassName: 'local-static' }),
      pod('user', 'disk', mounted(SLEEP)),
    );
    assert.equal((await running(ns, 'user')).spec.nodeName, 'node-2');
    assert.equal((await get(ns, 'pvc', 'disk')).spec.volumeName, `static-${cluster.name}`);
    assert.equal((await exec(ns, 'user', 'cat /data/seed')).trim(), 'on node-2');
    // Nothing else fits it: a second claim of the class has no volume to bind.
    await apply(ns, claim('none', '512Mi', { storageClassName: 'local-static' }), pod('nobody', 'none', mounted(SLEEP)));
    assert.equal(
      await event(ns, 'Pod', 'nobody', 'FailedScheduling', /persistent volumes to bind/),
      "0/2 nodes are available: 2 node(s) didn't find available persistent volumes to bind. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
    );
    await cluster.ok(['delete', 'pod', 'user', 'nobody', '-n', ns]);
    await cluster.ok(['delete', 'pvc', 'disk', 'none', '-n', ns]);
    await cluster.ok(['delete', 'pv', `static-${cluster.name}`]);
  });

  it('tells why a claim cannot be served: too big for any node, unknown parameter or access mode, unknown volume mode', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('bad');
    await apply(ns, claim('huge', '100Ti'), pod('huge', 'huge', mounted(SLEEP)));
    assert.equal(
      await event(ns, 'Pod', 'huge', 'FailedScheduling', /free storage/),
      '0/2 nodes are available: 2 node(s) did not have enough free storage. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.',
    );
    assert.equal((await row(ns, 'pvc', 'huge')).STATUS, 'Pending');

    await apply(ns, storageClass('odd', { parameters: { fsType: 'ext4', color: 'blue' } }), claim('odd', '16Mi', { storageClassName: 'odd' }), pod('odd', 'odd', mounted(SLEEP)));
    assert.match(
      await event(ns, 'PersistentVolumeClaim', 'odd', 'ProvisioningFailed', /color/),
      /^failed to provision volume with StorageClass "odd": rpc error: code = InvalidArgument desc = unknown StorageClass parameter "color"/,
    );
    await apply(ns, claim('many', '16Mi', { accessModes: ['ReadWriteMany'] }), pod('many', 'many', mounted(SLEEP)));
    assert.match(await event(ns, 'PersistentVolumeClaim', 'many', 'ProvisioningFailed', /ReadWriteMany/), /access mode ReadWriteMany is not supported by local.cairn.io/);
    for (const p of ['odd', 'many']) assert.equal((await row(ns, 'pvc', p)).STATUS, 'Pending');

    const mode = await cluster.kubectl(['apply', '-n', ns, '-f', '-'], { input: JSON.stringify(claim('mode', '16Mi', { volumeMode: 'Tape' })) });
    assert.notEqual(mode.code, 0);
    assert.match(mode.stderr, /spec.volumeMode: Unsupported value: "Tape": supported values: "Block", "Filesystem"/);
  });

  it('leaves no stale mount or loop device after an agent killed with SIGKILL', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('crash');
    await apply(ns, claim('c', '16Mi'), pod('victim', 'c', mounted(`echo durable > /data/d; ${SLEEP}`)));
    const p = await running(ns, 'victim');
    const node = p.spec.nodeName!;
    const pvName = (await get(ns, 'pvc', 'c')).spec.volumeName as string;
    const image = imageOf(node, pvName);
    const state = JSON.parse(await readFile(join(cluster.dir, 'cluster.json'), 'utf8')) as { agentPids: Record<string, number> };
    process.kill(state.agentPids[String(nodeIndex(node))]!, 'SIGKILL');
    // While the agent is down its pod is force-deleted: nobody unmounts anything.
    await cluster.ok(['delete', 'pod', 'victim', '-n', ns, '--force', '--grace-period=0']);
    assert.equal((await loopsOf(image)).length, 1);
    const up = await cluster.cairn('up', '--data-dir', cluster.dir, '--timeout', '150');
    assert.equal(up.code, 0, up.stderr);
    const podDir = join(cluster.dir, 'nodes', String(nodeIndex(node)), 'pods', p.metadata.uid!);
    await waitFor('the pod’s mounts and the loop device gone', async () => {
      const left = [...(await mountsUnder(podDir)).map((m) => m.mountPoint), ...(await loopsOf(image)).map((d) => d.name)];
      if (left.length) throw new Error(left.join(', '));
    });
    const staging = stagingDir(join(cluster.dir, 'nodes', String(nodeIndex(node))), 'local.cairn.io', pvName);
    assert.deepEqual((await mountsUnder(staging)).map((m) => m.mountPoint), []);
    assert.ok(!existsSync(staging), `${staging} removed`);
    // The volume itself is intact and mounts again, attached once.
    await apply(ns, pod('heir', 'c', mounted(SLEEP)));
    assert.equal((await running(ns, 'heir')).spec.nodeName, node);
    assert.equal((await exec(ns, 'heir', 'cat /data/d')).trim(), 'durable');
    assert.equal((await loopsOf(image)).length, 1);
  });
});

describe("the seed's storage manifests", () => {
  it('binds a static hostPath volume with ReadWriteOncePod, keeps an NFS volume Available and leaves an aws-ebs claim to its external provisioner', { timeout: TEST_TIMEOUT }, async () => {
    const ns = await namespace('seed');
    const hostDir = join(cluster.dir, 'seed-hostpath');
    await apply(
      ns,
      {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: `seed-host-${cluster.name}` },
        spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOncePod'], persistentVolumeReclaimPolicy: 'Retain', storageClassName: 'manual', hostPath: { path: hostDir, type: 'DirectoryOrCreate' } },
      },
      {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: `seed-nfs-${cluster.name}` },
        spec: { capacity: { storage: '5Gi' }, accessModes: ['ReadWriteMany'], persistentVolumeReclaimPolicy: 'Retain', storageClassName: 'nfs', nfs: { server: '192.0.2.10', path: '/exports/data' } },
      },
      { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'ebs' }, provisioner: 'kubernetes.io/aws-ebs', parameters: { type: 'gp2' }, volumeBindingMode: 'Immediate' },
      claim('manual', '1Gi', { accessModes: ['ReadWriteOncePod'], storageClassName: 'manual' }),
      claim('ebs', '4Gi', { storageClassName: 'ebs' }),
      pod('seeded', 'manual', mounted(`echo seed > /data/s; ${SLEEP}`)),
    );
    await running(ns, 'seeded');
    const r = await row(ns, 'pvc', 'manual');
    assert.deepEqual([r.STATUS, r.VOLUME, r.CAPACITY, r['ACCESS MODES']], ['Bound', `seed-host-${cluster.name}`, '1Gi', 'RWOP']);
    assert.equal(readFileSync(join(hostDir, 's'), 'utf8').trim(), 'seed');
    assert.equal((await row('', 'pv', `seed-nfs-${cluster.name}`)).STATUS, 'Available');
    assert.equal(
      await event(ns, 'PersistentVolumeClaim', 'ebs', 'ExternalProvisioning', /aws-ebs/),
      "Waiting for a volume to be created either by the external provisioner 'kubernetes.io/aws-ebs' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
    );
    assert.equal((await row(ns, 'pvc', 'ebs')).STATUS, 'Pending');
    await cluster.ok(['delete', 'pod', 'seeded', '-n', ns]);
    await cluster.ok(['delete', 'pvc', 'manual', 'ebs', '-n', ns]);
    await cluster.ok(['delete', 'pv', `seed-host-${cluster.name}`, `seed-nfs-${cluster.name}`]);
  });
});
