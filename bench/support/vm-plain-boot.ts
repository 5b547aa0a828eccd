/**
 * The baseline of the VM start benchmark: the same test guest started by plain QEMU on the same
 * host (src/virt/qemu, as test/integration/virt-qemu.test.ts drives it) — a raw copy of the guest
 * disk (what the DataVolume import leaves in the claim), the same NoCloud seed, memory, vCPUs,
 * accelerator, serial log, VNC, QMP and guest-agent channel as the launcher's QEMU gets — timed
 * from just before QEMU is started to the guest's init line on its serial log. No NIC: the
 * launcher's tap and DHCP server live in the pod's namespace, and the guest prints its init line
 * before it touches the network.
 *
 * One boot at a time, each guest killed before the next, so the bench can interleave them with
 * the VM starts and both sides see the same load on a shared machine.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveCloudInitData } from '../../src/virt/cloud-init/cloud-init-data.js';
import { writeNoCloudIso } from '../../src/virt/cloud-init/seed-iso.js';
import { type Accel, defaultCacheMode } from '../../src/virt/qemu/qemu-args.js';
import { QemuProcess } from '../../src/virt/qemu/qemu-process.js';
import { testGuest } from '../../src/virt/test-guest.js';
import { waitForInit } from './vm-guest-probe.js';

export interface PlainBootOptions {
  accel: Accel;
  memoryMiB: number;
  /** The VM's cloud-init user data, for the same seed disk. */
  userData: string;
  /** A directory for the disk copies, sockets and logs (removed by close()). */
  parentDir: string;
  timeoutMs: number;
}

export class PlainQemuBoots {
  private booted = 0;

  private constructor(
    private readonly o: PlainBootOptions,
    private readonly dir: string,
    private readonly seed: string,
  ) {}

  static async prepare(o: PlainBootOptions): Promise<PlainQemuBoots> {
    const dir = await mkdtemp(join(o.parentDir, 'plain-qemu-'));
    const seed = join(dir, 'cloudinit.iso');
    await writeNoCloudIso(seed, { instanceId: 'plain-qemu', hostname: 'plain-qemu' }, await resolveCloudInitData({ userData: o.userData }, 'cloudInitNoCloud'));
    return new PlainQemuBoots(o, dir, seed);
  }

  /** Boots one guest on a fresh disk copy; QEMU start → guest init (ms). The guest is killed after. */
  async boot(): Promise<number> {
    const i = this.booted++;
    const disk = join(this.dir, `disk-${i}.img`);
    await copyFile(testGuest().diskRaw, disk);
    const f = (n: string) => join(this.dir, `${i}-${n}`);
    const t0 = performance.now();
    const qemu = await QemuProcess.start(
      {
        name: `bench-plain-${i}`,
        accel: this.o.accel,
        cpu: { sockets: 1, cores: 1, threads: 1 },
        memoryMiB: this.o.memoryMiB,
        disks: [
          { id: 'root', path: disk, format: 'raw', bus: 'virtio', bootIndex: 1, cache: defaultCacheMode(disk) },
          { id: 'cloudinit', path: this.seed, format: 'raw', bus: 'virtio', readOnly: true },
        ],
        serial: { socket: f('serial.sock'), logFile: f('serial.log') },
        vnc: { socket: f('vnc.sock') },
        qmp: { socket: f('qmp.sock') },
        guestAgent: { socket: f('qga.sock') },
      },
      { logFile: f('qemu.log') },
    );
    try {
      return (await waitForInit(() => f('serial.log'), this.o.timeoutMs, `plain QEMU ${i}`)) - t0;
    } finally {
      await qemu.kill();
      await rm(disk, { force: true });
    }
  }

  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
