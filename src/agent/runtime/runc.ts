/**
 * The one wrapper around the `runc` binary (DESIGN rule 5): every call is an argument array
 * (never a shell string), JSON output is parsed, failures become typed errors.
 *
 * All state lives under `root` (runc's `--root`), a directory under the node's data dir, so
 * Cairn's containers never mix with other runc users on the host (`runc list` without `--root`
 * does not see them, and Cairn never sees theirs).
 */
import { execFile, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { constants as osConstants, tmpdir } from 'node:os';

/** A runc invocation failed. `stderr` holds what runc printed; `exitCode` its exit status. */
export class RuntimeError extends Error {
  constructor(
    message: string,
    readonly args: string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'RuntimeError';
  }
}

/** The container id is unknown to runc (under this root). */
export class ContainerNotFoundError extends RuntimeError {
  constructor(
    readonly id: string,
    args: string[],
    exitCode: number | null,
    stderr: string,
  ) {
    super(`container ${id} does not exist`, args, exitCode, stderr);
    this.name = 'ContainerNotFoundError';
  }
}

/** runc could not be run at all (not installed, not executable). */
export class RuncMissingError extends Error {
  constructor(readonly binary: string, cause: unknown) {
    super(`runc not found or not executable at ${binary}: install Debian's runc (scripts/setup.sh)`, { cause });
    this.name = 'RuncMissingError';
  }
}

export type RuncStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** `runc state` output. */
export interface RuncState {
  ociVersion: string;
  id: string;
  pid: number;
  status: RuncStatus;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

/** One entry of `runc list --format json`: the same fields as `runc state`. */
export type RuncListEntry = RuncState;

/** The parts of `runc events --stats` that Cairn uses, with names made plain. */
export interface ContainerStats {
  /** Cumulative CPU time, nanoseconds. */
  cpuUsageNanos: number;
  cpuUserNanos: number;
  cpuKernelNanos: number;
  throttledPeriods: number;
  throttledTimeNanos: number;
  /** Current memory usage (bytes, includes page cache as the cgroup counts it). */
  memoryUsageBytes: number;
  memoryMaxUsageBytes: number;
  /** 0 when unlimited. */
  memoryLimitBytes: number;
  /** Working set as the kubelet/cAdvisor defines it: usage minus inactive file pages. */
  memoryWorkingSetBytes: number;
  memoryFailcnt: number;
  pidsCurrent: number;
  pidsLimit: number;
  /** The raw `data` object runc printed. */
  raw: Record<string, unknown>;
}

/** A `runc events` stream event (without --stats): type is e.g. 'oom', 'stats', 'intelrdt'. */
export interface RuncEvent {
  type: string;
  id: string;
  data?: Record<string, unknown>;
}

export interface RuncOptions {
  /** runc binary; default `runc` from PATH. */
  binary?: string;
  /** runc's state dir (`--root`), e.g. `<dataDir>/runc`. */
  root: string;
  /** Use the systemd cgroup driver (`--systemd-cgroup`). Default false (cgroupfs). */
  systemdCgroup?: boolean;
  /** Timeout for short commands (state, kill, delete, list, start), ms. Default 30 s. */
  timeoutMs?: number;
}

export interface CreateOptions {
  bundle: string;
  pidFile?: string;
  /** Path of a unix socket receiving the pty master (process.terminal=true). */
  consoleSocket?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  /** Stdio for the runc process; in create (detached) mode the container's init inherits it. */
  stdio?: StdioOptions;
}

export interface ExecOptions {
  /** Environment to add, `KEY=value`. */
  env?: string[];
  cwd?: string;
  /** `uid[:gid]`. */
  user?: string;
  additionalGids?: number[];
  /** Write the exec'd process's host pid here (used to kill it on timeout). */
  pidFile?: string;
  /** Data written to the process's stdin (then closed). */
  stdin?: string | Buffer;
  /** Kill the process and return timedOut=true after this long. Default: no timeout. */
  timeoutMs?: number;
  /** Truncate captured output beyond this many bytes per stream. Default 16 MiB. */
  maxOutputBytes?: number;
  noNewPrivs?: boolean;
  capabilities?: string[];
}

export interface ExecResult {
  /** The process's exit status (128+signal when killed by a signal, as runc reports it). */
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

const NOT_FOUND_RE = /container (?:does not exist|not found)|does not exist/i;

export class Runc {
  readonly binary: string;
  readonly root: string;
  private readonly systemdCgroup: boolean;
  private readonly timeoutMs: number;

  constructor(opts: RuncOptions) {
    this.binary = opts.binary ?? 'runc';
    this.root = opts.root;
    this.systemdCgroup = opts.systemdCgroup ?? false;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** The global flags every call carries. */
  globalArgs(): string[] {
    const a = ['--root', this.root];
    if (this.systemdCgroup) a.push('--systemd-cgroup');
    return a;
  }

  /** `runc --version`, first line's version number. */
  async version(): Promise<string> {
    const out = await this.run(['--version'], { global: false });
    const m = /runc version (\S+)/.exec(out);
    return m ? m[1] : out.split('\n')[0];
  }

  /**
   * `runc create`: sets up the container and leaves its init waiting for `start`. runc returns
   * as soon as the container is created; the init process inherits `stdio` (unless a console
   * socket is given).
   */
  async create(id: string, opts: CreateOptions): Promise<void> {
    // The container inherits runc's stdio in create mode, so runc's stderr cannot be a pipe we
    // wait on; its errors are read from a --log file in the bundle instead.
    const logFile = join(tmpdir(), `cairn-runc-create-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.log`);
    const args = ['--log', logFile, '--log-format', 'json', 'create', '--bundle', opts.bundle];
    if (opts.pidFile) args.push('--pid-file', opts.pidFile);
    if (opts.consoleSocket) args.push('--console-socket', opts.consoleSocket);
    if (opts.noPivot) args.push('--no-pivot');
    if (opts.noNewKeyring) args.push('--no-new-keyring');
    args.push(id);
    try {
      await this.spawnAndWait(args, opts.stdio ?? ['ignore', 'ignore', 'ignore'], id);
    } catch (e) {
      if (e instanceof RuntimeError && !e.stderr) {
        const msg = lastJsonLogError(logFile);
        if (msg) throw this.toError(e.args, e.exitCode, `level=error msg=${JSON.stringify(msg)}`, id);
      }
      throw e;
    } finally {
      rmSync(logFile, { force: true });
    }
  }

  /** `runc start`: runs the user process of a created container. */
  async start(id: string): Promise<void> {
    await this.run(['start', id], { id });
  }

  /**
   * Argument array for `runc run` (foreground), used by the shim, which must own the process:
   * runc stays the container's parent and exits with its status (128+signal when signalled).
   */
  runArgs(id: string, opts: { bundle: string; pidFile?: string; keep?: boolean; noNewKeyring?: boolean; logFile?: string }): string[] {
    const args = [...this.globalArgs()];
    if (opts.logFile) args.push('--log', opts.logFile, '--log-format', 'json');
    args.push('run', '--bundle', opts.bundle);
    if (opts.pidFile) args.push('--pid-file', opts.pidFile);
    if (opts.keep) args.push('--keep');
    if (opts.noNewKeyring) args.push('--no-new-keyring');
    args.push(id);
    return args;
  }

  /**
   * Argument array for `runc exec` in the foreground (global flags included). `tty` gives the
   * process a terminal, which runc copies to and from its own stdio — that must then be a
   * terminal (see pty.ts); `logFile` takes runc's own errors as JSON lines.
   */
  execArgs(id: string, command: string[], opts: ExecOptions & { tty?: boolean; logFile?: string } = {}): string[] {
    if (!command.length) throw new TypeError('exec: empty command');
    const args = [...this.globalArgs()];
    if (opts.logFile) args.push('--log', opts.logFile, '--log-format', 'json');
    args.push('exec');
    if (opts.tty) args.push('--tty');
    for (const e of opts.env ?? []) args.push('--env', e);
    if (opts.cwd) args.push('--cwd', opts.cwd);
    if (opts.user) args.push('--user', opts.user);
    for (const g of opts.additionalGids ?? []) args.push('--additional-gids', String(g));
    if (opts.pidFile) args.push('--pid-file', opts.pidFile);
    if (opts.noNewPrivs) args.push('--no-new-privs');
    for (const c of opts.capabilities ?? []) args.push('--cap', c);
    args.push(id, ...command);
    return args;
  }

  /** `runc state`. Throws ContainerNotFoundError when runc does not know the id. */
  async state(id: string): Promise<RuncState> {
    const out = await this.run(['state', id], { id });
    return parseJson<RuncState>(out, ['state', id]);
  }

  /** `runc state`, or null when the container does not exist. */
  async stateOrNull(id: string): Promise<RuncState | null> {
    try {
      return await this.state(id);
    } catch (e) {
      if (e instanceof ContainerNotFoundError) return null;
      throw e;
    }
  }

  /** `runc kill ID SIGNAL` (`--all` to signal every process in the container). */
  async kill(id: string, signal: NodeJS.Signals | number = 'SIGTERM', opts: { all?: boolean } = {}): Promise<void> {
    const args = ['kill'];
    if (opts.all) args.push('--all');
    args.push(id, String(signal));
    await this.run(args, { id });
  }

  /** `runc delete` (`--force` kills a running container first). */
  async delete(id: string, opts: { force?: boolean } = {}): Promise<void> {
    const args = ['delete'];
    if (opts.force) args.push('--force');
    args.push(id);
    await this.run(args, { id });
  }

  /** `runc list --format json`: every container under this root. */
  async list(): Promise<RuncListEntry[]> {
    const out = await this.run(['list', '--format', 'json']);
    const parsed = parseJson<RuncListEntry[] | null>(out, ['list']);
    return parsed ?? [];
  }

  /** `runc events --stats ID`: one sample of the container's cgroup statistics. */
  async stats(id: string): Promise<ContainerStats> {
    const out = await this.run(['events', '--stats', id], { id });
    const ev = parseJson<RuncEvent>(out.trim().split('\n')[0] ?? '', ['events', '--stats', id]);
    return parseStats(ev.data ?? {});
  }

  /**
   * `runc events ID` as a stream (OOM notifications arrive as `{type:"oom"}`). Returns the child
   * process; kill it to stop.
   */
  watchEvents(id: string, onEvent: (e: RuncEvent) => void, intervalSeconds = 5): ChildProcess {
    const child = spawn(this.binary, [...this.globalArgs(), 'events', '--interval', `${intervalSeconds}s`, id], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (!line) continue;
        try {
          onEvent(JSON.parse(line) as RuncEvent);
        } catch {
          /* not JSON: ignore */
        }
      }
    });
    child.on('error', () => {});
    return child;
  }

  /**
   * `runc exec`: runs a process in a running container, capturing stdout/stderr and its exit
   * code. A non-zero exit is a result, not an error; errors are runc failing to exec (e.g.
   * the container is not running: ContainerNotFoundError / RuntimeError).
   */
  async exec(id: string, command: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const full = this.execArgs(id, command, opts);
    const max = opts.maxOutputBytes ?? 16 * 1024 * 1024;
    return new Promise<ExecResult>((resolve, reject) => {
      const child = spawn(this.binary, full, { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outLen = 0;
      let errLen = 0;
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      child.stdout!.on('data', (b: Buffer) => {
        if (outLen < max) out.push(b.subarray(0, max - outLen));
        outLen += b.length;
      });
      child.stderr!.on('data', (b: Buffer) => {
        if (errLen < max) err.push(b.subarray(0, max - errLen));
        errLen += b.length;
      });
      child.on('error', (e: NodeJS.ErrnoException) => {
        if (timer) clearTimeout(timer);
        reject(e.code === 'ENOENT' || e.code === 'EACCES' ? new RuncMissingError(this.binary, e) : e);
      });
      if (opts.timeoutMs && opts.timeoutMs > 0) {
        timer = setTimeout(() => {
          timedOut = true;
          // Kill the exec'd process itself (a host pid), then runc: killing runc alone leaves it.
          if (opts.pidFile) {
            try {
              const pid = Number(readFileSync(opts.pidFile, 'utf8').trim());
              if (pid > 0) process.kill(pid, 'SIGKILL');
            } catch {
              /* already gone or not yet started */
            }
          }
          child.kill('SIGKILL');
        }, opts.timeoutMs);
      }
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        const stdout = Buffer.concat(out).toString('utf8');
        const stderr = Buffer.concat(err).toString('utf8');
        if (timedOut) {
          resolve({ exitCode: code ?? 137, stdout, stderr, timedOut: true });
          return;
        }
        // runc's own failures (no such container, exec of a missing binary) print a runc-style
        // error line and exit 1 or 255 before the process ever ran.
        const runcErr = runcErrorLine(stderr);
        if (runcErr && (code === 1 || code === 255)) {
          reject(this.toError(full, code, stderr, id));
          return;
        }
        resolve({ exitCode: code ?? (signal ? 128 + signalNumber(signal) : 255), stdout, stderr, timedOut: false });
      });
      if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
      else child.stdin!.end();
    });
  }

  private toError(args: string[], code: number | null, stderr: string, id?: string): RuntimeError {
    const msg = runcErrorLine(stderr) ?? stderr.trim();
    if (id && NOT_FOUND_RE.test(msg) && !/exec:|executable file/.test(msg)) return new ContainerNotFoundError(id, args, code, stderr);
    return new RuntimeError(`runc ${args.filter((a) => a !== '--root' && a !== this.root).join(' ')}: ${msg || `exit ${code}`}`, args, code, stderr);
  }

  /** Runs a short runc command, returns stdout. */
  private run(args: string[], opts: { id?: string; global?: boolean } = {}): Promise<string> {
    const full = opts.global === false ? args : [...this.globalArgs(), ...args];
    return new Promise((resolve, reject) => {
      execFile(this.binary, full, { timeout: this.timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean };
        if (e.code === 'ENOENT' || e.code === 'EACCES') return reject(new RuncMissingError(this.binary, err));
        if (e.killed) return reject(new RuntimeError(`runc ${args[0]}: timed out after ${this.timeoutMs} ms`, full, null, stderr));
        reject(this.toError(full, typeof e.code === 'number' ? e.code : null, stderr, opts.id));
      });
    });
  }

  private spawnAndWait(args: string[], stdio: StdioOptions, id: string): Promise<void> {
    const full = [...this.globalArgs(), ...args];
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, full, { stdio });
      let stderr = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (s: string) => (stderr += s));
      child.on('error', (e: NodeJS.ErrnoException) =>
        reject(e.code === 'ENOENT' || e.code === 'EACCES' ? new RuncMissingError(this.binary, e) : e),
      );
      child.on('close', (code) => {
        if (code === 0) resolve();
        else reject(this.toError(full, code, stderr, id));
      });
    });
  }
}

