// A typed description of one QEMU machine turned into qemu-system-x86_64's argument vector. Block
// devices and devices use QEMU's JSON option syntax (-blockdev {...}, -device {...}), so a path
// never needs escaping; the few key=value options left (-chardev, -netdev) take only validated
// names and comma-escaped paths. Everything is explicit (-nodefaults): what the description does
// not ask for is not in the machine.
import { constants, closeSync, openSync } from 'node:fs';
import { checkIfName, checkMac } from '../../net/ip.js';

export type Accel = 'kvm' | 'tcg';
export type DiskBus = 'virtio' | 'sata';
export type DiskFormat = 'raw' | 'qcow2';
/** KubeVirt's disk cache modes: none (O_DIRECT), writethrough, writeback. */
export type CacheMode = 'none' | 'writethrough' | 'writeback';

export interface DiskSpec {
  /** Device id, unique in the machine (the block node is `drive-ID`, the device `ID`). */
  id: string;
  /** An image file, or a block device (detected by the caller with `block: true`). */
  path: string;
  format: DiskFormat;
  /** Default virtio; CD-ROMs always sit on SATA (as KubeVirt's default cdrom bus). */
  bus?: DiskBus;
  /** Default 'disk'. */
  kind?: 'disk' | 'cdrom';
  /** The path is a block device (driver host_device) rather than a file. */
  block?: boolean;
  readOnly?: boolean;
  /** Lower boots first (QEMU bootindex; KubeVirt's bootOrder). */
  bootIndex?: number;
  /** Default 'none'; see defaultCacheMode() for KubeVirt's choice. */
  cache?: CacheMode;
  /** Serial number the guest sees (KubeVirt's disk.serial). */
  serial?: string;
}

export interface NicSpec {
  /** Device id, unique in the machine (the netdev is `net-ID`). */
  id: string;
  /** The tap device QEMU opens (it must exist in QEMU's network namespace). */
  tap: string;
  mac: string;
  /** Default virtio (virtio-net-pci); e1000 for guests without virtio drivers. */
  model?: 'virtio' | 'e1000';
  /** Keep the NIC's PXE option ROM (off by default: it costs a second of boot under TCG). */
  pxe?: boolean;
  bootIndex?: number;
}

export interface MachineSpec {
  /** Shown in `ps` and QMP (query-name). */
  name: string;
  accel: Accel;
  /** TCG's translation cache in MiB (QEMU's default grows up to 1 GiB); ignored under KVM. */
  tcgCacheMiB?: number;
  cpu?: { sockets?: number; cores?: number; threads?: number };
  memoryMiB: number;
  uuid?: string;
  /** Direct kernel boot instead of the firmware finding a boot disk (the test guest's fast path). */
  kernel?: { path: string; initrd?: string; cmdline?: string };
  disks?: DiskSpec[];
  nics?: NicSpec[];
  /** The serial console: a unix socket server (consoles attach to it) and a log of all output. */
  serial: { socket: string; logFile?: string };
  /** A VNC server on a unix socket (adds a VGA display). */
  vnc?: { socket: string };
  /** The QMP monitor's unix socket. */
  qmp: { socket: string };
  /** A virtio-serial channel for the QEMU guest agent (org.qemu.guest_agent.0). */
  guestAgent?: { socket: string };
  /** Start with the CPUs stopped (-S; QMP `cont` runs it): KubeVirt's startStrategy Paused. */
  startPaused?: boolean;
  /** Start paused waiting for `migrate-incoming` (the target of a live migration). */
  incoming?: 'defer';
  pidFile?: string;
}

export class QemuArgsError extends Error {
  override name = 'QemuArgsError';
}

