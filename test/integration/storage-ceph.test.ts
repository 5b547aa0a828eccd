// The Ceph storage drivers on a 2-node `cairn up` + `cairn ceph up` cluster, through the real
// kubectl, as a user sees them: an RBD ReadWriteOnce claim whose data follows its pod to the other
// node; a Block RBD volume; a CephFS ReadWriteMany claim shared by pods on both nodes, and a
// ReadOnlyMany one mounted read-only; expansion seen in the pods; snapshot → restore and clone
// for both drivers; an OSD killed during a pod's writes; an agent killed with volumes staged;
// reclaim Delete leaving no RBD image, subvolume, FUSE mount, loop device or keyring. Bad input:
// an unknown class parameter, Block asked of CephFS, RWX Filesystem RBD, a missing secret — each
// an event naming it.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { listLoopDevices } from '../../src/storage/losetup.js';
import { type CairnCluster, run, type Run, upCluster } from '../support/cairn-cluster.js';
import { until } from '../support/until.js';

let cluster: CairnCluster;
let admin: string[];
const ok = (r: Run, what: string) => assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);

interface CephStatus {
  conf: string;
  adminKeyring: string;
  daemons: { name: string; pid: number; log: string }[];
}

async function cephStatus(): Promise<CephStatus> {
  const r = await cluster.cairn('ceph', 'status', '--data-dir', cluster.dir, '-o', 'json');
  ok(r, 'cairn ceph status');
  return JSON.parse(r.stdout) as CephStatus;
}

/** A Ceph CLI as the cluster's admin (what the test checks behind the drivers' backs). */
async function cephTool(tool: 'rbd' | 'ceph', ...args: string[]): Promise<string> {
  const r = await run(tool, [...admin, ...args], { timeoutMs: 60_000 });
  ok(r, `${tool} ${args.join(' ')}`);
  return r.stdout;
}

const claim = (name: string, cls: string, size: string, modes: string[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name }, spec: { storageClassName: cls, accessModes: modes, resources: { requests: { storage: size } }, ...extra } });

function pod(name: string, node: string, claimName: string, script: string, opts: { block?: boolean } = {}): string {
  const mount = opts.block ? { volumeDevices: [{ name: 'v', devicePath: '/dev/xvda' }] } : { volumeMounts: [{ name: 'v', mountPath: '/data' }] };
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'c', image: cluster.busybox, command: ['sh', '-c', `${script}; sleep 3600`], ...mount }],
      volumes: [{ name: 'v', persistentVolumeClaim: { claimName } }],
    },
  });
}

const apply = (manifest: string) => cluster.ok(['apply', '-f', '-'], { input: manifest });
const exec = (name: string, ...cmd: string[]) => cluster.ok(['exec', name, '--', ...cmd]);

async function running(name: string): Promise<void> {
  await until(`pod ${name} Running`, async () => {
    const p = await cluster.json<{ status: { phase?: string } }>(['get', 'pod', name]);
    return p.status.phase === 'Running';
  }, 120_000, 500);
}

async function bound(name: string): Promise<string> {
  return until(`claim ${name} Bound`, async () => {
    const c = await cluster.json<{ spec: { volumeName?: string }; status: { phase?: string } }>(['get', 'pvc', name]);
    return c.status.phase === 'Bound' && c.spec.volumeName;
  }, 90_000, 500);
}

async function deletePod(name: string): Promise<void> {
  await cluster.ok(['delete', 'pod', name, '--wait=true', '--timeout=90s']);
}

/** The `df -k` size (KiB) of /data in a pod. */
async function dfKiB(name: string): Promise<number> {
  const out = await exec(name, 'df', '-k', '/data');
  return Number(out.trim().split('\n').pop()!.trim().split(/\s+/)[1]);
}

/** The claim's events, as `kubectl describe` would list them. */
async function events(claimName: string): Promise<string> {
  return cluster.ok(['get', 'events', '--field-selector', `involvedObject.name=${claimName}`, '-o', 'custom-columns=REASON:.reason,MESSAGE:.message']);
}

