/**
 * The container runtime the node agent uses: create / start / stop / remove / status / exec /
 * list over runc, with a per-container shim (shim.ts) that captures logs in the CRI format and
 * records the exit status. All state is on disk under `<dataDir>`:
 *
 *   <dataDir>/runc/                 runc's --root (Cairn's containers only)
 *   <dataDir>/containers/<id>/      meta.json, shim.json, shim.pid, container.pid, exit.json,
 *                                   runc.log, shim.log
 *
 * so a new instance over the same dataDir re-adopts what runs and learns the exit codes of
 * containers that ended while no agent was running. See README.md in this folder.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { attachSocketAddress } from './attach-protocol.js';
import { connectAttach } from './attach-client.js';
import { startExecSession, type StreamSession } from './exec-stream.js';
import type { OciSpec } from './oci-spec.js';
import { requirePtyHelper } from './pty.js';
import { ContainerNotFoundError, Runc, RuntimeError, type ContainerStats, type ExecResult, type RuncState } from './runc.js';
import { stateFiles, writeFileAtomic, type ExitRecord, type ShimConfig } from './shim.js';

export type ContainerState = 'created' | 'running' | 'exited' | 'unknown';

export interface ContainerStatus {
  id: string;
  state: ContainerState;
  /** Host pid of the container's init while running. */
  pid?: number;
  exitCode?: number;
  /** The kernel OOM-killed a process of the container (its memory cgroup counted an oom_kill). */
  oomKilled: boolean;
  /**
   * Why it is not running, where known: 'ContainerCannotRun' (runc failed to start the process),
   * 'ContainerStatusUnknown' (the shim and its record are gone — the kubelet's name and exit
   * code 137 for a container it lost).
   */
  reason?: string;
  message?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  bundleDir: string;
  logPath: string;
  labels: Record<string, string>;
}

export interface CreateContainerOptions {
  /** runc container id: [A-Za-z0-9][A-Za-z0-9_.-]*, unique on the node. */
  id: string;
  /** The bundle directory; config.json is written here. The rootfs must already exist. */
  bundleDir: string;
  spec: OciSpec;
  /** CRI-format log file (appended to; created if missing, its directory too). */
  logPath: string;
  /** Free-form labels kept with the container (pod uid, container name, attempt...). */
  labels?: Record<string, string>;
  /** Keep the container's stdin open for attach (v1 Container `stdin`); else it reads /dev/null. */
  stdin?: boolean;
  /** Close that stdin when the first attached session ends (v1 Container `stdinOnce`). */
  stdinOnce?: boolean;
}

export interface ContainerExecOptions {
  env?: string[];
  cwd?: string;
  user?: string;
  stdin?: string | Buffer;
  /** Default: no timeout. */
  timeoutMs?: number;
}

/** The interface the node agent programs against. */
export interface ContainerRuntime {
  createContainer(opts: CreateContainerOptions): Promise<ContainerStatus>;
  start(id: string): Promise<ContainerStatus>;
  /** SIGTERM, then SIGKILL after gracePeriodSeconds; resolves once it has exited. */
  stop(id: string, gracePeriodSeconds: number): Promise<ContainerStatus>;
  /** Kills if needed and removes every trace but the log file. Idempotent. */
  remove(id: string): Promise<void>;
  status(id: string): Promise<ContainerStatus>;
  exec(id: string, command: string[], opts?: ContainerExecOptions): Promise<ExecResult>;
  list(): Promise<ContainerStatus[]>;
  stats(id: string): Promise<ContainerStats>;
  /** Starts `command` with streamed stdio (kubectl exec); see exec-stream.ts. */
  execStream(id: string, command: string[], opts: ExecStreamRequest): Promise<StreamSession>;
  /** Attaches to the container's own process (kubectl attach); output only unless the container keeps stdin. */
  attach(id: string, opts: { stdin: boolean }): Promise<StreamSession>;
}

export interface ExecStreamRequest {
  stdin: boolean;
  tty: boolean;
  env?: string[];
  cwd?: string;
  user?: string;
}

/** The container could not be started (bad command, bad spec...). `status` says why. */
export class ContainerStartError extends Error {
  constructor(readonly status: ContainerStatus) {
    super(`container ${status.id} could not start: ${status.message ?? status.reason ?? 'unknown error'}`);
    this.name = 'ContainerStartError';
  }
}

