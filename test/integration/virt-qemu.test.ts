// The node-level VM machinery against real QEMU, in network namespaces this test makes: the
// offline test guest booted from its qcow2 disk with a NoCloud seed behind KubeVirt's masquerade
// network (DHCP, DNAT of the pod IP to the guest, SNAT of the guest to the pod IP), its serial
// ticks, QMP pause/resume and ACPI power-down; a ConfigDrive seed; and bad input (a corrupt qcow2,
// invalid base64 user data). Accelerator: KVM only where the bounded probe says it works.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ip, netns } from '../../src/net/ip.js';
import { testGuest, TEST_GUEST_CMDLINE, type TestGuest } from '../../src/virt/test-guest.js';
import { probeAccel, probeCachePath, type AccelProbe } from '../../src/virt/qemu/kvm-probe.js';
import { QemuError, QemuProcess } from '../../src/virt/qemu/qemu-process.js';
import { GuestAgentClient, GuestAgentError } from '../../src/virt/qemu/guest-agent-client.js';
import { defaultCacheMode } from '../../src/virt/qemu/qemu-args.js';
import { MasqueradeNetwork } from '../../src/virt/net/masquerade.js';
import { attachBridgeTap, detachBridgeTap, BridgeBindingError } from '../../src/virt/net/bridge-binding.js';
import { resolveCloudInitData, CloudInitDataError } from '../../src/virt/cloud-init/cloud-init-data.js';
import { writeConfigDriveIso, writeNoCloudIso } from '../../src/virt/cloud-init/seed-iso.js';
import { EchoAddrServer, requireNetTools, runClusterName, snapshotCairn, added, type HostSnapshot } from '../support/net-lab.js';
import { until } from '../support/until.js';

const run = runClusterName();
const podNs = `cairn-${run}-vmpod`;
const nodeNs = `cairn-${run}-vmnode`;
const octet = randomInt(10, 250);
const nodeIp = `10.251.${octet}.1`;
const podIp = `10.251.${octet}.2`;
const guestMac = '52:54:00:c4:12:01';
let dir: string;
let guest: TestGuest;
let accel: AccelProbe;
let snap0: HostSnapshot;
let masq: MasqueradeNetwork | undefined;
let echo: EchoAddrServer | undefined;
const qemus: QemuProcess[] = [];

/** Lines from the guest's serial console socket, as they arrive. */
class Serial {
  readonly lines: string[] = [];
  private buf = '';
  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      const parts = this.buf.split(/\r?\n/);
      this.buf = parts.pop()!;
      this.lines.push(...parts);
    });
    sock.on('error', () => undefined);
  }
  static open(path: string): Promise<Serial> {
    return new Promise((resolve, reject) => {
      const s = connect(path, () => resolve(new Serial(s)));
      s.once('error', reject);
    });
  }
  ticks(): number[] {
    return this.lines.map((l) => /cairn-guest: tick (\d+)/.exec(l)).filter((m) => m !== null).map((m) => Number(m![1]));
  }
  lastTick(): number {
    return this.ticks().at(-1) ?? 0;
  }
  close(): void {
    this.sock.destroy();
  }
}

function requireVirtTools(): void {
  for (const [cmd, arg, pkg] of [['qemu-system-x86_64', '--version', 'qemu-system-x86'], ['qemu-img', '--version', 'qemu-utils'], ['genisoimage', '--version', 'genisoimage'], ['busybox', '--help', 'busybox-static'], ['curl', '--version', 'curl']] as const) {
    const r = spawnSync(cmd, [arg], { encoding: 'utf8' });
    if (r.error || r.status !== 0) throw new Error(`${cmd} is missing (apt-get install ${pkg}; scripts/setup.sh does it): ${r.error?.message ?? r.stderr}`);
  }
}

