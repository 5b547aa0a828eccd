/**
 * The per-container shim: a small Node process, started detached by the runtime (its own
 * session), that owns one container for its whole life:
 *
 *   shim ──spawns──> runc run --keep (foreground) ──> container init
 *
 * - runc stays the container's parent and exits with its status (128+N when killed by signal
 *   N), so the shim learns the exit code without being a child subreaper (Node cannot prctl);
 * - the container's stdout/stderr come through runc to the shim's pipes and are written to the
 *   log file in the CRI format, rotated by size (rotating-log.ts);
 * - a container whose config asks for stdin keeps runc's stdin pipe; with a terminal
 *   (`process.terminal`) runc runs under the pty helper (pty.ts), which gives it the terminal
 *   it needs and relays it over pipes;
 * - the shim serves `attach.sock` in the state dir (attach-protocol.ts): attached clients get
 *   the output from then on and may write to stdin; `stdinOnce` closes the container's stdin
 *   when the first client that wrote to it detaches. Without stdin, attach is output only;
 * - `--keep` leaves the stopped container (and its cgroup) in place after exit, so the shim can
 *   read the OOM-kill counter before anyone deletes it;
 * - on exit the shim writes exit.json atomically and ends. The agent can die and come back at any
 *   time: everything it needs is in the state dir.
 *
 * Usage: node shim.js STATE_DIR   (STATE_DIR/shim.json holds a ShimConfig)
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { decodeResize, encodeFrame, FrameDecoder, FrameType } from './attach-protocol.js';
import { readOomKillCount } from './cgroups.js';
import { CriLineWriter } from './cri-log.js';
import { ptyCommand, writeWindowSize } from './pty.js';
import { DEFAULT_LOG_MAX_BYTES, RotatingLogFile } from './rotating-log.js';
import { lastJsonLogError, Runc, signalNumber } from './runc.js';

export interface ShimConfig {
  id: string;
  bundle: string;
  logPath: string;
  cgroupsPath: string;
  runcBinary: string;
  runcRoot: string;
  systemdCgroup?: boolean;
  /** Keep the container's stdin open (a pipe the attach clients write to); else /dev/null. */
  stdin?: boolean;
  /** Close the container's stdin when the first attach client that wrote to it detaches. */
  stdinOnce?: boolean;
  /** The spec has `process.terminal`: runc runs under the pty helper. */
  tty?: boolean;
  /** Rotate the log past this size (default 10 MiB; 0 = never). */
  logMaxBytes?: number;
  /** The pty helper binary (default: pty.ts's). */
  ptyHelper?: string;
}

/** What the shim leaves in STATE_DIR/exit.json. */
export interface ExitRecord {
  exitCode: number;
  /** The signal that ended the container, when runc reported 128+N. */
  signal?: number;
  oomKilled: boolean;
  /** Set when the container never ran (runc failed before the process started). */
  reason?: 'ContainerCannotRun';
  message?: string;
  startedAt?: string;
  finishedAt: string;
  pid?: number;
}

/** The files of a container's state dir (shared with container-runtime.ts). */
export const stateFiles = (dir: string) => ({
  shimConfig: join(dir, 'shim.json'),
  shimPid: join(dir, 'shim.pid'),
  containerPid: join(dir, 'container.pid'),
  exit: join(dir, 'exit.json'),
  runcLog: join(dir, 'runc.log'),
  shimLog: join(dir, 'shim.log'),
  meta: join(dir, 'meta.json'),
  /** The attach socket; the shim binds it relative to its cwd (the state dir), see attachSocketAddress in attach-protocol.ts. */
  attachSock: join(dir, 'attach.sock'),
});

/** Bytes an attach client may leave unread before the shim drops it (the container never waits for a client). */
const MAX_CLIENT_BACKLOG = 4 * 1024 * 1024;
/** How long the shim waits, once the container exited, for attach clients to take the rest of the output. */
const CLIENT_DRAIN_MS = 2000;

