/**
 * The volume manager on the real kernel (root): every volume type of a pod set up under a temp
 * data dir — tmpfs for secrets and memory emptyDirs at the right size, fsGroup ownership — a
 * ConfigMap update seen in place through a read-only bind of the volume (as a container sees
 * it), token renewal, FailedMount messages, hostPath type checks, emptyDir size limits, and a
 * teardown after a "restart" that leaves no mount and no directory. Everything the test mounts
 * is unmounted and removed even when an assertion fails.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bindMount, mountAt, mountsUnder, unmount } from '../../src/agent/mount.js';
import type { ConfigMapObject, Pod, PodObjectSource, SecretObject, Volume } from '../../src/agent/pods/api-types.js';
import { VolumeSetupError } from '../../src/agent/volumes/errors.js';
import type { ServiceAccountTokenSource } from '../../src/agent/volumes/token-manager.js';
import { VolumeManager } from '../../src/agent/volumes/volume-manager.js';

const RUN = `${process.pid}-${Date.now().toString(36)}`;
const b64 = (s: string) => Buffer.from(s).toString('base64');

class Objects implements PodObjectSource {
  readonly configMaps = new Map<string, ConfigMapObject>();
  readonly secrets = new Map<string, SecretObject>();
  configMap(ns: string, name: string) {
    return this.configMaps.get(`${ns}/${name}`);
  }
  secret(ns: string, name: string) {
    return this.secrets.get(`${ns}/${name}`);
  }
  nodeAllocatable() {
    return { cpu: '2', memory: '1Gi' };
  }
  putConfigMap(name: string, data: Record<string, string>) {
    this.configMaps.set(`shop/${name}`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'shop' }, data });
  }
}

describe('volume manager (root, real mounts)', () => {
  let root: string;
  let podsDir: string;
  let hostDir: string;
  let now = Date.UTC(2025, 5, 1);
  let tokenCount = 0;
  const objects = new Objects();
  const tokens: ServiceAccountTokenSource = {
    async request(_ns, _sa, o) {
      return { token: `tok-${++tokenCount}`, expirationTimestamp: new Date(now + o.expirationSeconds * 1000).toISOString() };
    },
  };
  const manager = () => new VolumeManager({ podsDir, source: objects, tokens, nodeName: `cairn-node-${RUN}`, now: () => now });
  let vm: VolumeManager;
  const sockets: Server[] = [];

  const pod = (uid: string, volumes: Volume[], extra: Partial<Pod['spec']> = {}): Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'shop', uid, labels: { app: 'shop', tier: 'web' } },
    spec: { containers: [{ name: 'app', image: 'busybox' }], volumes, ...extra },
  });
  const UID = `cairn-${RUN}-a`;
  const full = pod(
    UID,
    [
      { name: 'cfg', configMap: { name: 'app-config' } },
      { name: 'creds', secret: { secretName: 'db', items: [{ key: 'password', path: 'db/password', mode: 0o400 }] } },
      { name: 'scratch', emptyDir: { sizeLimit: '1Mi' } },
      { name: 'cache', emptyDir: { medium: 'Memory', sizeLimit: '8Mi' } },
      { name: 'info', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
      {
        name: 'api',
        projected: {
          sources: [
            { serviceAccountToken: { path: 'token', expirationSeconds: 3600 } },
            { configMap: { name: 'app-config', items: [{ key: 'app.conf', path: 'app.conf' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      },
      { name: 'host', hostPath: { path: '', type: 'DirectoryOrCreate' } },
    ],
    { securityContext: { fsGroup: 2345 } },
  );

  before(() => {
    assert.equal(process.getuid?.(), 0, 'this test mounts file systems and must run as root');
    root = realpathSync(mkdtempSync(join(tmpdir(), `cairn-vol-${RUN}-`)));
    podsDir = join(root, 'pods');
    hostDir = join(root, 'host');
    mkdirSync(hostDir);
    full.spec.volumes!.find((v) => v.name === 'host')!.hostPath!.path = join(hostDir, 'made', 'here');
    objects.putConfigMap('app-config', { 'app.conf': 'v=1\n' });
    objects.secrets.set('shop/db', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'shop' }, data: { password: b64('s3cr3t') } });
    vm = manager();
  });

  after(async () => {
    for (const s of sockets) s.close();
    if (!root) return;
    for (const m of await mountsUnder(root)) await unmount(m.mountPoint).catch(() => unmount(m.mountPoint, { lazy: true }));
    rmSync(root, { recursive: true, force: true });
  });

  const volDir = (uid: string, plugin: string, name: string) => join(podsDir, uid, 'volumes', plugin, name);

  it('sets up every volume type under volumes/<plugin>/<name>', async () => {
    const got = await vm.setup(full);
    assert.deepEqual(Object.fromEntries(got), {
      cfg: { hostPath: volDir(UID, 'kubernetes.io~configmap', 'cfg'), readOnly: true, kind: 'dir' },
      creds: { hostPath: volDir(UID, 'kubernetes.io~secret', 'creds'), readOnly: true, kind: 'dir' },
      scratch: { hostPath: volDir(UID, 'kubernetes.io~empty-dir', 'scratch'), readOnly: false, kind: 'dir' },
      cache: { hostPath: volDir(UID, 'kubernetes.io~empty-dir', 'cache'), readOnly: false, kind: 'dir' },
      info: { hostPath: volDir(UID, 'kubernetes.io~downward-api', 'info'), readOnly: true, kind: 'dir' },
      api: { hostPath: volDir(UID, 'kubernetes.io~projected', 'api'), readOnly: true, kind: 'dir' },
      host: { hostPath: join(hostDir, 'made', 'here'), readOnly: false, kind: 'dir' },
    });
    const v = (name: string) => got.get(name)!.hostPath;
    assert.equal(readFileSync(join(v('cfg'), 'app.conf'), 'utf8'), 'v=1\n');
    assert.equal(readFileSync(join(v('creds'), 'db/password'), 'utf8'), 's3cr3t');
    assert.equal(readFileSync(join(v('info'), 'labels'), 'utf8'), 'app="shop"\ntier="web"');
    assert.equal(readFileSync(join(v('api'), 'token'), 'utf8'), 'tok-1');
    assert.equal(readFileSync(join(v('api'), 'app.conf'), 'utf8'), 'v=1\n');
    assert.equal(readFileSync(join(v('api'), 'namespace'), 'utf8'), 'shop');
    assert.equal(statSync(v('host')).mode & 0o777, 0o755);
  });

  it('keeps secrets, downward API and projected data on tmpfs, sized like the kubelet', async () => {
    const got = await vm.setup(full);
    for (const name of ['creds', 'info', 'api']) {
      const m = await mountAt(got.get(name)!.hostPath);
      assert.equal(m?.fsType, 'tmpfs', `${name} is a tmpfs`);
      // No pod memory limit: the node's allocatable (1Gi).
      assert.match(m!.superOptions, /(^|,)size=1048576k(,|$)/, `${name}: ${m!.superOptions}`);
    }
    const cache = await mountAt(got.get('cache')!.hostPath);
    assert.equal(cache?.fsType, 'tmpfs');
    assert.match(cache!.superOptions, /(^|,)size=8192k(,|$)/);
    assert.equal(await mountAt(got.get('scratch')!.hostPath), undefined, 'a disk emptyDir is a plain directory');
    assert.equal(await mountAt(got.get('cfg')!.hostPath), undefined, 'configMap data is on disk');
  });

  it('applies fsGroup: group owner, setgid dirs, group-readable files (token 0640)', async () => {
    const got = await vm.setup(full);
    const st = (p: string) => statSync(p);
    const scratch = st(got.get('scratch')!.hostPath);
    assert.equal(scratch.gid, 2345);
    assert.equal(scratch.mode & 0o7777, 0o2777);
    const secret = st(join(got.get('creds')!.hostPath, 'db/password'));
    assert.equal(secret.gid, 2345);
    assert.equal(secret.mode & 0o777, 0o440);
    const token = st(join(got.get('api')!.hostPath, 'token'));
    assert.equal(token.gid, 2345);
    assert.equal(token.mode & 0o777, 0o640);
    const cfgDir = st(got.get('cfg')!.hostPath);
    assert.equal(cfgDir.gid, 2345);
    assert.ok(cfgDir.mode & 0o2000, 'setgid on the volume root');
  });

  it('updates a ConfigMap volume in place: a bind of it (what a container has) sees the new file', async () => {
    const got = await vm.setup(full);
    const src = got.get('cfg')!.hostPath;
    const view = join(root, 'container-view');
    mkdirSync(view);
    await bindMount(src, view, { readOnly: true });
    try {
      const before = readlinkSync(join(src, '..data'));
      assert.equal(readFileSync(join(view, 'app.conf'), 'utf8'), 'v=1\n');
      assert.throws(() => writeFileSync(join(view, 'new'), 'x'), /EROFS/);
      objects.putConfigMap('app-config', { 'app.conf': 'v=2\n', 'extra.conf': 'more' });
      await vm.setup(full);
      assert.equal(readFileSync(join(view, 'app.conf'), 'utf8'), 'v=2\n');
      assert.equal(readFileSync(join(view, 'extra.conf'), 'utf8'), 'more');
      const afterTs = readlinkSync(join(src, '..data'));
      assert.notEqual(afterTs, before);
      assert.ok(!existsSync(join(src, before)), 'the old version is gone');
      assert.equal(readFileSync(join(got.get('api')!.hostPath, 'app.conf'), 'utf8'), 'v=2\n', 'projected follows too');

      // Deleted under the running pod: the kubelet keeps the last contents.
      objects.configMaps.delete('shop/app-config');
      await vm.setup(full);
      assert.equal(readFileSync(join(view, 'app.conf'), 'utf8'), 'v=2\n');
      objects.putConfigMap('app-config', { 'app.conf': 'v=2\n' });
    } finally {
      await unmount(view);
    }
  });

  it('renews the service account token after 80% of its lifetime', async () => {
    const api = volDir(UID, 'kubernetes.io~projected', 'api');
    now += 2800 * 1000;
    await vm.setup(full);
    assert.equal(readFileSync(join(api, 'token'), 'utf8'), 'tok-1');
    now += 100 * 1000;
    await vm.setup(full);
    assert.equal(readFileSync(join(api, 'token'), 'utf8'), 'tok-2');
  });

  it('fails the mount with the kubelet message until the ConfigMap exists; optional ones are empty', async () => {
    const uid = `cairn-${RUN}-b`;
    const p = pod(uid, [
      { name: 'cfg', configMap: { name: 'later' } },
      { name: 'maybe', configMap: { name: 'never', optional: true } },
      { name: 'pw', secret: { secretName: 'absent' } },
    ]);
    await assert.rejects(vm.setup(p), (e: Error) => {
      assert.ok(e instanceof VolumeSetupError);
      assert.equal(e.reason, 'FailedMount');
      assert.equal(e.message, 'MountVolume.SetUp failed for volume "cfg" : configmap "later" not found');
      assert.deepEqual(
        e.all.map((x) => x.message),
        ['MountVolume.SetUp failed for volume "cfg" : configmap "later" not found', 'MountVolume.SetUp failed for volume "pw" : secret "absent" not found'],
      );
      return true;
    });
    assert.ok(!existsSync(volDir(uid, 'kubernetes.io~secret', 'pw')), 'nothing mounted for a missing secret');
    objects.putConfigMap('later', { k: 'v' });
    objects.secrets.set('shop/absent', { metadata: { name: 'absent' }, data: {} });
    const got = await vm.setup(p);
    assert.equal(readFileSync(join(got.get('cfg')!.hostPath, 'k'), 'utf8'), 'v');
    assert.deepEqual(readdirSync(got.get('maybe')!.hostPath).filter((n) => !n.startsWith('..')), []);
    await vm.teardown(uid);
  });

  it('checks hostPath types with the kubelet messages', async () => {
    const f = join(hostDir, 'file');
    writeFileSync(f, '');
    const sock = join(hostDir, 'sock');
    const server = createServer();
    sockets.push(server);
    await new Promise<void>((r) => server.listen(sock, r));
    const uid = `cairn-${RUN}-c`;
    // Each check is a new pod: a volume that was ready once keeps its last state on later failures.
    const check = async (path: string, type: NonNullable<Volume['hostPath']>['type']) => {
      try {
        return (await vm.setup(pod(uid, [{ name: 'h', hostPath: { path, type } }]))).get('h');
      } catch (e) {
        assert.ok(e instanceof VolumeSetupError);
        return e.message;
      } finally {
        await vm.teardown(uid);
      }
    };
    const failed = (what: string) => `MountVolume.SetUp failed for volume "h" : hostPath type check failed: ${what}`;
    assert.equal(await check(f, 'Directory'), failed(`${f} is not a directory`));
    assert.equal(await check(hostDir, 'File'), failed(`${hostDir} is not a file`));
    assert.equal(await check(join(hostDir, 'none'), 'Directory'), failed(`${join(hostDir, 'none')} is not a directory`));
    assert.equal(await check(f, 'Socket'), failed(`${f} is not a socket file`));
    assert.equal(await check(f, 'CharDevice'), failed(`${f} is not a character device`));
    assert.equal(await check('/dev/null', 'BlockDevice'), failed('/dev/null is not a block device'));
    assert.deepEqual(await check(sock, 'Socket'), { hostPath: sock, readOnly: false, kind: 'file' });
    assert.deepEqual(await check('/dev/null', 'CharDevice'), { hostPath: '/dev/null', readOnly: false, kind: 'file' });
    assert.deepEqual(await check(f, 'File'), { hostPath: f, readOnly: false, kind: 'file' });
    const created = join(hostDir, 'created.txt');
    assert.deepEqual(await check(created, 'FileOrCreate'), { hostPath: created, readOnly: false, kind: 'file' });
    assert.equal(statSync(created).mode & 0o777, 0o644);
    const orphan = join(hostDir, 'no-parent', 'x.txt');
    assert.equal(await check(orphan, 'FileOrCreate'), `MountVolume.SetUp failed for volume "h" : open ${orphan}: no such file or directory`);
  });

  it('reports an emptyDir over its sizeLimit with the eviction message', async () => {
    const scratch = volDir(UID, 'kubernetes.io~empty-dir', 'scratch');
    assert.deepEqual(await vm.overLimit(full), []);
    execFileSync('dd', ['if=/dev/urandom', `of=${join(scratch, 'big')}`, 'bs=1M', 'count=2', 'status=none']);
    const over = await vm.overLimit(full);
    assert.equal(over.length, 1);
    assert.equal(over[0].volume, 'scratch');
    assert.equal(over[0].limitBytes, 1024 * 1024);
    assert.ok(over[0].usageBytes >= 2 * 1024 * 1024);
    assert.equal(over[0].message, 'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". ');
  });

  it('tears a pod down from disk after a restart: no mount, no directory, host paths kept', async () => {
    const fresh = manager();
    assert.deepEqual(await fresh.podsOnDisk(), [UID]);
    const podDir = join(podsDir, UID);
    assert.ok((await mountsUnder(podDir)).length >= 4, 'tmpfs volumes are mounted before');
    await fresh.teardown(UID);
    assert.deepEqual(await mountsUnder(podDir), []);
    assert.ok(!existsSync(podDir), 'the pod dir is gone');
    assert.deepEqual(await fresh.podsOnDisk(), []);
    assert.ok(statSync(join(hostDir, 'made', 'here')).isDirectory(), 'hostPath contents are the host’s');
    await fresh.teardown(UID);
  });
});