async function snapshotReady(name: string): Promise<void> {
  await until(`VolumeSnapshot ${name} readyToUse`, async () => {
    const s = await cluster.json<{ status?: { readyToUse?: boolean; error?: { message?: string } } }>(['get', 'volumesnapshot', name]);
    return s.status?.readyToUse === true;
  }, 90_000, 500);
}

const snapshot = (name: string, cls: string, source: string) =>
  JSON.stringify({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', metadata: { name }, spec: { volumeSnapshotClassName: cls, source: { persistentVolumeClaimName: source } } });

const snapshotClass = (name: string, driver: string) =>
  JSON.stringify({
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshotClass',
    metadata: { name },
    driver,
    deletionPolicy: 'Delete',
    parameters: { 'csi.storage.k8s.io/snapshotter-secret-name': 'cairn-ceph', 'csi.storage.k8s.io/snapshotter-secret-namespace': 'kube-system' },
  });

before(async () => {
  cluster = await upCluster({ nodes: 2, label: 'storage-ceph' });
  const r = await cluster.cairn('ceph', 'up', '--data-dir', cluster.dir);
  ok(r, 'cairn ceph up');
  const s = await cephStatus();
  admin = ['-c', s.conf, '-k', s.adminKeyring, '--id', 'admin'];
  await apply(snapshotClass('rbd-snap', 'rbd.ceph.cairn.io'));
  await apply(snapshotClass('cephfs-snap', 'cephfs.ceph.cairn.io'));
});

after(async () => {
  if (cluster) await cluster.down();
});

test('RBD ReadWriteOnce: data written on one node is read on the other; expansion reaches the pod', async () => {
  await apply(claim('rbd-rwo', 'ceph-rbd', '64Mi', ['ReadWriteOnce']));
  const pvName = await bound('rbd-rwo');
  const pv = await cluster.json<{ spec: { capacity: { storage: string }; csi: { driver: string; volumeHandle: string } } }>(['get', 'pv', pvName]);
  assert.equal(pv.spec.capacity.storage, '64Mi');
  assert.equal(pv.spec.csi.driver, 'rbd.ceph.cairn.io');
  assert.match(await cephTool('rbd', 'ls', 'cairn-rbd'), new RegExp(`csi-vol-${pvName}`));
  assert.equal((await cephTool('rbd', 'image-meta', 'get', `cairn-rbd/csi-vol-${pvName}`, 'csi.volname')).trim(), pvName);

  await apply(pod('rbd-w', 'node-1', 'rbd-rwo', 'echo written-on-node-1 > /data/f && sync'));
  await running('rbd-w');
  await until('the write', async () => (await exec('rbd-w', 'cat', '/data/f')).includes('written-on-node-1'), 20_000, 500);
  await deletePod('rbd-w');

  await apply(pod('rbd-r', 'node-2', 'rbd-rwo', 'true'));
  await running('rbd-r');
  assert.equal((await exec('rbd-r', 'cat', '/data/f')).trim(), 'written-on-node-1');
  const before = await dfKiB('rbd-r');

  // Grown on the cluster at once; the ext4 inside grows online, or (an agent without
  // CAP_SYS_RESOURCE) when the volume is next staged — upstream's "restart the pod".
  await cluster.ok(['patch', 'pvc', 'rbd-rwo', '-p', '{"spec":{"resources":{"requests":{"storage":"128Mi"}}}}']);
  await until('PV capacity 128Mi', async () => (await cluster.json<{ spec: { capacity: { storage: string } } }>(['get', 'pv', pvName])).spec.capacity.storage === '128Mi', 60_000, 500);
  const info = JSON.parse(await cephTool('rbd', 'info', `cairn-rbd/csi-vol-${pvName}`, '--format', 'json')) as { size: number };
  assert.equal(info.size, 128 * 1024 * 1024);
  if ((await dfKiB('rbd-r')) <= before) {
    await deletePod('rbd-r');
    await apply(pod('rbd-r', 'node-2', 'rbd-rwo', 'true'));
    await running('rbd-r');
  }
  assert.ok((await dfKiB('rbd-r')) > before * 1.5, `df in the pod shows the grown filesystem (${before} KiB before)`);
  assert.equal((await exec('rbd-r', 'cat', '/data/f')).trim(), 'written-on-node-1');
  await until('claim capacity 128Mi', async () => (await cluster.json<{ status: { capacity: { storage: string } } }>(['get', 'pvc', 'rbd-rwo'])).status.capacity.storage === '128Mi', 60_000, 500);
});

test('RBD Block volume: the pod gets the device; bytes written are read back on the other node', async () => {
  await apply(claim('rbd-block', 'ceph-rbd', '32Mi', ['ReadWriteOnce'], { volumeMode: 'Block' }));
  await bound('rbd-block');
  await apply(pod('blk-w', 'node-1', 'rbd-block', 'printf block-data-ok | dd of=/dev/xvda conv=fsync', { block: true }));
  await running('blk-w');
  assert.equal((await exec('blk-w', 'sh', '-c', 'wc -c < /dev/xvda')).trim(), String(32 * 1024 * 1024));
  await until('the block write', async () => (await exec('blk-w', 'dd', 'if=/dev/xvda', 'bs=13', 'count=1')).includes('block-data-ok'), 20_000, 500);
  await deletePod('blk-w');
  await apply(pod('blk-r', 'node-2', 'rbd-block', 'true', { block: true }));
  await running('blk-r');
  assert.equal(await exec('blk-r', 'dd', 'if=/dev/xvda', 'bs=13', 'count=1'), 'block-data-ok');
  await deletePod('blk-r');
});

test('CephFS ReadWriteMany: pods on both nodes write and read the same files; expansion is online', async () => {
  await apply(claim('fs-rwx', 'cephfs', '100Mi', ['ReadWriteMany']));
  await bound('fs-rwx');
  await apply(pod('fs-a', 'node-1', 'fs-rwx', 'echo from-node-1 > /data/a'));
  await apply(pod('fs-b', 'node-2', 'fs-rwx', 'echo from-node-2 > /data/b'));
  await running('fs-a');
  await running('fs-b');
  await until('both files seen on node-1', async () => (await exec('fs-a', 'cat', '/data/a', '/data/b')) === 'from-node-1\nfrom-node-2\n', 20_000, 500);
  assert.equal(await exec('fs-b', 'cat', '/data/a', '/data/b'), 'from-node-1\nfrom-node-2\n');
  await exec('fs-b', 'sh', '-c', 'echo appended-on-node-2 >> /data/a');
  await until('node-2 append seen on node-1', async () => (await exec('fs-a', 'cat', '/data/a')).includes('appended-on-node-2'), 20_000, 500);
  assert.equal(await dfKiB('fs-a'), 100 * 1024);

  await cluster.ok(['patch', 'pvc', 'fs-rwx', '-p', '{"spec":{"resources":{"requests":{"storage":"200Mi"}}}}']);
  await until('df in both pods shows 200Mi', async () => (await dfKiB('fs-a')) === 200 * 1024 && (await dfKiB('fs-b')) === 200 * 1024, 60_000, 500);
  await until('claim capacity 200Mi', async () => (await cluster.json<{ status: { capacity: { storage: string } } }>(['get', 'pvc', 'fs-rwx'])).status.capacity.storage === '200Mi', 60_000, 500);
});

test('CephFS ReadOnlyMany: mounted read-only on every node', async () => {
  await apply(claim('fs-rox', 'cephfs', '16Mi', ['ReadOnlyMany']));
  await bound('fs-rox');
  await apply(pod('rox-1', 'node-1', 'fs-rox', 'true'));
  await apply(pod('rox-2', 'node-2', 'fs-rox', 'true'));
  await running('rox-1');
  await running('rox-2');
  for (const p of ['rox-1', 'rox-2']) {
    const r = await cluster.kubectl(['exec', p, '--', 'touch', '/data/x']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /Read-only file system/);
  }
  for (const p of ['rox-1', 'rox-2']) await deletePod(p);
  await cluster.ok(['delete', 'pvc', 'fs-rox', '--wait=true', '--timeout=90s']);
});

test('snapshots: restore gives the data of snapshot time; a clone copies the volume (RBD and CephFS)', async () => {
  // RBD: snapshot the claim of the first test (its pod rbd-r still runs on node-2).
  await exec('rbd-r', 'sh', '-c', 'echo at-snapshot > /data/s && sync');
  await apply(snapshot('rbd-s1', 'rbd-snap', 'rbd-rwo'));
  await snapshotReady('rbd-s1');
  await exec('rbd-r', 'sh', '-c', 'echo after-snapshot > /data/s && sync');
  await apply(claim('rbd-restored', 'ceph-rbd', '128Mi', ['ReadWriteOnce'], { dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'rbd-s1' } }));
  await apply(claim('rbd-clone', 'ceph-rbd', '128Mi', ['ReadWriteOnce'], { dataSource: { kind: 'PersistentVolumeClaim', name: 'rbd-rwo' } }));
  await bound('rbd-restored');
  await bound('rbd-clone');
  await apply(pod('rbd-rs', 'node-1', 'rbd-restored', 'true'));
  await apply(pod('rbd-cl', 'node-1', 'rbd-clone', 'true'));
  await running('rbd-rs');
  await running('rbd-cl');
  assert.equal((await exec('rbd-rs', 'cat', '/data/s')).trim(), 'at-snapshot');
  assert.equal((await exec('rbd-rs', 'cat', '/data/f')).trim(), 'written-on-node-1');
  assert.equal((await exec('rbd-cl', 'cat', '/data/s')).trim(), 'after-snapshot');

  // CephFS: the same through subvolume snapshots and clones.
  await exec('fs-a', 'sh', '-c', 'echo at-snapshot > /data/s');
  await apply(snapshot('fs-s1', 'cephfs-snap', 'fs-rwx'));
  await snapshotReady('fs-s1');
  await exec('fs-a', 'sh', '-c', 'echo after-snapshot > /data/s');
  await apply(claim('fs-restored', 'cephfs', '200Mi', ['ReadWriteMany'], { dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'fs-s1' } }));
  await bound('fs-restored');
  await apply(pod('fs-rs', 'node-2', 'fs-restored', 'true'));
  await running('fs-rs');
  assert.equal((await exec('fs-rs', 'cat', '/data/s')).trim(), 'at-snapshot');
  assert.equal((await exec('fs-rs', 'cat', '/data/b')).trim(), 'from-node-2');

  for (const p of ['rbd-rs', 'rbd-cl', 'fs-rs']) await deletePod(p);
  await cluster.ok(['delete', 'pvc', 'rbd-restored', 'rbd-clone', 'fs-restored', '--wait=true', '--timeout=90s']);
  await cluster.ok(['delete', 'volumesnapshot', 'rbd-s1', 'fs-s1', '--wait=true', '--timeout=90s']);
  const fsVolume = `csi-vol-${(await cluster.json<{ spec: { volumeName: string } }>(['get', 'pvc', 'fs-rwx'])).spec.volumeName}`;
  const rbdImage = `cairn-rbd/csi-vol-${(await cluster.json<{ spec: { volumeName: string } }>(['get', 'pvc', 'rbd-rwo'])).spec.volumeName}`;
  await until('snapshots removed from Ceph', async () => {
    const fsSnaps = JSON.parse(await cephTool('ceph', 'fs', 'subvolume', 'snapshot', 'ls', 'cairnfs', fsVolume, '--format', 'json')) as unknown[];
    const rbdSnaps = JSON.parse(await cephTool('rbd', 'snap', 'ls', rbdImage, '--format', 'json')) as unknown[];
    return fsSnaps.length === 0 && rbdSnaps.length === 0;
  }, 60_000, 1000);
});

