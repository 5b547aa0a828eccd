// The QEMU argument builder, the masquerade NAT rules and the DHCP server's config (no root,
// no QEMU needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { qemuArgs, QemuArgsError, type MachineSpec } from '../../src/virt/qemu/qemu-args.js';
import { masqueradeRules } from '../../src/virt/net/masquerade.js';
import { udhcpdConfig, DhcpServerError } from '../../src/virt/net/dhcp-server.js';
import { InvalidArgumentError } from '../../src/net/ip.js';

const base: MachineSpec = {
  name: 'vm-one',
  accel: 'tcg',
  memoryMiB: 256,
  serial: { socket: '/run/vm/serial.sock', logFile: '/run/vm/serial.log' },
  qmp: { socket: '/run/vm/qmp.sock' },
};

/** The values following each occurrence of an option. */
function values(args: string[], opt: string): string[] {
  return args.flatMap((a, i) => (a === opt ? [args[i + 1]!] : []));
}

test('machine, CPU topology, memory, accelerator', () => {
  const a = qemuArgs({ ...base, cpu: { sockets: 2, cores: 2, threads: 1 }, uuid: '5b2cd1d2-8f7e-4a8e-9a43-1c1d7b7e0c11' });
  assert.deepEqual(values(a, '-machine'), ['q35,accel=tcg']);
  assert.deepEqual(values(a, '-cpu'), ['max']);
  assert.deepEqual(values(a, '-smp'), ['4,sockets=2,cores=2,threads=1']);
  assert.deepEqual(values(a, '-m'), ['256M']);
  const capped = qemuArgs({ ...base, tcgCacheMiB: 64 });
  assert.deepEqual([values(capped, '-machine'), values(capped, '-accel')], [['q35'], ['tcg,tb-size=64']]);
  assert.deepEqual(values(a, '-uuid'), ['5b2cd1d2-8f7e-4a8e-9a43-1c1d7b7e0c11']);
  assert.ok(a.includes('-nodefaults'));
  const k = qemuArgs({ ...base, accel: 'kvm' });
  assert.deepEqual([values(k, '-machine'), values(k, '-cpu')], [['q35,accel=kvm'], ['host']]);
  assert.throws(() => qemuArgs({ ...base, cpu: { cores: 0 } }), QemuArgsError);
  assert.throws(() => qemuArgs({ ...base, memoryMiB: 1.5 }), QemuArgsError);
  assert.throws(() => qemuArgs({ ...base, name: '-daemonize' }), QemuArgsError);
  assert.throws(() => qemuArgs({ ...base, accel: 'xen' as never }), QemuArgsError);
});

test('serial, QMP and VNC on unix sockets; commas in paths are escaped', () => {
  const a = qemuArgs({ ...base, serial: { socket: '/run/a,b/serial.sock' }, vnc: { socket: '/run/vm/vnc.sock' } });
  assert.deepEqual(values(a, '-chardev'), ['socket,id=serial0,path=/run/a,,b/serial.sock,server=on,wait=off', 'socket,id=qmp,path=/run/vm/qmp.sock,server=on,wait=off']);
  assert.deepEqual(values(a, '-serial'), ['chardev:serial0']);
  assert.deepEqual(values(a, '-mon'), ['chardev=qmp,mode=control']);
  assert.deepEqual(values(a, '-vnc'), ['unix:/run/vm/vnc.sock']);
  assert.ok(values(a, '-device').some((d) => JSON.parse(d).driver === 'VGA'));
  const l = qemuArgs(base);
  assert.match(values(l, '-chardev')[0]!, /,logfile=\/run\/vm\/serial\.log,logappend=on$/);
  assert.throws(() => qemuArgs({ ...base, qmp: { socket: 'relative.sock' } }), QemuArgsError);
});

