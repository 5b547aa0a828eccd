/**
 * The `cairn.io/local` driver on the real kernel (root; losetup, mkfs.ext4, mkfs.xfs, resize2fs,
 * xfs_growfs), its store on a small tmpfs of its own: creation (idempotent, rounded, refused
 * with ResourceExhausted beyond the free space, nothing half-made left when the disk fills
 * during mkfs), capacity that counts what sparse images may still take, stage / publish of
 * Filesystem and Block volumes, a loop device left by an interrupted stage reused rather than
 * doubled and detached by unstage, online xfs growth, ext4 growth at the next stage, stats,
 * and delete refused while mounted. Everything is unmounted, detached and removed even when an
 * assertion fails.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mountAt, mountsUnder, unmount } from '../../src/agent/mount.js';
import type { StorageDriver, VolumeCapability } from '../../src/storage/driver.js';
import { StorageError } from '../../src/storage/errors.js';
import { localDriver } from '../../src/storage/local/local-driver.js';
import { LocalVolumeStore, MI } from '../../src/storage/local/volume-store.js';
import { attachLoopDevice, detachLoopDevicesUnder, loopDevicesOf } from '../../src/storage/losetup.js';

const TOOLS = ['losetup', 'mkfs.ext4', 'mkfs.xfs', 'resize2fs', 'e2fsck', 'dumpe2fs', 'xfs_growfs'];
const ext4: VolumeCapability = { mode: 'Filesystem', fsType: 'ext4', accessModes: ['ReadWriteOnce'] };
const xfs: VolumeCapability = { mode: 'Filesystem', fsType: 'xfs', accessModes: ['ReadWriteOnce'] };
const block: VolumeCapability = { mode: 'Block', accessModes: ['ReadWriteOnce'] };

describe('cairn.io/local driver (root, loop devices)', () => {
  let root: string;
  let storeDir: string;
  let work: string;
  let store: LocalVolumeStore;
  let driver: StorageDriver;
  const code = (c: string) => (e: unknown) => e instanceof StorageError && e.code === c;

  before(() => {
    for (const t of TOOLS) execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }); // a missing tool fails here (scripts/setup.sh installs them)
    root = realpathSync(mkdtempSync(join(tmpdir(), `cairn-local-driver-${process.pid}-`)));
    storeDir = join(root, 'store');
    work = join(root, 'work');
    mkdirSync(storeDir);
    mkdirSync(work);
    // The store's own small disk, so capacity and "disk full" are this test's alone.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1200m', 'tmpfs', storeDir]);
    store = new LocalVolumeStore(storeDir, { reserveFraction: 0 });
    driver = localDriver(store);
  });

  after(async () => {
    if (!root) return;
    const unmountAll = async (dir: string) => {
      for (const m of await mountsUnder(dir)) await unmount(m.mountPoint).catch(() => unmount(m.mountPoint, { lazy: true }));
    };
    // Volumes first, then their loop devices (while the store still shows their files), then the store.
    await unmountAll(work);
    await detachLoopDevicesUnder(storeDir);
    await unmountAll(root);
    rmSync(root, { recursive: true, force: true });
  });

  it('creates volumes idempotently, rounded to what the filesystem needs', async () => {
    const v = await driver.controller.createVolume({ name: 'pvc-a', capacityBytes: 50 * 1000 * 1000, capability: ext4, parameters: {} });
    assert.equal(v.volumeId, 'pvc-a');
    assert.equal(v.capacityBytes, 48 * MI);
    const again = await driver.controller.createVolume({ name: 'pvc-a', capacityBytes: 50 * 1000 * 1000, capability: ext4, parameters: {} });
    assert.deepEqual(again, v);
    await assert.rejects(driver.controller.createVolume({ name: 'pvc-a', capacityBytes: MI, capability: xfs, parameters: {} }), code('AlreadyExists'));
    const x = await driver.controller.createVolume({ name: 'pvc-x', capacityBytes: MI, capability: xfs, parameters: {} });
    assert.equal(x.capacityBytes, 300 * MI);
    const b = await driver.controller.createVolume({ name: 'pvc-b', capacityBytes: 8 * MI, capability: block, parameters: {}, topology: { 'kubernetes.io/hostname': 'n1' } });
    assert.deepEqual(b.accessibleTopology, [{ 'kubernetes.io/hostname': 'n1' }]);
    await assert.rejects(driver.controller.createVolume({ name: '../etc', capacityBytes: MI, capability: block, parameters: {} }), code('InvalidArgument'));
    assert.deepEqual(readdirSync(storeDir).sort(), ['pvc-a.img', 'pvc-a.json', 'pvc-b.img', 'pvc-b.json', 'pvc-x.img', 'pvc-x.json']);
  });

  it('counts what sparse images may still take, and refuses what does not fit', async () => {
    const cap = await driver.controller.getCapacity({});
    // 1200 MiB of tmpfs, less 48 + 300 + 8 MiB promised to the volumes (whatever they already use is used).
    assert.ok(cap.availableBytes <= (1200 - 48 - 300 - 8) * MI && cap.availableBytes > (1200 - 48 - 300 - 8 - 40) * MI, `capacity ${cap.availableBytes}`);
    await assert.rejects(
      driver.controller.createVolume({ name: 'pvc-big', capacityBytes: cap.availableBytes + MI, capability: ext4, parameters: {} }),
      (e: StorageError) => e.code === 'ResourceExhausted' && /not enough free space on the node's disk/.test(e.desc),
    );
    assert.ok(!readdirSync(storeDir).some((f) => f.startsWith('pvc-big')));
  });

  it('leaves nothing half-made when the disk fills during mkfs', async () => {
    const full = join(root, 'full');
    mkdirSync(full);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full]);
    try {
      // The capacity check believes in room the disk does not have: mkfs runs out of space.
      const liar = new LocalVolumeStore(full, { space: async () => ({ totalBytes: 10_000 * MI, availableBytes: 10_000 * MI }) });
      await assert.rejects(liar.create('pvc-full', 512 * MI, 'Filesystem', 'ext4'), (e: StorageError) => e.code === 'ResourceExhausted' && /no space left/.test(e.desc));
      assert.deepEqual(readdirSync(full), []);
    } finally {
      await unmount(full);
    }
  });

  it('removes what an interrupted creation left, at start', async () => {
    const dir = join(root, 'leftovers');
    mkdirSync(dir);
    writeFileSync(join(dir, 'pvc-z.img.partial'), 'x');
    writeFileSync(join(dir, 'pvc-y.json'), '{"mode":"Block"}');
    const s = new LocalVolumeStore(dir);
    assert.deepEqual(await s.list(), []);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('stages and publishes a filesystem volume, twice over without doubling anything', async () => {
    const staging = join(work, 'a-staging');
    const target = join(work, 'a-pod');
    const req = { volumeId: 'pvc-a', stagingPath: staging, capability: ext4, volumeContext: {} };
    await driver.node.nodeStageVolume(req);
    await driver.node.nodeStageVolume(req);
    await driver.node.nodePublishVolume({ ...req, targetPath: target, readOnly: false });
    await driver.node.nodePublishVolume({ ...req, targetPath: target, readOnly: false });
    const image = join(storeDir, 'pvc-a.img');
    const devices = await loopDevicesOf(image);
    assert.equal(devices.length, 1);
    assert.ok(devices[0].directIO);
    assert.equal((await mountAt(staging))?.source, devices[0].name);
    assert.equal((await mountAt(target))?.fsType, 'ext4');
    writeFileSync(join(target, 'hello'), 'data');
    assert.ok(await driver.node.isStaged('pvc-a', staging));
    const stats = await driver.node.nodeGetVolumeStats('pvc-a', staging, 'Filesystem');
    assert.ok(stats.capacityBytes > 38 * MI && stats.capacityBytes <= 48 * MI, `capacity ${stats.capacityBytes}`);
    assert.ok(stats.usedBytes! > 0 && stats.inodes! > stats.inodesFree! && stats.availableBytes! < stats.capacityBytes);
    // A read-only publish of the same staged volume.
    const ro = join(work, 'a-ro');
    await driver.node.nodePublishVolume({ ...req, targetPath: ro, readOnly: true });
    assert.throws(() => writeFileSync(join(ro, 'no'), 'x'), /EROFS|read-only/);
    assert.equal(readFileSync(join(ro, 'hello'), 'utf8'), 'data');
    await driver.node.nodeUnpublishVolume('pvc-a', ro);
    await assert.rejects(driver.controller.deleteVolume('pvc-a'), code('FailedPrecondition'));
  });

  it('grows ext4 offline at the next stage when it could not grow online', async () => {
    const staging = join(work, 'a-staging');
    const target = join(work, 'a-pod');
    const r = await driver.controller.controllerExpandVolume('pvc-a', 96 * MI, ext4);
    assert.deepEqual(r, { capacityBytes: 96 * MI, nodeExpansionRequired: true });
    let grown = false;
    try {
      await driver.node.nodeExpandVolume('pvc-a', staging, ext4);
      grown = true;
    } catch (e) {
      // Without CAP_SYS_RESOURCE the kernel refuses online ext4 growth.
      assert.ok(e instanceof StorageError && e.code === 'FailedPrecondition', String(e));
    }
    await driver.node.nodeUnpublishVolume('pvc-a', target);
    await driver.node.nodeUnstageVolume('pvc-a', staging);
    assert.deepEqual(await loopDevicesOf(join(storeDir, 'pvc-a.img')), []);
    await driver.node.nodeStageVolume({ volumeId: 'pvc-a', stagingPath: staging, capability: ext4, volumeContext: {} });
    const stats = await driver.node.nodeGetVolumeStats('pvc-a', staging, 'Filesystem');
    assert.ok(stats.capacityBytes > 80 * MI, `ext4 is ${stats.capacityBytes} bytes after ${grown ? 'online' : 'offline'} growth`);
    assert.equal(readFileSync(join(staging, 'hello'), 'utf8'), 'data');
    await driver.node.nodeUnstageVolume('pvc-a', staging);
  });

  it('grows a mounted xfs online', async () => {
    const staging = join(work, 'x-staging');
    const req = { volumeId: 'pvc-x', stagingPath: staging, capability: xfs, volumeContext: {} };
    await driver.node.nodeStageVolume(req);
    const before = (await driver.node.nodeGetVolumeStats('pvc-x', staging, 'Filesystem')).capacityBytes;
    await driver.controller.controllerExpandVolume('pvc-x', 400 * MI, xfs);
    await driver.node.nodeExpandVolume('pvc-x', staging, xfs);
    const afterBytes = (await driver.node.nodeGetVolumeStats('pvc-x', staging, 'Filesystem')).capacityBytes;
    assert.ok(afterBytes - before >= 99 * MI, `xfs grew from ${before} to ${afterBytes}`);
    await driver.node.nodeUnstageVolume('pvc-x', staging);
  });

  it('reuses the loop device of an interrupted stage, and unstage detaches every one', async () => {
    const image = join(storeDir, 'pvc-b.img');
    // An agent killed between losetup and the link: the device is there, the staging path is not.
    const leftover = await attachLoopDevice(image);
    const staging = join(work, 'b-device');
    const target = join(work, 'b-pod-device');
    const req = { volumeId: 'pvc-b', stagingPath: staging, capability: block, volumeContext: {} };
    await driver.node.nodeStageVolume(req);
    assert.deepEqual((await loopDevicesOf(image)).map((d) => d.name), [leftover]);
    await driver.node.nodePublishVolume({ ...req, targetPath: target, readOnly: false });
    execFileSync('dd', ['if=/dev/zero', `of=${target}`, 'bs=4096', 'count=1', 'conv=notrunc', 'status=none']);
    assert.equal((await driver.node.nodeGetVolumeStats('pvc-b', staging, 'Block')).capacityBytes, 8 * MI);
    // A second device on the same image (another interrupted stage): unstage takes both.
    await attachLoopDevice(image);
    await driver.node.nodeUnpublishVolume('pvc-b', target);
    await driver.node.nodeUnstageVolume('pvc-b', staging);
    assert.deepEqual(await loopDevicesOf(image), []);
    assert.ok(!existsSync(staging) && !existsSync(target));
  });

  it('deletes unused volumes, detaching a loop device nothing mounts', async () => {
    await attachLoopDevice(join(storeDir, 'pvc-x.img'));
    for (const id of ['pvc-a', 'pvc-b', 'pvc-x']) await driver.controller.deleteVolume(id);
    await driver.controller.deleteVolume('pvc-a');
    assert.deepEqual(readdirSync(storeDir), []);
    assert.deepEqual(await loopDevicesOf(join(storeDir, 'pvc-x.img')), []);
  });
});
