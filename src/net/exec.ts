// Runs an external engine with an argument vector (never a shell string) and collects its
// output. Shared by the ip and nft wrappers; they turn failures into their own typed errors.
import { spawn } from 'node:child_process';

/** An external tool failed: what ran, what it said, how it exited. Each wrapper subclasses it. */
export class ToolError extends Error {
  constructor(
    message: string,
    readonly argv: readonly string[],
    readonly stderr: string,
    readonly code: number | null,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export interface ToolResult {
  stdout: string;
  stderr: string;
  /** Exit code; null when killed by a signal or the timeout. */
  code: number | null;
}

export interface ToolOptions {
  /** Written to the tool's stdin (then closed). */
  input?: string;
  /** Kills the tool after this long (default 30 s). */
  timeoutMs?: number;
}

export function runTool(cmd: string, args: readonly string[], opts: ToolOptions = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8') + (timedOut ? `\n${cmd}: timed out` : '');
      resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr, code: timedOut ? null : code });
    });
    child.stdin.on('error', () => {
      /* the tool may exit before reading its input; the exit code tells */
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** A promise-chain mutex: run() calls execute one after another, in call order. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