/** runc prints errors as logrus lines: `time="..." level=error msg="..."`. Returns msg. */
export function runcErrorLine(stderr: string): string | null {
  let found: string | null = null;
  for (const line of stderr.split('\n')) {
    const m = /level=(?:error|fatal) msg="((?:[^"\\]|\\.)*)"/.exec(line);
    if (m) found = m[1].replace(/\\(.)/g, '$1');
    else if (!found && /^(?:runc|container|exec failed|no such)/i.test(line.trim())) found = line.trim();
  }
  return found;
}

/** The last error-level message of a runc `--log-format json` log file. */
export function lastJsonLogError(logFile: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return undefined;
  }
  let msg: string | undefined;
  for (const line of text.split('\n')) {
    try {
      const j = JSON.parse(line) as { level?: string; msg?: string };
      if ((j.level === 'error' || j.level === 'fatal') && j.msg) msg = j.msg;
    } catch {
      /* not JSON */
    }
  }
  return msg;
}

function parseJson<T>(text: string, args: string[]): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new RuntimeError(`runc ${args.join(' ')}: unparseable output: ${text.slice(0, 200)}`, args, 0, '');
  }
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});

/** Turns runc's stats `data` (types.Stats) into ContainerStats. */
export function parseStats(data: Record<string, unknown>): ContainerStats {
  const cpu = obj(data.cpu);
  const usage = obj(cpu.usage);
  const thr = obj(cpu.throttling);
  const mem = obj(data.memory);
  const mu = obj(mem.usage);
  const raw = obj(mem.raw);
  const pids = obj(data.pids);
  const usageBytes = num(mu.usage);
  // cgroup v1 names it total_inactive_file, v2 inactive_file.
  const inactive = num(raw.total_inactive_file ?? raw.inactive_file);
  let limit = num(mu.limit);
  // v1 reports "unlimited" as a huge page-rounded number.
  if (limit >= 2 ** 62) limit = 0;
  return {
    cpuUsageNanos: num(usage.total),
    cpuUserNanos: num(usage.user),
    cpuKernelNanos: num(usage.kernel),
    throttledPeriods: num(thr.throttledPeriods),
    throttledTimeNanos: num(thr.throttledTime),
    memoryUsageBytes: usageBytes,
    memoryMaxUsageBytes: num(mu.max),
    memoryLimitBytes: limit,
    memoryWorkingSetBytes: Math.max(0, usageBytes - inactive),
    memoryFailcnt: num(mu.failcnt),
    pidsCurrent: num(pids.current),
    pidsLimit: num(pids.limit),
    raw: data,
  };
}

/** Linux signal number for a Node signal name (0 when unknown). */
export function signalNumber(sig: NodeJS.Signals | string): number {
  return (osConstants.signals as Record<string, number>)[sig] ?? 0;
}
