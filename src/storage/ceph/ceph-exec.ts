/**
 * Running the Ceph clients (`ceph`, `rbd`) for the storage drivers, with the credentials of the
 * call: the Ceph user's key from the CSI secret is written to a keyring file in a fresh 0700
 * directory for the one call and removed after it, so a key never appears on a command line, in
 * a process listing or in a log. The cluster is reached by its monitor addresses (`-m`), with no
 * ceph.conf (`-c /dev/null`): a class names the monitors, as ceph-csi's config map does.
 *
 * The calls go through src/ceph/ceph-cli.ts; its CephError carries the exit code, which the Ceph
 * tools make the errno of the failure (ENOENT 2, EBUSY 16, EEXIST 17, ENOTEMPTY 39, ...), so the
 * drivers tell "gone already" and "busy" from real errors.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CephAuth, CephError, ceph as cephCli, rbd as rbdCli } from '../../ceph/ceph-cli.js';
import type { Secrets } from '../driver.js';
import { StorageError } from '../errors.js';

export const ENOENT = 2;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENOTEMPTY = 39;

/** Which Ceph cluster a call goes to: its monitors, comma-separated `host:port` addresses. */
export interface CephCluster {
  monitors: string;
}

/** A Ceph user (cephx id without `client.`) and its key. */
export interface CephUser {
  id: string;
  key: string;
}

/** The Ceph user of a CSI secret: ceph-csi's `userID`/`userKey`, else `adminID`/`adminKey`. */
export function cephUserOf(secrets: Secrets | undefined, what: string): CephUser {
  const s = secrets ?? {};
  if (s.userID && s.userKey) return { id: s.userID, key: s.userKey };
  if (s.adminID && s.adminKey) return { id: s.adminID, key: s.adminKey };
  throw new StorageError('InvalidArgument', `${what}: no Ceph credentials: the secret must hold userID and userKey (or adminID and adminKey)`);
}

/** Runs `fn` with a keyring file for `user` that exists only for the call. */
export async function withKeyring<T>(user: CephUser, fn: (keyring: string) => Promise<T>): Promise<T> {
  if (!/^[A-Za-z0-9._-]+$/.test(user.id)) throw new StorageError('InvalidArgument', `invalid Ceph user id "${user.id}"`);
  const dir = await mkdtemp(join(tmpdir(), 'cairn-cephx-'));
  try {
    const keyring = join(dir, 'keyring');
    await writeFile(keyring, `[client.${user.id}]\n\tkey = ${user.key.trim()}\n`, { mode: 0o600 });
    return await fn(keyring);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The arguments the FUSE clients (rbd-fuse, ceph-fuse) take to reach `cluster` as `user` with
 * `keyring` — with no log file and no admin socket, which would otherwise be left on the host
 * under /var/log/ceph and /run/ceph by every staged volume.
 */
export const clientArgs = (cluster: CephCluster, user: CephUser, keyring: string) => ['-c', '/dev/null', '-m', cluster.monitors, '--id', user.id, '--keyring', keyring, '--log-file=/dev/null', '--admin-socket='];

/** Runs `fn` with the credentials of `user` for `cluster`, as src/ceph/ceph-cli.ts takes them (the monitors as `-m`). */
async function withAuth<T>(cluster: CephCluster, user: CephUser, fn: (auth: CephAuth, mon: string[]) => Promise<T>): Promise<T> {
  return withKeyring(user, (keyring) => fn({ conf: '/dev/null', keyring, id: user.id }, ['-m', cluster.monitors]));
}

/** `ceph ARGS --format json`, parsed (undefined when the command prints nothing). */
export async function cephJson<T>(cluster: CephCluster, user: CephUser, args: readonly string[], timeoutMs = 60_000): Promise<T | undefined> {
  return withAuth(cluster, user, (auth, mon) => cephCli<T | undefined>([...mon, ...args], auth, { timeoutMs }));
}

/** `rbd ARGS`, its JSON output parsed when `json` (ls, info, snap ls: the commands that print). */
export async function rbd<T = undefined>(cluster: CephCluster, user: CephUser, args: readonly string[], opts: { json?: boolean; timeoutMs?: number } = {}): Promise<T> {
  return withAuth(cluster, user, (auth, mon) => rbdCli<T>([...mon, ...args], auth, { json: opts.json, timeoutMs: opts.timeoutMs ?? 300_000 }));
}

/** Whether `e` is a Ceph tool failure with one of `errnos` (the Ceph tools exit with the errno). */
export const isCephErrno = (e: unknown, ...errnos: number[]) => e instanceof CephError && e.code !== null && errnos.includes(e.code);
