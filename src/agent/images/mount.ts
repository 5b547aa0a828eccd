/**
 * The one wrapper around mount(8)/umount(8) the image store needs: overlay mounts for container
 * root filesystems. Called with argument arrays, failures become MountError.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export class MountError extends Error {
  override name = 'MountError';
}

/** overlayfs option values may not contain these (they separate options and lowerdirs). */
function checkPath(p: string) {
  if (/[,:\\\n]/.test(p)) throw new MountError(`path "${p}" cannot be used in overlay options (contains , : or \\)`);
}

export async function mountOverlay(opts: { lowerdirs: string[]; upperdir: string; workdir: string; target: string }): Promise<void> {
  for (const p of [...opts.lowerdirs, opts.upperdir, opts.workdir]) checkPath(p);
  // overlay lists the topmost lowerdir first
  const o = `lowerdir=${opts.lowerdirs.join(':')},upperdir=${opts.upperdir},workdir=${opts.workdir}`;
  try {
    await run('mount', ['-t', 'overlay', 'overlay', '-o', o, opts.target]);
  } catch (e) {
    throw new MountError(`mount overlay on ${opts.target}: ${((e as { stderr?: string }).stderr || (e as Error).message).trim()}`);
  }
}

export async function unmount(target: string, opts: { lazy?: boolean } = {}): Promise<void> {
  try {
    await run('umount', opts.lazy ? ['-l', target] : [target]);
  } catch (e) {
    throw new MountError(`umount ${target}: ${((e as { stderr?: string }).stderr || (e as Error).message).trim()}`);
  }
}

/** Whether `target` is a mount point (per /proc/self/mountinfo). */
export async function isMountPoint(target: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const esc = target.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return info.split('\n').some((l) => l.split(' ')[4] === esc);
}