const ID = /^[a-z][a-z0-9-]{0,30}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkId(what: string, id: string, seen: Set<string>): string {
  if (!ID.test(id)) throw new QemuArgsError(`invalid ${what} id ${JSON.stringify(id)} (lowercase letters, digits, '-', starting with a letter)`);
  if (seen.has(id)) throw new QemuArgsError(`duplicate device id ${JSON.stringify(id)}`);
  seen.add(id);
  return id;
}
function checkPath(what: string, p: string): string {
  if (!p.startsWith('/') || /[\0\n]/.test(p)) throw new QemuArgsError(`${what} must be an absolute path: ${JSON.stringify(p)}`);
  return p;
}
/** A value inside a key=value option: QEMU reads ",," as a literal comma. */
function optValue(v: string): string {
  return v.replace(/,/g, ',,');
}
function count(what: string, n: number | undefined, max: number): number {
  const v = n ?? 1;
  if (!Number.isInteger(v) || v < 1 || v > max) throw new QemuArgsError(`invalid ${what} ${String(n)}`);
  return v;
}
function bootIndex(what: string, n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 999) throw new QemuArgsError(`${what}: invalid boot index ${n}`);
  return n;
}
function json(o: Record<string, unknown>): string {
  return JSON.stringify(o);
}

/**
 * KubeVirt's default cache mode: `none` (O_DIRECT, no host page cache) where the file's
 * filesystem supports O_DIRECT, else `writethrough` (tmpfs before Linux 6.6, for one, refuses it).
 */
export function defaultCacheMode(path: string): CacheMode {
  try {
    closeSync(openSync(path, constants.O_RDONLY | constants.O_DIRECT));
    return 'none';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EINVAL') return 'writethrough';
    throw e;
  }
}

function diskArgs(d: DiskSpec, index: { sata: number }): string[] {
  const kind = d.kind ?? 'disk';
  const bus = kind === 'cdrom' ? 'sata' : (d.bus ?? 'virtio');
  const readOnly = kind === 'cdrom' || d.readOnly === true;
  const cache = d.cache ?? 'none';
  if (!['raw', 'qcow2'].includes(d.format)) throw new QemuArgsError(`disk ${d.id}: unsupported format ${JSON.stringify(d.format)}`);
  if (!['virtio', 'sata'].includes(bus)) throw new QemuArgsError(`disk ${d.id}: unsupported bus ${JSON.stringify(bus)}`);
  if (!['none', 'writethrough', 'writeback'].includes(cache)) throw new QemuArgsError(`disk ${d.id}: unsupported cache mode ${JSON.stringify(cache)}`);
  if (d.serial !== undefined && !/^[A-Za-z0-9_.-]{1,20}$/.test(d.serial)) throw new QemuArgsError(`disk ${d.id}: invalid serial ${JSON.stringify(d.serial)}`);
  const file = {
    driver: d.block ? 'host_device' : 'file',
    filename: checkPath(`disk ${d.id} path`, d.path),
    'node-name': `file-${d.id}`,
    'read-only': readOnly,
    cache: { direct: cache === 'none', 'no-flush': false },
    // Images are shared between QEMU processes during migration; the target must not fail on
    // the source's lock, and the launcher guarantees one writer.
    locking: 'off',
  };
  const fmt = { driver: d.format, 'node-name': `drive-${d.id}`, file: `file-${d.id}`, 'read-only': readOnly };
  const dev: Record<string, unknown> = { id: d.id, drive: `drive-${d.id}` };
  if (bus === 'virtio') {
    dev['driver'] = 'virtio-blk-pci';
  } else {
    if (index.sata >= 6) throw new QemuArgsError(`disk ${d.id}: at most 6 SATA devices`);
    dev['driver'] = kind === 'cdrom' ? 'ide-cd' : 'ide-hd';
    dev['bus'] = `sata0.${index.sata++}`;
  }
  if (kind === 'disk' && cache === 'writethrough') dev['write-cache'] = 'off';
  if (d.bootIndex !== undefined) dev['bootindex'] = bootIndex(`disk ${d.id}`, d.bootIndex);
  if (d.serial !== undefined) dev['serial'] = d.serial;
  return ['-blockdev', json(file), '-blockdev', json(fmt), '-device', json(dev)];
}

function nicArgs(n: NicSpec): string[] {
  const dev: Record<string, unknown> = {
    driver: (n.model ?? 'virtio') === 'virtio' ? 'virtio-net-pci' : 'e1000',
    id: n.id,
    netdev: `net-${n.id}`,
    mac: checkMac(n.mac),
  };
  if (!n.pxe) dev['romfile'] = '';
  if (n.bootIndex !== undefined) dev['bootindex'] = bootIndex(`nic ${n.id}`, n.bootIndex);
  return ['-netdev', `tap,id=net-${n.id},ifname=${checkIfName(n.tap)},script=no,downscript=no`, '-device', json(dev)];
}