/** HTTP GET from the node namespace (curl: the host's static busybox wget crashes here); the body, or undefined on failure. */
async function httpFromNode(url: string): Promise<string | undefined> {
  try {
    return (await Ip.ns(nodeNs).exec(['curl', '-sf', '-m', '2', url], { timeoutMs: 5000 })).stdout;
  } catch {
    return undefined;
  }
}

before(async () => {
  requireNetTools();
  requireVirtTools();
  guest = testGuest();
  snap0 = await snapshotCairn();
  dir = await mkdtemp(join(tmpdir(), 'cairn-virt-'));
  // The pod: a namespace with eth0 (the pod IP) on a veth to the "node" namespace.
  await netns.add(podNs);
  await netns.add(nodeNs);
  const node = Ip.ns(nodeNs);
  const pod = Ip.ns(podNs);
  await node.addVeth('vpod', { name: 'eth0', netns: podNs });
  await node.addAddr('vpod', `${nodeIp}/24`);
  await node.setLink('vpod', { up: true });
  await node.setLink('lo', { up: true });
  await pod.addAddr('eth0', `${podIp}/24`);
  await pod.setLink('eth0', { up: true });
  await pod.setLink('lo', { up: true });
  await pod.addRoute({ dst: 'default', via: nodeIp });
  echo = await EchoAddrServer.start(nodeNs, nodeIp, 9090);
});

after(async () => {
  for (const q of qemus) await q.kill();
  await masq?.teardown();
  await echo?.stop();
  await netns.remove(podNs);
  await netns.remove(nodeNs);
  if (dir) await rm(dir, { recursive: true, force: true });
  assert.deepEqual(added(snap0, await snapshotCairn(), run), { netns: [], links: [], nftTables: [] });
});

test('accelerator probe: a bounded KVM test boot, cached with the host kernel', async () => {
  const t0 = Date.now();
  // A host cache of the test's own, so this really boots a guest whatever the host cache holds.
  const hostCache = join(dir, 'host', 'virt-accel-probe.json');
  accel = await probeAccel({ dataDir: dir, timeoutMs: 10_000, hostCache });
  const took = Date.now() - t0;
  assert.ok(accel.accel === 'kvm' || accel.accel === 'tcg');
  assert.ok(accel.detail.length > 0);
  assert.ok(took < 25_000, `probe took ${took} ms`);
  assert.ok(existsSync(probeCachePath(dir)));
  const t1 = Date.now();
  assert.deepEqual(await probeAccel({ dataDir: dir, timeoutMs: 10_000, hostCache }), accel);
  assert.ok(Date.now() - t1 < 500, 'the second probe is answered from the cache');
  const otherNode = join(dir, 'other-node');
  assert.deepEqual(await probeAccel({ dataDir: otherNode, timeoutMs: 10_000, hostCache }), accel, 'another agent of the host takes the host-wide answer');
  assert.ok(existsSync(probeCachePath(otherNode)));
  console.log(`# accelerator: ${accel.accel} (${accel.detail})`);
});