test('an OSD killed during a pod\'s writes: the pod keeps its data and I/O goes on', async () => {
  await exec('fs-a', 'sh', '-c', 'rm -f /data/log; (i=0; while true; do i=$((i+1)); echo $i >> /data/log; sleep 0.2; done) >/dev/null 2>&1 &');
  await until('writes started', async () => Number((await exec('fs-a', 'sh', '-c', 'wc -l < /data/log')).trim()) > 3, 20_000, 500);
  const osd = (await cephStatus()).daemons.find((d) => d.name === 'osd.1');
  assert.ok(osd, 'osd.1 runs');
  process.kill(osd.pid, 'SIGKILL');
  const lines = async () => Number((await exec('fs-a', 'sh', '-c', 'wc -l < /data/log')).trim());
  const atKill = await lines();
  await until('writes go on with an OSD down', async () => (await lines()) > atKill + 10, 60_000, 1000);
  ok(await cluster.cairn('ceph', 'up', '--data-dir', cluster.dir), 'cairn ceph up (restarts the OSD)');
  const atRestart = await lines();
  await until('writes go on after the OSD is back', async () => (await lines()) > atRestart + 10, 60_000, 1000);
  const log = (await exec('fs-a', 'cat', '/data/log')).trim().split('\n').map(Number);
  assert.deepEqual(log, log.map((_, i) => i + 1), 'every write kept, in order');
  // The RBD volume of the other pod kept its data through it too.
  assert.equal((await exec('rbd-r', 'cat', '/data/f')).trim(), 'written-on-node-1');
});

