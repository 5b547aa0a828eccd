/**
 * volumeMount.subPath / subPathExpr as the kubelet handles them: the expression is expanded
 * with the container's environment (every `$(VAR)` must have a non-empty value), the path must
 * be relative without `..`, a missing subPath is created as a directory with the volume root's
 * mode, and the result — with every symlink resolved — must still be inside the volume, so a
 * container cannot plant a symlink in a shared volume to reach the host.
 *
 * The checks run on the resolved path just before the runtime binds it (the kubelet instead
 * pins it with a bind mount of an O_NOFOLLOW-opened fd; a container racing a symlink swap in the
 * few milliseconds between the check and the bind is not covered here).
 */
import { chmodSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ContainerConfigError } from '../pods/errors.js';
import { expand } from '../pods/expansion.js';

/** upstream ExpandContainerVolumeMounts. */
export function expandSubPathExpr(expr: string, env: Record<string, string>): string {
  const missing = new Set<string>();
  const out = expand(expr, (name) => {
    const v = Object.hasOwn(env, name) ? env[name] : '';
    if (!v) missing.add(name);
    return v;
  });
  if (missing.size) throw new ContainerConfigError(`missing value for ${[...missing].sort().join(', ')}`);
  return out;
}

/** upstream PathWithinBase on resolved paths. */
function within(path: string, base: string): boolean {
  const rel = relative(base, path);
  return rel !== '..' && !rel.startsWith('../') && !rel.startsWith('/');
}

/** upstream doSafeMakeDir: creates the missing components, refusing to start from outside the volume. */
function safeMakeDir(volumePath: string, subPath: string): void {
  const base = realpathSync(volumePath);
  const parts = subPath.split('/').filter((p) => p && p !== '.');
  let existing = base;
  let i = 0;
  for (; i < parts.length; i++) {
    const next = join(existing, parts[i]);
    let st;
    try {
      st = statSync(next);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') break;
      throw e;
    }
    if (!st.isDirectory()) throw new Error(`${next} is not a directory`);
    existing = realpathSync(next);
    if (!within(existing, base)) throw new Error(`path ${existing} is outside of allowed base ${base}`);
  }
  const perm = statSync(base).mode & 0o7777;
  for (; i < parts.length; i++) {
    existing = join(existing, parts[i]);
    mkdirSync(existing, { mode: perm });
    // mkdir's mode passes through the umask; the volume root's mode must be exact.
    chmodSync(existing, perm);
  }
}

/**
 * The host path to bind for a volumeMount with a subPath (already expanded). Throws
 * ContainerConfigError with the kubelet's messages (details go to the log only, as upstream,
 * so a container learns nothing about the host's file system).
 */
export function resolveSubPath(volumePath: string, subPath: string, mountName: string, containerName: string, log: (detail: string) => void): string {
  if (subPath.startsWith('/')) throw new ContainerConfigError(`error SubPath \`${subPath}\` must not be an absolute path`);
  if (subPath.split('/').includes('..')) throw new ContainerConfigError(`unable to provision SubPath \`${subPath}\`: must not contain '..'`);
  const hostPath = join(volumePath, subPath);
  let present = true;
  try {
    statSync(hostPath);
  } catch {
    present = false;
  }
  if (!present) {
    try {
      safeMakeDir(volumePath, subPath);
    } catch (e) {
      log((e as Error).message);
      throw new ContainerConfigError(`failed to create subPath directory for volumeMount "${mountName}" of container "${containerName}"`);
    }
  }
  try {
    const base = realpathSync(volumePath);
    const resolved = realpathSync(hostPath);
    if (!within(resolved, base)) throw new Error(`subpath "${resolved}" not within volume path "${base}"`);
    return resolved;
  } catch (e) {
    log((e as Error).message);
    throw new ContainerConfigError(`failed to prepare subPath for volumeMount "${mountName}" of container "${containerName}"`);
  }
}