test('NoCloud guest on the masquerade network: user data, DHCP, DNAT/SNAT, guest agent, ticks, pause, ACPI power-down', async () => {
  masq = await MasqueradeNetwork.setup({ netns: podNs, podIp, guestMac, dir: join(dir, 'net'), excludePorts: [8443], hostname: 'vm-one' });
  const disk = join(dir, 'disk.qcow2');
  await copyFile(guest.diskQcow2, disk);
  const userData = [
    '#!/bin/sh',
    'echo "user-data marker 7c1e" > /www/marker.txt',
    // Outbound through the SNAT: the node-side server answers with the address it saw.
    `( for i in $(seq 1 60); do nc ${nodeIp} 9090 </dev/null >/tmp/out && [ -s /tmp/out ] && mv /tmp/out /www/outbound.txt && break; sleep 1; done ) &`,
    '',
  ].join('\n');
  const data = await resolveCloudInitData({ userData }, 'spec.volumes[1].cloudInitNoCloud');
  const seed = join(dir, 'nocloud.iso');
  await writeNoCloudIso(seed, { instanceId: 'vmi-one-0001', hostname: 'vm-one' }, data);
  const t0 = Date.now();
  const qemu = await QemuProcess.start(
    {
      name: 'vm-one',
      accel: accel.accel,
      memoryMiB: 256,
      disks: [
        { id: 'rootdisk', path: disk, format: 'qcow2', bus: 'virtio', bootIndex: 1, cache: defaultCacheMode(disk) },
        { id: 'cloudinitdisk', path: seed, format: 'raw', bus: 'virtio', readOnly: true },
      ],
      nics: [{ id: 'default', tap: masq.tap, mac: guestMac }],
      serial: { socket: join(dir, 'one-serial.sock'), logFile: join(dir, 'one-serial.log') },
      qmp: { socket: join(dir, 'one-qmp.sock') },
      vnc: { socket: join(dir, 'one-vnc.sock') },
      guestAgent: { socket: join(dir, 'one-qga.sock') },
      pidFile: join(dir, 'one.pid'),
    },
    { logFile: join(dir, 'one-qemu.log'), netns: podNs },
  );
  qemus.push(qemu);
  assert.equal(Number((await readFile(join(dir, 'one.pid'), 'utf8')).trim()), qemu.pid);
  const serial = await Serial.open(join(dir, 'one-serial.sock'));
  try {
    // Inbound: the pod IP's port 80 is DNATed to the guest's httpd; the user data made the marker.
    const marker = await until('the guest to serve the user-data marker on the pod IP', () => httpFromNode(`http://${podIp}/marker.txt`), 120_000, 250).catch(async (e: Error) => {
      const console = (await readFile(join(dir, 'one-serial.log'), 'utf8')).split('\n').filter((l) => !l.includes('tick'));
      throw new Error(`${e.message}\nserial: ${console.slice(-30).join('\n')}\nqemu: ${qemu.log()}`);
    });
    const bootToHttp = Date.now() - t0;
    assert.equal(marker.trim(), 'user-data marker 7c1e');
    console.log(`# boot to HTTP (${accel.accel}, disk boot): ${bootToHttp} ms`);
    const page = await httpFromNode(`http://${podIp}/`);
    assert.match(page ?? '', /hostname: vm-one/);
    assert.match(page ?? '', /instance-id: vmi-one-0001/);
    // The guest took 10.0.2.2 from the DHCP server in the pod namespace.
    const log = await until('the DHCP lease on the serial log', async () => (await readFile(join(dir, 'one-serial.log'), 'utf8')).match(/cairn-guest: eth0 (\S+)/) ?? undefined, 30_000, 200);
    assert.equal(log[1], '10.0.2.2/24');
    // Outbound: the node saw the guest's connection come from the pod IP (SNAT).
    const seen = await until('the guest to reach the node through the SNAT', () => httpFromNode(`http://${podIp}/outbound.txt`), 60_000, 500);
    assert.equal(seen.trim(), podIp);

    // The guest agent: the guest's addresses (KubeVirt's status.interfaces), hostname, and a
    // filesystem freeze of its disk (online snapshots).
    const agent = await until('the guest agent to answer', () => GuestAgentClient.connect(join(dir, 'one-qga.sock'), { timeoutMs: 3000 }), 30_000, 500);
    try {
      await agent.ping();
      assert.equal(await agent.hostName(), 'vm-one');
      const eth0 = (await agent.networkInterfaces()).find((i) => i.name === 'eth0');
      assert.equal(eth0?.['hardware-address'], guestMac);
      assert.deepEqual(eth0?.['ip-addresses'], [{ 'ip-address-type': 'ipv4', 'ip-address': '10.0.2.2', prefix: 24 }]);
      assert.equal(await agent.fsfreezeFreeze(), 1);
      assert.equal(await agent.fsfreezeStatus(), 'frozen');
      assert.equal(await agent.fsfreezeThaw(), 1);
      assert.equal(await agent.fsfreezeStatus(), 'thawed');
      const e = await agent.execute('guest-exec', { path: '/bin/true' }).catch((x: unknown) => x);
      assert.ok(e instanceof GuestAgentError && e.errorClass === 'CommandNotFound');
    } finally {
      agent.close();
    }

    // Serial ticks, paused and resumed over QMP.
    await until('ticks on the serial console', () => serial.ticks().length >= 2, 20_000, 100);
    const stopped = qemu.qmp.waitForEvent('STOP', { timeoutMs: 5000 });
    await qemu.qmp.stop();
    await stopped;
    assert.deepEqual(await qemu.qmp.queryStatus().then((s) => [s.running, s.status]), [false, 'paused']);
    const pausedAt = serial.lastTick();
    await new Promise((r) => setTimeout(r, 2500));
    assert.ok(serial.lastTick() <= pausedAt + 1, `ticks went on while paused: ${pausedAt} -> ${serial.lastTick()}`);
    const resumed = qemu.qmp.waitForEvent('RESUME', { timeoutMs: 5000 });
    await qemu.qmp.cont();
    await resumed;
    await until('ticks to resume', () => serial.lastTick() >= pausedAt + 2, 20_000, 100);
    assert.equal((await qemu.qmp.queryStatus()).status, 'running');

    // ACPI power button: the guest powers itself off and QEMU exits.
    const t1 = Date.now();
    const how = await qemu.stop(20_000);
    assert.equal(how, 'powerdown', `QEMU did not power down gracefully; serial tail: ${serial.lines.slice(-5).join(' | ')}`);
    assert.ok(Date.now() - t1 < 20_000);
    assert.deepEqual(qemu.exit, { code: 0, signal: null });
    assert.ok(serial.lines.some((l) => l.includes('cairn-guest: power button')));
  } finally {
    serial.close();
  }
});

