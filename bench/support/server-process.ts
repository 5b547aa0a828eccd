/**
 * Starts `cairn server` as its own process for the benchmarks, so the client's and the server's
 * CPU are separate and the server's memory can be read from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** Repository root (this file runs from dist/bench/support). */
export const repoRoot = resolve(here, '..', '..', '..');

export interface ServerProcessOptions {
  store: 'sqlite' | 'etcd';
  etcdEndpoints?: string[];
  /** Write a V8 CPU profile of the server into this directory when it exits. */
  cpuProfDir?: string;
  readyTimeoutMs?: number;
  /** More `cairn server` arguments (e.g. `--simulated-nodes 1000`). */
  extraArgs?: string[];
}

export interface MemoryReading {
  /** VmRSS from /proc/PID/status, in KiB. */
  rssKb: number;
  /** VmHWM (peak RSS so far), in KiB. */
  hwmKb: number;
  /** process.memoryUsage() inside the server right after a forced full GC. */
  heap?: { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };
}

export class ServerProcess {
  private gcWaiters: ((line: string) => void)[] = [];

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly dataDir: string,
    readonly logPath: string,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  get kubeconfigPath(): string {
    return join(this.dataDir, 'admin.kubeconfig');
  }

  static async start(opts: ServerProcessOptions): Promise<ServerProcess> {
    const dataDir = mkdtempSync(join(tmpdir(), `cairn-bench-${opts.store}-`));
    const logPath = join(dataDir, 'server.log');
    const nodeArgs = ['--expose-gc', '--import', pathToFileURL(join(here, 'gc-hook.js')).href];
    if (opts.cpuProfDir) nodeArgs.push('--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir);
    const args = [...nodeArgs, join(repoRoot, 'bin', 'cairn.js'), 'server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--store', opts.store];
    if (opts.store === 'etcd') args.push('--etcd-endpoints', (opts.etcdEndpoints ?? []).join(','));
    args.push(...(opts.extraArgs ?? []));
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: repoRoot });
    const log = createWriteStream(logPath);
    let server: ServerProcess | undefined;
    const url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`server not ready within ${opts.readyTimeoutMs ?? 30_000} ms; see ${logPath}`)), opts.readyTimeoutMs ?? 30_000);
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`server exited during startup (${code ?? sig}); log:\n${safeRead(logPath)}`));
      });
      const lines = createInterface(child.stderr!);
      lines.on('line', (line) => {
        if (line.startsWith('bench-gc ')) {
          server?.gcWaiters.shift()?.(line.slice('bench-gc '.length));
          return;
        }
        log.write(line + '\n');
        if (line.startsWith('error: server failed to start')) {
          // The CLI reports it, but a process whose start failed half-way may linger: end it.
          clearTimeout(timer);
          child.kill('SIGKILL');
          reject(new Error(`${line}; see ${logPath}`));
          return;
        }
        const m = /cairn server ready at (\S+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolveUrl(m[1]);
        }
      });
    });
    child.removeAllListeners('exit');
    server = new ServerProcess(child, url, dataDir, logPath);
    return server;
  }

  /** Current VmRSS/VmHWM of the server process. */
  memory(): MemoryReading {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
  }

  /** Server CPU time so far (user+system), in seconds. */
  cpuSeconds(): number {
    return procCpuSeconds(this.pid);
  }

  /** Forces a full GC in the server (via the preloaded gc-hook), lets it settle, then reads memory. */
  async memoryAfterGc(settleMs = 2000): Promise<MemoryReading> {
    const line = new Promise<string>((r) => this.gcWaiters.push(r));
    this.child.kill('SIGUSR2');
    const heap = JSON.parse(await line) as MemoryReading['heap'] & { gc: boolean };
    await new Promise((r) => setTimeout(r, settleMs));
    return { ...this.memory(), heap };
  }

  /** SIGTERM (graceful: the CPU profile, if any, is written on exit), then removes the data dir. */
  async stop(keepData = false): Promise<void> {
    const c = this.child;
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    if (!keepData) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export function procCpuSeconds(pid: number | 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

/** RSS (KiB) of the process whose command line contains `needle` (e.g. etcd by its data dir). */
export function rssOfProcessMatching(needle: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmd.includes(needle) || Number(entry) === process.pid) continue;
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
    } catch {
      // The process went away while we looked.
    }
  }
  return undefined;
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '(no log)';
  }
}
