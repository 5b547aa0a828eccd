/**
 * DataVolume uploads and VM imports on a 2-node `cairn up` cluster, driven the way a user does:
 * `cairn vm image-upload` (its exported function) uploads the test guest's qcow2 through the API
 * server's port-forward into the upload server pod — the DataVolume goes Succeeded and a busybox
 * pod on the claim reads a disk.img whose image bytes are `qemu-img convert -O raw` of the
 * source; a truncated qcow2 is refused with qemu-img's reason and its DataVolume stays
 * UploadReady. `cairn vm import` of a VMDK gives a DataVolume and a Halted VM with the defaults;
 * of an OVA naming 2 vCPUs and 256 MiB a VM with those; an OVA whose manifest digest is wrong,
 * and a name already taken, are refused with nothing created. Whether the VMs boot is the
 * launcher's business, not asserted here.
 */
// The CLI modules reach @peculiar/x509 (through up.ts) before src/api/pki.ts loads its polyfill (the cairn command loads it through its other commands first).
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeTar } from '../../src/agent/images/tar.js';
import { runVmImageUpload } from '../../src/cli/commands/vm-image-upload.js';
import { runVmImport } from '../../src/cli/commands/vm-import.js';
import { type CairnCluster, upCluster } from '../support/cairn-cluster.js';
import { until } from '../support/until.js';

const GUEST_QCOW2 = '/usr/local/lib/cairn/guest/disk.qcow2';
const NS = 'uploads';
const WAIT = 240_000;

let cluster: CairnCluster;
let dir: string;
/** The source's bytes as raw, and their md5. */
let rawSize: number;
let rawMd5: string;

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

interface Dv {
  status?: { phase?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

const flags = () => ({ kubeconfig: cluster.kubeconfig, namespace: NS });

async function dvPhase(name: string): Promise<string | undefined> {
  return (await cluster.json<Dv>(['get', 'dv', '-n', NS, name])).status?.phase;
}

/** Runs a busybox pod on the claim and returns its log. */
async function readClaim(pod: string, claim: string, script: string): Promise<string> {
  const spec = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod, namespace: NS },
    spec: {
      restartPolicy: 'Never',
      containers: [{ name: 'read', image: cluster.busybox, command: ['sh', '-c', script], volumeMounts: [{ name: 'disk', mountPath: '/data' }] }],
      volumes: [{ name: 'disk', persistentVolumeClaim: { claimName: claim } }],
    },
  };
  await cluster.ok(['apply', '-f', '-'], { input: JSON.stringify(spec) });
  await until(`pod ${pod} to finish`, async () => ['Succeeded', 'Failed'].includes((await cluster.json<{ status?: { phase?: string } }>(['get', 'pod', '-n', NS, pod])).status?.phase ?? ''), WAIT, 1000);
  return cluster.ok(['logs', '-n', NS, pod]);
}

