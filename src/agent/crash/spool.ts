/**
 * The host-wide core spool shared by the core_pattern handler and every agent's collector:
 *
 *   <spool>/<container-id>/<time>-<signal>.core        a complete core (.<name>.partial while written)
 *   <spool>/<container-id>/<time>-<signal>.core.truncated   marker: the core was cut at its size limit
 *   <spool>/.holders/<pid>-<n>.json                     one per installed collector: {pid, pidStart, cgroupPrefix}
 *   <spool>/.saved-core-pattern                         core_pattern before the first collector installed
 *   <spool>/.lock                                       serialises install/uninstall across agents
 *   <spool>/.handler-errors.log                         the handler's own failures (it has no stderr)
 *
 * Only node: built-ins here: the handler imports this on every crash on the host.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// Outside every data dir (the default one is /var/lib/cairn): `cairn down --purge` must not take
// the host-wide spool, its holders and the saved core_pattern with it.
export const DEFAULT_SPOOL_DIR = '/var/spool/cairn/cores';
export const HOLDERS_DIR = '.holders';
export const SAVED_PATTERN_FILE = '.saved-core-pattern';
export const LOCK_FILE = '.lock';
export const ERROR_LOG = '.handler-errors.log';
export const CORE_SUFFIX = '.core';
export const TRUNCATED_SUFFIX = '.truncated';
export const PARTIAL_SUFFIX = '.partial';
/** The handler never keeps more than this of one core, whatever the process's RLIMIT_CORE. */
export const MAX_CORE_BYTES = 1024 * 1024 * 1024;
/** The runtime's container id syntax (container-runtime.ts). */
export const CONTAINER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** A collector that has installed the handler: whose processes' cores to keep. */
export interface Holder {
  pid: number;
  /** /proc/<pid>/stat starttime, so a reused pid is not taken for the holder. */
  pidStart: string;
  /** Cgroup path prefix of the holder's containers (a string prefix: `/cairn` covers `/cairn-x/...`). */
  cgroupPrefix: string;
}

/** `<time>-<signal>.core`, or `<time>-<signal>-<pid>.core` when two cores come in the same second. */
export function coreFileName(time: number, signal: number, pid?: number): string {
  return `${time}-${signal}${pid === undefined ? '' : `-${pid}`}${CORE_SUFFIX}`;
}

export function parseCoreFileName(name: string): { time: number; signal: number } | undefined {
  const m = /^(\d+)-(\d+)(?:-\d+)?\.core$/.exec(name);
  return m ? { time: Number(m[1]), signal: Number(m[2]) } : undefined;
}

/** starttime (field 22) of /proc/<pid>/stat; undefined when the process is gone. */
export function processStartTime(pid: number, procDir = '/proc'): string | undefined {
  try {
    const stat = readFileSync(join(procDir, String(pid), 'stat'), 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The holder files whose process still lives, and those whose does not. */
export function readHolders(spoolDir: string, procDir = '/proc'): { live: { file: string; holder: Holder }[]; stale: string[] } {
  const live: { file: string; holder: Holder }[] = [];
  const stale: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(join(spoolDir, HOLDERS_DIR));
  } catch {
    return { live, stale };
  }
  for (const n of names) {
    if (!n.endsWith('.json')) continue;
    const file = join(spoolDir, HOLDERS_DIR, n);
    try {
      const h = JSON.parse(readFileSync(file, 'utf8')) as Holder;
      if (typeof h.pid === 'number' && processStartTime(h.pid, procDir) === h.pidStart && typeof h.cgroupPrefix === 'string') live.push({ file, holder: h });
      else stale.push(file);
    } catch {
      stale.push(file);
    }
  }
  return { live, stale };
}
