/**
 * The processes of a local cluster: `cairn server`, `cairn dns` and `cairn agent` started
 * detached (own session, output appended to a log file, surviving the `cairn up` that started
 * them), found again through /proc/PID/cmdline (never trusting a bare pid: pids are reused after
 * a reboot), and stopped with SIGTERM, then SIGKILL after a grace period.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** This checkout's `cairn` entry point: run with this Node. */
const CAIRN_BIN = fileURLToPath(new URL('../../../bin/cairn.js', import.meta.url));

/** What `cairn up` starts, each as `cairn <role> --data-dir <dir> ...`. */
export type CairnRole = 'server' | 'dns' | 'agent';

export interface ProcessInfo {
  pid: number;
  args: string[];
}

/** Starts `cairn ARGS...` detached, stdout and stderr appended to `logFile`; returns its pid. */
export function spawnCairn(args: string[], logFile: string): number {
  const fd = openSync(logFile, 'a', 0o640);
  try {
    const child = spawn(process.execPath, [CAIRN_BIN, ...args], { detached: true, stdio: ['ignore', fd, fd], cwd: '/', env: process.env });
    if (child.pid === undefined) throw new Error(`could not start cairn ${args[0]}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export async function readArgs(pid: number): Promise<string[] | undefined> {
  try {
    const [cmdline, stat] = await Promise.all([readFile(`/proc/${pid}/cmdline`, 'utf8'), readFile(`/proc/${pid}/stat`, 'utf8')]);
    if (/\) [ZX] /.test(stat)) return undefined;
    const args = cmdline.split('\0');
    if (args[args.length - 1] === '') args.pop();
    return args.length ? args : undefined;
  } catch {
    return undefined;
  }
}

export async function listProcesses(): Promise<ProcessInfo[]> {
  const out: ProcessInfo[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const args = await readArgs(pid);
    if (args) out.push({ pid, args });
  }
  return out;
}

/**
 * Is this `cairn <role> --data-dir <dataDir> ...` (as spawnCairn starts it, from this or another
 * installation of cairn)?
 */
export function isCairnProcess(args: string[], role: CairnRole, dataDir: string): boolean {
  const i = args.findIndex((a) => /(^|\/)cairn(\.js)?$/.test(a));
  return i >= 0 && args[i + 1] === role && args[i + 2] === '--data-dir' && args[i + 3] === dataDir;
}

/** The pids of every running `cairn <role> --data-dir <dataDir>` (normally one, or none). */
export async function findCairn(role: CairnRole, dataDir: string): Promise<number[]> {
  return (await listProcesses()).filter((p) => isCairnProcess(p.args, role, dataDir)).map((p) => p.pid);
}

/** The pid, if it is alive and still the `cairn <role>` of that data dir. */
export async function aliveCairn(pid: number | undefined, role: CairnRole, dataDir: string): Promise<boolean> {
  if (!pid) return false;
  const args = await readArgs(pid);
  return !!args && isCairnProcess(args, role, dataDir);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * SIGTERM to each process that `still(pid)` confirms, SIGKILL to those still there after
 * `graceMs`; resolves when all are gone (or 5 s after the SIGKILL). Returns the pids signalled.
 */
export async function stopProcesses(pids: number[], still: (pid: number) => Promise<boolean>, graceMs: number): Promise<number[]> {
  const live: number[] = [];
  for (const pid of new Set(pids)) if (await still(pid)) live.push(pid);
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  };
  for (const pid of live) signal(pid, 'SIGTERM');
  const waitGone = async (ms: number) => {
    const deadline = Date.now() + ms;
    let left = live;
    while (left.length && Date.now() < deadline) {
      await sleep(100);
      const next: number[] = [];
      for (const pid of left) if (await still(pid)) next.push(pid);
      left = next;
    }
    return left;
  };
  const stubborn = await waitGone(graceMs);
  for (const pid of stubborn) signal(pid, 'SIGKILL');
  await waitGone(5000);
  return live;
}
