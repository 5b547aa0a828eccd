// What `cairn vm import` reads before creating anything, with the real qemu-img: a bare disk with
// KubeVirt-ish defaults, an OVF with its disk beside it (sizes from qemu-img when larger, a
// manifest beside it checked), an OVA; and the one-line refusals — an unknown format, a truncated
// qcow2, an empty file, a missing disk file, a digest mismatch — plus the DataVolume headroom.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeTar } from '../../src/agent/images/tar.js';
import { BARE_DISK_DEFAULTS, ImportSourceError, readImportSource, withFilesystemHeadroom } from '../../src/virt/import/import-source.js';

const MI = 2 ** 20;
let dir: string;
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

const descriptor = (vmdk: string, capacityMiB: number) => `<?xml version="1.0"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
  <References><File ovf:href="${vmdk}" ovf:id="f1"/></References>
  <DiskSection><Info>d</Info><Disk ovf:capacity="${capacityMiB}" ovf:capacityAllocationUnits="byte * 2^20" ovf:diskId="d1" ovf:fileRef="f1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/></DiskSection>
  <VirtualSystem ovf:id="app"><Info>vm</Info><Name>app</Name>
    <VirtualHardwareSection><Info>hw</Info>
      <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>512</rasd:VirtualQuantity></Item>
      <Item><rasd:HostResource>ovf:/disk/d1</rasd:HostResource><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>`;

/** A fresh directory holding the given files. */
function folder(name: string, files: Record<string, Buffer | string>): string {
  const d = join(dir, name);
  mkdirSync(d);
  for (const [f, data] of Object.entries(files)) writeFileSync(join(d, f), data);
  return d;
}

describe('import sources', () => {
  let vmdk: Buffer;
  let qcow2: Buffer;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-import-src-'));
    const raw = join(dir, 'src.raw');
    writeFileSync(raw, Buffer.alloc(MI, 7));
    truncateSync(raw, 24 * MI);
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', raw, join(dir, 'src.vmdk')]);
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, join(dir, 'src.qcow2')]);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qed', join(dir, 'odd.qed'), '8M']);
    vmdk = readFileSync(join(dir, 'src.vmdk'));
    qcow2 = readFileSync(join(dir, 'src.qcow2'));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('a bare disk gets 1 vCPU, 1Gi, BIOS, one virtio disk and the default pod NIC', async () => {
    const s = await readImportSource(join(dir, 'src.qcow2'), dir);
    assert.equal(s.kind, 'disk');
    assert.equal(s.vm.name, 'src');
    assert.deepEqual(s.vm.cpu, { sockets: 1, cores: 1, threads: 1 });
    assert.equal(s.vm.memoryBytes, BARE_DISK_DEFAULTS.memoryBytes);
    assert.deepEqual(s.vm.disks, [{ id: 'disk0', file: 'src.qcow2', capacityBytes: 24 * MI, bus: 'virtio', bootOrder: 1 }]);
    assert.deepEqual(s.vm.nics, [{ name: 'default', model: 'virtio' }]);
    assert.equal(s.disks.get('src.qcow2')?.info.format, 'qcow2');
  });

  it('an OVF with its disk beside it: the larger of capacity and virtual size; an OVA the same', async () => {
    const ovf = descriptor('app-disk1.vmdk', 16);
    const d = folder('ovf-ok', { 'app.ovf': ovf, 'app-disk1.vmdk': vmdk, 'app.mf': `SHA256(app.ovf)= ${sha256(ovf)}\nSHA256(app-disk1.vmdk)= ${sha256(vmdk)}\n` });
    const s = await readImportSource(join(d, 'app.ovf'), dir);
    assert.equal(s.kind, 'ovf');
    assert.equal(s.vm.disks[0]!.capacityBytes, 24 * MI);
    assert.equal(s.disks.get('app-disk1.vmdk')?.info.format, 'vmdk');

    const ovaPath = join(dir, 'app.ova');
    writeFileSync(ovaPath, writeTar([{ name: 'app.ovf', data: descriptor('app-disk1.vmdk', 64) }, { name: 'app-disk1.vmdk', data: vmdk }].map((e) => ({ ...e, mtime: 0, mode: 0o644 }))));
    const work = join(dir, 'ova-work');
    mkdirSync(work);
    const o = await readImportSource(ovaPath, work);
    assert.equal(o.kind, 'ova');
    assert.equal(o.vm.disks[0]!.capacityBytes, 64 * MI);
    assert.equal(o.disks.get('app-disk1.vmdk')?.path, join(work, 'app-disk1.vmdk'));
  });

  it('refuses with one line naming the problem', async () => {
    const truncated = join(dir, 'cut.qcow2');
    writeFileSync(truncated, qcow2.subarray(0, Math.floor(qcow2.length / 2)));
    writeFileSync(join(dir, 'empty.img'), '');
    const ovf = descriptor('app-disk1.vmdk', 16);
    const missing = folder('ovf-missing', { 'app.ovf': ovf });
    const damaged = folder('ovf-damaged', { 'app.ovf': ovf, 'app-disk1.vmdk': vmdk, 'app.mf': `SHA256(app-disk1.vmdk)= ${sha256('other')}\n` });
    const cases: [string, RegExp][] = [
      [join(dir, 'odd.qed'), /^odd\.qed: unknown disk image format qed \(supported: raw, qcow2/],
      [truncated, /^cut\.qcow2: .*exceeding the end of the file/],
      [join(dir, 'empty.img'), /^empty\.img: the file is empty$/],
      [join(dir, 'absent.vmdk'), /absent\.vmdk does not exist or is not a file/],
      [join(missing, 'app.ovf'), /^the OVF references app-disk1\.vmdk, which is not beside it in /],
      [join(damaged, 'app.ovf'), /^app-disk1\.vmdk does not match its SHA256 digest in app\.mf: the file is damaged$/],
    ];
    for (const [path, re] of cases) {
      await assert.rejects(readImportSource(path, dir), (e: Error) => e instanceof ImportSourceError && re.test(e.message) && !e.message.includes('\n'), String(re));
    }
  });

  it('sizes DataVolumes with room for a small ext4', () => {
    assert.equal(withFilesystemHeadroom(32 * MI), 48 * MI);
    assert.equal(withFilesystemHeadroom(2 ** 30), Math.ceil((2 ** 30 * 1.15) / MI) * MI);
  });
});
