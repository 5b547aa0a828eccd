/**
 * The pure parts of the Ceph drivers: class parameters → volume refs, volume and snapshot ids
 * round-tripping (and refusing what is not theirs), the Ceph user of a CSI secret, the access
 * mode / volume mode rules, and the CSI secret references of a class and of a provisioned PV.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { cephUserOf, withKeyring } from '../../src/storage/ceph/ceph-exec.js';
import { cephVolumeName, formatSnapshotId, formatVolumeId, parseSnapshotId, parseVolumeId, volumeRefOf } from '../../src/storage/ceph/ceph-ids.js';
import { checkCephfsCapability } from '../../src/storage/ceph/cephfs-controller.js';
import { checkRbdCapability } from '../../src/storage/ceph/rbd-controller.js';
import { classSecretRef, deletionSecretRef, provisioningSecrets, pvSecretFields } from '../../src/storage/csi-secrets.js';
import { StorageError } from '../../src/storage/errors.js';

const params = { clusterID: 'eebffc78-e057-4242-9cd2-16e32405f844', monitors: '172.30.211.11:6789,172.30.211.12:6789', pool: 'cairn-rbd', fsName: 'cairnfs' };
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof StorageError, `a StorageError, not ${String(e)}`);
    return e.code;
  }
  assert.fail('did not throw');
};

describe('Ceph volume ids', () => {
  it('round-trip a volume and a snapshot', () => {
    const ref = volumeRefOf(params, 'pool', cephVolumeName('pvc-1234'));
    assert.deepEqual(ref, { clusterID: params.clusterID, monitors: params.monitors, container: 'cairn-rbd', name: 'csi-vol-pvc-1234' });
    const id = formatVolumeId(ref);
    assert.equal(id, `${params.clusterID}|${params.monitors}|cairn-rbd|csi-vol-pvc-1234`);
    assert.deepEqual(parseVolumeId(id), ref);
    const snap = formatSnapshotId({ ...ref, snapshot: 'csi-snap-snapcontent-9' });
    assert.deepEqual(parseSnapshotId(snap), { ...ref, snapshot: 'csi-snap-snapcontent-9' });
  });

  it('take the filesystem for CephFS', () => {
    assert.equal(volumeRefOf(params, 'fsName', 'csi-vol-x').container, 'cairnfs');
  });

  it('refuse ids that are not theirs as NotFound', () => {
    assert.equal(code(() => parseVolumeId('pvc-1234')), 'NotFound');
    assert.equal(code(() => parseVolumeId(`${params.clusterID}|m:1|pool|img@snap`)), 'NotFound');
    assert.equal(code(() => parseSnapshotId(`${params.clusterID}|m:1|pool|img`)), 'NotFound');
    assert.equal(code(() => parseVolumeId(`${params.clusterID}|m:1|po/ol|img`)), 'NotFound');
  });

  it('refuse a class without its cluster, monitors or pool, naming the parameter', () => {
    assert.throws(() => volumeRefOf({ ...params, monitors: '' }, 'pool', 'v'), /monitors "" is missing or invalid/);
    assert.throws(() => volumeRefOf({ monitors: params.monitors, pool: 'p' }, 'pool', 'v'), /clusterID "" is missing/);
    assert.throws(() => volumeRefOf({ clusterID: 'c', monitors: 'm:1' }, 'fsName', 'v'), /fsName "" is missing/);
  });
});

describe('Ceph credentials and capabilities', () => {
  it('take ceph-csi userID/userKey, else adminID/adminKey', () => {
    assert.deepEqual(cephUserOf({ userID: 'cairn', userKey: 'K1', adminID: 'admin', adminKey: 'K2' }, 'x'), { id: 'cairn', key: 'K1' });
    assert.deepEqual(cephUserOf({ adminID: 'admin', adminKey: 'K2' }, 'x'), { id: 'admin', key: 'K2' });
    assert.throws(() => cephUserOf({}, 'CreateVolume'), /CreateVolume: no Ceph credentials/);
    assert.throws(() => cephUserOf(undefined, 'NodeStageVolume'), /NodeStageVolume/);
  });

  it('write the key to a 0600 keyring in a 0700 directory that is gone after the call, also when it fails', async () => {
    let path = '';
    await withKeyring({ id: 'cairn', key: 'AQBkey==' }, async (keyring) => {
      path = keyring;
      assert.equal(await readFile(keyring, 'utf8'), '[client.cairn]\n\tkey = AQBkey==\n');
      assert.equal((await stat(keyring)).mode & 0o777, 0o600);
      assert.equal((await stat(dirname(keyring))).mode & 0o777, 0o700);
    });
    assert.ok(!existsSync(dirname(path)));
    await assert.rejects(withKeyring({ id: 'cairn', key: 'k' }, async (keyring) => {
      path = keyring;
      throw new Error('boom');
    }), /boom/);
    assert.ok(!existsSync(dirname(path)));
    await assert.rejects(withKeyring({ id: 'bad id', key: 'k' }, async () => undefined), /invalid Ceph user id/);
  });

  it('RBD refuses ReadWriteMany Filesystem volumes, allows them for Block', () => {
    assert.throws(() => checkRbdCapability({ mode: 'Filesystem', accessModes: ['ReadWriteMany'] }), /only supported on rbd `block` type volumes/);
    checkRbdCapability({ mode: 'Block', accessModes: ['ReadWriteMany'] });
    checkRbdCapability({ mode: 'Filesystem', accessModes: ['ReadWriteOnce', 'ReadOnlyMany'] });
  });

  it('CephFS refuses Block, naming the volumeMode', () => {
    assert.throws(() => checkCephfsCapability({ mode: 'Block', accessModes: ['ReadWriteMany'] }), /volumeMode Block is not supported by CephFS/);
    checkCephfsCapability({ mode: 'Filesystem', accessModes: ['ReadWriteMany'] });
  });
});

describe('CSI secret references', () => {
  const claim = { metadata: { name: 'data', namespace: 'team-a' } };
  it('come from the class parameters, with external-provisioner templates', () => {
    const p = {
      'csi.storage.k8s.io/provisioner-secret-name': 'ceph-${pvc.namespace}',
      'csi.storage.k8s.io/provisioner-secret-namespace': 'kube-system',
      'csi.storage.k8s.io/node-stage-secret-name': 'stage',
      'csi.storage.k8s.io/node-stage-secret-namespace': '${pvc.namespace}',
    };
    const s = provisioningSecrets(p, claim, 'pvc-1');
    assert.deepEqual(s, { provisioner: { name: 'ceph-team-a', namespace: 'kube-system' }, nodeStage: { name: 'stage', namespace: 'team-a' }, controllerExpand: undefined });
    const f = pvSecretFields(s);
    assert.deepEqual(f.csi, { nodeStageSecretRef: { name: 'stage', namespace: 'team-a' } });
    assert.deepEqual(deletionSecretRef({ metadata: { name: 'pvc-1', annotations: f.annotations } }), { name: 'ceph-team-a', namespace: 'kube-system' });
  });

  it('need both name and namespace; unknown templates are refused', () => {
    assert.equal(classSecretRef({}, 'provisioner'), undefined);
    assert.throws(() => classSecretRef({ 'csi.storage.k8s.io/provisioner-secret-name': 'x' }, 'provisioner'), /Both must be specified/);
    assert.throws(
      () => classSecretRef({ 'csi.storage.k8s.io/node-stage-secret-name': '${pvc.annotations}', 'csi.storage.k8s.io/node-stage-secret-namespace': 'ns' }, 'node-stage'),
      /template "\$\{pvc.annotations\}" is not supported/,
    );
  });
});
