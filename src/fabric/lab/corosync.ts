// Typed wrapper over corosync (Debian's `corosync`) for the lab: one corosync per node
// namespace, started from that node's rendered corosync.conf, unchanged. corosync keeps fixed
// host paths (/etc/corosync, /var/lib/corosync, /var/log/corosync, and its lock
// /run/corosync.pid), so it runs in the sandbox (sandbox.ts) with the node's own directories
// bound over the first three and a private /run. Its IPC (libqb) uses abstract unix sockets,
// which belong to the network namespace, so corosync-cmapctl and corosync-quorumtool run in the
// same namespace reach that node's corosync.
import { spawn } from 'node:child_process';
import { access, mkdir, open, readFile, writeFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runTool } from '../../net/exec.js';
import { Ip, IpError } from '../../net/ip.js';
import { CorosyncError, ToolMissingError } from './errors.js';
import { sandboxArgv } from './sandbox.js';
import { netnsPids, processName, stopProcess } from './processes.js';

const START_TIMEOUT_MS = 15_000;

export async function checkCorosyncInstalled(): Promise<void> {
  for (const tool of ['/usr/sbin/corosync', '/usr/sbin/corosync-cmapctl', '/usr/sbin/corosync-quorumtool', '/usr/sbin/corosync-keygen']) {
    try {
      await access(tool);
    } catch {
      throw new ToolMissingError(tool, 'corosync');
    }
  }
}

/** Whether a corosync.conf asks for encryption or authentication, i.e. needs /etc/corosync/authkey. */
export function needsAuthkey(conf: string): boolean {
  const cipher = /^\s*crypto_cipher\s*:\s*(\S+)/m.exec(conf)?.[1];
  const hash = /^\s*crypto_hash\s*:\s*(\S+)/m.exec(conf)?.[1];
  const secauth = /^\s*secauth\s*:\s*(\S+)/m.exec(conf)?.[1];
  // corosync 3 defaults to crypto_cipher/crypto_hash none unless secauth is on.
  return (cipher !== undefined && cipher !== 'none') || (hash !== undefined && hash !== 'none') || secauth === 'on';
}

/** Writes a fresh cluster key (the same key goes to every node). */
export async function generateAuthkey(file: string): Promise<void> {
  const r = await runTool('corosync-keygen', ['-k', file]);
  if (r.code !== 0) throw new CorosyncError(`corosync-keygen failed: ${r.stderr.trim()}`);
}

export interface Membership {
  /** Node ids the node's corosync sees as joined members. */
  joined: number[];
  quorate: boolean;
  /** knet link state toward each other node: "node<id>.link<n>" → connected. */
  links: Record<string, boolean>;
}

/** One node's corosync, in its namespace, run from `dir` (etc/, lib/, log/ inside it). */
export class CorosyncInstance {
  constructor(
    readonly netns: string,
    readonly dir: string,
  ) {}

  private get etc(): string {
    return join(this.dir, 'etc');
  }
  get logFile(): string {
    return join(this.dir, 'log', 'corosync.log');
  }
  private get stdoutFile(): string {
    return join(this.dir, 'corosync.out');
  }

  /** Starts corosync with this configuration (and key, when the configuration needs one). */
  async start(conf: string, authkey?: string): Promise<void> {
    for (const d of ['etc', 'lib', 'log']) await mkdir(join(this.dir, d), { recursive: true, mode: 0o700 });
    await writeFile(join(this.etc, 'corosync.conf'), conf);
    if (authkey !== undefined) await copyFile(authkey, join(this.etc, 'authkey'));
    const binds: [string, string][] = [
      [this.etc, '/etc/corosync'],
      [join(this.dir, 'lib'), '/var/lib/corosync'],
      [join(this.dir, 'log'), '/var/log/corosync'],
    ];
    const [cmd, ...args] = sandboxArgv(this.netns, ['corosync', '-f'], binds, false);
    const out = await open(this.stdoutFile, 'w');
    try {
      // Detached, in its own session: corosync outlives the command that started the lab.
      const child = spawn(cmd!, args, { detached: true, stdio: ['ignore', out.fd, out.fd] });
      child.unref();
    } finally {
      await out.close();
    }
    const started = Date.now();
    for (;;) {
      const running = (await this.pid()) !== undefined;
      if (running) {
        try {
          await this.cmap('runtime.votequorum.this_node_id');
          return;
        } catch {
          /* not answering yet */
        }
      }
      const elapsed = Date.now() - started;
      // Not among the namespace's processes two seconds after the start: it exited.
      if (!running && elapsed > 2000) throw new CorosyncError(`corosync did not start in ${this.netns}`, await this.logTail());
      if (elapsed > START_TIMEOUT_MS) throw new CorosyncError(`corosync did not answer in ${this.netns}`, await this.logTail());
      await sleep(100);
    }
  }

  /** The corosync process in the namespace (found by name among the namespace's processes). */
  async pid(): Promise<number | undefined> {
    for (const p of await netnsPids(this.netns)) if ((await processName(p)) === 'corosync') return p;
    return undefined;
  }

  async stop(): Promise<void> {
    const pid = await this.pid();
    if (pid !== undefined) await stopProcess(pid, 'corosync', 10_000);
  }

  /** corosync's own last log lines (its log file, else what it printed). */
  async logTail(n = 6): Promise<string[]> {
    for (const f of [this.logFile, this.stdoutFile]) {
      try {
        const lines = (await readFile(f, 'utf8')).split('\n').filter((l) => l.trim());
        if (lines.length) return lines.slice(-n);
      } catch {
        /* try the next */
      }
    }
    return [];
  }

  private async cmap(...args: string[]): Promise<string> {
    try {
      return (await Ip.ns(this.netns).exec(['corosync-cmapctl', ...args])).stdout;
    } catch (e) {
      if (e instanceof IpError) throw new CorosyncError(`corosync-cmapctl in ${this.netns}: ${e.stderr.trim() || e.message}`);
      throw e;
    }
  }

  /** Who this node's corosync sees, whether it is quorate, and the state of its knet links. */
  async membership(): Promise<Membership> {
    const members = await this.cmap('runtime.members');
    const joined = [...members.matchAll(/^runtime\.members\.(\d+)\.status \(str\) = joined$/gm)].map((m) => Number(m[1]));
    const stats = await this.cmap('-m', 'stats', 'stats.knet');
    const links: Record<string, boolean> = {};
    for (const m of stats.matchAll(/^stats\.knet\.(node\d+\.link\d+)\.connected \(u8\) = (\d)$/gm)) links[m[1]!] = m[2] === '1';
    // corosync-quorumtool exits 0 when quorate, 2 when not; its "Quorate:" line says the same.
    const q = await runTool('ip', ['netns', 'exec', this.netns, 'corosync-quorumtool', '-s']);
    const quorate = /^Quorate:\s+Yes/m.test(q.stdout);
    return { joined: joined.sort((a, b) => a - b), quorate, links };
  }
}
