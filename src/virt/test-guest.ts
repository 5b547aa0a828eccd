// Where scripts/build-test-guest.sh put Cairn's offline test guest (a Debian kernel with a busybox
// initramfs; docs/virt.md). The KVM probe boots it, tests and benchmarks run it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const TEST_GUEST_DIR = '/usr/local/lib/cairn/guest';

/** The kernel command line the guest's /init expects: its console on the first serial port. */
export const TEST_GUEST_CMDLINE = 'console=ttyS0 loglevel=4';

export interface TestGuest {
  dir: string;
  kernel: string;
  initrd: string;
  /** The same kernel and initramfs on a bootable disk (MBR + extlinux), raw and qcow2. */
  diskRaw: string;
  diskQcow2: string;
  /** The Debian kernel version the guest runs, e.g. 6.1.0-56-amd64. */
  kernelVersion: string;
}

export class TestGuestMissingError extends Error {
  override name = 'TestGuestMissingError';
}

/** The built test guest; throws TestGuestMissingError (with the fix) when it is not there. */
export function testGuest(dir = process.env['CAIRN_GUEST_DIR'] ?? TEST_GUEST_DIR): TestGuest {
  const g = {
    dir,
    kernel: join(dir, 'vmlinuz'),
    initrd: join(dir, 'initrd.gz'),
    diskRaw: join(dir, 'disk.raw'),
    diskQcow2: join(dir, 'disk.qcow2'),
  };
  for (const f of [g.kernel, g.initrd, g.diskRaw, g.diskQcow2, join(dir, 'kernel-version')]) {
    if (!existsSync(f)) throw new TestGuestMissingError(`the VM test guest is not built (${f} is missing): run scripts/build-test-guest.sh as root`);
  }
  return { ...g, kernelVersion: readFileSync(join(dir, 'kernel-version'), 'utf8').trim() };
}
