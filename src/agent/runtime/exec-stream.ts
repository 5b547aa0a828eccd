/**
 * Interactive `runc exec`: a process in a running container with its stdin, stdout and stderr
 * streamed (kubectl exec), optionally on a terminal, and its exit code.
 *
 * With a terminal, runc (`exec --tty` in the foreground) makes the process's terminal and
 * copies it to and from runc's own stdio, which must itself be a terminal: runc runs under the
 * pty helper (pty.ts), resizes go to the helper, and runc copies the new size to the process's
 * terminal on the SIGWINCH it gets. There is then only one output stream.
 *
 * runc's own failure (no such executable, container gone) shares the process's error stream
 * (the terminal, with a TTY): that output is held until runc has written the exec's pid file —
 * the process started — and dropped when it never did, so the client gets one error message
 * (`SessionEnd.error`) instead of runc's log line on its stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';
import { ptyCommand, writeWindowSize, type WindowSize } from './pty.js';
import { lastJsonLogError, type Runc, RuncMissingError, signalNumber } from './runc.js';

/** How a streamed session ended: the exec'd process's exit code, or why it could not run. */
export interface SessionEnd {
  exitCode?: number;
  error?: string;
}

/** A process's streams, shared by exec and attach (the agent's server does not tell them apart). */
export interface StreamSession {
  /** Input to the process; null when the session has none. */
  readonly stdin: Writable | null;
  readonly stdout: Readable;
  /** null with a terminal (its output is all on stdout). */
  readonly stderr: Readable | null;
  readonly tty: boolean;
  resize(size: WindowSize): void;
  /** End of input: EOF to the process (^D on a terminal). */
  closeStdin(): void;
  /** The client went away: stop the session (an exec'd process is killed). */
  close(): void;
  /** Settles once the process has ended (exec) or the container's output ended (attach). */
  readonly done: Promise<SessionEnd>;
}

export interface ExecStreamOptions {
  stdin: boolean;
  tty: boolean;
  env?: string[];
  cwd?: string;
  user?: string;
  /** Where the exec's pid file and runc's error log go (the container's state dir). */
  stateDir: string;
  ptyHelper?: string;
}

/** Starts `command` in container `id`. Throws RuncMissingError / PtyHelperMissingError when a binary is missing. */
export function startExecSession(runc: Runc, id: string, command: string[], opts: ExecStreamOptions): StreamSession {
  const tag = `exec-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const pidFile = join(opts.stateDir, `${tag}.pid`);
  const logFile = join(opts.stateDir, `${tag}.log`);
  const argv = [runc.binary, ...runc.execArgs(id, command, { env: opts.env, cwd: opts.cwd, user: opts.user, pidFile, logFile, tty: opts.tty })];
  const [cmd, ...args] = opts.tty ? ptyCommand(argv, opts.ptyHelper) : argv;
  // On a terminal the helper turns the end of its input into ^D: without stdin it gets a pipe
  // that is never closed.
  const child = spawn(cmd, args, { stdio: [opts.stdin || opts.tty ? 'pipe' : 'ignore', 'pipe', 'pipe', ...(opts.tty ? (['pipe'] as const) : [])] });
  return new ExecSession(child, opts, pidFile, logFile);
}

class ExecSession implements StreamSession {
  readonly stdin: Writable | null;
  readonly stdout: Readable;
  readonly stderr: Readable | null;
  readonly tty: boolean;
  readonly done: Promise<SessionEnd>;
  private readonly control: Writable | null;
  private helperErrors = '';

  constructor(
    private readonly child: ChildProcess,
    opts: ExecStreamOptions,
    private readonly pidFile: string,
    logFile: string,
  ) {
    this.tty = opts.tty;
    this.stdin = opts.stdin ? child.stdin! : null;
    child.stdin?.on('error', () => {}); // EPIPE once the process is gone
    this.control = opts.tty ? (child.stdio[3] as Writable) : null;
    this.control?.on('error', () => {});
    const started = () => existsSync(pidFile);
    let spawnError: Error | undefined;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('error', (e) => {
        spawnError = e;
        resolve({ code: null, signal: null });
      });
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    // The output is kept when the process ran; runc's own failure output is dropped.
    const keepHeld = exited.then(() => started());
    if (opts.tty) {
      this.stdout = child.stdout!.pipe(new HoldUntilStarted(started, keepHeld));
      this.stderr = null;
      child.stderr!.on('data', (b: Buffer) => (this.helperErrors += b.toString()));
    } else {
      this.stdout = child.stdout!.pipe(new PassThrough());
      this.stderr = child.stderr!.pipe(new HoldUntilStarted(started, keepHeld));
    }
    this.done = new Promise<SessionEnd>((resolve) => {
      child.on('close', async () => {
        const { code, signal } = await exited;
        const ran = started();
        rmSync(pidFile, { force: true });
        const runcError = lastJsonLogError(logFile);
        rmSync(logFile, { force: true });
        if (spawnError) {
          const e = spawnError as NodeJS.ErrnoException;
          resolve({ error: e.code === 'ENOENT' ? new RuncMissingError(child.spawnfile, e).message : e.message });
        } else if (ran) resolve({ exitCode: code ?? 128 + signalNumber(signal ?? 'SIGKILL') });
        else resolve({ error: runcError ?? (this.helperErrors.trim() || `runc exec exited with ${code ?? signal} before the process started`) });
      });
    });
  }

  resize(size: WindowSize): void {
    if (this.control) writeWindowSize(this.control, size);
  }

  closeStdin(): void {
    this.child.stdin?.end();
  }

  close(): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    // Kill the exec'd process itself (a host pid): killing runc alone would leave it running.
    try {
      const pid = Number(readFileSync(this.pidFile, 'utf8').trim());
      if (pid > 0) process.kill(pid, 'SIGKILL');
    } catch {
      /* not started, or gone */
    }
    this.child.kill('SIGKILL');
  }
}

/**
 * Passes data through once `started()` is true; until then holds it. At the end, held data is
 * released or dropped as `keep` says.
 */
class HoldUntilStarted extends Transform {
  private held: Buffer[] | null = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly started: () => boolean,
    private readonly keep: Promise<boolean>,
  ) {
    super();
    // Data written just before the pid file appears must not wait for the next chunk.
    this.timer = setInterval(() => {
      if (this.held && this.started()) this.release();
    }, 50).unref();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.held && this.started()) this.release();
    if (this.held) this.held.push(chunk);
    else this.push(chunk);
    cb();
  }

  override _flush(cb: TransformCallback): void {
    void this.keep.then((keep) => {
      if (this.held && keep) this.release();
      this.held = null;
      clearInterval(this.timer);
      cb();
    });
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    clearInterval(this.timer);
    cb(err);
  }

  private release(): void {
    for (const b of this.held ?? []) this.push(b);
    this.held = null;
    clearInterval(this.timer);
  }
}
