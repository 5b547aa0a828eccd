// Whether KVM really works on this host. /dev/kvm can exist, and KVM_CREATE_VM succeed, while a
// guest hangs without output (nested virtualisation without the right support) — so the only
// trustworthy check is a bounded test boot: the test guest under -accel kvm must print its init
// line within the time limit, else VMs run under TCG. The answer is cached under the data dir
// and host-wide under /run (until reboot) with the host kernel it was found on, so node agents do
// not re-probe on every start, and only one agent of a host probes at a time.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { TEST_GUEST_CMDLINE, testGuest, type TestGuest } from '../test-guest.js';
import type { Accel } from './qemu-args.js';
import { QemuError, QemuProcess } from './qemu-process.js';

/** The line the test guest's /init prints first on its serial console. */
export const GUEST_INIT_LINE = 'cairn-guest: init';

export interface AccelProbe {
  accel: Accel;
  /** Why: "kvm guest reached init in 812 ms", "/dev/kvm missing", "kvm guest silent for 20 s". */
  detail: string;
  /** The host kernel (uname -r) the answer holds for. */
  hostKernel: string;
  checkedAt: string;
}

export interface ProbeOptions {
  /** The cache lives at DATA_DIR/virt/accel-probe.json. */
  dataDir: string;
  /** How long the KVM guest has to print its init line (default 20 s). */
  timeoutMs?: number;
  /** Ignore the cache. */
  force?: boolean;
  /** Default: the built test guest. */
  guest?: TestGuest;
  /** Stops a probe in progress (its QEMU is killed; the answer is TCG, not cached). */
  signal?: AbortSignal;
  /** The host-wide cache (default /run/cairn/virt-accel-probe.json); its lock sits beside it. */
  hostCache?: string;
}

export const HOST_PROBE_CACHE = '/run/cairn/virt-accel-probe.json';

export function probeCachePath(dataDir: string): string {
  return join(dataDir, 'virt', 'accel-probe.json');
}

function readCache(path: string): AccelProbe | undefined {
  try {
    const c = JSON.parse(readFileSync(path, 'utf8')) as AccelProbe;
    return c.hostKernel === release() && (c.accel === 'kvm' || c.accel === 'tcg') ? c : undefined;
  } catch {
    return undefined;
  }
}

/** Boots the test guest under KVM and watches its serial log for the init line. */
async function bootUnderKvm(guest: TestGuest, timeoutMs: number, signal?: AbortSignal): Promise<string | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-kvm-probe-'));
  const serialLog = join(dir, 'serial.log');
  let qemu: QemuProcess | undefined;
  try {
    const started = Date.now();
    qemu = await QemuProcess.start(
      {
        name: 'cairn-kvm-probe',
        accel: 'kvm',
        memoryMiB: 128,
        kernel: { path: guest.kernel, initrd: guest.initrd, cmdline: TEST_GUEST_CMDLINE },
        serial: { socket: join(dir, 'serial.sock'), logFile: serialLog },
        qmp: { socket: join(dir, 'qmp.sock') },
      },
      { logFile: join(dir, 'qemu.log'), startTimeoutMs: timeoutMs, dieWithParent: true },
    );
    while (Date.now() - started < timeoutMs && !qemu.exit && !signal?.aborted) {
      if (existsSync(serialLog) && readFileSync(serialLog, 'utf8').includes(GUEST_INIT_LINE)) {
        return `kvm guest reached init in ${Date.now() - started} ms`;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return undefined;
  } finally {
    await qemu?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The accelerator VMs should use here: cached, or found by a bounded KVM test boot. */
/** Holds the host-wide probe lock while `fn` runs; waits for another holder's answer instead when it is fresh. */
async function withHostLock<T>(lock: string, staleMs: number, fn: () => Promise<T>, otherAnswer: () => T | undefined): Promise<T> {
  mkdirSync(dirname(lock), { recursive: true });
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx'));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0);
    if (age > staleMs) rmSync(lock, { force: true });
    else {
      await new Promise((r) => setTimeout(r, 250));
      const a = otherAnswer();
      if (a !== undefined) return a;
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

export async function probeAccel(opts: ProbeOptions): Promise<AccelProbe> {
  const cachePath = probeCachePath(opts.dataDir);
  const hostCache = opts.hostCache ?? HOST_PROBE_CACHE;
  const save = (r: AccelProbe) => {
    for (const p of [cachePath, hostCache]) {
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, JSON.stringify(r, null, 2) + '\n');
    }
    return r;
  };
  if (!opts.force) {
    const cached = readCache(cachePath) ?? readCache(hostCache);
    if (cached) return save(cached);
  }
  const timeoutMs = opts.timeoutMs ?? 20_000;
  return withHostLock(`${hostCache}.lock`, timeoutMs + 30_000, async () => probeNow(opts, timeoutMs, save), () => (opts.force ? undefined : readCache(hostCache)));
}

async function probeNow(opts: ProbeOptions, timeoutMs: number, save: (r: AccelProbe) => AccelProbe): Promise<AccelProbe> {
  let accel: Accel = 'tcg';
  let detail: string;
  if (!existsSync('/dev/kvm')) {
    detail = '/dev/kvm missing';
  } else {
    try {
      const ok = await bootUnderKvm(opts.guest ?? testGuest(), timeoutMs, opts.signal);
      if (ok) accel = 'kvm';
      detail = ok ?? `kvm guest silent for ${Math.round(timeoutMs / 1000)} s`;
    } catch (e) {
      if (!(e instanceof QemuError)) throw e;
      detail = `kvm guest failed: ${e.message}`;
    }
  }
  const result: AccelProbe = { accel, detail, hostKernel: release(), checkedAt: new Date().toISOString() };
  if (opts.signal?.aborted) return { ...result, accel: 'tcg', detail: 'probe interrupted' };
  return save(result);
}
