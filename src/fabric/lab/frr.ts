// Typed wrapper over FRR (Debian's `frr`): zebra, staticd and bgpd run inside one network
// namespace with their own runtime directory (pid files, vty sockets, the zserv socket, logs),
// so several FRR instances run side by side on one host without touching the host's own
// /etc/frr or /run/frr. vtysh talks to an instance through its vty socket directory.
//
// Every daemon reads the same (integrated) frr.conf with -f, as `frr.conf` is written for
// `vtysh -b`: each daemon applies its own commands and logs "No such command" for the other
// daemons' lines. Those lines are expected and left out of the log lines shown on failure; real
// syntax errors are caught before starting by `vtysh --dryrun` (see dryRun).
import { access, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runTool } from '../../net/exec.js';
import { checkNetnsName } from '../../net/ip.js';
import { FrrError, ToolMissingError } from './errors.js';
import { processName, readPidFile, stopProcess } from './processes.js';

/** The daemons a fabric node runs, in start order (zebra first: the others connect to it). */
export const FRR_DAEMONS = ['zebra', 'staticd', 'bgpd'] as const;
export type FrrDaemon = (typeof FRR_DAEMONS)[number];

const FRR_LIB = '/usr/lib/frr';
/** Where FRR daemons keep a per-process scratch directory (crash logs) while they run. */
export const FRR_SCRATCH_DIR = '/var/tmp/frr';
const VTYSH = 'vtysh';
/** How long a daemon may take to open its vty socket after daemonizing. */
const START_TIMEOUT_MS = 15_000;
/** A daemon's log lines that only say it ignored another daemon's part of the integrated file. */
const OTHER_DAEMON_LINE = /No such command on config line/;

/** Throws ToolMissingError unless the FRR daemons and vtysh are installed. */
export async function checkFrrInstalled(): Promise<void> {
  for (const d of FRR_DAEMONS) {
    try {
      await access(join(FRR_LIB, d));
    } catch {
      throw new ToolMissingError(`FRR (${join(FRR_LIB, d)})`, 'frr');
    }
  }
  await runVtysh(['--version']);
}

async function runVtysh(args: readonly string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string; code: number | null }> {
  try {
    return await runTool(VTYSH, args, { timeoutMs });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ToolMissingError('vtysh', 'frr');
    throw e;
  }
}

/**
 * Checks an frr.conf with `vtysh --dryrun -f` (FRR parses every line for every daemon without
 * running one). Throws FrrError with the lines FRR rejected.
 */
export async function dryRun(file: string): Promise<void> {
  const r = await runVtysh(['--dryrun', '-f', file]);
  if (r.code === 0) return;
  const lines = (r.stdout + r.stderr)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  throw new FrrError(`FRR rejects ${file}`, lines.slice(0, 10));
}

/** uid and gid of the `frr` user the daemons drop to (they must own their runtime directory). */
async function frrOwner(): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === 'frr') return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new ToolMissingError('the frr user', 'frr');
}

/** One FRR instance: the daemons of one node, in its network namespace, run from `dir`. */
export class FrrInstance {
  constructor(
    readonly netns: string,
    readonly dir: string,
  ) {
    checkNetnsName(netns);
  }

  get configFile(): string {
    return join(this.dir, 'frr.conf');
  }
  pidFile(d: FrrDaemon): string {
    return join(this.dir, `${d}.pid`);
  }
  logFile(d: FrrDaemon): string {
    return join(this.dir, `${d}.log`);
  }

  /** Writes frr.conf and starts zebra, staticd and bgpd; on failure stops what started. */
  async start(config: string): Promise<void> {
    const owner = await frrOwner();
    await mkdir(this.dir, { recursive: true, mode: 0o755 });
    await chown(this.dir, owner.uid, owner.gid);
    await writeFile(this.configFile, config, { mode: 0o640 });
    await chown(this.configFile, owner.uid, owner.gid);
    try {
      for (const d of FRR_DAEMONS) await this.startDaemon(d);
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  private async startDaemon(d: FrrDaemon): Promise<void> {
    const args = [
      'netns', 'exec', this.netns,
      join(FRR_LIB, d),
      '-d',
      // No TCP vty: vtysh uses the unix socket in the runtime directory.
      '-P', '0',
      '-i', this.pidFile(d),
      '--vty_socket', this.dir,
      '-z', join(this.dir, 'zserv.api'),
      '-f', this.configFile,
      '--log', `file:${this.logFile(d)}`,
    ];
    const r = await runTool('ip', args, { timeoutMs: START_TIMEOUT_MS });
    if (r.code !== 0) {
      const own = r.stderr.split('\n').map((l) => l.trim()).filter(Boolean);
      // What it printed first (the reason), then its log's last lines, each line once.
      const lines = [...new Set([...own, ...(await this.logTail(d))])];
      throw new FrrError(`${d} did not start in ${this.netns} (exit ${r.code ?? 'timeout'})`, lines.slice(0, 6));
    }
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const pid = await readPidFile(this.pidFile(d));
      const alive = pid !== undefined && (await processName(pid)) === d;
      if (alive && (await exists(join(this.dir, `${d}.vty`)))) return;
      if ((pid !== undefined && !alive) || Date.now() > deadline) {
        throw new FrrError(`${d} ${alive ? 'did not open its vty socket' : 'exited right after starting'} in ${this.netns}`, await this.logTail(d));
      }
      await sleep(50);
    }
  }

  /** The daemons whose pid file names a live process of that name. */
  async running(): Promise<FrrDaemon[]> {
    const out: FrrDaemon[] = [];
    for (const d of FRR_DAEMONS) {
      const pid = await readPidFile(this.pidFile(d));
      if (pid !== undefined && (await processName(pid)) === d) out.push(d);
    }
    return out;
  }

  /** Stops the daemons with SIGTERM, so they clean up their own files. */
  async stop(): Promise<void> {
    await Promise.all(
      FRR_DAEMONS.map(async (d) => {
        const pid = await readPidFile(this.pidFile(d));
        if (pid !== undefined) await stopProcess(pid, d);
      }),
    );
  }

  /** The daemon's last log lines, without the lines about other daemons' commands. */
  async logTail(d: FrrDaemon, n = 6): Promise<string[]> {
    let text: string;
    try {
      text = await readFile(this.logFile(d), 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((l) => l.trim() && !OTHER_DAEMON_LINE.test(l))
      .slice(-n);
  }

  /** Runs one vtysh command against this instance and returns its output. */
  async vtysh(command: string): Promise<string> {
    const r = await runVtysh(['--vty_socket', this.dir, '-c', command]);
    if (r.code !== 0 || /^% /m.test(r.stdout)) {
      const msg = (r.stdout + r.stderr).trim().split('\n')[0] ?? `exit code ${r.code}`;
      throw new FrrError(`vtysh "${command}" in ${this.netns}: ${msg}`);
    }
    return r.stdout;
  }

  /** Runs `COMMAND json` and parses FRR's JSON answer. */
  async json<T>(command: string): Promise<T> {
    const out = await this.vtysh(`${command} json`);
    try {
      return JSON.parse(out) as T;
    } catch {
      throw new FrrError(`vtysh "${command} json" in ${this.netns} printed no JSON: ${out.slice(0, 200)}`);
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
