/**
 * Crash evidence on the node: an agent's CoreDumpCollector installs Cairn's core handler as the
 * host's core_pattern, then periodically moves the cores of its own containers from the shared
 * spool (spool.ts) into DATA/cores/<pod-uid>/, keeps at most maxCount cores and maxTotalBytes on
 * the node (oldest deleted first), and returns the new ones so the agent posts a Warning event
 * `CoreDumped` to the pod.
 *
 * core_pattern is host-wide and several agents may run on one host (cairn up), so installation
 * is reference-counted with one holder file per collector in the spool: the first one saves the
 * host's previous pattern and installs the handler, the last one to leave puts the saved pattern
 * back. Holders of processes that died without uninstalling are pruned at each install and
 * uninstall. Cores nobody claims (containers of no live agent) are deleted after orphanAgeMs.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../client/index.js';
import { CORE_PATTERN_FILE, handlerPattern, isHandlerPatternFor, readCorePattern, writeCorePattern } from './core-pattern.js';
import { CoreDumpError } from './errors.js';
import {
  CONTAINER_ID_RE,
  CORE_SUFFIX,
  DEFAULT_SPOOL_DIR,
  HOLDERS_DIR,
  LOCK_FILE,
  parseCoreFileName,
  PARTIAL_SUFFIX,
  processStartTime,
  readHolders,
  SAVED_PATTERN_FILE,
  TRUNCATED_SUFFIX,
  type Holder,
} from './spool.js';

export interface CoreDumpCollectorOptions {
  /** The agent's data dir; cores are kept in DATA/cores/<pod-uid>/. */
  dataDir: string;
  logger?: Logger;
  /** The host-wide spool the handler writes to. Default /var/spool/cairn/cores. */
  spoolDir?: string;
  /** Cgroup path prefix of this agent's containers (a string prefix). Default `/cairn`, which Cairn's cgroup roots start with. */
  cgroupPrefix?: string;
  /** Cores kept on the node. Default 10. */
  maxCount?: number;
  /** Bytes of cores kept on the node. Default 1 GiB. */
  maxTotalBytes?: number;
  /** Cores in the spool that no agent claimed for this long are deleted. Default 10 min. */
  orphanAgeMs?: number;
  /** The handler's command (absolute paths, no spaces). Default this Node and core-handler-cli.js. */
  handlerCommand?: string[];
  /** Default /proc/sys/kernel/core_pattern (tests point it at a file). */
  corePatternFile?: string;
}

/** Whose container a spool directory is; undefined when it is not one of this agent's. */
export interface CoreOwner {
  podUid: string;
  /** The container's name; derived from the id (`<pod-uid>-<name>-<attempt>`) when absent. */
  container?: string;
}

export interface CollectedCore {
  containerId: string;
  podUid: string;
  container: string;
  signal: number;
  time: Date;
  path: string;
  bytes: number;
  /** Cut at the size limit (the container's RLIMIT_CORE). */
  truncated: boolean;
  /** False when the node's limits deleted it straight away (it was larger than the budget allows). */
  kept: boolean;
  /** The CoreDumped event's message: `Container app dumped core (signal 11): /path, 1234 bytes`. */
  message: string;
}

const LOCK_STALE_MS = 30_000;
const LOCK_WAIT_MS = 10_000;
const POD_UID_RE = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;

export class CoreDumpCollector {
  readonly coresDir: string;
  readonly spoolDir: string;
  /** The core_pattern this collector installs. */
  readonly pattern: string;
  private readonly cgroupPrefix: string;
  private readonly maxCount: number;
  private readonly maxTotalBytes: number;
  private readonly orphanAgeMs: number;
  private readonly corePatternFile: string;
  private holderFile?: string;
  private static holderSeq = 0;

  constructor(private readonly opts: CoreDumpCollectorOptions) {
    this.coresDir = join(opts.dataDir, 'cores');
    this.spoolDir = opts.spoolDir ?? DEFAULT_SPOOL_DIR;
    this.cgroupPrefix = opts.cgroupPrefix ?? '/cairn';
    this.maxCount = opts.maxCount ?? 10;
    this.maxTotalBytes = opts.maxTotalBytes ?? 1024 * 1024 * 1024;
    this.orphanAgeMs = opts.orphanAgeMs ?? 10 * 60_000;
    this.corePatternFile = opts.corePatternFile ?? CORE_PATTERN_FILE;
    const command = opts.handlerCommand ?? [process.execPath, fileURLToPath(new URL('./core-handler-cli.js', import.meta.url))];
    this.pattern = handlerPattern(command, this.spoolDir);
  }

