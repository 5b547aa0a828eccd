/**
 * The rules the provisioner applies before a driver is asked for a volume: the CSI capability
 * of a claim under its class (fsType from `fsType` or `csi.storage.k8s.io/fstype`, ext4 by
 * default, mount options), the class parameters a driver gets (the sidecars' own ones dropped,
 * an unknown one refused by name), and the allocation sizes of local volumes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StorageClass } from '../../src/storage/api.js';
import { StorageError } from '../../src/storage/errors.js';
import { localDriver } from '../../src/storage/local/local-driver.js';
import { LocalVolumeStore, MI } from '../../src/storage/local/volume-store.js';
import { csiDriverOfProvisioner } from '../../src/storage/names.js';
import { claimCapability, driverParameters } from '../../src/storage/provisioner.js';
import type { KubeObject } from '../../src/util/object.js';

const claim = (spec: Record<string, unknown>): KubeObject => ({ metadata: { name: 'c', namespace: 'ns' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...spec } });
const sc = (parameters?: Record<string, string>, mountOptions?: string[]): StorageClass => ({ metadata: { name: 'local' }, provisioner: 'cairn.io/local', parameters, mountOptions });
const driver = localDriver(new LocalVolumeStore('/nonexistent'));

describe('claim capability', () => {
  it('is ext4 by default, xfs by parameter, with the class mount options', () => {
    assert.deepEqual(claimCapability(claim({}), sc()), { mode: 'Filesystem', fsType: 'ext4', accessModes: ['ReadWriteOnce'] });
    assert.deepEqual(claimCapability(claim({}), sc({ fsType: 'xfs' }, ['noatime'])), { mode: 'Filesystem', fsType: 'xfs', accessModes: ['ReadWriteOnce'], mountFlags: ['noatime'] });
    assert.equal(claimCapability(claim({}), sc({ 'csi.storage.k8s.io/fstype': 'xfs' })).fsType, 'xfs');
  });

  it('has no filesystem for Block claims', () => {
    assert.deepEqual(claimCapability(claim({ volumeMode: 'Block', accessModes: ['ReadWriteOncePod'] }), sc({ fsType: 'xfs' })), { mode: 'Block', accessModes: ['ReadWriteOncePod'] });
  });

  it('refuses a filesystem it cannot make', () => {
    assert.throws(() => claimCapability(claim({}), sc({ fsType: 'btrfs' })), (e: StorageError) => e.code === 'InvalidArgument' && e.message === 'rpc error: code = InvalidArgument desc = fsType "btrfs" is not supported (supported: ext4, xfs)');
  });
});

describe('driver parameters', () => {
  it("drops the sidecars' csi.storage.k8s.io/ parameters and keeps the driver's", () => {
    assert.deepEqual(driverParameters(driver, sc({ fsType: 'xfs', 'csi.storage.k8s.io/fstype': 'xfs' })), { fsType: 'xfs' });
  });

  it('refuses an unknown parameter, naming it', () => {
    assert.throws(
      () => driverParameters(driver, sc({ fsType: 'ext4', color: 'blue' })),
      (e: StorageError) => e.code === 'InvalidArgument' && /unknown StorageClass parameter "color" \(local\.cairn\.io understands: fsType\)/.test(e.message),
    );
  });
});

describe('local volume sizes', () => {
  it('are whole MiB, at least what the filesystem needs', () => {
    assert.equal(LocalVolumeStore.allocationBytes(1, 'Block'), MI);
    assert.equal(LocalVolumeStore.allocationBytes(100 * 1000 * 1000, 'Filesystem', 'ext4'), 96 * MI);
    assert.equal(LocalVolumeStore.allocationBytes(MI, 'Filesystem', 'ext4'), 16 * MI);
    assert.equal(LocalVolumeStore.allocationBytes(MI, 'Filesystem', 'xfs'), 300 * MI);
    assert.equal(LocalVolumeStore.allocationBytes(1024 * MI, 'Filesystem', 'xfs'), 1024 * MI);
  });

  it('map the provisioner name to the CSI driver name', () => {
    assert.equal(csiDriverOfProvisioner('cairn.io/local'), 'local.cairn.io');
    assert.equal(csiDriverOfProvisioner('ebs.csi.aws.com'), 'ebs.csi.aws.com');
  });
});
