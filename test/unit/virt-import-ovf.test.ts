// OVF descriptors (a VMware-style OVF 1 export and an OVF 2 one) read into a VM's hardware, the
// KubeVirt objects `cairn vm import` makes of them, OVA unpacking with manifest checks, and the
// descriptors and archives that must be refused.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { writeTar, type TarWriteEntry } from '../../src/agent/images/tar.js';
import { OvaError, unpackOva } from '../../src/virt/import/ova.js';
import { allocationUnit, OvfError, parseOvf } from '../../src/virt/import/ovf.js';
import { dnsLabel, planImport } from '../../src/virt/import/vm-plan.js';

const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/ovf/${name}`, import.meta.url), 'utf8');
const GI = 2 ** 30;
const MI = 2 ** 20;

describe('OVF descriptors', () => {
  it('a VMware export: topology, memory, EFI, disks in controller order with their files, NICs with model and MAC', () => {
    const vm = parseOvf(fixture('vmware-web.ovf'));
    assert.equal(vm.name, 'Web Server 01');
    assert.equal(vm.osType, 'debian11_64Guest');
    assert.equal(vm.firmware, 'efi');
    assert.deepEqual(vm.cpu, { sockets: 2, cores: 2, threads: 1 });
    assert.equal(vm.memoryBytes, 4096 * MI);
    assert.deepEqual(vm.disks, [
      { id: 'vmdisk1', file: 'Web Server 01-disk1.vmdk', format: 'vmdk', capacityBytes: 16 * GI, bus: 'scsi', bootOrder: 1 },
      { id: 'vmdisk2', file: 'Web Server 01-disk2.vmdk', format: 'vmdk', capacityBytes: 512 * MI, bus: 'scsi', bootOrder: 2 },
    ]);
    assert.equal(vm.cdroms, 1);
    assert.deepEqual(vm.nics, [
      { name: 'nic0', network: 'VM Network', model: 'virtio', mac: '00:50:56:ab:cd:01' },
      { name: 'nic1', network: 'Storage VLAN 20', model: 'e1000e' },
    ]);
  });

  it('an OVF 2 descriptor: StorageItem / EthernetPortItem, a SATA controller, a disk without a file, GigaBytes', () => {
    const vm = parseOvf(fixture('ovf2-db.ovf'));
    assert.equal(vm.name, 'db');
    assert.equal(vm.firmware, 'bios');
    assert.deepEqual(vm.cpu, { sockets: 3, cores: 1, threads: 1 });
    assert.equal(vm.memoryBytes, 2 * GI);
    assert.deepEqual(vm.disks, [
      { id: 'd1', file: 'db.vhd', format: 'vhd', capacityBytes: 10 * GI, bus: 'sata', bootOrder: 1 },
      { id: 'd2', capacityBytes: GI, bus: 'sata', bootOrder: 2 },
    ]);
    assert.deepEqual(vm.nics, [{ name: 'nic0', model: 'virtio' }]);
  });

  it('allocation units', () => {
    assert.equal(allocationUnit('byte * 2^30', 1), GI);
    assert.equal(allocationUnit('byte*10^9', 1), 1e9);
    assert.equal(allocationUnit('MegaBytes', 1), MI);
    assert.equal(allocationUnit(undefined, 7), 7);
    assert.throws(() => allocationUnit('furlongs', 1), OvfError);
  });

  it('refuses what is not a single-VM OVF, naming the problem', () => {
    const vmware = fixture('vmware-web.ovf');
    const cases: [string, RegExp][] = [
      ['not xml <<<', /not an OVF descriptor|not XML/],
      ['<Foo/>', /no Envelope element/],
      [`<!DOCTYPE x [<!ENTITY a "aaaa">]>${vmware}`, /DOCTYPE/],
      ['<Envelope><VirtualSystemCollection/></Envelope>', /VirtualSystemCollection/],
      [vmware.replace('ovf:/disk/vmdisk1', 'ovf:/disk/nope'), /no Disk with diskId "nope"/],
      [vmware.replace('ovf:fileRef="file2"', 'ovf:fileRef="file9"'), /no File with id "file9"/],
      [vmware.replace('<rasd:VirtualQuantity>4096</rasd:VirtualQuantity>', '<rasd:VirtualQuantity>lots</rasd:VirtualQuantity>'), /memory item VirtualQuantity "lots" is not a whole number/],
      [vmware.replace('byte * 2^30', 'parsecs'), /unknown allocation units "parsecs"/],
    ];
    for (const [xml, re] of cases) assert.throws(() => parseOvf(xml), (e: Error) => e instanceof OvfError && re.test(e.message), String(re));
  });
});

describe('the import plan', () => {
  it('a VirtualMachine with the OVF hardware and one DataVolume per disk', () => {
    const plan = planImport(parseOvf(fixture('vmware-web.ovf')), { namespace: 'prod', storageClassName: 'ceph-rbd', networkMap: {} });
    const vm = plan.vm as unknown as { metadata: { name: string }; spec: { runStrategy: string; template: { spec: Record<string, any> } } };
    assert.equal(vm.metadata.name, 'web-server-01');
    assert.equal(vm.spec.runStrategy, 'Halted');
    const t = vm.spec.template.spec;
    assert.deepEqual(t.domain.cpu, { sockets: 2, cores: 2, threads: 1 });
    assert.deepEqual(t.domain.memory, { guest: '4096Mi' });
    assert.deepEqual(t.domain.firmware, { bootloader: { efi: { secureBoot: false } } });
    assert.deepEqual(t.domain.devices.disks, [
      { name: 'disk0', bootOrder: 1, disk: { bus: 'scsi' } },
      { name: 'disk1', bootOrder: 2, disk: { bus: 'scsi' } },
    ]);
    assert.deepEqual(t.domain.devices.interfaces, [
      { name: 'nic0', model: 'virtio', macAddress: '00:50:56:ab:cd:01', masquerade: {} },
      { name: 'nic1', model: 'e1000e', bridge: {} },
    ]);
    assert.deepEqual(t.networks, [{ name: 'nic0', pod: {} }, { name: 'nic1', multus: { networkName: 'storage-vlan-20' } }]);
    assert.deepEqual(t.volumes, [
      { name: 'disk0', dataVolume: { name: 'web-server-01-disk0' } },
      { name: 'disk1', dataVolume: { name: 'web-server-01-disk1' } },
    ]);
    assert.deepEqual(
      plan.dataVolumes.map((d) => [d.object.metadata.name, d.file, (d.object.spec as any).storage]),
      [
        ['web-server-01-disk0', 'Web Server 01-disk1.vmdk', { resources: { requests: { storage: '16384Mi' } }, storageClassName: 'ceph-rbd' }],
        ['web-server-01-disk1', 'Web Server 01-disk2.vmdk', { resources: { requests: { storage: '512Mi' } }, storageClassName: 'ceph-rbd' }],
      ],
    );
    assert.ok(plan.warnings.some((w) => /CD-ROM/.test(w)));
    assert.ok(plan.warnings.some((w) => /storage-vlan-20: create it/.test(w)));
    // Mapped: no warning for that network.
    const mapped = planImport(parseOvf(fixture('vmware-web.ovf')), { namespace: 'prod', networkMap: { 'Storage VLAN 20': 'vlan20' } });
    assert.deepEqual((mapped.vm.spec as any).template.spec.networks[1], { name: 'nic1', multus: { networkName: 'vlan20' } });
    assert.ok(!mapped.warnings.some((w) => /NetworkAttachmentDefinition/.test(w)));
    // A disk without a file is blank.
    const db = planImport(parseOvf(fixture('ovf2-db.ovf')), { namespace: 'd' });
    assert.deepEqual((db.dataVolumes[1]!.object.spec as any).source, { blank: {} });
  });

  it('DNS labels from any VM name', () => {
    assert.equal(dnsLabel('Web Server 01'), 'web-server-01');
    assert.equal(dnsLabel('__'), 'imported-vm');
    assert.equal(dnsLabel('x'.repeat(80)).length, 63);
  });
});

describe('OVA archives', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-ova-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const ovf = fixture('ovf2-db.ovf');
  const disk = Buffer.alloc(70_000, 7);
  const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  let n = 0;
  const ova = (entries: TarWriteEntry[]) => {
    const path = join(dir, `t${n++}.ova`);
    writeFileSync(path, writeTar(entries.map((e) => ({ mtime: 0, mode: 0o644, ...e }))));
    return path;
  };
  const out = () => mkdtempSync(join(dir, 'out-'));

  it('unpacks the descriptor and disks, checking the manifest', async () => {
    const mf = `SHA256(db.ovf)= ${sha256(ovf)}\nSHA256(db.vhd)= ${sha256(disk)}\n`;
    const dest = out();
    const r = await unpackOva(ova([{ name: 'db.ovf', data: ovf }, { name: 'db.mf', data: mf }, { name: 'db.vhd', data: disk }]), dest);
    assert.equal(r.ovf, ovf);
    assert.equal(r.verified, true);
    assert.deepEqual([...r.files.keys()], ['db.vhd']);
    assert.ok(readFileSync(r.files.get('db.vhd')!).equals(disk));
  });

  it('refuses a damaged disk, a missing file, a path, a link and an archive not starting with its descriptor', async () => {
    const bad = `SHA256(db.vhd)= ${sha256('other')}\n`;
    await assert.rejects(unpackOva(ova([{ name: 'db.ovf', data: ovf }, { name: 'db.mf', data: bad }, { name: 'db.vhd', data: disk }]), out()), /db\.vhd does not match its SHA256 digest/);
    const missing = `SHA1(gone.vmdk)= ${'0'.repeat(40)}\n`;
    await assert.rejects(unpackOva(ova([{ name: 'db.ovf', data: ovf }, { name: 'db.mf', data: missing }]), out()), /lists gone\.vmdk, which the archive does not hold/);
    await assert.rejects(unpackOva(ova([{ name: 'db.ovf', data: ovf }, { name: '../escape.vmdk', data: disk }]), out()), (e: Error) => e instanceof OvaError && /not a plain file name/.test(e.message));
    await assert.rejects(unpackOva(ova([{ name: 'db.ovf', data: ovf }, { name: 'l.vmdk', type: 'symlink', linkname: '/etc/shadow' }]), out()), /is a symlink, not a file/);
    await assert.rejects(unpackOva(ova([{ name: 'db.vhd', data: disk }, { name: 'db.ovf', data: ovf }]), out()), /starts with its \.ovf descriptor/);
    const empty = out();
    await assert.rejects(unpackOva(join(dir, 'nonexistent.ova'), empty), OvaError);
    assert.deepEqual(readdirSync(empty), []);
  });
});
