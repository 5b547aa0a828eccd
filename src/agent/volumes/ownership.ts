/**
 * pod.spec.securityContext.fsGroup on a volume, as the kubelet's SetVolumeOwnership: every file
 * and dir below the volume root gets the group, group read (and write, unless the volume is
 * read-only), dirs also group search and setgid so that files created later inherit the group.
 * Symlinks get the group but keep their mode (chmod would follow them). Per-file failures are
 * logged and skipped, as upstream.
 */
import { lchown, chmod, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../client/log.js';

const RW_MASK = 0o660;
const RO_MASK = 0o440;
const EXEC_MASK = 0o110;
const SETGID = 0o2000;

async function change(path: string, fsGroup: number, readOnly: boolean, logger: Logger): Promise<boolean> {
  const st = await lstat(path);
  await lchown(path, st.uid, fsGroup).catch((e: Error) => logger({ level: 'warn', msg: 'lchown failed', path, error: e.message }));
  if (st.isSymbolicLink()) return false;
  let mask = readOnly ? RO_MASK : RW_MASK;
  if (st.isDirectory()) mask |= SETGID | EXEC_MASK;
  await chmod(path, (st.mode & 0o7777) | mask).catch((e: Error) => logger({ level: 'warn', msg: 'chmod failed', path, error: e.message }));
  return st.isDirectory();
}

export async function setVolumeOwnership(dir: string, fsGroup: number, readOnly: boolean, logger: Logger): Promise<void> {
  const visit = async (path: string): Promise<void> => {
    if (!(await change(path, fsGroup, readOnly, logger))) return;
    for (const name of await readdir(path)) await visit(join(path, name));
  };
  await visit(dir);
}
