/**
 * The node agent's one wrapper around mount(8)/umount(8) (DESIGN rule 5): tmpfs for memory-backed
 * volumes, bind mounts, any typed mount (images/mount.ts builds overlay options on it), and the
 * mount table as /proc/self/mountinfo shows it. Programs are called with argument arrays; every
 * failure is a MountError carrying the program's stderr.
 */
import { readFile } from 'node:fs/promises';
import { runTool } from '../net/exec.js';

export class MountError extends Error {
  override name = 'MountError';
  constructor(
    message: string,
    readonly target: string,
  ) {
    super(message);
  }
}

async function run(cmd: 'mount' | 'umount', args: string[], what: string, target: string): Promise<void> {
  let r;
  try {
    r = await runTool(cmd, args);
  } catch (e) {
    throw new MountError(`${what}: ${(e as Error).message}`, target);
  }
  if (r.code !== 0) throw new MountError(`${what}: ${(r.stderr || `${cmd} exited with ${r.code}`).trim()}`, target);
}

/** `mount -t TYPE [-o OPTIONS] SOURCE TARGET`; options are joined with commas. */
export async function mount(opts: { type: string; source: string; target: string; options?: string[] }): Promise<void> {
  const o = opts.options?.length ? ['-o', opts.options.join(',')] : [];
  await run('mount', ['-t', opts.type, ...o, opts.source, opts.target], `mount ${opts.type} on ${opts.target}`, opts.target);
}

/**
 * A tmpfs on `target`. Without a size the kernel's default applies (half of RAM), which is what
 * the kubelet gets when it has no size to give.
 */
export async function mountTmpfs(target: string, opts: { sizeBytes?: number } = {}): Promise<void> {
  const options: string[] = [];
  if (opts.sizeBytes !== undefined) {
    if (!Number.isSafeInteger(opts.sizeBytes) || opts.sizeBytes <= 0) throw new MountError(`tmpfs size must be a positive integer, got ${opts.sizeBytes}`, target);
    options.push(`size=${opts.sizeBytes}`);
  }
  await mount({ type: 'tmpfs', source: 'tmpfs', target, options });
}

/**
 * Binds `source` (a directory or a file) onto `target`, with everything mounted below it when
 * `recursive`. A read-only bind takes a second call: the kernel ignores `ro` on the bind itself
 * and applies it only on a remount of the new mount.
 */
export async function bindMount(source: string, target: string, opts: { readOnly?: boolean; recursive?: boolean } = {}): Promise<void> {
  await run('mount', [opts.recursive ? '--rbind' : '--bind', source, target], `bind mount ${source} on ${target}`, target);
  if (!opts.readOnly) return;
  try {
    await run('mount', ['-o', 'remount,bind,ro', target], `remount ${target} read-only`, target);
  } catch (e) {
    // Never leave a writable bind where a read-only one was asked for.
    await unmount(target).catch(() => undefined);
    throw e;
  }
}

export async function unmount(target: string, opts: { lazy?: boolean } = {}): Promise<void> {
  await run('umount', opts.lazy ? ['-l', target] : [target], `umount ${target}`, target);
}

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
  /** Per-mount options (`rw,nosuid,...`). */
  options: string;
  /** Superblock options (`rw,size=1024k,mode=755`). */
  superOptions: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The mount table of this process's mount namespace, in mount order. */
export async function mountTable(): Promise<MountEntry[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const out: MountEntry[] = [];
  for (const line of info.split('\n')) {
    if (!line) continue;
    // id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0) continue;
    out.push({ mountPoint: unescape(f[4]), options: f[5], fsType: f[sep + 1], source: unescape(f[sep + 2] ?? ''), superOptions: f[sep + 3] ?? '' });
  }
  return out;
}

/** Whether `target` (an absolute path without symlinks) is a mount point. */
export async function isMountPoint(target: string): Promise<boolean> {
  return (await mountTable()).some((m) => m.mountPoint === target);
}

/** The topmost mount on `target`, if it is a mount point (what a lookup of the path sees). */
export async function mountAt(target: string): Promise<MountEntry | undefined> {
  return (await mountTable()).filter((m) => m.mountPoint === target).pop();
}

/** Mounts on `dir` or anywhere below it, deepest (and latest) first: the order to unmount them in. */
export async function mountsUnder(dir: string): Promise<MountEntry[]> {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const found = (await mountTable()).filter((m) => m.mountPoint === dir || m.mountPoint.startsWith(prefix));
  const depth = (p: string) => p.split('/').length;
  return found.reverse().sort((a, b) => depth(b.mountPoint) - depth(a.mountPoint));
}
