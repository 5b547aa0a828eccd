/**
 * Preallocated `cairn.io/local` images on the real kernel (root; losetup, mkfs, fallocate, cp),
 * the store on an xfs of its own (a loop device, reflink on): a volume's space is taken from the
 * node's disk when it is made, so a pod can fill its volume even after the node's disk filled
 * up around it (a sparse image would fail those writes with I/O errors); ext4 is made with its
 * inode tables already zeroed (no ext4lazyinit writing through the loop device after mount);
 * expansion reserves the new part; a clone shares its source's blocks by reflink yet is wholly
 * reserved, and a snapshot takes next to no space. Everything is unmounted, detached and
 * removed even when an assertion fails.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mount, mountsUnder, unmount } from '../../src/agent/mount.js';
import type { StorageDriver, VolumeCapability } from '../../src/storage/driver.js';
import { localDriver } from '../../src/storage/local/local-driver.js';
import { LocalVolumeStore, MI } from '../../src/storage/local/volume-store.js';
import { attachLoopDevice, detachLoopDevice, detachLoopDevicesUnder } from '../../src/storage/losetup.js';

const TOOLS = ['losetup', 'fallocate', 'mkfs.ext4', 'mkfs.xfs', 'dumpe2fs', 'cp', 'dd'];
const ext4: VolumeCapability = { mode: 'Filesystem', fsType: 'ext4', accessModes: ['ReadWriteOnce'] };
const block: VolumeCapability = { mode: 'Block', accessModes: ['ReadWriteOnce'] };

const allocatedBytes = (file: string) => statSync(file).blocks * 512;

describe('cairn.io/local preallocated images (root, loop devices, xfs store)', () => {
  let root: string;
  let storeDir: string;
  let work: string;
  let storeDevice: string | undefined;
  let driver: StorageDriver;
  const freeBytes = () => {
    const s = statfsSync(storeDir);
    return s.bavail * s.bsize;
  };
  const stage = (id: string, dir: string) => driver.node.nodeStageVolume({ volumeId: id, stagingPath: join(work, dir), capability: ext4, volumeContext: {} });

  before(async () => {
    for (const t of TOOLS) execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }); // a missing tool fails here (util-linux, e2fsprogs, xfsprogs)
    root = realpathSync(mkdtempSync(join(tmpdir(), `cairn-local-prealloc-${process.pid}-`)));
    storeDir = join(root, 'store');
    work = join(root, 'work');
    mkdirSync(storeDir);
    mkdirSync(work);
    // The store's own small xfs (reflink is on by default in xfsprogs 6), so "disk full" is this test's alone.
    const disk = join(root, 'store.img');
    execFileSync('truncate', ['-s', '512M', disk]);
    execFileSync('mkfs.xfs', ['-q', '-m', 'reflink=1', disk]);
    storeDevice = await attachLoopDevice(disk);
    await mount({ type: 'xfs', source: storeDevice, target: storeDir });
    driver = localDriver(new LocalVolumeStore(storeDir, { reserveFraction: 0 }));
  });

  after(async () => {
    if (!root) return;
    for (const m of await mountsUnder(work)) await unmount(m.mountPoint).catch(() => unmount(m.mountPoint, { lazy: true }));
    await detachLoopDevicesUnder(storeDir);
    for (const m of await mountsUnder(root)) await unmount(m.mountPoint).catch(() => unmount(m.mountPoint, { lazy: true }));
    if (storeDevice) await detachLoopDevice(storeDevice);
    rmSync(root, { recursive: true, force: true });
  });

  it('takes a volume\'s whole size from the disk when it is made, with ext4 needing no lazy init', async () => {
    const free = freeBytes();
    await driver.controller.createVolume({ name: 'pvc-a', capacityBytes: 64 * MI, capability: ext4, parameters: {} });
    await driver.controller.createVolume({ name: 'pvc-b', capacityBytes: 8 * MI, capability: block, parameters: {} });
    assert.ok(allocatedBytes(join(storeDir, 'pvc-a.img')) >= 64 * MI, `pvc-a holds ${allocatedBytes(join(storeDir, 'pvc-a.img'))} bytes`);
    assert.ok(allocatedBytes(join(storeDir, 'pvc-b.img')) >= 8 * MI);
    assert.ok(free - freeBytes() >= 72 * MI, `the disk gave ${free - freeBytes()} bytes`);
    const groups = execFileSync('dumpe2fs', [join(storeDir, 'pvc-a.img')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter((l) => /^Group \d+:/.test(l));
    assert.ok(groups.length > 0 && groups.every((g) => g.includes('ITABLE_ZEROED')), groups.join('\n'));
    // Nothing more is promised: what is free is what new volumes can get.
    const cap = await driver.controller.getCapacity({});
    assert.equal(cap.availableBytes, Math.floor(freeBytes() / MI) * MI);
  });

  it('lets a pod fill its volume after the node\'s disk filled up around it', async () => {
    await stage('pvc-a', 'a');
    const hog = join(storeDir, 'hog');
    // dd stops at ENOSPC (exit 1): the store's disk is full.
    const dd = spawnSync('dd', ['if=/dev/zero', `of=${hog}`, 'bs=1M', 'status=none']);
    assert.match(dd.stderr.toString(), /No space left on device/);
    try {
      execFileSync('dd', ['if=/dev/urandom', `of=${join(work, 'a', 'data')}`, 'bs=1M', 'count=40', 'conv=fsync', 'status=none']);
      assert.equal(statSync(join(work, 'a', 'data')).size, 40 * MI);
    } finally {
      rmSync(hog, { force: true });
    }
  });

  it('reserves what an expansion adds', async () => {
    await driver.controller.controllerExpandVolume('pvc-b', 32 * MI, block);
    assert.ok(allocatedBytes(join(storeDir, 'pvc-b.img')) >= 32 * MI, `pvc-b holds ${allocatedBytes(join(storeDir, 'pvc-b.img'))} bytes`);
  });

  it('clones by reflink, wholly reserved, and snapshots in next to no space', async () => {
    writeFileSync(join(work, 'a', 'note'), 'cloned');
    const beforeSnapshot = freeBytes();
    await driver.controller.createSnapshot!({ name: 'snap-a', sourceVolumeId: 'pvc-a', parameters: {} });
    assert.ok(beforeSnapshot - freeBytes() < 8 * MI, `the snapshot took ${beforeSnapshot - freeBytes()} bytes`);
    const beforeClone = freeBytes();
    await driver.controller.createVolume({ name: 'pvc-c', capacityBytes: 64 * MI, capability: ext4, parameters: {}, contentSource: { volumeId: 'pvc-a' } });
    // The 40 MiB of data are shared with the source, the rest reserved for the clone.
    assert.ok(allocatedBytes(join(storeDir, 'pvc-c.img')) >= 64 * MI);
    assert.ok(beforeClone - freeBytes() < 40 * MI, `the clone took ${beforeClone - freeBytes()} bytes`);
    await stage('pvc-c', 'c');
    assert.equal(readFileSync(join(work, 'c', 'note'), 'utf8'), 'cloned');
    assert.equal(statSync(join(work, 'c', 'data')).size, 40 * MI);
  });
});
