/**
 * The kernel's core_pattern pipe program (installed by CoreDumpCollector): the kernel runs it as
 * root in the host's namespaces for every crashing process on the host, the core on stdin,
 * arguments `<spool> %P %s %t %c`. It keeps cores of Cairn containers only:
 *
 * 1. /proc/<pid>/cgroup is read first, while the crashing process still exists (it stays until
 *    its core has been read); a process is Cairn's when a cgroup path starts with the prefix of a
 *    live collector (spool .holders/), and its container id is the path's last component (the
 *    runtime's cgroupsPath ends in the container id);
 * 2. RLIMIT_CORE (%c) 0 means the container did not ask for cores: nothing is kept;
 * 3. the core is copied to <spool>/<container-id>/<time>-<signal>.core, at most
 *    min(%c, MAX_CORE_BYTES) bytes; reading stops there (the kernel then abandons the dump) and a
 *    `.truncated` marker is left beside it. It is written under a dot-name and renamed when
 *    complete, so collectors never take a partial core.
 *
 * Anything else (another process, a bad argument, an error) writes no core and exits 0: a
 * handler must never make a crash worse. Failures go to <spool>/.handler-errors.log.
 */
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CONTAINER_ID_RE, coreFileName, ERROR_LOG, MAX_CORE_BYTES, PARTIAL_SUFFIX, readHolders, TRUNCATED_SUFFIX } from './spool.js';

const ERROR_LOG_MAX_BYTES = 64 * 1024;

export interface CoreHandlerIo {
  /** The core's file descriptor. Default 0 (stdin). */
  input?: number;
  procDir?: string;
}

/** Handles one crash; returns the core file written, or null. Never throws. */
export function handleCore(argv: string[], io: CoreHandlerIo = {}): string | null {
  const [spoolDir, pidArg, signalArg, timeArg, limitArg] = argv;
  const pid = Number(pidArg);
  const signal = Number(signalArg);
  const time = Number(timeArg);
  // %c is an unsigned decimal; "unlimited" (2^64-1) becomes a huge number, capped below.
  const limit = Math.min(Number(limitArg), MAX_CORE_BYTES);
  if (!spoolDir?.startsWith('/') || ![pid, signal, time].every((n) => Number.isInteger(n) && n >= 0) || !(limit > 0)) return null;
  try {
    const id = containerOf(pid, spoolDir, io.procDir ?? '/proc');
    if (!id) return null;
    return writeCore(spoolDir, id, { pid, signal, time, limit }, io.input ?? 0);
  } catch (e) {
    logError(spoolDir, `pid ${pid} signal ${signal}: ${(e as Error).message}`);
    return null;
  }
}

/** The container id of a Cairn process, from its cgroup paths and the live collectors' prefixes. */
function containerOf(pid: number, spoolDir: string, procDir: string): string | undefined {
  const prefixes = readHolders(spoolDir, procDir).live.map((h) => h.holder.cgroupPrefix).filter((p) => p.startsWith('/'));
  if (!prefixes.length) return undefined;
  const text = readFileSync(join(procDir, String(pid), 'cgroup'), 'utf8');
  for (const line of text.split('\n')) {
    // hierarchy-id:controllers:path — the path may itself contain ':'
    const path = line.split(':').slice(2).join(':');
    if (!path || !prefixes.some((p) => path.startsWith(p))) continue;
    const id = path.slice(path.lastIndexOf('/') + 1);
    if (CONTAINER_ID_RE.test(id)) return id;
  }
  return undefined;
}

function writeCore(spoolDir: string, id: string, c: { pid: number; signal: number; time: number; limit: number }, input: number): string {
  const dir = join(spoolDir, id);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let name = coreFileName(c.time, c.signal);
  if (existsSync(join(dir, name))) name = coreFileName(c.time, c.signal, c.pid);
  const partial = join(dir, `.${name}${PARTIAL_SUFFIX}`);
  const fd = openSync(partial, 'wx', 0o600);
  let truncated = false;
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    let written = 0;
    for (;;) {
      const n = readSync(input, buf, 0, buf.length, null);
      if (n === 0) break;
      const take = Math.min(n, c.limit - written);
      if (take > 0) {
        writeSync(fd, buf, 0, take);
        written += take;
      }
      if (take < n) {
        truncated = true; // more than the limit: stop reading, the kernel drops the rest
        break;
      }
    }
  } catch (e) {
    closeSync(fd);
    unlinkSync(partial);
    throw e;
  }
  closeSync(fd);
  const final = join(dir, name);
  if (truncated) writeFileSync(`${final}${TRUNCATED_SUFFIX}`, '');
  renameSync(partial, final);
  return final;
}

function logError(spoolDir: string | undefined, text: string): void {
  if (!spoolDir?.startsWith('/')) return;
  const file = join(spoolDir, ERROR_LOG);
  const line = `${new Date().toISOString()} ${text}\n`;
  try {
    if (existsSync(file) && statSync(file).size > ERROR_LOG_MAX_BYTES) writeFileSync(file, line, { mode: 0o600 });
    else appendFileSync(file, line, { mode: 0o600 });
  } catch {
    /* nowhere left to report to */
  }
}