test('an agent killed with Ceph volumes staged unstages, once back, those no pod uses any more', async () => {
  await apply(claim('rbd-agent', 'ceph-rbd', '32Mi', ['ReadWriteOnce']));
  await bound('rbd-agent');
  await apply(pod('agent-rbd', 'node-2', 'rbd-agent', 'echo kept > /data/f && sync'));
  await running('agent-rbd');
  const staged = async () => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(`${cluster.dir}/nodes/2/plugins/`));
  // fs-b's CephFS mount, and rbd-r's and agent-rbd's rbd-fuse + ext4 mounts.
  assert.ok((await staged()).length >= 5, (await staged()).join('\n'));
  const state = JSON.parse(await readFile(`${cluster.dir}/cluster.json`, 'utf8')) as { agentPids: Record<string, number> };
  process.kill(state.agentPids['2'], 'SIGKILL');
  await cluster.ok(['delete', 'pod', 'agent-rbd', 'fs-b', '--force', '--grace-period=0']);
  ok(await cluster.cairn('up', '--data-dir', cluster.dir, '--timeout', '150'), 'cairn up (restarts the agent)');
  // Only rbd-r's volume stays staged on node-2: its rbd-fuse and ext4 mounts.
  await until('the volumes no pod uses unstaged', async () => (await staged()).length === 2, 60_000, 1000);
  assert.equal((await exec('rbd-r', 'cat', '/data/f')).trim(), 'written-on-node-1');
  await apply(pod('agent-rbd', 'node-1', 'rbd-agent', 'true'));
  await running('agent-rbd');
  assert.equal((await exec('agent-rbd', 'cat', '/data/f')).trim(), 'kept');
  await deletePod('agent-rbd');
  await cluster.ok(['delete', 'pvc', 'rbd-agent', '--wait=true', '--timeout=90s']);
});

