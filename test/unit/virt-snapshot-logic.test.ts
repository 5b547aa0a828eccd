/**
 * The pure parts of snapshots, restores and clones: Go durations as the API carries them, the
 * VolumeSnapshotClass a claim's StorageClass gets, snapshotVolumes, the restored claim and VM,
 * a clone's patches with KubeVirt's filters; and the guest freeze against a fake guest agent
 * (idempotent both ways, the safety thaw after the unfreeze timeout, the agent's refusal as 400).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { KubeObject } from '../../src/util/object.js';
import { applyJsonPatch } from '../../src/registry/patch/json-patch.js';
import { clonePatches, keptKeys } from '../../src/virt/clone/clone-patches.js';
import type { VirtualMachine } from '../../src/virt/controllers/vm-api.js';
import { GuestFreezer, guestFreezeStatus } from '../../src/virt/handler/guest-freeze.js';
import { VirtNodeError } from '../../src/virt/handler/virt-node-control.js';
import { formatGoDuration, GoDurationError, parseGoDuration } from '../../src/virt/snapshot/go-duration.js';
import { obsoleteDataVolumes, patchVm, RestorePatchError, restoredClaim, restoredVm } from '../../src/virt/snapshot/restore-spec.js';
import type { VirtualMachineRestore } from '../../src/virt/snapshot/snapshot-types.js';
import { AmbiguousSnapshotClassError, snapshotClassFor, snapshotVolumeLists } from '../../src/virt/snapshot/snapshot-volumes.js';

const vm = (volumes: object[], extra: Partial<VirtualMachine['spec']> = {}): VirtualMachine => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachine',
  metadata: { name: 'src', namespace: 'ns', labels: { app: 'db', 'tier.example.com/x': '1', skip: 'y' }, annotations: { note: 'n', 'restore.kubevirt.io/lastRestoreUID': 'old' } },
  spec: {
    runStrategy: 'Always',
    ...extra,
    template: {
      metadata: { labels: { 'kubevirt.io/vm': 'src', drop: 'me' } },
      spec: { domain: { devices: { interfaces: [{ name: 'default', macAddress: '02:00:00:00:00:01' }, { name: 'sec' }] }, firmware: { uuid: 'u', serial: 's' } }, volumes },
    },
  },
});
const restore: VirtualMachineRestore = { metadata: { name: 'r1', namespace: 'ns', uid: 'uid-1' }, spec: { target: { kind: 'VirtualMachine', name: 'new-vm' }, virtualMachineSnapshotName: 'snap' } };

describe('Go durations', () => {
  it('parses what time.ParseDuration takes and prints Duration.String()', () => {
    assert.equal(parseGoDuration('5m0s'), 300_000);
    assert.equal(parseGoDuration('1h30m'), 5_400_000);
    assert.equal(parseGoDuration('1.5s'), 1500);
    assert.equal(parseGoDuration('0'), 0);
    assert.throws(() => parseGoDuration('5 minutes'), GoDurationError);
    assert.throws(() => parseGoDuration('10'), GoDurationError);
    assert.equal(formatGoDuration(300_000), '5m0s');
    assert.equal(formatGoDuration(3_600_000), '1h0m0s');
    assert.equal(formatGoDuration(1500), '1.5s');
    assert.equal(formatGoDuration(0), '0s');
  });
});

describe('snapshot volumes', () => {
  const sc = { metadata: { name: 'fast' }, provisioner: 'd.example.com' } as KubeObject & { provisioner: string };
  const cls = (name: string, driver: string, def = false) => ({ metadata: { name, ...(def ? { annotations: { 'snapshot.storage.kubernetes.io/is-default-class': 'false' } } : {}) }, driver });
  it('picks the one class of the driver, the annotated one among several, none without', () => {
    assert.equal(snapshotClassFor(sc, [cls('a', 'd.example.com'), cls('b', 'other')]), 'a');
    assert.equal(snapshotClassFor(sc, [cls('a', 'd.example.com'), cls('b', 'd.example.com', true)]), 'b');
    assert.equal(snapshotClassFor(sc, [cls('b', 'other')]), undefined);
    assert.throws(() => snapshotClassFor(sc, [cls('a', 'd.example.com'), cls('b', 'd.example.com')]), (e: Error) => e instanceof AmbiguousSnapshotClassError && e.message === '2 matching VolumeSnapshotClasses for fast');
  });
  it('lists included and excluded volumes; a left-out claim makes the snapshot partial', () => {
    const spec = vm([{ name: 'root', dataVolume: { name: 'dv' } }, { name: 'data', persistentVolumeClaim: { claimName: 'c' } }, { name: 'ci', cloudInitNoCloud: {} }]).spec;
    assert.deepEqual(snapshotVolumeLists(spec, ['root', 'data']), { includedVolumes: ['root', 'data'], excludedVolumes: ['ci'], partial: false });
    assert.deepEqual(snapshotVolumeLists(spec, ['root']), { includedVolumes: ['root'], excludedVolumes: ['data', 'ci'], partial: true });
  });
});

describe('restore', () => {
  const backup = {
    volumeName: 'data',
    volumeSnapshotName: 'vmsnapshot-x-volume-data',
    persistentVolumeClaim: {
      metadata: { name: 'c', labels: { l: '1' }, annotations: { 'pv.kubernetes.io/bind-completed': 'yes', 'cdi.kubevirt.io/storage.contentType': 'kubevirt', 'cdi.kubevirt.io/storage.import.endpoint': 'x', keep: 'k' } },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'fast', volumeName: 'pv-1' },
    },
  };
  it('a restored claim: from the VolumeSnapshot, at least its restore size, binding and import annotations dropped', () => {
    const pvc = restoredClaim(restore, backup, '2Gi', { name: 'src', namespace: 'ns' });
    assert.equal(pvc.metadata.name, 'restore-uid-1-data');
    assert.deepEqual(pvc.metadata.annotations, { 'cdi.kubevirt.io/storage.contentType': 'kubevirt', keep: 'k', 'restore.kubevirt.io/name': 'r1', 'restore.kubevirt.io/lastRestoreUID': 'r1-uid-1' });
    assert.deepEqual(pvc.metadata.labels, { l: '1', 'restore.kubevirt.io/source-vm-name': 'src', 'restore.kubevirt.io/source-vm-namespace': 'ns' });
    const spec = pvc.spec as Record<string, unknown>;
    assert.deepEqual(spec.resources, { requests: { storage: '2Gi' } });
    assert.equal(spec.volumeName, undefined);
    assert.deepEqual(spec.dataSourceRef, { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'vmsnapshot-x-volume-data' });
    assert.deepEqual((restoredClaim(restore, backup, '512Mi', { name: 'src', namespace: 'ns' }).spec as { resources: unknown }).resources, { requests: { storage: '1Gi' } });
  });
  it('the restored VM: claims swapped, DataVolume volumes become claims and lose their templates; a new VM is Halted', () => {
    const source = vm([{ name: 'root', dataVolume: { name: 'src-root' } }, { name: 'data', persistentVolumeClaim: { claimName: 'c' } }], { dataVolumeTemplates: [{ metadata: { name: 'src-root' }, spec: {} }] });
    const restores = [
      { volumeName: 'root', persistentVolumeClaim: 'restore-uid-1-root', volumeSnapshotName: 'a' },
      { volumeName: 'data', persistentVolumeClaim: 'restore-uid-1-data', volumeSnapshotName: 'b' },
    ];
    const made = restoredVm({ metadata: source.metadata as { name: string }, spec: source.spec }, restore, restores, undefined);
    assert.equal(made.metadata.name, 'new-vm');
    assert.equal(made.spec.runStrategy, 'Halted');
    assert.equal(made.spec.dataVolumeTemplates, undefined);
    assert.deepEqual(made.spec.template?.spec?.volumes, [
      { name: 'root', persistentVolumeClaim: { claimName: 'restore-uid-1-root' } },
      { name: 'data', persistentVolumeClaim: { claimName: 'restore-uid-1-data' } },
    ]);
    // Onto the VM itself: its run strategy kept, its template DataVolume no longer used.
    const existing = { ...source, spec: { ...source.spec, runStrategy: 'Manual' } };
    const onto = restoredVm({ metadata: source.metadata as { name: string }, spec: source.spec }, restore, restores, existing);
    assert.equal(onto.spec.runStrategy, 'Manual');
    assert.equal(onto.metadata.annotations?.['restore.kubevirt.io/lastRestoreUID'], 'r1-uid-1');
    assert.deepEqual(obsoleteDataVolumes(existing, onto), ['src-root']);
  });
  it('patches apply to a new VM; a bad one is a RestorePatchError', () => {
    const v = vm([]);
    assert.equal(patchVm(v, ['{"op":"replace","path":"/metadata/labels/app","value":"web"}']).metadata.labels?.app, 'web');
    assert.throws(() => patchVm(v, ['{not json']), RestorePatchError);
  });
});

describe('clone patches', () => {
  it('filters: regular expressions, * keeps all, ! drops what matches', () => {
    assert.deepEqual([...keptKeys(['app', 'tier.example.com/x', 'skip'], ['*', '!skip'])], ['app', 'tier.example.com/x']);
    assert.deepEqual([...keptKeys(['app', 'tier.example.com/x', 'skip'], ['tier.*'])], ['tier.example.com/x']);
  });
  it('new MACs (given or emptied), firmware serial and UUID emptied, metadata filtered, then the clone\'s patches', () => {
    const source = vm([]);
    const patches = clonePatches(source, { source: { kind: 'VirtualMachine', name: 'src' }, newMacAddresses: { sec: '02:aa:bb:cc:dd:ee' }, labelFilters: ['*', '!skip'], template: { labelFilters: ['kubevirt.io/.*'] }, patches: ['{"op":"add","path":"/metadata/labels/cloned","value":"true"}'] });
    const out = applyJsonPatch(source, patches.map((p) => JSON.parse(p) as unknown));
    const domain = (out.spec.template?.spec as { domain: { devices: { interfaces: { macAddress?: string }[] }; firmware: { uuid: string; serial: string } } }).domain;
    assert.deepEqual(domain.devices.interfaces.map((i) => i.macAddress), ['', '02:aa:bb:cc:dd:ee']);
    assert.deepEqual(domain.firmware, { uuid: '', serial: '' });
    assert.deepEqual(out.metadata.labels, { app: 'db', 'tier.example.com/x': '1', cloned: 'true' });
    assert.deepEqual(out.spec.template?.metadata?.labels, { 'kubevirt.io/vm': 'src' });
    // No annotation filters: every annotation stays.
    assert.deepEqual(out.metadata.annotations, source.metadata.annotations);
  });
});

describe('guest freeze', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-freeze-'));
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  /** A guest agent whose filesystems freeze and thaw; `refuse` makes the freeze fail as qemu-ga does. */
  async function fakeGuest(name: string, refuse = false): Promise<{ path: string; calls: string[]; state: () => string }> {
    const path = join(dir, `${name}.sock`);
    const calls: string[] = [];
    let state = 'thawed';
    const server = createServer((sock) => {
      let buf = '';
      sock.on('error', () => undefined);
      sock.on('data', (d) => {
        buf += d.toString();
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const cmd = JSON.parse(buf.slice(0, i)) as { execute: string; arguments?: { id?: number } };
          buf = buf.slice(i + 1);
          if (cmd.execute === 'guest-sync-delimited') sock.write(Buffer.from(`\xff{"return": ${cmd.arguments?.id}}\n`, 'latin1'));
          else {
            calls.push(cmd.execute);
            if (cmd.execute === 'guest-fsfreeze-status') sock.write(`{"return": "${state}"}\n`);
            else if (cmd.execute === 'guest-fsfreeze-freeze' && refuse) sock.write('{"error": {"class": "GenericError", "desc": "fsfreeze is limited"}}\n');
            else if (cmd.execute === 'guest-fsfreeze-freeze') sock.write(`{"return": ${(state = 'frozen') && 1}}\n`);
            else if (cmd.execute === 'guest-fsfreeze-thaw') sock.write(`{"return": ${(state = 'thawed') && 1}}\n`);
          }
        }
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(path, r));
    return { path, calls, state: () => state };
  }

  it('freezes and thaws once each way, whatever the repeats', async () => {
    const g = await fakeGuest('twice');
    const f = new GuestFreezer();
    await f.freeze(g.path, 0);
    await f.freeze(g.path, 0);
    assert.equal(await guestFreezeStatus(g.path), 'frozen');
    await f.unfreeze(g.path);
    await f.unfreeze(g.path);
    assert.equal(g.state(), 'thawed');
    assert.equal(g.calls.filter((c) => c === 'guest-fsfreeze-freeze').length, 1);
    assert.equal(g.calls.filter((c) => c === 'guest-fsfreeze-thaw').length, 1);
  });

  it('thaws by itself after the unfreeze timeout', async () => {
    const g = await fakeGuest('safety');
    const f = new GuestFreezer();
    await f.freeze(g.path, 1);
    assert.equal(g.state(), 'frozen');
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(g.state(), 'thawed');
    f.stop();
  });

  it('the agent\'s refusal and a missing agent are VirtNodeError 400', async () => {
    const g = await fakeGuest('refuses', true);
    const f = new GuestFreezer();
    await assert.rejects(f.freeze(g.path, 0), (e: Error) => e instanceof VirtNodeError && e.code === 400 && /fsfreeze is limited/.test(e.message));
    await assert.rejects(f.freeze(join(dir, 'none.sock'), 0), (e: Error) => e instanceof VirtNodeError && e.code === 400);
  });
});