test('ConfigDrive seed: #cloud-config and a static address from network_data.json (direct kernel boot, SATA CD-ROM)', async () => {
  // The powered-off first guest left the pod's tap free: this guest takes it with a static address.
  assert.ok(masq, 'runs after the masquerade test');
  const userData = ['#cloud-config', 'hostname: cfg-two', 'write_files:', '  - path: /www/cfg.txt', '    content: |', '      written by cloud-config', 'runcmd:', '  - echo "cairn-test: runcmd $(cat /www/cfg.txt)" > /dev/ttyS0', ''].join('\n');
  const networkData = JSON.stringify({
    links: [{ id: 'nic0', type: 'phy', ethernet_mac_address: '52:54:00:c4:12:02' }],
    networks: [{ id: 'net0', type: 'ipv4', link: 'nic0', ip_address: '10.0.2.50', netmask: '255.255.255.0', routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '10.0.2.1' }] }],
    services: [],
  });
  const data = await resolveCloudInitData({ userDataBase64: Buffer.from(userData).toString('base64'), networkData }, 'spec.volumes[0].cloudInitConfigDrive');
  const seed = join(dir, 'configdrive.iso');
  await writeConfigDriveIso(seed, { instanceId: 'vmi-two-0002', hostname: 'vm-two' }, data);
  const serialLog = join(dir, 'two-serial.log');
  const qemu = await QemuProcess.start(
    {
      name: 'vm-two',
      accel: accel.accel,
      memoryMiB: 192,
      cpu: { sockets: 1, cores: 2, threads: 1 },
      kernel: { path: guest.kernel, initrd: guest.initrd, cmdline: TEST_GUEST_CMDLINE },
      disks: [{ id: 'cloudinitdisk', path: seed, format: 'raw', kind: 'cdrom' }],
      nics: [{ id: 'default', tap: masq.tap, mac: '52:54:00:c4:12:02' }],
      serial: { socket: join(dir, 'two-serial.sock'), logFile: serialLog },
      qmp: { socket: join(dir, 'two-qmp.sock') },
    },
    { logFile: join(dir, 'two-qemu.log'), netns: podNs },
  );
  qemus.push(qemu);
  const text = await until('the cloud-config runcmd on the serial console', async () => {
    const t = existsSync(serialLog) ? await readFile(serialLog, 'utf8') : '';
    return t.includes('cairn-test: runcmd') && t;
  }, 90_000, 250);
  assert.match(text, /cairn-guest: seed configdrive \/dev\/sr0 instance-id vmi-two-0002/);
  assert.match(text, /cairn-guest: eth0 static 10\.0\.2\.50\/24/);
  assert.match(text, /cairn-test: runcmd written by cloud-config/);
  const page = await until('the guest on its static address', async () => {
    try {
      return (await Ip.ns(podNs).exec(['curl', '-sf', '-m', '2', 'http://10.0.2.50/guest.txt'], { timeoutMs: 5000 })).stdout;
    } catch {
      return undefined;
    }
  }, 30_000, 250);
  assert.match(page, /^hostname=vm-two$/m);
  assert.match(page, /^seed=configdrive$/m);
  assert.equal(await qemu.stop(20_000), 'powerdown');
});

