/**
 * VM snapshots, restores and clones on a 2-node `cairn up` cluster, driven with the real kubectl:
 * a VM whose user data counts on its disk (/mnt/disk/counter, once a second) is snapshotted
 * while running — its guest agent freezes /mnt/disk for the VolumeSnapshot, so the snapshot says
 * Online and GuestAgent — and keeps counting after; stopped and restored from the snapshot, it
 * boots on the restored claim and finds the count of snapshot time, not the later one. A clone of
 * the snapshot boots as a second VM from the cloned disk with another MAC.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LOCAL_DRIVER_NAME } from '../../src/storage/names.js';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { guestVmManifest, type GuestDiskServer, serveGuestDisk, VM_BOOT_MS, waitVmiRunning } from '../support/virt.js';
import { until } from '../support/until.js';

const NS = 'vmsnap';
const TEST_TIMEOUT = 12 * 60_000;
let cluster: CairnCluster;
let disks: GuestDiskServer;

/** At every boot: what count the disk held (found.txt), then count on from 1 to disk and /www. */
const USER_DATA = `#cloud-config
runcmd:
- [sh, -c, "cp /mnt/disk/counter /www/found.txt 2>/dev/null || echo none > /www/found.txt; (i=0; while :; do i=$((i+1)); echo $i > /mnt/disk/counter; sync; echo $i > /www/counter.txt; sleep 1; done) >/dev/null 2>&1 &"]
`;

interface Cond {
  type: string;
  status: string;
  reason?: string;
}
interface Obj {
  metadata: { uid: string };
  status?: { phase?: string; readyToUse?: boolean; complete?: boolean; indications?: string[]; conditions?: Cond[]; snapshotVolumes?: { includedVolumes?: string[] } };
}

const get = (kind: string, name: string) => cluster.json<Obj>(['get', kind, '-n', NS, name]);

/** `kubectl exec client -- wget` of a URL until it answers. */
function fetchFromClient(url: string, ms = VM_BOOT_MS): Promise<string> {
  return until(
    `GET ${url} from the client pod`,
    async () => {
      const r = await cluster.kubectl(['exec', '-n', NS, 'client', '--', 'timeout', '5', 'wget', '-qO-', url], { timeoutMs: 30_000 });
      return r.code === 0 ? r.stdout.trim() : undefined;
    },
    ms,
    1000,
  );
}

async function counterAtLeast(ip: string, n: number): Promise<number> {
  return until(
    `the guest's counter at ${n}`,
    async () => {
      const v = Number(await fetchFromClient(`http://${ip}/counter.txt`, 30_000));
      return v >= n ? v : undefined;
    },
    VM_BOOT_MS,
    1000,
  );
}

async function vmiGone(name: string): Promise<void> {
  await until(`VMI ${name} gone`, async () => (await cluster.kubectl(['get', 'vmi', '-n', NS, name])).code !== 0 || undefined, VM_BOOT_MS, 1000);
}

const manifest = (kind: string, name: string, spec: object) => JSON.stringify({ apiVersion: kind === 'VirtualMachineClone' ? 'clone.kubevirt.io/v1beta1' : 'snapshot.kubevirt.io/v1beta1', kind, metadata: { name, namespace: NS }, spec });

