/**
 * hostPath volumes: a path of the node itself, checked against the volume's type as the
 * kubelet does before the pod may start (`hostPath type check failed: /x is not a directory`).
 * DirectoryOrCreate makes the directory (and its parents) 0755, FileOrCreate an empty 0644 file
 * — but not its parent, which must exist. An empty type checks nothing.
 */
import { mkdir, open, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import type { PreparedVolume, VolumePlugin } from './plugin.js';

export const HOST_PATH = 'kubernetes.io/host-path';

/** Go's strerror texts for the errors these calls can meet, so messages read like the kubelet's. */
const STRERROR: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EEXIST: 'file exists',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
};

/** A Go *PathError text: `open /x/y: no such file or directory`. */
function pathError(op: string, path: string, e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  return new Error(`${op} ${path}: ${(err.code && STRERROR[err.code]) || err.message}`);
}

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw pathError('stat', path, e);
  }
}

/** upstream checkTypeInternal. */
export async function checkHostPathType(path: string, type: string): Promise<void> {
  const st = await statOrUndefined(path);
  const fail = (what: string) => new Error(`hostPath type check failed: ${path} is not ${what}`);
  if (type === 'DirectoryOrCreate' && !st) {
    await mkdir(path, { recursive: true, mode: 0o755 }).catch((e) => {
      throw pathError('mkdir', path, e);
    });
    return;
  }
  if (type === 'FileOrCreate' && !st) {
    // O_CREAT only: no parent dirs, and a file that appeared meanwhile is fine.
    const f = await open(path, 'a', 0o644).catch((e) => {
      throw pathError('open', path, e);
    });
    await f.close();
    return;
  }
  switch (type) {
    case '':
      return;
    case 'DirectoryOrCreate':
    case 'Directory':
      if (!st?.isDirectory()) throw fail('a directory');
      return;
    case 'FileOrCreate':
    case 'File':
      if (!st?.isFile()) throw fail('a file');
      return;
    case 'Socket':
      if (!st?.isSocket()) throw fail('a socket file');
      return;
    case 'CharDevice':
      if (!st?.isCharacterDevice()) throw fail('a character device');
      return;
    case 'BlockDevice':
      if (!st?.isBlockDevice()) throw fail('a block device');
      return;
  }
  throw new Error(`${type} is an invalid volume type`);
}

export const hostPathPlugin: VolumePlugin = {
  name: HOST_PATH,
  canSupport: (v) => !!v.hostPath,
  async setup(ctx): Promise<PreparedVolume> {
    const { path, type = '' } = ctx.volume.hostPath!;
    await checkHostPathType(path, type);
    const st = await statOrUndefined(path);
    // A path that does not exist (type '') is bound as a directory, which the runtime creates.
    const kind = !st || st.isDirectory() ? 'dir' : st.isBlockDevice() ? 'block' : 'file';
    return { hostPath: path, readOnly: false, kind };
  },
};