test('live migration between two QEMUs over QMP: -incoming defer, migrate, ticks go on in the target', async () => {
  const spec = (n: string, incoming?: 'defer') => ({
    name: `vm-mig-${n}`,
    accel: accel.accel,
    memoryMiB: 128,
    kernel: { path: guest.kernel, initrd: guest.initrd, cmdline: TEST_GUEST_CMDLINE },
    serial: { socket: join(dir, `mig-${n}-serial.sock`), logFile: join(dir, `mig-${n}-serial.log`) },
    qmp: { socket: join(dir, `mig-${n}-qmp.sock`) },
    ...(incoming ? { incoming } : {}),
  });
  const ticksIn = async (n: string) => {
    const t = existsSync(join(dir, `mig-${n}-serial.log`)) ? await readFile(join(dir, `mig-${n}-serial.log`), 'utf8') : '';
    return [...t.matchAll(/cairn-guest: tick (\d+)/g)].map((m) => Number(m[1]));
  };
  const src = await QemuProcess.start(spec('src'), { logFile: join(dir, 'mig-src-qemu.log') });
  qemus.push(src);
  await until('the source guest to tick', async () => (await ticksIn('src')).length >= 2, 90_000, 250);
  const dst = await QemuProcess.start(spec('dst', 'defer'), { logFile: join(dir, 'mig-dst-qemu.log') });
  qemus.push(dst);
  assert.equal((await dst.qmp.queryStatus()).status, 'inmigrate');
  for (const q of [src, dst]) await q.qmp.migrateSetCapabilities([{ capability: 'events', state: true }]);
  await src.qmp.migrateSetParameters({ 'downtime-limit': 100 });
  const uri = `unix:${join(dir, 'mig.sock')}`;
  await dst.qmp.migrateIncoming(uri);
  const completed = src.qmp.waitForEvent('MIGRATION', { timeoutMs: 120_000, match: (e) => e.data?.['status'] === 'completed' });
  const resumed = dst.qmp.waitForEvent('RESUME', { timeoutMs: 120_000 });
  const before = (await ticksIn('src')).at(-1)!;
  await src.qmp.migrate(uri);
  await completed;
  await resumed;
  const info = await src.qmp.queryMigrate();
  assert.equal(info.status, 'completed');
  assert.equal(typeof info.downtime, 'number');
  console.log(`# plain QEMU migration (${accel.accel}, 128 MiB): total ${info['total-time']} ms, downtime ${info.downtime} ms`);
  assert.equal((await src.qmp.queryStatus()).status, 'postmigrate');
  assert.equal((await dst.qmp.queryStatus()).status, 'running');
  // The guest's counter continues in the target: no reboot, no gap back to 1.
  const onTarget = await until('ticks on the target', async () => {
    const t = await ticksIn('dst');
    return t.length >= 2 && t;
  }, 30_000, 250);
  assert.ok(onTarget[0]! >= before, `target ticks start at ${onTarget[0]}, source was at ${before}`);
  await src.kill();
  assert.equal(await dst.stop(20_000), 'powerdown');
});

