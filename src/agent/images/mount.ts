/**
 * Overlay mounts for container root filesystems, on the agent's mount(8) wrapper (../mount.ts):
 * only the overlay option string is built here.
 */
import { mount, MountError } from '../mount.js';

/** overlayfs option values may not contain these (they separate options and lowerdirs). */
function checkPath(p: string, target: string) {
  if (/[,:\\\n]/.test(p)) throw new MountError(`path "${p}" cannot be used in overlay options (contains , : or \\)`, target);
}

export async function mountOverlay(opts: { lowerdirs: string[]; upperdir: string; workdir: string; target: string }): Promise<void> {
  for (const p of [...opts.lowerdirs, opts.upperdir, opts.workdir]) checkPath(p, opts.target);
  // overlay lists the topmost lowerdir first
  const o = `lowerdir=${opts.lowerdirs.join(':')},upperdir=${opts.upperdir},workdir=${opts.workdir}`;
  await mount({ type: 'overlay', source: 'overlay', target: opts.target, options: [o] });
}