describe('VM snapshot, restore and clone', { timeout: TEST_TIMEOUT }, () => {
  before(async () => {
    cluster = await upCluster({ nodes: 2, label: 'vmsnap' });
    disks = await serveGuestDisk(cluster);
    await cluster.ok(['create', 'namespace', NS]);
    // The default StorageClass's volumes are the local driver's.
    await cluster.ok(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: 'local-snap' }, driver: LOCAL_DRIVER_NAME, deletionPolicy: 'Delete' }) });
    await cluster.ok(['run', 'client', '-n', NS, `--image=${cluster.busybox}`, '--restart=Never', '--', 'sleep', '3600']);
  });

  after(async () => {
    await disks?.close();
    await cluster?.down();
  });

  it('online snapshot with the guest frozen; restore brings back the disk of snapshot time; a clone boots with another MAC', { timeout: TEST_TIMEOUT }, async () => {
    await cluster.ok(['apply', '-n', NS, '-f', '-'], { input: guestVmManifest({ name: 'db', base: disks.base, userData: USER_DATA }) });
    const first = await waitVmiRunning(cluster, NS, 'db');
    const ip = first.status!.interfaces![0]!.ipAddress!;
    const mac = first.status!.interfaces![0]!.mac;
    assert.equal(await fetchFromClient(`http://${ip}/found.txt`), 'none', 'a fresh disk');
    await counterAtLeast(ip, 3);
    await until('the guest agent connected', async () => (await cluster.ok(['get', 'vmi', '-n', NS, 'db', '-o', 'jsonpath={.status.conditions[?(@.type=="AgentConnected")].status}'])) === 'True' || undefined, VM_BOOT_MS, 1000);

    await cluster.ok(['apply', '-f', '-'], { input: manifest('VirtualMachineSnapshot', 'snap', { source: { apiGroup: 'kubevirt.io', kind: 'VirtualMachine', name: 'db' } }) });
    const snap = await until(
      'the snapshot Succeeded',
      async () => {
        const s = await get('vmsnapshot', 'snap');
        return s.status?.phase === 'Succeeded' && s.status.readyToUse ? s : undefined;
      },
      VM_BOOT_MS,
      1000,
    );
    const atSnapshot = Number(await fetchFromClient(`http://${ip}/counter.txt`));
    assert.deepEqual(snap.status?.indications, ['GuestAgent', 'Online']);
    assert.deepEqual(snap.status?.snapshotVolumes?.includedVolumes, ['root']);
    await until('the VM unlocked', async () => (await cluster.ok(['get', 'vm', '-n', NS, 'db', '-o', 'jsonpath={.status.snapshotInProgress}'])) === '' || undefined, 30_000, 500);
    // The guest counts on after the snapshot.
    const later = await counterAtLeast(ip, atSnapshot + 5);

    // A clone of the snapshot, started while the source is restored.
    await cluster.ok(['apply', '-f', '-'], { input: manifest('VirtualMachineClone', 'copy', { source: { apiGroup: 'snapshot.kubevirt.io', kind: 'VirtualMachineSnapshot', name: 'snap' }, target: { apiGroup: 'kubevirt.io', kind: 'VirtualMachine', name: 'db-copy' } }) });

    await cluster.ok(['patch', 'vm', '-n', NS, 'db', '--type', 'merge', '-p', '{"spec":{"runStrategy":"Halted"}}']);
    await vmiGone('db');
    await cluster.ok(['apply', '-f', '-'], { input: manifest('VirtualMachineRestore', 'back', { target: { apiGroup: 'kubevirt.io', kind: 'VirtualMachine', name: 'db' }, virtualMachineSnapshotName: 'snap' }) });
    const restore = await until(
      'the restore complete',
      async () => {
        const r = await get('vmrestore', 'back');
        return r.status?.complete ? r : undefined;
      },
      VM_BOOT_MS,
      1000,
    );
    const claim = await cluster.ok(['get', 'vm', '-n', NS, 'db', '-o', 'jsonpath={.spec.template.spec.volumes[0].persistentVolumeClaim.claimName}']);
    assert.equal(claim, `restore-${restore.metadata.uid}-root`);

    const clone = await until(
      'the clone Succeeded',
      async () => {
        const c = await get('vmclone', 'copy');
        return c.status?.phase === 'Succeeded' ? c : undefined;
      },
      VM_BOOT_MS,
      1000,
    );
    assert.ok(clone);
    await cluster.ok(['patch', 'vm', '-n', NS, 'db', '--type', 'merge', '-p', '{"spec":{"runStrategy":"Always"}}']);
    await cluster.ok(['patch', 'vm', '-n', NS, 'db-copy', '--type', 'merge', '-p', '{"spec":{"runStrategy":"Always"}}']);

    const restored = await waitVmiRunning(cluster, NS, 'db', first.metadata.uid);
    const found = Number(await fetchFromClient(`http://${restored.status!.interfaces![0]!.ipAddress}/found.txt`));
    assert.ok(found >= 3 && found <= atSnapshot, `the restored disk holds the count of snapshot time (found ${found}, ${atSnapshot} at the snapshot, ${later} later)`);

    const copy = await waitVmiRunning(cluster, NS, 'db-copy');
    const copyFound = Number(await fetchFromClient(`http://${copy.status!.interfaces![0]!.ipAddress}/found.txt`));
    assert.ok(copyFound >= 3 && copyFound <= atSnapshot, `the clone boots from the snapshot's disk (found ${copyFound})`);
    assert.notEqual(copy.status!.interfaces![0]!.mac, mac, 'the clone has another MAC');
  });
});
