/**
 * Applies an image layer (a tar stream) onto a directory, the way containerd's naive applier
 * does: `.wh.NAME` deletes NAME, `.wh..wh..opq` empties its directory of everything lower layers
 * put there, hardlinks and symlinks are made as recorded, mode/ownership/mtime are kept, and
 * nothing is ever written outside the root — entry names are cleaned, `..` may not climb out,
 * and symlinks met on the way are resolved inside the root (absolute targets relative to it).
 * Device nodes and FIFOs are skipped (Node cannot mknod; the runtime provides /dev).
 */
import { chmod, chown, lchown, link, lstat, lutimes, mkdir, open, readdir, readlink, rm, symlink, utimes, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveInRoot, SymlinkLoopError } from '../../util/path-in-root.js';
import { LayerError } from './errors.js';
import type { TarEntry } from './tar.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';

export interface ApplyResult {
  entries: number;
  /** Paths of device nodes / FIFOs / unknown types that were not created. */
  skipped: string[];
}

/**
 * Cleans an entry name into root-relative components. Throws when it climbs above the root.
 * Returns [] for the root itself.
 */
export function cleanName(name: string): string[] {
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (!c || c === '.') continue;
    if (c === '..') {
      if (!out.length) throw new LayerError(`refusing tar entry "${name}": path escapes the root`);
      out.pop();
    } else out.push(c);
  }
  return out;
}

/** resolveInRoot with a symlink loop reported as a bad layer. */
function parentInRoot(root: string, comps: string[]): string {
  try {
    return resolveInRoot(root, comps);
  } catch (e) {
    if (e instanceof SymlinkLoopError) throw new LayerError(e.message);
    throw e;
  }
}

async function lstatOrNull(p: string) {
  try {
    return await lstat(p);
  } catch {
    return null;
  }
}

async function setOwner(p: string, uid: number, gid: number, isLink = false) {
  if (!isRoot) return;
  await (isLink ? lchown(p, uid, gid) : chown(p, uid, gid));
}

/** Applies one layer's tar entries onto `root` (which must exist). */
export async function applyLayer(root: string, entries: AsyncIterable<TarEntry>): Promise<ApplyResult> {
  const unpacked = new Set<string>();
  const dirTimes: { path: string; mtime: number }[] = [];
  const skipped: string[] = [];
  let count = 0;
  for await (const { header: h, body } of entries) {
    count++;
    const comps = cleanName(h.name);
    if (!comps.length) {
      // the root itself: take its metadata, never replace it
      if (h.type === 'directory') {
        await chmod(root, h.mode);
        await setOwner(root, h.uid, h.gid);
        dirTimes.push({ path: root, mtime: h.mtime });
      }
      continue;
    }
    const base = comps[comps.length - 1];
    const parentComps = comps.slice(0, -1);
    const parent = parentInRoot(root, parentComps);
    if (base.startsWith(WH)) {
      if (base === OPAQUE) {
        await removeLower(parent, unpacked);
      } else {
        const victim = base.slice(WH.length);
        if (!victim || victim === '.' || victim === '..') throw new LayerError(`refusing whiteout "${h.name}"`);
        await rm(join(parent, victim), { recursive: true, force: true });
      }
      continue;
    }
    await mkdir(parent, { recursive: true });
    const target = join(parent, base);
    const existing = await lstatOrNull(target);
    if (existing && !(h.type === 'directory' && existing.isDirectory())) await rm(target, { recursive: true, force: true });
    switch (h.type) {
      case 'directory': {
        if (!existing || !existing.isDirectory()) await mkdir(target);
        await setOwner(target, h.uid, h.gid);
        await chmod(target, h.mode);
        dirTimes.push({ path: target, mtime: h.mtime });
        break;
      }
      case 'file': {
        const fh = await open(target, 'wx', 0o600);
        try {
          for await (const chunk of body) await fh.write(chunk);
        } finally {
          await fh.close();
        }
        await setOwner(target, h.uid, h.gid);
        await chmod(target, h.mode); // after chown, which clears setuid bits
        await utimes(target, h.mtime, h.mtime);
        break;
      }
      case 'symlink': {
        await symlink(h.linkname, target);
        await setOwner(target, h.uid, h.gid, true);
        await lutimes(target, h.mtime, h.mtime);
        break;
      }
      case 'link': {
        const lcomps = cleanName(h.linkname);
        if (!lcomps.length) throw new LayerError(`refusing hardlink "${h.name}" to the root`);
        const src = join(parentInRoot(root, lcomps.slice(0, -1)), lcomps[lcomps.length - 1]);
        const st = await lstatOrNull(src);
        if (!st) throw new LayerError(`hardlink "${h.name}" points at "${h.linkname}", which does not exist`);
        if (st.isDirectory()) throw new LayerError(`refusing hardlink "${h.name}" to a directory`);
        await link(src, target);
        break;
      }
      default:
        skipped.push(`/${comps.join('/')}`);
        continue;
    }
    unpacked.add(target);
  }
  // directory mtimes last (writing children changed them), deepest first
  dirTimes.sort((a, b) => b.path.length - a.path.length);
  for (const d of dirTimes) await utimes(d.path, d.mtime, d.mtime).catch(() => {});
  return { entries: count, skipped };
}

/** Opaque directory: removes everything under `dir` that this layer did not itself write. */
async function removeLower(dir: string, unpacked: Set<string>): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const p = join(dir, n);
    if (!unpacked.has(p)) await rm(p, { recursive: true, force: true });
    else {
      const st = await lstatOrNull(p);
      if (st?.isDirectory()) await removeLower(p, unpacked);
    }
  }
}

/**
 * Copies a tree keeping modes, owners, mtimes and symlinks. With `hardlink`, regular files are
 * hardlinked instead of copied (an immutable snapshot built on its parent without using space:
 * layers applied on top always replace files, never write into them).
 */
export async function cloneTree(src: string, dst: string, opts: { hardlink: boolean }, inodes = new Map<string, string>()): Promise<void> {
  const st = await lstat(src);
  await mkdir(dst, { recursive: true });
  await chmod(dst, st.mode & 0o7777);
  await setOwner(dst, st.uid, st.gid);
  for (const ent of await readdir(src, { withFileTypes: true })) {
    const s = join(src, ent.name);
    const d = join(dst, ent.name);
    if (ent.isDirectory()) await cloneTree(s, d, opts, inodes);
    else if (ent.isSymbolicLink()) {
      const l = await lstat(s);
      await symlink(await readlink(s), d);
      await setOwner(d, l.uid, l.gid, true);
      await lutimes(d, l.mtime, l.mtime);
    } else if (ent.isFile()) {
      if (opts.hardlink) await link(s, d);
      else {
        const l = await lstat(s);
        // files hardlinked to each other in the source stay so in the copy
        const key = `${l.dev}:${l.ino}`;
        const first = l.nlink > 1 ? inodes.get(key) : undefined;
        if (first) {
          await link(first, d);
          continue;
        }
        if (l.nlink > 1) inodes.set(key, d);
        await copyFile(s, d);
        await setOwner(d, l.uid, l.gid);
        await chmod(d, l.mode & 0o7777);
        await utimes(d, l.mtime, l.mtime);
      }
    }
  }
  await utimes(dst, st.mtime, st.mtime);
}

