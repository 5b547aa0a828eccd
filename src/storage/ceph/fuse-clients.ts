/**
 * The FUSE clients that reach Ceph from a node whose kernel has no rbd, nbd or ceph modules:
 * `rbd-fuse` (librbd; exposes one RBD image as a file) and `ceph-fuse` (a CephFS directory tree).
 * Each runs as a daemon per staged volume; unmounting its mount point ends it.
 *
 * The Ceph user's key reaches the daemon through a keyring file that exists only until the
 * daemon has authenticated (it keeps the key in memory): ceph-fuse returns once it is mounted;
 * rbd-fuse connects in its FUSE init after it daemonized, so its image file appearing is the
 * sign it is connected.
 */
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { mountAt, unmount } from '../../agent/mount.js';
import { StorageError } from '../errors.js';
import { runStorageTool } from '../run-tool.js';
import { type CephCluster, type CephUser, clientArgs, withKeyring } from './ceph-exec.js';

const RBD_FUSE_CONNECT_MS = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Mounts `pool/image` with rbd-fuse at `dir` (idempotent); returns the path of the image's file. */
export async function mountRbdImage(cluster: CephCluster, user: CephUser, pool: string, image: string, dir: string): Promise<string> {
  const file = join(dir, image);
  if ((await mountAt(dir))?.fsType.startsWith('fuse')) return file;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await withKeyring(user, async (keyring) => {
    await runStorageTool('rbd-fuse', [...clientArgs(cluster, user, keyring), '-p', pool, '-r', image, dir], `rbd-fuse ${pool}/${image}`);
    const deadline = Date.now() + RBD_FUSE_CONNECT_MS;
    while (!(await stat(file).then((s) => s.size > 0, () => false))) {
      if (Date.now() > deadline) {
        await unmountFuse(dir).catch(() => undefined);
        throw new StorageError('Unavailable', `rbd-fuse did not expose image ${pool}/${image} within ${RBD_FUSE_CONNECT_MS / 1000}s (wrong credentials, or the cluster is unreachable at ${cluster.monitors})`);
      }
      await sleep(200);
    }
  });
  return file;
}

/** Mounts the CephFS directory `path` with ceph-fuse at `dir` (idempotent). */
export async function mountCephFs(cluster: CephCluster, user: CephUser, path: string, dir: string, opts: { readOnly?: boolean } = {}): Promise<void> {
  if ((await mountAt(dir))?.fsType.startsWith('fuse')) return;
  await mkdir(dir, { recursive: true, mode: 0o750 });
  await withKeyring(user, (keyring) =>
    runStorageTool('ceph-fuse', [...clientArgs(cluster, user, keyring), '--client_mountpoint', path, ...(opts.readOnly ? ['-o', 'ro'] : []), dir], `ceph-fuse ${path}`),
  );
}

/** Unmounts a FUSE mount (its daemon exits); nothing mounted is success. */
export async function unmountFuse(dir: string): Promise<void> {
  if (!(await mountAt(dir))) return;
  try {
    await unmount(dir);
  } catch (e) {
    throw new StorageError('FailedPrecondition', `${dir} is busy: ${(e as Error).message}`);
  }
}