interface Meta {
  id: string;
  bundleDir: string;
  logPath: string;
  cgroupsPath: string;
  createdAt: string;
  labels: Record<string, string>;
  stdin?: boolean;
  stdinOnce?: boolean;
  /** The spec's process.terminal. */
  tty?: boolean;
}

export interface RuncRuntimeOptions {
  /** The runtime's data dir, e.g. /var/lib/cairn/<node>/runtime. */
  dataDir: string;
  runcBinary?: string;
  systemdCgroup?: boolean;
  /** Command that runs the shim with the state dir appended. Default: this Node + shim.js beside this module. */
  shimCommand?: string[];
  /** How long start() waits for the container to run. Default 15 s. */
  startTimeoutMs?: number;
  /** Containers' logs are rotated past this size (default 10 MiB; 0 = never). */
  logMaxBytes?: number;
  /** The pty helper (default dist/native/cairn-pty). */
  ptyHelper?: string;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

function readTail(path: string, bytes: number): string {
  try {
    const t = readFileSync(path, 'utf8');
    return t.slice(-bytes).trim();
  } catch {
    return '';
  }
}

function readPid(path: string): number | null {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Is `pid` alive and (when given) its command line contains `marker` (guards against pid reuse)? */
function processAlive(pid: number, marker?: string): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return false;
    return marker ? cmd.includes(marker) : true;
  } catch {
    return false;
  }
}

export class RuncRuntime implements ContainerRuntime {
  readonly runc: Runc;
  readonly dataDir: string;
  readonly containersDir: string;
  private readonly shimCommand: string[];
  private readonly startTimeoutMs: number;
  private readonly logMaxBytes?: number;
  private readonly ptyHelper?: string;

  constructor(opts: RuncRuntimeOptions) {
    this.dataDir = resolve(opts.dataDir);
    this.containersDir = join(this.dataDir, 'containers');
    mkdirSync(this.containersDir, { recursive: true, mode: 0o700 });
    mkdirSync(join(this.dataDir, 'runc'), { recursive: true, mode: 0o700 });
    this.runc = new Runc({ binary: opts.runcBinary, root: join(this.dataDir, 'runc'), systemdCgroup: opts.systemdCgroup });
    this.shimCommand = opts.shimCommand ?? [process.execPath, fileURLToPath(new URL('./shim.js', import.meta.url))];
    this.startTimeoutMs = opts.startTimeoutMs ?? 15_000;
    this.logMaxBytes = opts.logMaxBytes;
    this.ptyHelper = opts.ptyHelper;
  }

  private dir(id: string): string {
    if (!ID_RE.test(id)) throw new RuntimeError(`invalid container id ${JSON.stringify(id)}`, [], null, '');
    return join(this.containersDir, id);
  }

  private meta(id: string): Meta {
    const m = readJson<Meta>(stateFiles(this.dir(id)).meta);
    if (!m) throw new ContainerNotFoundError(id, [], null, '');
    return m;
  }

  async createContainer(opts: CreateContainerOptions): Promise<ContainerStatus> {
    const dir = this.dir(opts.id);
    if (existsSync(dir)) throw new RuntimeError(`container ${opts.id} already exists`, [], null, '');
    if (!isAbsolute(opts.bundleDir) || !isAbsolute(opts.logPath)) throw new RuntimeError('bundleDir and logPath must be absolute', [], null, '');
    const rootfs = resolve(opts.bundleDir, opts.spec.root.path);
    if (!existsSync(rootfs)) throw new RuntimeError(`rootfs ${rootfs} does not exist`, [], null, '');
    mkdirSync(opts.bundleDir, { recursive: true });
    writeFileAtomic(join(opts.bundleDir, 'config.json'), JSON.stringify(opts.spec, null, 2));
    mkdirSync(dirname(opts.logPath), { recursive: true });
    closeSync(openSync(opts.logPath, 'a', 0o640));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const meta: Meta = {
      id: opts.id,
      bundleDir: opts.bundleDir,
      logPath: opts.logPath,
      cgroupsPath: opts.spec.linux.cgroupsPath,
      createdAt: new Date().toISOString(),
      labels: { ...(opts.labels ?? {}) },
      stdin: opts.stdin,
      stdinOnce: opts.stdinOnce,
      tty: opts.spec.process.terminal,
    };
    writeFileAtomic(stateFiles(dir).meta, JSON.stringify(meta));
    return this.status(opts.id);
  }

