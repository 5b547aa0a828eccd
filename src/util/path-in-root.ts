/**
 * Resolving a path inside a root directory (an image's rootfs) the way securejoin does: every
 * component is looked up inside the root, symlinks are followed with an absolute target taken
 * relative to the root, and `..` stops at the root — so a hostile image can never make the agent
 * read or write outside it. Missing components resolve as plain names.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

const MAX_SYMLINKS = 40;

export class SymlinkLoopError extends Error {
  constructor(path: string) {
    super(`too many levels of symbolic links resolving "${path}"`);
    this.name = 'SymlinkLoopError';
  }
}

/** The host path of root-relative `path` (a string or its components). */
export function resolveInRoot(root: string, path: string | string[]): string {
  const comps = typeof path === 'string' ? path.split('/') : path;
  let resolved: string[] = [];
  const queue = [...comps];
  let links = 0;
  while (queue.length) {
    const c = queue.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      resolved.pop();
      continue;
    }
    const candidate = [...resolved, c];
    let isLink = false;
    try {
      isLink = lstatSync(join(root, ...candidate)).isSymbolicLink();
    } catch {
      // Missing: the rest cannot resolve through symlinks either.
    }
    if (!isLink) {
      resolved = candidate;
      continue;
    }
    if (++links > MAX_SYMLINKS) throw new SymlinkLoopError(`/${comps.join('/')}`);
    const target = readlinkSync(join(root, ...candidate));
    if (target.startsWith('/')) resolved = [];
    queue.unshift(...target.split('/'));
  }
  return join(root, ...resolved);
}