test('local disk migration: NBD export on the target, blockdev-mirror, pause before switchover, identical images', async () => {
  const srcDisk = join(dir, 'mirror-src.qcow2');
  const dstDisk = join(dir, 'mirror-dst.qcow2');
  await copyFile(guest.diskQcow2, srcDisk);
  const created = spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', dstDisk, String((await stat(guest.diskRaw)).size)], { encoding: 'utf8' });
  assert.equal(created.status, 0, created.stderr);
  const spec = (n: string, disk: string, incoming?: 'defer') => ({
    name: `vm-mirror-${n}`,
    accel: accel.accel,
    memoryMiB: 128,
    disks: [{ id: 'rootdisk', path: disk, format: 'qcow2' as const, bootIndex: 1, cache: 'writeback' as const }],
    serial: { socket: join(dir, `mirror-${n}-serial.sock`), logFile: join(dir, `mirror-${n}-serial.log`) },
    qmp: { socket: join(dir, `mirror-${n}-qmp.sock`) },
    ...(incoming ? { incoming } : {}),
  });
  const src = await QemuProcess.start(spec('src', srcDisk), { logFile: join(dir, 'mirror-src-qemu.log') });
  qemus.push(src);
  await until('the disk-booted source guest to mount its disk and tick', async () => {
    const t = existsSync(join(dir, 'mirror-src-serial.log')) ? await readFile(join(dir, 'mirror-src-serial.log'), 'utf8') : '';
    return t.includes('mounted on /mnt/disk') && t.includes('cairn-guest: tick 2');
  }, 90_000, 250);
  const dst = await QemuProcess.start(spec('dst', dstDisk, 'defer'), { logFile: join(dir, 'mirror-dst-qemu.log') });
  qemus.push(dst);
  const nbd = join(dir, 'mirror-nbd.sock');
  await dst.qmp.nbdServerStart({ type: 'unix', path: nbd });
  await dst.qmp.nbdServerAdd('drive-rootdisk', { writable: true });
  await src.qmp.blockdevAdd({ driver: 'nbd', 'node-name': 'mirror-rootdisk', server: { type: 'unix', path: nbd }, export: 'drive-rootdisk' });
  const ready = src.qmp.waitForEvent('BLOCK_JOB_READY', { timeoutMs: 60_000, match: (e) => e.data?.['device'] === 'mirror-job' });
  await src.qmp.blockdevMirror('mirror-job', 'drive-rootdisk', 'mirror-rootdisk', 'full');
  await ready;
  assert.equal((await src.qmp.queryBlockJobs()).find((j) => j.device === 'mirror-job')?.ready, true);
  for (const q of [src, dst]) await q.qmp.migrateSetCapabilities([{ capability: 'events', state: true }]);
  await src.qmp.migrateSetCapabilities([{ capability: 'pause-before-switchover', state: true }]);
  const uri = `unix:${join(dir, 'mirror-mig.sock')}`;
  await dst.qmp.migrateIncoming(uri);
  const paused = src.qmp.waitForEvent('MIGRATION', { timeoutMs: 120_000, match: (e) => e.data?.['status'] === 'pre-switchover' });
  await src.qmp.migrate(uri);
  await paused;
  // The source's CPUs are stopped: the mirror is final; end it before the target takes over.
  const jobDone = src.qmp.waitForEvent('BLOCK_JOB_COMPLETED', { timeoutMs: 30_000, match: (e) => e.data?.['device'] === 'mirror-job' });
  await src.qmp.blockJobCancel('mirror-job');
  await jobDone;
  const completed = src.qmp.waitForEvent('MIGRATION', { timeoutMs: 60_000, match: (e) => e.data?.['status'] === 'completed' });
  const resumed = dst.qmp.waitForEvent('RESUME', { timeoutMs: 60_000 });
  await src.qmp.migrateContinue();
  await completed;
  await resumed;
  await dst.qmp.nbdServerStop();
  assert.equal((await dst.qmp.queryStatus()).status, 'running');
  await src.kill();
  await dst.kill();
  const cmp = spawnSync('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', srcDisk, dstDisk], { encoding: 'utf8' });
  assert.equal(cmp.status, 0, `${cmp.stdout}${cmp.stderr}`);
  assert.match(cmp.stdout, /Images are identical/);
});

