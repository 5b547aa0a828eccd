// Stopping the lab's daemons. The lab only ever signals processes it can prove are its own: a
// pid from one of its pid files whose /proc/PID/comm still names the expected program (so a
// recycled pid is left alone), or a process inside one of the lab's own network namespaces.
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ip, NotFoundError } from '../../net/ip.js';

export async function readPidFile(file: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(file, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The process's command name (/proc/PID/comm), or undefined when it is gone — or dead and not
 * yet reaped (a zombie keeps its name until its parent, for a daemon init, collects it).
 */
export async function processName(pid: number): Promise<string | undefined> {
  try {
    const [comm, stat] = await Promise.all([readFile(`/proc/${pid}/comm`, 'utf8'), readFile(`/proc/${pid}/stat`, 'utf8')]);
    return /\) [ZX] /.test(stat) ? undefined : comm.trim();
  } catch {
    return undefined;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/**
 * Sends SIGTERM, waits up to `graceMs` for the process to go, then SIGKILL. When `comm` is given,
 * a process with another name is not touched. Returns true when a process was signalled.
 */
export async function stopProcess(pid: number, comm?: string, graceMs = 5000): Promise<boolean> {
  const name = await processName(pid);
  if (name === undefined || (comm !== undefined && name !== comm)) return false;
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if ((await processName(pid)) === undefined) return true;
    await sleep(50);
  }
  signal(pid, 'SIGKILL');
  while ((await processName(pid)) !== undefined) await sleep(20);
  return true;
}

/** Pids of every process whose network namespace is `netns` (`ip netns pids`). */
export async function netnsPids(netns: string): Promise<number[]> {
  try {
    const out = await Ip.root.ip(['netns', 'pids', netns]);
    return out
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => Number.isInteger(n) && n > 1);
  } catch (e) {
    if (e instanceof NotFoundError) return [];
    throw e;
  }
}