  /** Installs the handler as core_pattern (or joins the agents that did). Idempotent. */
  async install(): Promise<void> {
    if (this.holderFile) return;
    await mkdir(join(this.spoolDir, HOLDERS_DIR), { recursive: true, mode: 0o700 });
    const pidStart = processStartTime(process.pid);
    if (!pidStart) throw new CoreDumpError('cannot read this process start time from /proc');
    const file = join(this.spoolDir, HOLDERS_DIR, `${process.pid}-${++CoreDumpCollector.holderSeq}.json`);
    await this.locked(async () => {
      const live = await this.pruneHolders();
      const current = readCorePattern(this.corePatternFile);
      if (!isHandlerPatternFor(current, this.spoolDir)) {
        if (live.length) this.log('warn', 'core_pattern was changed while Cairn agents held it; taking it back', { found: current });
        else await writeFile(join(this.spoolDir, SAVED_PATTERN_FILE), current, { mode: 0o600 });
        writeCorePattern(this.pattern, this.corePatternFile);
      } else if (!live.length && current !== this.pattern) {
        // Left by an agent that died (possibly another build): the saved pattern stays the host's.
        writeCorePattern(this.pattern, this.corePatternFile);
      }
      const holder: Holder = { pid: process.pid, pidStart, cgroupPrefix: this.cgroupPrefix };
      await writeFile(file, JSON.stringify(holder), { mode: 0o600 });
    });
    this.holderFile = file;
    this.log('info', 'core dump handler installed', { pattern: this.pattern });
  }

  /** Leaves; the last collector on the host puts the previous core_pattern back. Idempotent. */
  async uninstall(): Promise<void> {
    const file = this.holderFile;
    if (!file) return;
    await rm(file, { force: true });
    this.holderFile = undefined;
    await this.restoreIfUnheld();
  }

  /**
   * Puts the host's previous core_pattern back when no live agent holds the handler any more
   * (`cairn down` calls it: agents killed with SIGKILL never uninstalled).
   */
  async restoreIfUnheld(): Promise<void> {
    if (!existsSync(join(this.spoolDir, HOLDERS_DIR))) return;
    await this.locked(async () => {
      const live = await this.pruneHolders();
      if (live.length) return;
      const savedFile = join(this.spoolDir, SAVED_PATTERN_FILE);
      const saved = await readFile(savedFile, 'utf8').catch(() => 'core'); // the kernel's default
      if (isHandlerPatternFor(readCorePattern(this.corePatternFile), this.spoolDir)) writeCorePattern(saved, this.corePatternFile);
      await rm(savedFile, { force: true });
    });
  }

  /**
   * Moves the spool's cores of this agent's containers (those `owner` knows) into
   * DATA/cores/<pod-uid>/<container-id>-<time>-<signal>.core, enforces the node's limits, and
   * returns the cores that are new.
   */
  async collect(owner: (containerId: string) => CoreOwner | undefined): Promise<CollectedCore[]> {
    const found: CollectedCore[] = [];
    const now = Date.now();
    for (const dir of await listDir(this.spoolDir)) {
      if (dir.startsWith('.') || !CONTAINER_ID_RE.test(dir)) continue;
      const dirPath = join(this.spoolDir, dir);
      if (!(await stat(dirPath).catch(() => undefined))?.isDirectory()) continue;
      const o = owner(dir);
      const podUid = o && POD_UID_RE.test(o.podUid) ? o.podUid : undefined;
      for (const name of await listDir(dirPath)) {
        const src = join(dirPath, name);
        const parsed = parseCoreFileName(name);
        if (podUid && parsed) {
          found.push(await this.take(src, dir, podUid, o?.container ?? containerNameOf(dir, podUid), parsed));
          continue;
        }
        // Unclaimed cores, and partial files of a handler that died, go once they are old.
        const isCoreFile = name.endsWith(CORE_SUFFIX) || name.endsWith(PARTIAL_SUFFIX);
        const st = isCoreFile ? await stat(src).catch(() => undefined) : undefined;
        if (st && now - st.mtimeMs > this.orphanAgeMs) {
          await rm(src, { force: true });
          await rm(`${src}${TRUNCATED_SUFFIX}`, { force: true });
        }
      }
      await rmdir(dirPath).catch(() => undefined); // only when empty
    }
    const deleted = await this.enforceLimits();
    for (const c of found) {
      if (deleted.has(c.path)) c.kept = false;
      c.message = coreMessage(c);
    }
    return found;
  }