test('bridge binding: the tap on a secondary bridge; a VLAN where the kernel filters VLANs', async () => {
  const ip = Ip.ns(nodeNs);
  await ip.ensureBridge('br-sec');
  await attachBridgeTap({ netns: nodeNs, bridge: 'br-sec', tap: 'tap9' });
  const tap = await ip.link('tap9');
  assert.equal(tap?.master, 'br-sec');
  assert.equal(tap?.linkinfo?.info_kind, 'tun');
  await assert.rejects(attachBridgeTap({ netns: nodeNs, bridge: 'br-none', tap: 'tap8' }), BridgeBindingError);
  const tagged = await attachBridgeTap({ netns: nodeNs, bridge: 'br-sec', tap: 'tap7', vlan: 100 }).then(() => true, (e: unknown) => e);
  if (tagged === true) {
    const vlans = JSON.parse(await ip.bridge(['-j', 'vlan', 'show', 'dev', 'tap7'])) as { vlans: { vlan: number; flags?: string[] }[] }[];
    assert.deepEqual(vlans[0]?.vlans.map((v) => [v.vlan, [...(v.flags ?? [])].sort()]), [[100, ['Egress Untagged', 'PVID']]]);
    assert.equal(await detachBridgeTap({ netns: nodeNs, tap: 'tap7' }), true);
  } else {
    // This machine's kernel has no bridge VLAN filtering: a clear typed error, nothing half-made.
    assert.ok(tagged instanceof BridgeBindingError && /VLAN filtering/.test(tagged.message), String(tagged));
    assert.equal(await ip.link('tap7'), undefined);
  }
  assert.equal(await detachBridgeTap({ netns: nodeNs, tap: 'tap9' }), true);
  assert.equal(await detachBridgeTap({ netns: nodeNs, tap: 'tap9' }), false);
});

test('bad input: a corrupt qcow2 fails QEMU with its own message; invalid base64 user data is a typed error', async () => {
  // A qcow2 cut short inside its header.
  const bad = join(dir, 'truncated.qcow2');
  const whole = await readFile(guest.diskQcow2);
  await writeFile(bad, whole.subarray(0, 40));
  assert.ok((await stat(bad)).size === 40);
  const e = await QemuProcess.start(
    {
      name: 'vm-bad',
      accel: 'tcg',
      memoryMiB: 64,
      disks: [{ id: 'rootdisk', path: bad, format: 'qcow2', cache: 'writeback' }],
      serial: { socket: join(dir, 'bad-serial.sock') },
      qmp: { socket: join(dir, 'bad-qmp.sock') },
    },
    { logFile: join(dir, 'bad-qemu.log') },
  ).catch((x: unknown) => x);
  assert.ok(e instanceof QemuError, `expected QemuError, got ${String(e)}`);
  assert.match(e.stderrTail, /qcow2 header too short/);
  assert.match(e.message, /exited during start-up.*qcow2 header too short/s);
  assert.notEqual(e.exitCode, 0);

  // KubeVirt's default cache mode: none where O_DIRECT works (it does even on tmpfs with this kernel).
  assert.equal(defaultCacheMode(guest.diskQcow2), 'none');

  const e2 = await resolveCloudInitData({ userDataBase64: 'not*base64!' }, 'spec.volumes[1].cloudInitNoCloud').catch((x: unknown) => x);
  assert.ok(e2 instanceof CloudInitDataError);
  assert.equal(e2.field, 'spec.volumes[1].cloudInitNoCloud.userDataBase64');
});