test('disks: virtio and SATA, CD-ROM, cache modes, boot order, read-only, block devices', () => {
  const a = qemuArgs({
    ...base,
    disks: [
      { id: 'rootdisk', path: '/var/lib/vm/disk.qcow2', format: 'qcow2', bootIndex: 1 },
      { id: 'data', path: '/dev/vg0/data', format: 'raw', bus: 'sata', block: true, cache: 'writethrough', serial: 'D123' },
      { id: 'cloudinitdisk', path: '/run/vm/seed.iso', format: 'raw', kind: 'cdrom', cache: 'writeback' },
    ],
  });
  const blockdevs = values(a, '-blockdev').map((j) => JSON.parse(j) as Record<string, unknown>);
  const devices = values(a, '-device').map((j) => JSON.parse(j) as Record<string, unknown>);
  assert.deepEqual(blockdevs[0], { driver: 'file', filename: '/var/lib/vm/disk.qcow2', 'node-name': 'file-rootdisk', 'read-only': false, cache: { direct: true, 'no-flush': false }, locking: 'off' });
  assert.deepEqual(blockdevs[1], { driver: 'qcow2', 'node-name': 'drive-rootdisk', file: 'file-rootdisk', 'read-only': false });
  assert.equal(blockdevs[2]!['driver'], 'host_device');
  assert.deepEqual(blockdevs[2]!['cache'], { direct: false, 'no-flush': false });
  assert.equal(blockdevs[5]!['read-only'], true, 'a CD-ROM is read-only');
  assert.deepEqual(devices[0], { driver: 'ahci', id: 'sata0' });
  assert.deepEqual(devices[1], { id: 'rootdisk', drive: 'drive-rootdisk', driver: 'virtio-blk-pci', bootindex: 1 });
  assert.deepEqual(devices[2], { id: 'data', drive: 'drive-data', driver: 'ide-hd', bus: 'sata0.0', 'write-cache': 'off', serial: 'D123' });
  assert.deepEqual(devices[3], { id: 'cloudinitdisk', drive: 'drive-cloudinitdisk', driver: 'ide-cd', bus: 'sata0.1' });
  assert.throws(() => qemuArgs({ ...base, disks: [{ id: 'a', path: '/x', format: 'vmdk' as never }] }), QemuArgsError);
  assert.throws(() => qemuArgs({ ...base, disks: [{ id: 'a', path: '/x', format: 'raw' }, { id: 'a', path: '/y', format: 'raw' }] }), /duplicate/);
  assert.throws(() => qemuArgs({ ...base, disks: [{ id: 'A b', path: '/x', format: 'raw' }] }), QemuArgsError);
  assert.throws(() => qemuArgs({ ...base, disks: [{ id: 'a', path: '/x', format: 'raw', bootIndex: -1 }] }), QemuArgsError);
  const seven = Array.from({ length: 7 }, (_, i) => ({ id: `s${i}`, path: `/d${i}`, format: 'raw' as const, bus: 'sata' as const }));
  assert.throws(() => qemuArgs({ ...base, disks: seven }), /at most 6 SATA/);
});

test('NICs on taps with fixed MACs; guest agent channel; incoming migration; pid file; direct kernel boot', () => {
  const a = qemuArgs({
    ...base,
    nics: [{ id: 'default', tap: 'tap0', mac: '52:54:00:AA:bb:01' }, { id: 'net2', tap: 'tap1', mac: '52:54:00:aa:bb:02', model: 'e1000', pxe: true, bootIndex: 2 }],
    guestAgent: { socket: '/run/vm/qga.sock' },
    incoming: 'defer',
    pidFile: '/run/vm/qemu.pid',
    kernel: { path: '/g/vmlinuz', initrd: '/g/initrd.gz', cmdline: 'console=ttyS0 loglevel=4' },
  });
  assert.deepEqual(values(a, '-netdev'), ['tap,id=net-default,ifname=tap0,script=no,downscript=no', 'tap,id=net-net2,ifname=tap1,script=no,downscript=no']);
  const devices = values(a, '-device').map((j) => JSON.parse(j) as Record<string, unknown>);
  assert.deepEqual(devices[0], { driver: 'virtio-net-pci', id: 'default', netdev: 'net-default', mac: '52:54:00:aa:bb:01', romfile: '' });
  assert.deepEqual(devices[1], { driver: 'e1000', id: 'net2', netdev: 'net-net2', mac: '52:54:00:aa:bb:02', bootindex: 2 });
  assert.deepEqual(devices.slice(2), [
    { driver: 'virtio-serial-pci', id: 'virtio-serial0' },
    { driver: 'virtserialport', bus: 'virtio-serial0.0', chardev: 'qga0', name: 'org.qemu.guest_agent.0' },
  ]);
  assert.deepEqual(values(a, '-incoming'), ['defer']);
  assert.deepEqual(values(a, '-pidfile'), ['/run/vm/qemu.pid']);
  assert.deepEqual([values(a, '-kernel'), values(a, '-initrd'), values(a, '-append')], [['/g/vmlinuz'], ['/g/initrd.gz'], ['console=ttyS0 loglevel=4']]);
  assert.throws(() => qemuArgs({ ...base, nics: [{ id: 'n', tap: 'tap0,script=/x', mac: '52:54:00:aa:bb:01' }] }), InvalidArgumentError);
  assert.throws(() => qemuArgs({ ...base, nics: [{ id: 'n', tap: 'tap0', mac: 'zz' }] }), InvalidArgumentError);
});