test('reclaim Delete removes the RBD image and the subvolume; nothing stays mounted or attached', async () => {
  for (const p of ['rbd-r', 'fs-a']) await deletePod(p);
  await cluster.ok(['delete', 'pvc', 'rbd-rwo', 'rbd-block', 'fs-rwx', '--wait=true', '--timeout=90s']);
  // Image and subvolume removal is slow on a busy 2-core machine; what is left is named if it never ends.
  await until('every Ceph PV gone', async () => {
    if (!(await cluster.ok(['get', 'pv', '-o', 'name'])).trim()) return true;
    throw new Error(`${await cluster.ok(['get', 'pv', '-o', 'wide'])}\n${await cluster.ok(['get', 'events', '-A', '--field-selector', 'involvedObject.kind=PersistentVolume'])}`);
  }, 300_000, 1000);
  assert.doesNotMatch(await cephTool('rbd', 'ls', 'cairn-rbd'), /csi-/);
  assert.deepEqual(JSON.parse(await cephTool('ceph', 'fs', 'subvolume', 'ls', 'cairnfs', '--format', 'json')), []);
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  assert.doesNotMatch(mounts, new RegExp(`${cluster.dir}/nodes/[^ ]*/plugins`), 'no staging or FUSE mount left');
  assert.ok(!(await listLoopDevices()).some((d) => d.backFile.startsWith(cluster.dir)), 'no loop device left');
  const tmp = await run('sh', ['-c', 'ls -d /tmp/cairn-cephx-* 2>/dev/null || true']);
  assert.equal(tmp.stdout.trim(), '', 'no temporary keyring left');
});

