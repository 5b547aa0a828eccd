/**
 * Debian's nginx as a node's Ingress data plane: one master per node, started as a daemon in the
 * node's network namespace (`ip netns exec NS nginx -p DIR -c CONF`), found again by a new
 * agent through its pid file — trusted only when /proc/PID/cmdline shows the nginx master of that
 * very configuration file, since pids are reused — reloaded gracefully with SIGHUP (new workers
 * take new connections, old workers finish the requests they have), and stopped with SIGQUIT
 * (graceful) or SIGTERM (fast). Configurations are checked with `nginx -t` before nginx sees them.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { listProcesses, readArgs } from '../cluster/processes.js';
import { runTool } from '../net/exec.js';
import { netnsDaemonCommand } from '../net/netns-daemon.js';

export const NGINX_BIN = '/usr/sbin/nginx';

export class NginxError extends Error {
  override name = 'NginxError';
  constructor(
    message: string,
    /** nginx's own complaint (its stderr), for logs and events. */
    readonly detail = '',
  ) {
    super(detail ? `${message}: ${detail}` : message);
  }
}
/** /usr/sbin/nginx is not there. */
export class NginxNotInstalledError extends NginxError {
  override name = 'NginxNotInstalledError';
}
/** `nginx -t` rejected a configuration; `line` is where, when nginx said so. */
export class NginxConfigError extends NginxError {
  override name = 'NginxConfigError';
  constructor(
    message: string,
    detail: string,
    readonly line: number | undefined,
  ) {
    super(message, detail);
  }
}
/** The master did not come up (a port taken, a file it could not open, ...). */
export class NginxStartError extends NginxError {
  override name = 'NginxStartError';
}

export interface NginxOptions {
  /** The configuration file the master runs with (reloads re-read it). */
  conf: string;
  /** The `pid` directive of that configuration. */
  pidFile: string;
  /** nginx's prefix (-p): relative paths in the configuration resolve against it. */
  prefix: string;
  /** The network namespace to run in; undefined = the caller's. */
  netns?: string;
}

const TITLE = 'nginx: master process ';

/**
 * Is this process (its /proc cmdline, split on NUL) the nginx master of `conf`? The master
 * rewrites its argv to one string, "nginx: master process /usr/sbin/nginx -p DIR -c CONF", a
 * moment after it wrote its pid file; before that its argv is still the command line.
 */
export function isNginxMaster(args: readonly string[], conf: string): boolean {
  if (args.length === 1) return args[0]!.startsWith(TITLE) && ` ${args[0]} `.includes(` -c ${conf} `);
  const c = args.indexOf('-c');
  return args[0] === NGINX_BIN && c > 0 && args[c + 1] === conf && !args.includes('-t');
}

/** nginx's messages, without the "nginx: " prefix and the closing "test failed" line. */
function complaint(stderr: string): string {
  return stderr
    .split('\n')
    .map((l) =>
      l
        .replace(/^nginx: /, '')
        .replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, '')
        .replace(/^\[(\w+)\] \d+#\d+: /, '[$1] ')
        .trim(),
    )
    .filter((l) => l && !/^configuration file .* test failed$/.test(l))
    .join('; ');
}

export class Nginx {
  constructor(readonly opts: NginxOptions) {}

  private requireInstalled(): void {
    if (!existsSync(NGINX_BIN)) throw new NginxNotInstalledError(`${NGINX_BIN} is missing: install Debian's nginx-light (scripts/setup.sh does)`);
  }

  /** Checks a configuration file with `nginx -t`; throws NginxConfigError with nginx's reason. */
  async test(file: string): Promise<void> {
    this.requireInstalled();
    const r = await runTool(NGINX_BIN, ['-t', '-q', '-p', this.opts.prefix, '-c', file], { timeoutMs: 30_000 });
    if (r.code === 0) return;
    const m = new RegExp(`in ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+)`).exec(r.stderr);
    throw new NginxConfigError(`nginx rejected ${file}`, complaint(r.stderr) || `exit code ${r.code}`, m ? Number(m[1]) : undefined);
  }

  /** The pid of this configuration's running master, if there is one. */
  async pid(): Promise<number | undefined> {
    const text = await readFile(this.opts.pidFile, 'utf8').catch(() => '');
    const pid = Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 1) return undefined;
    const args = await readArgs(pid);
    return args && isNginxMaster(args, this.opts.conf) ? pid : undefined;
  }

  /** Starts the master (it daemonizes); resolves with its pid once it runs. */
  async start(): Promise<number> {
    this.requireInstalled();
    const argv = [NGINX_BIN, '-p', this.opts.prefix, '-c', this.opts.conf];
    const [cmd, args] = this.opts.netns === undefined ? [argv[0]!, argv.slice(1)] : netnsDaemonCommand(this.opts.netns, argv);
    // nginx reports what stops it (a port in use, a certificate it cannot read) on stderr and
    // exits non-zero before daemonizing; the daemon writes its pid file before letting go of
    // stderr, so once the pipes close the pid file is there.
    const r = await runTool(cmd, args, { timeoutMs: 30_000 });
    if (r.code !== 0) throw new NginxStartError('nginx did not start', complaint(r.stderr) || `exit code ${r.code}`);
    const pid = await this.pid();
    if (pid === undefined) throw new NginxStartError(`nginx started but no master is running with ${this.opts.conf} (see its error log)`);
    return pid;
  }

  /** Graceful reload: the master re-reads its configuration and replaces its workers. */
  reload(pid: number): void {
    signal(pid, 'SIGHUP');
  }

  /**
   * Every running master of this configuration (normally one): found through /proc, not the pid
   * file, which a crash may have left stale or never written.
   */
  async masters(): Promise<number[]> {
    return (await listProcesses()).filter((p) => isNginxMaster(p.args, this.opts.conf)).map((p) => p.pid);
  }

  /**
   * Stops a master: graceful (SIGQUIT: workers finish their requests) or fast (SIGTERM: the
   * master stops its workers). One that is still there after `timeoutMs` is killed with its
   * workers (SIGKILL to the master alone would leave them serving).
   */
  async stop(pid: number, opts: { graceful?: boolean; timeoutMs?: number } = {}): Promise<void> {
    signal(pid, opts.graceful ? 'SIGQUIT' : 'SIGTERM');
    if (await this.gone(pid, opts.timeoutMs ?? 10_000)) return;
    const workers = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).split(/\s+/).filter(Boolean).map(Number);
    for (const p of [pid, ...workers]) signal(p, 'SIGKILL');
    if (!(await this.gone(pid, 5_000))) throw new NginxError(`nginx master ${pid} did not stop`);
  }

  private async gone(pid: number, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      const args = await readArgs(pid);
      if (!args || !isNginxMaster(args, this.opts.conf)) return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
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
 * The unprivileged account nginx's workers run as: Debian's www-data, else nobody (with its
 * group named explicitly: Debian has no group "nobody").
 */
export async function workerAccount(): Promise<{ user: string; group: string }> {
  const names = async (file: string) =>
    new Set(
      (await readFile(file, 'utf8').catch(() => ''))
        .split('\n')
        .map((l) => l.split(':')[0])
        .filter(Boolean),
    );
  const [users, groups] = await Promise.all([names('/etc/passwd'), names('/etc/group')]);
  if (users.has('www-data') && groups.has('www-data')) return { user: 'www-data', group: 'www-data' };
  return { user: 'nobody', group: groups.has('nogroup') ? 'nogroup' : 'nobody' };
}
