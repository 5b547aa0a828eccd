/**
 * The per-container shim: a small Node process, started detached by the runtime (its own
 * session), that owns one container for its whole life:
 *
 *   shim ──spawns──> runc run --keep (foreground) ──> container init
 *
 * - runc stays the container's parent and exits with its status (128+N when killed by signal
 *   N), so the shim learns the exit code without being a child subreaper (Node cannot prctl);
 * - the container's stdout/stderr come through runc to the shim's pipes and are written to the
 *   log file in the CRI format;
 * - `--keep` leaves the stopped container (and its cgroup) in place after exit, so the shim can
 *   read the OOM-kill counter before anyone deletes it;
 * - on exit the shim writes exit.json atomically and ends. The agent can die and come back at any
 *   time: everything it needs is in the state dir.
 *
 * Usage: node shim.js STATE_DIR   (STATE_DIR/shim.json holds a ShimConfig)
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readOomKillCount } from './cgroups.js';
import { CriLineWriter } from './cri-log.js';
import { lastJsonLogError, Runc, signalNumber } from './runc.js';

export interface ShimConfig {
  id: string;
  bundle: string;
  logPath: string;
  cgroupsPath: string;
  runcBinary: string;
  runcRoot: string;
  systemdCgroup?: boolean;
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
});

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
  writeFileAtomic(f.shimPid, `${process.pid}\n`);
  // The shim must outlive whatever started it: ignore terminal and hang-up signals.
  for (const s of ['SIGHUP', 'SIGINT', 'SIGPIPE'] as const) process.on(s, () => {});

  const logFd = openSync(cfg.logPath, 'a', 0o640);
  const out = new CriLineWriter(logFd, 'stdout');
  const err = new CriLineWriter(logFd, 'stderr');
  const runc = new Runc({ binary: cfg.runcBinary, root: cfg.runcRoot, systemdCgroup: cfg.systemdCgroup });
  const args = runc.runArgs(cfg.id, { bundle: cfg.bundle, pidFile: f.containerPid, keep: true, logFile: f.runcLog });
  log('starting container', { id: cfg.id, args });
  const child = spawn(cfg.runcBinary, args, { stdio: ['ignore', 'pipe', 'pipe'] });

  let openStreams = 2;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  let finished = false;
  const finish = () => {
    if (finished || !exit) return;
    finished = true;
    out.end();
    err.end();
    closeSync(logFd);
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
    process.exit(0);
  };
  const streamDone = () => {
    openStreams--;
    if (openStreams === 0) finish();
  };
  child.stdout!.on('data', (b: Buffer) => out.push(b));
  child.stderr!.on('data', (b: Buffer) => err.push(b));
  child.stdout!.on('close', streamDone);
  child.stderr!.on('close', streamDone);
  child.on('error', (e) => {
    log('runc failed to spawn', { error: String(e) });
    exit = { code: 255, signal: null };
    writeFileSync(f.runcLog, `${JSON.stringify({ level: 'error', msg: `cannot run ${cfg.runcBinary}: ${e.message}` })}\n`, { flag: 'a' });
    finish();
  });
  child.on('exit', (code, signal) => {
    exit = { code, signal };
    if (openStreams === 0) finish();
    // A process left in a shared pid namespace may hold the pipes open: do not wait forever.
    else setTimeout(finish, 2000).unref();
  });
}

// Run when executed directly (node shim.js STATE_DIR), not when imported.
if (process.argv[1] && /shim\.js$/.test(process.argv[1]) && process.argv[2]) {
  runShim(process.argv[2]);
}
