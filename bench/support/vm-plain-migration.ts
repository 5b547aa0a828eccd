/**
 * The baseline of the live-migration benchmark: the same test guest (its disk, memory, vCPUs and
 * accelerator as the bench's VM) migrated by plain QEMU to plain QEMU on the same host, the way a
 * hand-built setup does it: the target started with `-incoming defer` and its copy of the disk
 * exported over NBD, the source mirroring its disk there (`blockdev-mirror`, sync full) and then
 * migrating memory with pause-before-switchover, the same 100 ms downtime limit and no bandwidth
 * cap. Unix sockets on the host, so no network sits between them.
 *
 * Timed from the target QEMU's start to the guest resumed on it (the span the platform's VMIM
 * create → Succeeded covers, minus scheduling and the launcher pod), with QEMU's own downtime and
 * total-time figures from query-migrate.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Accel } from '../../src/virt/qemu/qemu-args.js';
import { QemuProcess } from '../../src/virt/qemu/qemu-process.js';
import { testGuest } from '../../src/virt/test-guest.js';
import { until } from '../../test/support/until.js';

export interface PlainMigrationOptions {
  accel: Accel;
  memoryMiB: number;
  /** A directory for the disks, sockets and logs (its own subdirectory is removed after). */
  parentDir: string;
  bootTimeoutMs: number;
}

export interface PlainMigrationResult {
  /** Target QEMU started → guest running on the target. */
  totalMs: number;
  /** QEMU's figures (query-migrate on the source). */
  qemuDowntimeMs: number;
  qemuTotalMs: number;
  /** blockdev-mirror started → its job ready. */
  mirrorMs: number;
}

const MIGRATION_TIMEOUT_MS = 300_000;
/** QEMU's max-bandwidth is bytes/s; its default (128 MiB/s) would cap the baseline. */
const UNLIMITED_BANDWIDTH = 2 ** 40;

export async function plainMigration(o: PlainMigrationOptions): Promise<PlainMigrationResult> {
  const dir = await mkdtemp(join(o.parentDir, 'plain-migration-'));
  const f = (n: string) => join(dir, n);
  const qemus: QemuProcess[] = [];
  try {
    await copyFile(testGuest().diskQcow2, f('src.qcow2'));
    // The target gets its own copy of the same image, as a launcher copies a containerDisk.
    await copyFile(testGuest().diskQcow2, f('dst.qcow2'));
    const spec = (n: 'src' | 'dst') => ({
      name: `bench-plain-mig-${n}`,
      accel: o.accel,
      cpu: { sockets: 1, cores: 1, threads: 1 },
      memoryMiB: o.memoryMiB,
      disks: [{ id: 'root', path: f(`${n}.qcow2`), format: 'qcow2' as const, bus: 'virtio' as const, bootIndex: 1 }],
      serial: { socket: f(`${n}-serial.sock`), logFile: f(`${n}-serial.log`) },
      qmp: { socket: f(`${n}-qmp.sock`) },
      ...(n === 'dst' ? { incoming: 'defer' as const } : {}),
    });
    const src = await QemuProcess.start(spec('src'), { logFile: f('src-qemu.log') });
    qemus.push(src);
    await until('the plain source guest to tick', () => existsSync(f('src-serial.log')) && readFileSync(f('src-serial.log'), 'utf8').includes('cairn-guest: tick 2'), o.bootTimeoutMs, 250);

    const t0 = performance.now();
    const dst = await QemuProcess.start(spec('dst'), { logFile: f('dst-qemu.log') });
    qemus.push(dst);
    await dst.qmp.nbdServerStart({ type: 'unix', path: f('nbd.sock') });
    await dst.qmp.nbdServerAdd('drive-root', { writable: true });
    await src.qmp.blockdevAdd({ driver: 'nbd', 'node-name': 'mirror-root', server: { type: 'unix', path: f('nbd.sock') }, export: 'drive-root' });
    const ready = src.qmp.waitForEvent('BLOCK_JOB_READY', { timeoutMs: MIGRATION_TIMEOUT_MS, match: (e) => e.data?.['device'] === 'mirror-root-job' });
    const m0 = performance.now();
    await src.qmp.blockdevMirror('mirror-root-job', 'drive-root', 'mirror-root', 'full');
    await ready;
    const mirrorMs = performance.now() - m0;
    for (const q of [src, dst]) await q.qmp.migrateSetCapabilities([{ capability: 'events', state: true }]);
    await src.qmp.migrateSetCapabilities([{ capability: 'pause-before-switchover', state: true }]);
    await src.qmp.migrateSetParameters({ 'downtime-limit': 100, 'max-bandwidth': UNLIMITED_BANDWIDTH });
    const uri = `unix:${f('mig.sock')}`;
    await dst.qmp.migrateIncoming(uri);
    const paused = src.qmp.waitForEvent('MIGRATION', { timeoutMs: MIGRATION_TIMEOUT_MS, match: (e) => e.data?.['status'] === 'pre-switchover' });
    await src.qmp.migrate(uri);
    await paused;
    const jobDone = src.qmp.waitForEvent('BLOCK_JOB_COMPLETED', { timeoutMs: 60_000, match: (e) => e.data?.['device'] === 'mirror-root-job' });
    await src.qmp.blockJobCancel('mirror-root-job');
    await jobDone;
    const completed = src.qmp.waitForEvent('MIGRATION', { timeoutMs: 60_000, match: (e) => e.data?.['status'] === 'completed' });
    const resumed = dst.qmp.waitForEvent('RESUME', { timeoutMs: 60_000 });
    await src.qmp.migrateContinue();
    await completed;
    await resumed;
    const totalMs = performance.now() - t0;
    const info = await src.qmp.queryMigrate();
    return { totalMs, qemuDowntimeMs: Number(info.downtime), qemuTotalMs: Number(info['total-time']), mirrorMs };
  } finally {
    for (const q of qemus) await q.kill().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
