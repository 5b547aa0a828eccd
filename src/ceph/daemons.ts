/**
 * The Ceph daemons as processes: each started detached in its node's network namespace
 * (`nsenter --net=/run/netns/NS -- ceph-TYPE -f ...`: nsenter execs the daemon, which stays in
 * the foreground, so the pid started is the daemon's), found again by its argv naming this
 * cluster's ceph.conf (never a bare pid), and stopped with SIGTERM (an OSD then tells the mon it is going down),
 * SIGKILL after a grace period.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { listProcesses, readArgs, stopProcesses } from '../cluster/processes.js';
import { daemonArgv, parseDaemonArgv, type DaemonType } from './ceph-cli.js';
import type { CephLayout, DaemonPlace } from './layout.js';
import { daemonName } from './layout.js';
import { netnsDaemonCommand } from '../net/netns-daemon.js';

export interface RunningDaemon {
  pid: number;
  type: DaemonType;
  id: string;
}

/** Starts the daemon in its node's namespace, output appended to its log; returns its pid. */
export function spawnDaemon(l: CephLayout, d: DaemonPlace): number {
  const fd = openSync(l.log(d), 'a', 0o640);
  try {
    const child = spawn(...netnsDaemonCommand(l.netns(d), daemonArgv(d.type, d.id, l.conf)), { detached: true, stdio: ['ignore', fd, fd], cwd: '/' });
    if (child.pid === undefined) throw new Error(`could not start ${daemonName(d)}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** This cluster's running daemons (those started with its ceph.conf). */
export async function runningDaemons(l: CephLayout): Promise<RunningDaemon[]> {
  const out: RunningDaemon[] = [];
  for (const p of await listProcesses()) {
    const d = parseDaemonArgv(p.args);
    if (d && d.conf === l.conf) out.push({ pid: p.pid, type: d.type, id: d.id });
  }
  return out;
}

/** Stops the given daemons of this cluster (all of them when none are named); returns the names stopped. */
export async function stopDaemons(l: CephLayout, which?: (d: RunningDaemon) => boolean): Promise<string[]> {
  const targets = (await runningDaemons(l)).filter((d) => !which || which(d));
  const still = async (pid: number) => parseDaemonArgv((await readArgs(pid)) ?? [])?.conf === l.conf;
  // OSDs flush BlueStore on SIGTERM; give them time before SIGKILL.
  await stopProcesses(
    targets.map((d) => d.pid),
    still,
    15_000,
  );
  return targets.map((d) => `${daemonName(d)} (pid ${d.pid})`);
}
