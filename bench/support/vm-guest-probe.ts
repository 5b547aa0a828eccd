/**
 * What the VM benchmark reads about a running guest straight from the host, without going
 * through the cluster: the QEMU process of a VMI (found by its `-name guest=<ns>_<vmi>`), the
 * guest's serial log inside the launcher's `compute` container (through /proc/<pid>/root — a
 * measurement shortcut only a bench on the node's host can take; users read it with
 * `cairn vm console`), and the memory of the launcher pod's cgroup.
 *
 * Polling, not inotify: a 100 ms read of a small file is cheap and behaves the same for the
 * launcher's log and for plain QEMU's, so both sides of the comparison share the resolution.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { cgroupMounts } from '../../src/agent/runtime/cgroups.js';
import { FILES, PRIVATE_DIR } from '../../src/virt/launcher/layout.js';
import { GUEST_INIT_LINE } from '../../src/virt/qemu/kvm-probe.js';

export const POLL_MS = 100;

export class GuestProbeError extends Error {
  override name = 'GuestProbeError';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cmdline(pid: string): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined; // gone meanwhile
  }
}

/** The pid of the QEMU running machine `name` (the handler names it `<namespace>_<vmi>`), if any. */
export function findQemuPid(name: string): number | undefined {
  const want = `guest=${name},`;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const argv = cmdline(pid);
    if (!argv || !basename(argv[0] ?? '').startsWith('qemu-system-')) continue;
    const i = argv.indexOf('-name');
    if (i >= 0 && argv[i + 1]?.startsWith(want)) return Number(pid);
  }
  return undefined;
}

/** The launcher's serial log as the host sees it through QEMU's root. */
export const launcherSerialLog = (qemuPid: number) => join(`/proc/${qemuPid}/root`, PRIVATE_DIR, FILES.serialLog);

/**
 * When the VirtHandler wrote QEMU's argument vector into the launcher (performance.now() clock):
 * the entrypoint execs QEMU as soon as it sees the file, so this is the VM's "QEMU start". QEMU
 * replaces the entrypoint (same pid), so the process's own start time is the container's.
 */
export function launcherArgvWrittenAt(qemuPid: number): number {
  return statSync(join(`/proc/${qemuPid}/root`, PRIVATE_DIR, FILES.argv)).mtimeMs - performance.timeOrigin;
}

function hasInit(file: string): boolean {
  try {
    return readFileSync(file, 'utf8').includes(GUEST_INIT_LINE);
  } catch {
    return false; // not written yet
  }
}

/**
 * Waits until the guest's init line is in `file` (the path may change: a function is re-asked
 * every poll). Returns the wall time (performance.now()) it was first seen.
 */
export async function waitForInit(file: () => string | undefined, timeoutMs: number, what: string): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const f = file();
    if (f && hasInit(f)) return performance.now();
    if (performance.now() > deadline) throw new GuestProbeError(`${what}: no "${GUEST_INIT_LINE}" on the serial log within ${timeoutMs} ms`);
    await sleep(POLL_MS);
  }
}

export interface LauncherMemory {
  /** The launcher pod's memory cgroup (the parent of the container's): usage_in_bytes. */
  podCgroupBytes: number;
  /** memory.stat total_rss of the same cgroup (anonymous memory: guest RAM, QEMU heap, TCG cache). */
  podRssBytes: number;
  /** QEMU's own VmRSS. */
  qemuRssBytes: number;
  /** memory.limit_in_bytes of the pod's cgroup (a huge number when unlimited). */
  podLimitBytes: number;
}

/** The memory of the pod around QEMU `pid` (cgroup v1 memory controller, as on this machine). */
export function launcherMemory(pid: number): LauncherMemory {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes('memory'));
  const mount = cgroupMounts().v1.get('memory');
  if (!line || !mount) throw new GuestProbeError(`QEMU ${pid} has no v1 memory cgroup (this bench reads cgroup v1 memory)`);
  // kubepods[/tier]/pod<uid>/<container>: the pod's cgroup is the container's parent.
  const pod = join(mount, dirname(line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1)));
  const stat = readFileSync(join(pod, 'memory.stat'), 'utf8');
  const num = (file: string) => Number(readFileSync(join(pod, file), 'utf8').trim());
  const rss = /^total_rss (\d+)$/m.exec(stat);
  const vmRss = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return {
    podCgroupBytes: num('memory.usage_in_bytes'),
    podLimitBytes: num('memory.limit_in_bytes'),
    podRssBytes: rss ? Number(rss[1]) : NaN,
    qemuRssBytes: vmRss ? Number(vmRss[1]) * 1024 : NaN,
  };
}
