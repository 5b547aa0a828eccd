/**
 * Resolves a user string (`name`, `uid`, `name:group`, `uid:gid`) against a container's root file
 * system, as containerd's oci.WithUser + WithAdditionalGIDs do for a CRI container:
 *
 * - a numeric uid is used as is; its primary gid comes from the rootfs's /etc/passwd, or 0 when
 *   no entry has that uid (or there is no passwd file);
 * - a user name must have an entry in /etc/passwd, a group name one in /etc/group;
 * - an explicit group replaces the passwd entry's gid;
 * - the additional gids are the /etc/group groups listing the user's name as a member (the
 *   group named after the user itself excluded, as containerd does).
 *
 * /etc/passwd and /etc/group are looked up inside the rootfs with symlinks resolved within it
 * (an image's absolute symlink must not lead to the host's files).
 */
import { readFileSync } from 'node:fs';
import { resolveInRoot } from '../../util/path-in-root.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Groups the user is a member of in the image's /etc/group. */
  additionalGids?: number[];
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const NUMERIC = /^[0-9]+$/;

function readLines(root: string, path: string): string[][] {
  let text: string;
  try {
    text = readFileSync(resolveInRoot(root, path), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

function passwdEntries(root: string): PasswdEntry[] {
  return readLines(root, '/etc/passwd')
    .filter((f) => f.length >= 4 && NUMERIC.test(f[2]) && NUMERIC.test(f[3]))
    .map((f) => ({ name: f[0], uid: Number(f[2]), gid: Number(f[3]) }));
}

function groupEntries(root: string): GroupEntry[] {
  return readLines(root, '/etc/group')
    .filter((f) => f.length >= 3 && NUMERIC.test(f[2]))
    .map((f) => ({ name: f[0], gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

/** The user string's ids in the image at `rootfsDir`; undefined when a name does not resolve. */
export function lookupUser(rootfsDir: string, userSpec: string): ResolvedUser | undefined {
  const colon = userSpec.indexOf(':');
  const userPart = colon < 0 ? userSpec : userSpec.slice(0, colon);
  const groupPart = colon < 0 ? undefined : userSpec.slice(colon + 1);
  const passwd = passwdEntries(rootfsDir);
  let uid: number;
  let gid: number;
  let name: string | undefined;
  if (NUMERIC.test(userPart)) {
    uid = Number(userPart);
    const entry = passwd.find((p) => p.uid === uid);
    gid = entry?.gid ?? 0;
    name = entry?.name;
  } else {
    const entry = passwd.find((p) => p.name === userPart);
    if (!entry) return undefined;
    ({ uid, gid, name } = entry);
  }
  const groups = groupEntries(rootfsDir);
  if (groupPart !== undefined && groupPart !== '') {
    if (NUMERIC.test(groupPart)) gid = Number(groupPart);
    else {
      const g = groups.find((e) => e.name === groupPart);
      if (!g) return undefined;
      gid = g.gid;
    }
  }
  const additionalGids = name ? groups.filter((g) => g.name !== name && g.members.includes(name!)).map((g) => g.gid) : [];
  return { uid, gid, additionalGids };
}