test('masquerade NAT: DNAT of the pod IP to the guest (all ports, all but the excluded, or the listed), SNAT of the guest', () => {
  const spec = { netns: 'cairn-x-pod', podIp: '10.244.1.7', guestMac: '52:54:00:00:00:01', dir: '/tmp/x' };
  const all = masqueradeRules(spec);
  assert.deepEqual(all.prerouting.map((r) => r.text), ['iifname "eth0" ip daddr 10.244.1.7 meta l4proto { tcp, udp } counter dnat to 10.0.2.2']);
  assert.deepEqual(all.postrouting.map((r) => r.text), ['ip saddr 10.0.2.2 oifname "eth0" counter snat to 10.244.1.7']);
  const ex = masqueradeRules({ ...spec, excludePorts: [8443, 9000] });
  assert.deepEqual(ex.prerouting.map((r) => r.text), ['iifname "eth0" ip daddr 10.244.1.7 meta l4proto { tcp, udp } th dport != { 8443, 9000 } counter dnat to 10.0.2.2']);
  const listed = masqueradeRules({ ...spec, ports: [{ protocol: 'tcp', port: 80 }, { protocol: 'udp', port: 53 }] });
  assert.deepEqual(listed.prerouting.map((r) => r.text), [
    'iifname "eth0" ip daddr 10.244.1.7 tcp dport 80 counter dnat to 10.0.2.2',
    'iifname "eth0" ip daddr 10.244.1.7 udp dport 53 counter dnat to 10.0.2.2',
  ]);
  assert.throws(() => masqueradeRules({ ...spec, podIp: '10.0.0.1; flush ruleset' }), InvalidArgumentError);
});

test('DHCP server config: one static lease for the guest MAC, gateway, DNS, search, MTU, hostname', () => {
  const conf = udhcpdConfig({
    netns: 'cairn-x-pod',
    iface: 'k6t-eth0',
    guestMac: '52:54:00:00:00:01',
    guestIp: '10.0.2.2',
    subnet: '10.0.2.0/24',
    router: '10.0.2.1',
    dns: ['10.96.0.10'],
    searchDomains: ['default.svc.cluster.local', 'svc.cluster.local'],
    mtu: 1450,
    hostname: 'vm-one',
    dir: '/run/vm/dhcp',
  });
  const lines = conf.trim().split('\n');
  for (const want of ['interface k6t-eth0', 'start 10.0.2.2', 'end 10.0.2.2', 'max_leases 1', 'static_lease 52:54:00:00:00:01 10.0.2.2', 'option subnet 255.255.255.0', 'option router 10.0.2.1', 'option dns 10.96.0.10', 'option search default.svc.cluster.local svc.cluster.local', 'option mtu 1450', 'option hostname vm-one']) {
    assert.ok(lines.includes(want), `missing ${want}`);
  }
  const ok = { netns: 'n', iface: 'k6t-eth0', guestMac: '52:54:00:00:00:01', guestIp: '10.0.2.2', subnet: '10.0.2.0/24', router: '10.0.2.1', dir: '/d' };
  assert.throws(() => udhcpdConfig({ ...ok, hostname: 'bad\nstart 1.2.3.4' }), DhcpServerError);
  assert.throws(() => udhcpdConfig({ ...ok, searchDomains: ['a b'] }), DhcpServerError);
  assert.throws(() => udhcpdConfig({ ...ok, subnet: '10.0.2.1/24' }), InvalidArgumentError);
});