/** An OVF of one VM with the given vCPUs (as cores of one socket), memory and one VMDK. */
function ovf(name: string, vcpus: number, memMiB: number, vmdk: string, capacityBytes: number): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf">
  <References><File ovf:href="${vmdk}" ovf:id="file1"/></References>
  <DiskSection><Info>disks</Info><Disk ovf:capacity="${capacityBytes}" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/></DiskSection>
  <NetworkSection><Info>networks</Info><Network ovf:name="VM Network"/></NetworkSection>
  <VirtualSystem ovf:id="${name}">
    <Info>A virtual machine</Info>
    <Name>${name}</Name>
    <VirtualHardwareSection>
      <Info>hardware</Info>
      <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>${vcpus}</rasd:VirtualQuantity><vmw:CoresPerSocket ovf:required="false">${vcpus}</vmw:CoresPerSocket></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>${memMiB}</rasd:VirtualQuantity></Item>
      <Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>6</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>4</rasd:InstanceID><rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:Connection>VM Network</rasd:Connection><rasd:InstanceID>5</rasd:InstanceID><rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`;
}

function ova(path: string, files: { name: string; data: Buffer | string }[]): string {
  writeFileSync(path, writeTar(files.map((f) => ({ ...f, mtime: 0, mode: 0o644 }))));
  return path;
}

interface Vm {
  spec: { runStrategy?: string; template: { spec: { domain: { cpu?: { cores?: number; sockets?: number }; memory?: { guest?: string }; devices: { interfaces?: { name: string; masquerade?: object }[] } }; volumes: { name: string; dataVolume?: { name: string } }[] } } };
}

describe('DataVolume upload and VM import', { timeout: 1_200_000 }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-upl-'));
    execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', GUEST_QCOW2, join(dir, 'guest.raw')]);
    const raw = readFileSync(join(dir, 'guest.raw'));
    rawSize = raw.length;
    rawMd5 = md5(raw);
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', join(dir, 'guest.raw'), join(dir, 'guest.vmdk')]);
    const qcow2 = readFileSync(GUEST_QCOW2);
    writeFileSync(join(dir, 'truncated.qcow2'), qcow2.subarray(0, Math.floor(qcow2.length / 2)));
    cluster = await upCluster({ nodes: 2, label: 'upload' });
    await cluster.ok(['create', 'namespace', NS]);
  });

  after(async () => {
    try {
      if (cluster) await cluster.down();
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('image-upload of the guest qcow2: Succeeded, and the claim holds its raw bytes in disk.img', async () => {
    const code = await runVmImageUpload({ ...flags(), 'image-path': GUEST_QCOW2, size: '64Mi', 'force-bind': true }, ['dv', 'guest-upload']);
    assert.equal(code, 0);
    assert.equal(await dvPhase('guest-upload'), 'Succeeded');
    const table = await cluster.ok(['get', 'dv', '-n', NS, 'guest-upload']);
    assert.match(table, /guest-upload\s+Succeeded\s+100\.0%/);
    // The upload server pod and its token are gone once the upload is in.
    await until('the upload pod and token to go', async () => {
      const pods = await cluster.ok(['get', 'pods,secrets', '-n', NS, '-o', 'name']);
      return !/cdi-upload-guest-upload/.test(pods);
    }, 60_000, 1000);
    const out = await readClaim('read-upload', 'guest-upload', `head -c ${rawSize} /data/disk.img | md5sum`);
    assert.equal(out.trim().split(/\s+/)[0], rawMd5);
  });

  it('a truncated qcow2 is refused with the reason, the DataVolume stays UploadReady and takes a good image next', async () => {
    await assert.rejects(
      runVmImageUpload({ ...flags(), 'image-path': join(dir, 'truncated.qcow2'), size: '64Mi', 'force-bind': true }, ['dv', 'broken']),
      // qemu-img check's own words, on one line.
      (e: Error) => /Saving stream failed: checking the image: .*exceeding the end of the file/.test(e.message) && !e.message.includes('\n'),
    );
    assert.equal(await dvPhase('broken'), 'UploadReady');
    // As with CDI, the same DataVolume takes a good image afterwards.
    assert.equal(await runVmImageUpload({ ...flags(), 'image-path': GUEST_QCOW2, 'no-create': true }, ['dv', 'broken']), 0);
    assert.equal(await dvPhase('broken'), 'Succeeded');
    await assert.rejects(runVmImageUpload({ ...flags(), 'image-path': join(dir, 'nope.qcow2'), size: '64Mi' }, ['dv', 'nope']), /does not exist/);
  });

  it('vm import of a VMDK: its DataVolume Succeeded and a Halted VM with the defaults', async () => {
    const code = await runVmImport(flags(), [join(dir, 'guest.vmdk')]);
    assert.equal(code, 0);
    assert.equal(await dvPhase('guest-disk0'), 'Succeeded');
    const vm = await cluster.json<Vm>(['get', 'vm', '-n', NS, 'guest']);
    assert.equal(vm.spec.runStrategy, 'Halted');
    const t = vm.spec.template.spec;
    assert.equal(t.domain.cpu?.cores, 1);
    assert.equal(t.domain.memory?.guest, '1024Mi');
    assert.deepEqual(t.volumes, [{ name: 'disk0', dataVolume: { name: 'guest-disk0' } }]);
    assert.equal(t.domain.devices.interfaces?.[0]?.name, 'default');
    assert.ok(t.domain.devices.interfaces?.[0]?.masquerade);
    const out = await readClaim('read-vmdk', 'guest-disk0', `head -c ${rawSize} /data/disk.img | md5sum`);
    assert.equal(out.trim().split(/\s+/)[0], rawMd5);

    // The same name again: refused, nothing new.
    await assert.rejects(runVmImport(flags(), [join(dir, 'guest.vmdk')]), /VirtualMachine uploads\/guest already exists/);
  });

  it('vm import of an OVA: a VM with its 2 cores and 256Mi; a wrong manifest digest creates nothing', async () => {
    const vmdk = readFileSync(join(dir, 'guest.vmdk'));
    const descriptor = ovf('Small App', 2, 256, 'small-app-disk1.vmdk', rawSize);
    const good = ova(join(dir, 'small.ova'), [
      { name: 'small.ovf', data: descriptor },
      { name: 'small.mf', data: `SHA256(small.ovf)= ${sha256(descriptor)}\nSHA256(small-app-disk1.vmdk)= ${sha256(vmdk)}\n` },
      { name: 'small-app-disk1.vmdk', data: vmdk },
    ]);
    assert.equal(await runVmImport(flags(), [good]), 0);
    const vm = await cluster.json<Vm>(['get', 'vm', '-n', NS, 'small-app']);
    assert.equal(vm.spec.template.spec.domain.cpu?.cores, 2);
    assert.equal(vm.spec.template.spec.domain.memory?.guest, '256Mi');
    assert.equal(await dvPhase('small-app-disk0'), 'Succeeded');

    const bad = ova(join(dir, 'bad.ova'), [
      { name: 'bad.ovf', data: ovf('Bad App', 1, 128, 'bad-disk1.vmdk', rawSize) },
      { name: 'bad.mf', data: `SHA256(bad-disk1.vmdk)= ${sha256('something else')}\n` },
      { name: 'bad-disk1.vmdk', data: vmdk },
    ]);
    await assert.rejects(runVmImport(flags(), [bad]), /bad-disk1\.vmdk does not match its SHA256 digest/);
    const left = await cluster.ok(['get', 'vm,dv', '-n', NS, '-o', 'name']);
    assert.doesNotMatch(left, /bad-app/);
  });
});
