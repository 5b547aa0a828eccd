/**
 * The kubelet's AtomicWriter: projects a set of files (a ConfigMap's keys, a Secret's, downward
 * API values, tokens) into a volume directory so that a running container sees either the old
 * set or the new one, never a mix:
 *
 *   <dir>/..2024_01_02_15_04_05.123456789/   the real files of one version (mode 0755 dir)
 *   <dir>/..data -> ..2024_01_02_15_04_05.123456789
 *   <dir>/<key>  -> ..data/<key>              one symlink per top-level path
 *
 * An update writes a new timestamped dir, points `..data_tmp` at it and renames that over `..data`
 * (rename is atomic), then prunes symlinks of removed keys and the old dir. Nothing is written
 * when the contents did not change (file modes are not compared, as upstream). Paths starting
 * with `..` are reserved for the writer.
 */
import { randomInt } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile, chmod, chown } from 'node:fs/promises';
import { join, posix } from 'node:path';

export interface FileProjection {
  data: Buffer;
  mode: number;
  /** Owner of the file (projected tokens when all containers run as one user). */
  fsUser?: number;
}

/** Relative path in the volume → file. */
export type Payload = Map<string, FileProjection>;

const DATA_DIR = '..data';
const NEW_DATA_DIR = '..data_tmp';
const MAX_FILE_NAME = 255;
const MAX_PATH = 4096;

export class PayloadPathError extends Error {
  override name = 'PayloadPathError';
}

/** Upstream validatePath, with its messages. */
export function validatePayloadPath(p: string): void {
  if (p === '') throw new PayloadPathError(`invalid path: must not be empty: ""`);
  if (p.startsWith('/')) throw new PayloadPathError(`invalid path: must be relative path: ${p}`);
  if (p.length > MAX_PATH) throw new PayloadPathError(`invalid path: must be less than or equal to ${MAX_PATH} characters`);
  const items = p.split('/');
  for (const item of items) {
    if (item === '..') throw new PayloadPathError(`invalid path: must not contain '..': ${p}`);
    if (Buffer.byteLength(item) > MAX_FILE_NAME) throw new PayloadPathError(`invalid path: filenames must be less than or equal to ${MAX_FILE_NAME} characters`);
  }
  if (items[0].startsWith('..') && items[0].length > 2) throw new PayloadPathError(`invalid path: must not start with '..': ${p}`);
}

/** Go's filepath.Clean for the relative paths validation lets through. */
function cleanPath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

const isNotFound = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';

/** `..2006_01_02_15_04_05.` in UTC, Go's layout for the timestamped dir. */
function timestampPrefix(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `..${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}.`;
}

/** os.MkdirTemp: the prefix and a random decimal number, retried on a clash. */
async function newTimestampDir(targetDir: string, nowMs: number): Promise<string> {
  for (;;) {
    const dir = join(targetDir, timestampPrefix(nowMs) + randomInt(2 ** 32 - 1));
    try {
      await mkdir(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    // group and other must be able to traverse it, whatever the umask.
    await chmod(dir, 0o755);
    return dir;
  }
}

/** Every file and dir below `dir`, relative to it. */
async function walk(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    out.push(p);
    if (e.isDirectory()) out.push(...(await walk(dir, p)));
  }
  return out;
}

async function differs(path: string, data: Buffer): Promise<boolean> {
  try {
    return !data.equals(await readFile(path));
  } catch (e) {
    if (isNotFound(e)) return true;
    throw e;
  }
}

export interface AtomicWriteOptions {
  /** Called with the new timestamped dir's name after its files are written, before it is published (fsGroup ownership). */
  setPerms?: (tsDirName: string) => Promise<void>;
  now?: () => number;
}

/**
 * Makes `targetDir` (which must exist) show exactly `payload`. Returns whether a new version
 * was published.
 */
export async function atomicWrite(targetDir: string, payload: Payload, opts: AtomicWriteOptions = {}): Promise<boolean> {
  const clean: Payload = new Map();
  for (const [p, f] of payload) {
    validatePayloadPath(p);
    clean.set(cleanPath(p), f);
  }
  const paths = [...clean.keys()].sort();

  const dataDirPath = join(targetDir, DATA_DIR);
  let oldTsDir = '';
  try {
    oldTsDir = await readlink(dataDirPath);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  const oldTsPath = join(targetDir, oldTsDir);

  let toRemove: string[] = [];
  let write = true;
  if (oldTsDir) {
    const current = await walk(oldTsPath).catch((e) => {
      if (isNotFound(e)) return [];
      throw e;
    });
    const wanted = new Set<string>();
    for (const p of paths) for (let s = p; s && s !== '.'; s = posix.dirname(s)) wanted.add(s);
    toRemove = current.filter((p) => !wanted.has(p));
    let changed = false;
    for (const p of paths) {
      if (!(await differs(join(oldTsPath, p), clean.get(p)!.data))) continue;
      changed = true;
      break;
    }
    if (!changed && toRemove.length === 0) {
      // Up to date; the user-visible symlinks are still (re)made below (upstream issue 121472).
      write = false;
      oldTsDir = '';
    }
  }

  if (write) {
    const tsDir = await newTimestampDir(targetDir, (opts.now ?? Date.now)());
    const tsDirName = posix.basename(tsDir);
    try {
      for (const p of paths) {
        const f = clean.get(p)!;
        const full = join(tsDir, p);
        await mkdir(posix.dirname(full), { recursive: true });
        await writeFile(full, f.data, { mode: f.mode });
        // writeFile's mode passes through the umask; the projected mode must be exact.
        await chmod(full, f.mode);
        if (f.fsUser !== undefined) await chown(full, f.fsUser, (await lstat(full)).gid);
      }
      if (opts.setPerms) await opts.setPerms(tsDirName);
      const tmpLink = join(targetDir, NEW_DATA_DIR);
      // A crash between symlink and rename leaves the temporary link behind; it is ours to replace.
      await rm(tmpLink, { force: true });
      await symlink(tsDirName, tmpLink);
      await rename(tmpLink, dataDirPath);
    } catch (e) {
      await rm(join(targetDir, NEW_DATA_DIR), { force: true });
      await rm(tsDir, { recursive: true, force: true });
      throw e;
    }
  }

  for (const p of paths) {
    const top = p.split('/')[0];
    const visible = join(targetDir, top);
    try {
      await readlink(visible);
    } catch (e) {
      if (isNotFound(e)) await symlink(join(DATA_DIR, top), visible);
    }
  }
  // Only the volume root holds symlinks; nested removed paths went with the old version.
  for (const p of toRemove) if (!p.includes('/')) await rm(join(targetDir, p), { force: true });
  if (oldTsDir) await rm(oldTsPath, { recursive: true, force: true });
  return write;
}