  async start(id: string): Promise<ContainerStatus> {
    const meta = this.meta(id);
    const dir = this.dir(id);
    const f = stateFiles(dir);
    if (existsSync(f.shimConfig)) throw new RuntimeError(`container ${id} was already started`, [], null, '');
    const cfg: ShimConfig = {
      id,
      bundle: meta.bundleDir,
      logPath: meta.logPath,
      cgroupsPath: meta.cgroupsPath,
      runcBinary: this.runc.binary,
      runcRoot: this.runc.root,
      stdin: meta.stdin,
      stdinOnce: meta.stdinOnce,
      tty: meta.tty,
      logMaxBytes: this.logMaxBytes,
      ptyHelper: this.ptyHelper,
    };
    // A terminal needs the helper: say so now rather than through a failed shim.
    if (meta.tty) requirePtyHelper(this.ptyHelper);
    writeFileAtomic(f.shimConfig, JSON.stringify(cfg));
    const shimLog = openSync(f.shimLog, 'a', 0o600);
    const [cmd, ...args] = this.shimCommand;
    const child = spawn(cmd, [...args, dir], { detached: true, stdio: ['ignore', shimLog, shimLog], cwd: dir });
    closeSync(shimLog);
    let spawnError: Error | null = null;
    let shimExit: number | string | null = null;
    child.on('error', (e) => (spawnError = e));
    child.on('exit', (code, signal) => (shimExit = code ?? signal));
    child.unref();

    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      if (spawnError) throw new RuntimeError(`cannot start shim: ${(spawnError as Error).message}`, [cmd, ...args], null, '');
      if (existsSync(f.exit) || existsSync(f.containerPid)) break;
      if (shimExit !== null) {
        await sleep(20); // the shim may have written exit.json just before exiting
        if (existsSync(f.exit) || existsSync(f.containerPid)) break;
        const tail = readTail(f.shimLog, 2000);
        throw new RuntimeError(`shim for ${id} exited (${shimExit}) before the container started: ${tail}`, [cmd, ...args], null, tail);
      }
      if (Date.now() > deadline) {
        throw new RuntimeError(`container ${id} did not start within ${this.startTimeoutMs} ms (see ${f.shimLog})`, [], null, '');
      }
      await sleep(10);
    }
    const st = await this.status(id);
    if (st.reason === 'ContainerCannotRun') throw new ContainerStartError(st);
    return st;
  }

  async stop(id: string, gracePeriodSeconds: number): Promise<ContainerStatus> {
    let st = await this.status(id);
    if (st.state !== 'running') return st;
    const grace = Math.max(0, gracePeriodSeconds) * 1000;
    if (grace > 0) {
      await this.signal(id, 'SIGTERM');
      st = await this.waitExited(id, grace);
      if (st.state !== 'running') return st;
    }
    await this.signal(id, 'SIGKILL');
    return this.waitExited(id, 10_000);
  }

  private async signal(id: string, sig: NodeJS.Signals): Promise<void> {
    try {
      // --all: in a shared pid namespace the container is not its processes' reaper.
      await this.runc.kill(id, sig, { all: sig === 'SIGKILL' });
    } catch (e) {
      // Exited meanwhile: nothing to signal.
      if (e instanceof ContainerNotFoundError) return;
      if (e instanceof RuntimeError && /not running|process already finished|container not running/i.test(e.message)) return;
      throw e;
    }
  }

  /** Polls until the container is no longer running (exit recorded) or the time is up. */
  private async waitExited(id: string, ms: number): Promise<ContainerStatus> {
    const deadline = Date.now() + ms;
    for (;;) {
      const st = await this.status(id);
      if (st.state !== 'running' || Date.now() > deadline) return st;
      await sleep(25);
    }
  }

  async remove(id: string): Promise<void> {
    const dir = this.dir(id);
    if (existsSync(stateFiles(dir).meta)) {
      const st = await this.status(id);
      if (st.state === 'running') await this.stop(id, 0);
    }
    try {
      await this.runc.delete(id, { force: true });
    } catch (e) {
      if (!(e instanceof ContainerNotFoundError)) throw e;
    }
    const shimPid = readPid(stateFiles(dir).shimPid);
    if (shimPid && processAlive(shimPid, 'shim')) {
      try {
        process.kill(shimPid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }

  async status(id: string): Promise<ContainerStatus> {
    const meta = this.meta(id);
    const f = stateFiles(this.dir(id));
    const base: ContainerStatus = {
      id,
      state: 'created',
      oomKilled: false,
      createdAt: meta.createdAt,
      bundleDir: meta.bundleDir,
      logPath: meta.logPath,
      labels: meta.labels,
    };
    const exit = readJson<ExitRecord>(f.exit);
    if (exit) return this.fromExit(base, exit);
    if (!existsSync(f.shimConfig)) return base; // created, never started
    const shimPid = readPid(f.shimPid);
    const shimAlive = shimPid !== null && processAlive(shimPid, 'shim');
    // Fast path (no runc call): the shim is alive and the container's init process exists, so it
    // runs — the shim writes exit.json before it exits, which the checks above see first.
    const initPid = shimAlive ? readPid(f.containerPid) : null;
    if (initPid !== null && processAlive(initPid)) {
      return { ...base, state: 'running', pid: initPid, startedAt: statSync(f.containerPid).mtime.toISOString() };
    }
    let rs: RuncState | null = null;
    try {
      rs = await this.runc.stateOrNull(id);
    } catch {
      rs = null;
    }
    // The shim may have written exit.json while we asked runc.
    const exit2 = readJson<ExitRecord>(f.exit);
    if (exit2) return this.fromExit(base, exit2);
    const startedAt = existsSync(f.containerPid) ? statSync(f.containerPid).mtime.toISOString() : undefined;
    if (rs && (rs.status === 'running' || rs.status === 'paused')) {
      return { ...base, state: 'running', pid: rs.pid, startedAt };
    }
    if (shimAlive) {
      // Starting (runc not done yet) or just exited (the shim is writing exit.json).
      if (rs?.status === 'stopped') return { ...base, state: 'running', pid: readPid(f.containerPid) ?? undefined, startedAt };
      return base;
    }
    // No shim, no record: the container's end was not observed (shim killed, host reboot).
    return {
      ...base,
      state: 'unknown',
      exitCode: 137,
      reason: 'ContainerStatusUnknown',
      message: 'The container could not be located when its status was checked',
      startedAt,
    };
  }

  private fromExit(base: ContainerStatus, e: ExitRecord): ContainerStatus {
    return {
      ...base,
      state: 'exited',
      exitCode: e.exitCode,
      oomKilled: e.oomKilled,
      reason: e.reason ?? (e.oomKilled ? 'OOMKilled' : undefined),
      message: e.message,
      startedAt: e.startedAt,
      finishedAt: e.finishedAt,
    };
  }

  async exec(id: string, command: string[], opts: ContainerExecOptions = {}): Promise<ExecResult> {
    this.meta(id);
    const pidFile = join(this.dir(id), `exec-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.pid`);
    try {
      return await this.runc.exec(id, command, { ...opts, pidFile });
    } finally {
      rmSync(pidFile, { force: true });
    }
  }

  async execStream(id: string, command: string[], opts: ExecStreamRequest): Promise<StreamSession> {
    this.meta(id);
    return startExecSession(this.runc, id, command, { ...opts, stateDir: this.dir(id), ptyHelper: this.ptyHelper });
  }

  async attach(id: string, opts: { stdin: boolean }): Promise<StreamSession> {
    const meta = this.meta(id);
    const shimPid = readPid(stateFiles(this.dir(id)).shimPid) ?? 0;
    return connectAttach(id, attachSocketAddress(this.dir(id), shimPid), { stdin: opts.stdin, tty: !!meta.tty });
  }

  async list(filter: (id: string) => boolean = () => true): Promise<ContainerStatus[]> {
    const out: ContainerStatus[] = [];
    let ids: string[] = [];
    try {
      ids = readdirSync(this.containersDir).filter((n) => ID_RE.test(n) && filter(n));
    } catch {
      /* none */
    }
    for (const id of ids.sort()) {
      try {
        out.push(await this.status(id));
      } catch (e) {
        if (!(e instanceof ContainerNotFoundError)) throw e;
      }
    }
    return out;
  }

  /** The containers whose id starts with `prefix` (a pod's: ids begin with its uid). */
  async listFor(prefix: string): Promise<ContainerStatus[]> {
    return this.list((id) => id.startsWith(prefix));
  }

  /** runc containers under this root that have no state dir (left by a crash mid-create/remove). */
  async orphans(): Promise<string[]> {
    const known = new Set(readdirSync(this.containersDir));
    return (await this.runc.list()).map((c) => c.id).filter((id) => !known.has(id));
  }

  async stats(id: string): Promise<ContainerStats> {
    this.meta(id);
    return this.runc.stats(id);
  }
}