/** A unix socket server chardev that never waits for a client. */
function socketChardev(id: string, path: string, logFile?: string): string {
  let s = `socket,id=${id},path=${optValue(checkPath(`${id} socket`, path))},server=on,wait=off`;
  if (logFile !== undefined) s += `,logfile=${optValue(checkPath(`${id} log file`, logFile))},logappend=on`;
  return s;
}

/** The argument vector (without the program name) for qemu-system-x86_64. */
export function qemuArgs(m: MachineSpec): string[] {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(m.name)) throw new QemuArgsError(`invalid machine name ${JSON.stringify(m.name)}`);
  if (m.accel !== 'kvm' && m.accel !== 'tcg') throw new QemuArgsError(`invalid accelerator ${JSON.stringify(m.accel)}`);
  if (!Number.isInteger(m.memoryMiB) || m.memoryMiB < 16 || m.memoryMiB > 4 * 1024 * 1024) throw new QemuArgsError(`invalid memory ${m.memoryMiB} MiB`);
  const sockets = count('sockets', m.cpu?.sockets, 64);
  const cores = count('cores', m.cpu?.cores, 256);
  const threads = count('threads', m.cpu?.threads, 8);
  const a = [
    '-name', `guest=${m.name},debug-threads=on`,
    ...(m.accel === 'tcg' && m.tcgCacheMiB !== undefined ? ['-machine', 'q35', '-accel', `tcg,tb-size=${count('TCG cache size', m.tcgCacheMiB, 4096)}`] : ['-machine', `q35,accel=${m.accel}`]),
    '-cpu', m.accel === 'kvm' ? 'host' : 'max',
    '-smp', `${sockets * cores * threads},sockets=${sockets},cores=${cores},threads=${threads}`,
    '-m', `${m.memoryMiB}M`,
    '-nodefaults',
    '-no-user-config',
    // No window and nothing on stdio (-nographic would put the serial port or monitor there).
    '-display', 'none',
    '-msg', 'timestamp=on',
  ];
  if (m.uuid !== undefined) {
    if (!UUID.test(m.uuid)) throw new QemuArgsError(`invalid uuid ${JSON.stringify(m.uuid)}`);
    a.push('-uuid', m.uuid);
  }
  if (m.kernel) {
    a.push('-kernel', checkPath('kernel', m.kernel.path));
    if (m.kernel.initrd !== undefined) a.push('-initrd', checkPath('initrd', m.kernel.initrd));
    if (m.kernel.cmdline !== undefined) {
      if (/[\0\n]/.test(m.kernel.cmdline)) throw new QemuArgsError('invalid kernel command line');
      a.push('-append', m.kernel.cmdline);
    }
  }
  const ids = new Set<string>();
  const disks = m.disks ?? [];
  for (const d of disks) checkId('disk', d.id, ids);
  if (disks.some((d) => d.kind === 'cdrom' || d.bus === 'sata')) a.push('-device', json({ driver: 'ahci', id: 'sata0' }));
  const sata = { sata: 0 };
  for (const d of disks) a.push(...diskArgs(d, sata));
  for (const n of m.nics ?? []) {
    checkId('nic', n.id, ids);
    a.push(...nicArgs(n));
  }
  a.push('-chardev', socketChardev('serial0', m.serial.socket, m.serial.logFile), '-serial', 'chardev:serial0');
  a.push('-chardev', socketChardev('qmp', m.qmp.socket), '-mon', 'chardev=qmp,mode=control');
  if (m.vnc) a.push('-device', json({ driver: 'VGA', id: 'video0' }), '-vnc', `unix:${optValue(checkPath('vnc socket', m.vnc.socket))}`);
  if (m.guestAgent) {
    a.push('-device', json({ driver: 'virtio-serial-pci', id: 'virtio-serial0' }));
    a.push('-chardev', socketChardev('qga0', m.guestAgent.socket));
    a.push('-device', json({ driver: 'virtserialport', bus: 'virtio-serial0.0', chardev: 'qga0', name: 'org.qemu.guest_agent.0' }));
  }
  if (m.startPaused) a.push('-S');
  if (m.incoming === 'defer') a.push('-incoming', 'defer');
  if (m.pidFile !== undefined) a.push('-pidfile', checkPath('pid file', m.pidFile));
  return a;
}
