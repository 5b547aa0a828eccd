// One QEMU process: spawned from an argument vector (inside a network namespace when asked, via
// `ip netns exec`), its stdout/stderr in a log file, ready once its QMP socket answers. Stopping
// is graceful first — the ACPI power button, then `quit`, then SIGKILL — as KubeVirt's
// terminationGracePeriodSeconds. A QEMU that fails to start rejects with QemuError carrying the
// tail of what it printed (e.g. "Image is not in qcow2 format").
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { qemuArgs, type MachineSpec } from './qemu-args.js';
import { QmpClient, QmpClosedError } from './qmp-client.js';
import { netnsDaemonCommand } from '../../net/netns-daemon.js';

export const QEMU_BINARY = 'qemu-system-x86_64';

export class QemuError extends Error {
  override name = 'QemuError';
  constructor(
    message: string,
    /** The last lines QEMU printed (its own error message, when it failed). */
    readonly stderrTail: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
  ) {
    super(stderrTail ? `${message}: ${stderrTail}` : message);
  }
}

export interface QemuExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface QemuStartOptions {
  /** Where QEMU's stdout and stderr go (appended). */
  logFile: string;
  /** Run QEMU inside this network namespace (its taps live there). */
  netns?: string;
  /** How long to wait for the QMP socket (default 30 s: TCG start-up on a loaded machine). */
  startTimeoutMs?: number;
  binary?: string;
  /**
   * Kill QEMU when this process dies (util-linux `setpriv --pdeathsig`): for throw-away machines
   * like the KVM probe, which must not outlive an agent killed mid-probe.
   */
  dieWithParent?: boolean;
}

/** The last few lines of a log file (QEMU's error message is at its end). */
function logTail(path: string, from: number, maxBytes = 2048): string {
  try {
    const text = readFileSync(path).subarray(from).toString('utf8');
    return text.slice(-maxBytes).trim().split('\n').slice(-6).join('\n');
  } catch {
    return '';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class QemuProcess {
  /** Resolves when QEMU has exited (never rejects). */
  readonly exited: Promise<QemuExit>;
  private exitInfo?: QemuExit;

  private constructor(
    private readonly child: ChildProcess,
    readonly spec: MachineSpec,
    readonly qmp: QmpClient,
    readonly logFile: string,
    exited: Promise<QemuExit>,
    private readonly logStart: number,
  ) {
    this.exited = exited;
    void exited.then((e) => (this.exitInfo = e));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }
  get exit(): QemuExit | undefined {
    return this.exitInfo;
  }
  /** What QEMU printed since this process started. */
  log(): string {
    return logTail(this.logFile, this.logStart, 16384);
  }

  /** Starts QEMU and connects to its QMP socket; rejects with QemuError when QEMU fails first. */
  static async start(spec: MachineSpec, opts: QemuStartOptions): Promise<QemuProcess> {
    const args = qemuArgs(spec);
    const binary = opts.binary ?? QEMU_BINARY;
    const qemu = opts.dieWithParent ? ['setpriv', '--pdeathsig', 'KILL', '--', binary, ...args] : [binary, ...args];
    const [cmd, argv] = opts.netns === undefined ? [qemu[0]!, qemu.slice(1)] : netnsDaemonCommand(opts.netns, qemu);
    let logStart = 0;
    try {
      logStart = statSync(opts.logFile).size;
    } catch {
      /* a new log */
    }
    const fd = openSync(opts.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(cmd, argv, { stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    let spawnError: Error | undefined;
    const exited = new Promise<QemuExit>((resolve) => {
      child.once('error', (e) => {
        spawnError = e;
        resolve({ code: null, signal: null });
      });
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    let exit: QemuExit | undefined;
    void exited.then((e) => (exit = e));
    const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
    for (;;) {
      if (exit) {
        const tail = logTail(opts.logFile, logStart);
        if (spawnError && (spawnError as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new QemuError(`${cmd} is not installed (install qemu-system-x86)`, '', null, null);
        }
        throw new QemuError(`QEMU ${spec.name} exited during start-up (code ${exit.code ?? exit.signal})`, tail, exit.code, exit.signal);
      }
      try {
        const qmp = await QmpClient.connect(spec.qmp.socket, { connectTimeoutMs: 5_000 });
        return new QemuProcess(child, spec, qmp, opts.logFile, exited, logStart);
      } catch (e) {
        if (Date.now() > deadline) {
          child.kill('SIGKILL');
          await exited;
          throw new QemuError(`QEMU ${spec.name}: no QMP on ${spec.qmp.socket} within ${opts.startTimeoutMs ?? 30_000} ms (${(e as Error).message})`, logTail(opts.logFile, logStart), null, null);
        }
        await sleep(50);
      }
    }
  }

  /** Resolves true when QEMU exits within timeoutMs. */
  async waitExit(timeoutMs: number): Promise<boolean> {
    if (this.exitInfo) return true;
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.exited.then(() => true), new Promise<boolean>((res) => (timer = setTimeout(() => res(false), timeoutMs)))]);
    clearTimeout(timer);
    return r;
  }

  /**
   * Stops the guest: the ACPI power button and up to graceMs for it to power off, then QMP
   * `quit`, then SIGKILL. Resolves with how it ended.
   */
  async stop(graceMs = 30_000): Promise<'powerdown' | 'quit' | 'kill'> {
    if (this.exitInfo) return 'powerdown';
    if (graceMs > 0) {
      try {
        await this.qmp.systemPowerdown();
      } catch (e) {
        if (!(e instanceof QmpClosedError)) throw e;
      }
      if (await this.waitExit(graceMs)) return 'powerdown';
    }
    if (!this.qmp.closed) {
      await this.qmp.quit().catch(() => undefined);
      if (await this.waitExit(5_000)) return 'quit';
    }
    await this.kill();
    return 'kill';
  }

  /** SIGKILL, and wait for the exit. */
  async kill(): Promise<void> {
    if (this.exitInfo) return;
    this.child.kill('SIGKILL');
    await this.exited;
    this.qmp.close();
  }
}
