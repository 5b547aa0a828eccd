/**
 * Snapshots, restores and clones of the `cairn.io/local` driver on the real kernel (root; loop
 * devices, mkfs, fsfreeze, cp), its store on a small tmpfs of its own: a snapshot of a mounted
 * volume taken while it is in use (frozen for the copy, writable again after), idempotent by name
 * and refused for a name taken by another volume's snapshot; a restore into a larger volume with
 * the data of snapshot time and its filesystem grown at stage; a clone of the mounted volume with
 * its current data; restores refused when too small, of another mode or of a missing source;
 * leftovers of an interrupted snapshot removed at start; deletion idempotent. Everything is
 * unmounted, detached and removed even when an assertion fails.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mountsUnder, unmount } from '../../src/agent/mount.js';
import type { StorageDriver, VolumeCapability } from '../../src/storage/driver.js';
import { StorageError } from '../../src/storage/errors.js';
import { localDriver } from '../../src/storage/local/local-driver.js';
import { LocalVolumeStore, MI } from '../../src/storage/local/volume-store.js';
import { detachLoopDevicesUnder } from '../../src/storage/losetup.js';

const TOOLS = ['losetup', 'mkfs.ext4', 'resize2fs', 'e2fsck', 'fsfreeze', 'cp'];
const ext4: VolumeCapability = { mode: 'Filesystem', fsType: 'ext4', accessModes: ['ReadWriteOnce'] };
const block: VolumeCapability = { mode: 'Block', accessModes: ['ReadWriteOnce'] };

describe('cairn.io/local snapshots (root, loop devices, fsfreeze)', () => {
  let root: string;
  let storeDir: string;
  let work: string;
  let driver: StorageDriver;
  const code = (c: string) => (e: unknown) => e instanceof StorageError && e.code === c;
  const stage = (id: string, dir: string) => driver.node.nodeStageVolume({ volumeId: id, stagingPath: join(work, dir), capability: ext4, volumeContext: {} });

  before(() => {
    for (const t of TOOLS) execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }); // a missing tool fails here (util-linux, coreutils, e2fsprogs)
    root = realpathSync(mkdtempSync(join(tmpdir(), `cairn-local-snap-${process.pid}-`)));
    storeDir = join(root, 'store');
    work = join(root, 'work');
    mkdirSync(storeDir);
    mkdirSync(work);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=400m', 'tmpfs', storeDir]);
    driver = localDriver(new LocalVolumeStore(storeDir, { reserveFraction: 0 }));
  });

  after(async () => {
    if (!root) return;
    for (const m of await mountsUnder(work)) await unmount(m.mountPoint).catch(() => unmount(m.mountPoint, { lazy: true }));
    await detachLoopDevicesUnder(storeDir);
    for (const m of await mountsUnder(root)) await unmount(m.mountPoint).catch(() => unmount(m.mountPoint, { lazy: true }));
    rmSync(root, { recursive: true, force: true });
  });

  it('snapshots a mounted volume in use, idempotently by name, and thaws it after', async () => {
    await driver.controller.createVolume({ name: 'pvc-src', capacityBytes: 32 * MI, capability: ext4, parameters: {} });
    await stage('pvc-src', 'src');
    writeFileSync(join(work, 'src', 'note'), 'before');
    const snap = await driver.controller.createSnapshot!({ name: 'snapcontent-1', sourceVolumeId: 'pvc-src', parameters: {} });
    assert.deepEqual([snap.snapshotId, snap.sourceVolumeId, snap.sizeBytes, snap.readyToUse], ['snapcontent-1', 'pvc-src', 32 * MI, true]);
    // Thawed: writing goes on (a frozen filesystem would block this write).
    writeFileSync(join(work, 'src', 'note'), 'after');
    execFileSync('sync', ['-f', join(work, 'src', 'note')], { timeout: 10_000 });
    const again = await driver.controller.createSnapshot!({ name: 'snapcontent-1', sourceVolumeId: 'pvc-src', parameters: {} });
    assert.deepEqual(again, snap, 'asking again returns the same snapshot');
    await driver.controller.createVolume({ name: 'pvc-other', capacityBytes: 16 * MI, capability: ext4, parameters: {} });
    await assert.rejects(driver.controller.createSnapshot!({ name: 'snapcontent-1', sourceVolumeId: 'pvc-other', parameters: {} }), code('AlreadyExists'));
    assert.deepEqual(readdirSync(join(storeDir, 'snapshots')).sort(), ['snapcontent-1.img', 'snapcontent-1.json']);
  });

  it('restores the data of snapshot time into a larger volume whose filesystem grows', async () => {
    const v = await driver.controller.createVolume({ name: 'pvc-restored', capacityBytes: 64 * MI, capability: ext4, parameters: {}, contentSource: { snapshotId: 'snapcontent-1' } });
    assert.equal(v.capacityBytes, 64 * MI);
    await stage('pvc-restored', 'restored');
    assert.equal(readFileSync(join(work, 'restored', 'note'), 'utf8'), 'before');
    const fs = statfsSync(join(work, 'restored'));
    assert.ok(fs.blocks * fs.bsize > 48 * MI, `grown filesystem: ${fs.blocks * fs.bsize} bytes`);
  });

  it('clones a mounted volume with its current data', async () => {
    await driver.controller.createVolume({ name: 'pvc-clone', capacityBytes: 32 * MI, capability: ext4, parameters: {}, contentSource: { volumeId: 'pvc-src' } });
    await stage('pvc-clone', 'clone');
    assert.equal(readFileSync(join(work, 'clone', 'note'), 'utf8'), 'after');
  });

  it('refuses restores that are too small, of another mode or of a missing source', async () => {
    await assert.rejects(
      driver.controller.createVolume({ name: 'pvc-small', capacityBytes: 16 * MI, capability: ext4, parameters: {}, contentSource: { snapshotId: 'snapcontent-1' } }),
      (e: StorageError) => e.code === 'OutOfRange' && /smaller than the 33554432 bytes of source snapshot snapcontent-1/.test(e.desc),
    );
    await assert.rejects(driver.controller.createVolume({ name: 'pvc-blk', capacityBytes: 32 * MI, capability: block, parameters: {}, contentSource: { snapshotId: 'snapcontent-1' } }), code('InvalidArgument'));
    await assert.rejects(driver.controller.createVolume({ name: 'pvc-none', capacityBytes: 32 * MI, capability: ext4, parameters: {}, contentSource: { snapshotId: 'snapcontent-none' } }), code('NotFound'));
    await assert.rejects(driver.controller.createSnapshot!({ name: 'snapcontent-2', sourceVolumeId: 'pvc-none', parameters: {} }), code('NotFound'));
    assert.ok(!readdirSync(storeDir).some((f) => /pvc-(small|blk|none)/.test(f)), 'nothing half-made');
  });

  it('removes leftovers of an interrupted snapshot at start, and deletes snapshots idempotently', async () => {
    writeFileSync(join(storeDir, 'snapshots', 'snapcontent-9.img.partial'), 'x');
    writeFileSync(join(storeDir, 'snapshots', 'snapcontent-8.json'), '{}');
    const fresh = localDriver(new LocalVolumeStore(storeDir, { reserveFraction: 0 }));
    await fresh.controller.deleteSnapshot!('snapcontent-1');
    await fresh.controller.deleteSnapshot!('snapcontent-1');
    assert.deepEqual(readdirSync(join(storeDir, 'snapshots')), []);
    assert.ok(!existsSync(join(storeDir, 'snapshots', 'snapcontent-1.img')));
  });
});