/** Writes a file atomically (temp + rename). */
export function writeFileAtomic(path: string, data: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

function log(msg: string, fields: Record<string, unknown> = {}) {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', component: 'shim', msg, ...fields })}\n`);
}

export function runShim(stateDir: string): void {
  const f = stateFiles(stateDir);
  const cfg = JSON.parse(readFileSync(f.shimConfig, 'utf8')) as ShimConfig;
  // Relative paths (the attach socket) are in the state dir: a unix socket path has at most 107 bytes.
  process.chdir(stateDir);
  writeFileAtomic(f.shimPid, `${process.pid}\n`);
  // The shim must outlive whatever started it: ignore terminal and hang-up signals.
  for (const s of ['SIGHUP', 'SIGINT', 'SIGPIPE'] as const) process.on(s, () => {});

  const logFile = new RotatingLogFile(cfg.logPath, cfg.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES);
  const out = new CriLineWriter(0, 'stdout', undefined, (_fd, b) => logFile.write(b));
  const err = new CriLineWriter(0, 'stderr', undefined, (_fd, b) => logFile.write(b));
  const runc = new Runc({ binary: cfg.runcBinary, root: cfg.runcRoot, systemdCgroup: cfg.systemdCgroup });
  const args = runc.runArgs(cfg.id, { bundle: cfg.bundle, pidFile: f.containerPid, keep: true, logFile: f.runcLog });
  log('starting container', { id: cfg.id, args, stdin: !!cfg.stdin, tty: !!cfg.tty });
  // With a terminal, stdin is always a pipe: the helper turns its end into ^D, which the
  // container must only see when its stdin is really closed.
  const [cmd, ...cmdArgs] = cfg.tty ? ptyCommand([cfg.runcBinary, ...args], cfg.ptyHelper) : [cfg.runcBinary, ...args];
  const child = spawn(cmd, cmdArgs, { stdio: [cfg.stdin || cfg.tty ? 'pipe' : 'ignore', 'pipe', 'pipe', ...(cfg.tty ? (['pipe'] as const) : [])] });
  const stdin = child.stdin;
  stdin?.on('error', () => {}); // EPIPE once the container is gone
  const resizeControl = cfg.tty ? (child.stdio[3] as Writable) : null;
  resizeControl?.on('error', () => {});
  const attach = new AttachServer(cfg, stdin, resizeControl);

  let openStreams = 2;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  let finished = false;
  const finish = () => {
    if (finished || !exit) return;
    finished = true;
    out.end();
    err.end();
    logFile.close();
    const started = existsSync(f.containerPid);
    let pid: number | undefined;
    let startedAt: string | undefined;
    if (started) {
      pid = Number(readFileSync(f.containerPid, 'utf8').trim()) || undefined;
      startedAt = statSync(f.containerPid).mtime.toISOString();
    }
    const code = exit.code ?? 128 + signalNumber(exit.signal ?? 'SIGKILL');
    const rec: ExitRecord = { exitCode: code, oomKilled: false, finishedAt: new Date().toISOString() };
    if (pid) rec.pid = pid;
    if (startedAt) rec.startedAt = startedAt;
    if (!started) {
      rec.reason = 'ContainerCannotRun';
      rec.message = lastJsonLogError(f.runcLog) ?? `runc exited with ${code} before the container started`;
    } else {
      if (code > 128) rec.signal = code - 128;
      rec.oomKilled = (readOomKillCount(cfg.cgroupsPath) ?? 0) > 0;
    }
    writeFileAtomic(f.exit, `${JSON.stringify(rec)}\n`);
    log('container exited', { id: cfg.id, ...rec });
    // Attached clients get the rest of the output, then EOF; the exit is already on record.
    void attach.close().then(() => process.exit(0));
  };
  const streamDone = () => {
    openStreams--;
    if (openStreams === 0) finish();
  };
  child.stdout!.on('data', (b: Buffer) => {
    out.push(b);
    attach.broadcast(FrameType.STDOUT, b);
  });
  child.stderr!.on('data', (b: Buffer) => {
    err.push(b);
    // With a terminal, the container's stderr is in the terminal's output; this is the helper's own.
    if (!cfg.tty) attach.broadcast(FrameType.STDERR, b);
  });
  child.stdout!.on('close', streamDone);
  child.stderr!.on('close', streamDone);
  child.on('error', (e) => {
    log('runc failed to spawn', { error: String(e) });
    exit = { code: 255, signal: null };
    writeFileSync(f.runcLog, `${JSON.stringify({ level: 'error', msg: `cannot run ${cmd}: ${e.message}` })}\n`, { flag: 'a' });
    finish();
  });
  child.on('exit', (code, signal) => {
    exit = { code, signal };
    if (openStreams === 0) finish();
    // A process left in a shared pid namespace may hold the pipes open: do not wait forever.
    else setTimeout(finish, 2000).unref();
  });
}

/**
 * The shim's side of attach.sock: fans the container's output out to every attached client and
 * feeds the container's stdin from them.
 */
class AttachServer {
  private readonly clients = new Set<Socket>();
  private readonly server = createServer((s) => this.accept(s));
  private stdinOpen: boolean;

  constructor(
    private readonly cfg: ShimConfig,
    private readonly stdin: Writable | null,
    private readonly resizeControl: Writable | null,
  ) {
    this.stdinOpen = !!cfg.stdin && !!stdin;
    rmSync('attach.sock', { force: true });
    this.server.on('error', (e) => log('attach socket failed', { error: String(e) }));
    this.server.listen('attach.sock');
  }

  broadcast(type: number, data: Buffer): void {
    if (!this.clients.size) return;
    const frame = encodeFrame(type, data);
    for (const c of this.clients) {
      if (c.writableLength > MAX_CLIENT_BACKLOG) {
        log('dropping a slow attach client', { backlog: c.writableLength });
        c.destroy();
        continue;
      }
      c.write(frame);
    }
  }

  /** Ends every client after its pending output (bounded by CLIENT_DRAIN_MS) and removes the socket. */
  async close(): Promise<void> {
    this.server.close();
    rmSync('attach.sock', { force: true });
    const closed = [...this.clients].map((c) => new Promise<void>((r) => (c.once('close', () => r()), c.end())));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(closed), new Promise((r) => (timer = setTimeout(r, CLIENT_DRAIN_MS)))]);
    clearTimeout(timer);
  }

  private accept(sock: Socket): void {
    this.clients.add(sock);
    const decoder = new FrameDecoder();
    let wantsStdin = false;
    sock.on('error', () => {});
    sock.on('close', () => {
      // stdinOnce: the first session attached to stdin takes the container's stdin with it.
      if (this.clients.delete(sock) && wantsStdin && this.cfg.stdinOnce) this.closeStdin();
    });
    sock.on('data', (chunk: Buffer) => {
      try {
        for (const fr of decoder.push(chunk)) {
          if (fr.type === FrameType.HELLO) {
            wantsStdin = !!this.cfg.stdin && !!(JSON.parse(fr.payload.toString() || '{}') as { stdin?: boolean }).stdin;
          } else if (fr.type === FrameType.STDIN && wantsStdin && this.stdinOpen) {
            this.stdin!.write(fr.payload);
          } else if (fr.type === FrameType.STDIN_CLOSE && wantsStdin) {
            // As containerd: the end of a session's input closes the container's stdin with
            // stdinOnce, and otherwise ends that session.
            if (this.cfg.stdinOnce) this.closeStdin();
            else sock.end();
          } else if (fr.type === FrameType.RESIZE && this.resizeControl) {
            const size = decodeResize(fr.payload);
            if (size) writeWindowSize(this.resizeControl, size);
          }
        }
      } catch (e) {
        log('bad attach client', { error: String(e) });
        sock.destroy();
      }
    });
  }

  private closeStdin(): void {
    if (!this.stdinOpen) return;
    this.stdinOpen = false;
    this.stdin!.end();
  }
}

// Run when executed directly (node shim.js STATE_DIR), not when imported.
if (process.argv[1] && /shim\.js$/.test(process.argv[1]) && process.argv[2]) {
  runShim(process.argv[2]);
}