  private async take(src: string, containerId: string, podUid: string, container: string, parsed: { time: number; signal: number }): Promise<CollectedCore> {
    const destDir = join(this.coresDir, podUid);
    await mkdir(destDir, { recursive: true, mode: 0o700 });
    const dest = join(destDir, `${containerId}-${src.slice(src.lastIndexOf('/') + 1)}`);
    const truncated = await stat(`${src}${TRUNCATED_SUFFIX}`).then(
      () => true,
      () => false,
    );
    await move(src, dest);
    if (truncated) await move(`${src}${TRUNCATED_SUFFIX}`, `${dest}${TRUNCATED_SUFFIX}`);
    const bytes = (await stat(dest)).size;
    const core: CollectedCore = { containerId, podUid, container, signal: parsed.signal, time: new Date(parsed.time * 1000), path: dest, bytes, truncated, kept: true, message: '' };
    this.log('info', 'core dump collected', { containerId, podUid, path: dest, bytes, signal: parsed.signal, truncated });
    return core;
  }

  /** Deletes the oldest cores until the node is within maxCount and maxTotalBytes; returns what went. */
  private async enforceLimits(): Promise<Set<string>> {
    const cores: { path: string; size: number; mtime: number }[] = [];
    for (const pod of await listDir(this.coresDir)) {
      for (const name of await listDir(join(this.coresDir, pod))) {
        if (!name.endsWith(CORE_SUFFIX)) continue;
        const path = join(this.coresDir, pod, name);
        const st = await stat(path).catch(() => undefined);
        if (st?.isFile()) cores.push({ path, size: st.size, mtime: st.mtimeMs });
      }
    }
    cores.sort((a, b) => a.mtime - b.mtime || a.path.localeCompare(b.path));
    let total = cores.reduce((n, c) => n + c.size, 0);
    const deleted = new Set<string>();
    for (const c of cores) {
      if (cores.length - deleted.size <= this.maxCount && total <= this.maxTotalBytes) break;
      await rm(c.path, { force: true });
      await rm(`${c.path}${TRUNCATED_SUFFIX}`, { force: true });
      deleted.add(c.path);
      total -= c.size;
      this.log('info', 'core dump deleted (node limits)', { path: c.path });
    }
    for (const pod of await listDir(this.coresDir)) await rmdir(join(this.coresDir, pod)).catch(() => undefined);
    return deleted;
  }

  /** Removes stale holder files; returns the live holders. */
  private async pruneHolders(): Promise<Holder[]> {
    const { live, stale } = readHolders(this.spoolDir);
    for (const f of stale) await rm(f, { force: true });
    return live.map((l) => l.holder);
  }

  /** Runs fn holding the spool's lock file (across agents on the host). */
  private async locked(fn: () => Promise<void>): Promise<void> {
    const lock = join(this.spoolDir, LOCK_FILE);
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        const h = await open(lock, 'wx', 0o600);
        await h.writeFile(String(process.pid));
        await h.close();
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new CoreDumpError(`cannot lock ${lock}: ${(e as Error).message}`, { cause: e });
        const st = await stat(lock).catch(() => undefined);
        if (st && Date.now() - st.mtimeMs > LOCK_STALE_MS) await unlink(lock).catch(() => undefined); // its holder died mid-install
        if (Date.now() > deadline) throw new CoreDumpError(`timed out waiting for ${lock}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    try {
      await fn();
    } finally {
      await unlink(lock).catch(() => undefined);
    }
  }

  private log(level: 'info' | 'warn', msg: string, fields: Record<string, unknown>): void {
    this.opts.logger?.({ level, msg, ...fields });
  }
}

/** `Container app dumped core (signal 11): /path, 1234 bytes`, with what else a user must know. */
function coreMessage(c: CollectedCore): string {
  let m = `Container ${c.container} dumped core (signal ${c.signal}): ${c.path}, ${c.bytes} bytes`;
  if (c.truncated) m += ' (truncated at the container RLIMIT_CORE)';
  if (!c.kept) m += '; not kept: over the node core dump limits';
  return m;
}

/** The container name in an id `<pod-uid>-<name>-<attempt>`. */
function containerNameOf(id: string, podUid: string): string {
  const rest = id.startsWith(`${podUid}-`) ? id.slice(podUid.length + 1) : id;
  return rest.replace(/-\d+$/, '');
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

/** rename, or copy (keeping the time) and delete across file systems. */
async function move(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    const st = await stat(from);
    await copyFile(from, to);
    await utimes(to, st.atime, st.mtime);
    await unlink(from);
  }
}