test('bad input: unknown class parameter, Block of CephFS, missing secret — each an event naming it', async () => {
  const sc = await cluster.json<{ parameters: Record<string, string> }>(['get', 'storageclass', 'ceph-rbd']);
  const klass = (name: string, provisioner: string, parameters: Record<string, string>) =>
    JSON.stringify({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name }, provisioner, parameters });
  await apply(klass('rbd-bad-param', 'cairn.io/ceph-rbd', { ...sc.parameters, imageFormatX: '2' }));
  await apply(klass('rbd-no-secret', 'cairn.io/ceph-rbd', { ...sc.parameters, 'csi.storage.k8s.io/provisioner-secret-name': 'no-such-secret' }));
  await apply(claim('bad-param', 'rbd-bad-param', '16Mi', ['ReadWriteOnce']));
  await apply(claim('no-secret', 'rbd-no-secret', '16Mi', ['ReadWriteOnce']));
  await apply(claim('fs-block', 'cephfs', '16Mi', ['ReadWriteMany'], { volumeMode: 'Block' }));
  await apply(claim('rbd-rwx-fs', 'ceph-rbd', '16Mi', ['ReadWriteMany']));
  await until('unknown parameter event', async () => /ProvisioningFailed.*unknown StorageClass parameter "imageFormatX"/.test(await events('bad-param')), 30_000, 500);
  await until('missing secret event', async () => /ProvisioningFailed.*secret no-such-secret in namespace kube-system.*not found/.test(await events('no-secret')), 30_000, 500);
  await until('Block of CephFS event', async () => /ProvisioningFailed.*cairn.io\/cephfs does not support block volume provisioning/.test(await events('fs-block')), 30_000, 500);
  await until('RWX Filesystem RBD event', async () => /ProvisioningFailed.*multi node access modes are only supported on rbd `block` type volumes/.test(await events('rbd-rwx-fs')), 30_000, 500);
  for (const c of ['bad-param', 'no-secret', 'fs-block', 'rbd-rwx-fs']) {
    const phase = (await cluster.json<{ status: { phase: string } }>(['get', 'pvc', c])).status.phase;
    assert.equal(phase, 'Pending', `${c} stays Pending`);
  }
  await cluster.ok(['delete', 'pvc', 'bad-param', 'no-secret', 'fs-block', 'rbd-rwx-fs']);
  assert.doesNotMatch(await cephTool('rbd', 'ls', 'cairn-rbd'), /csi-/, 'no half-made image');
});
