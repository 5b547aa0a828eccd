/** sha256 digests: computing, checking, and mapping to store paths. */
import { createHash, type Hash } from 'node:crypto';
import { DigestMismatchError, ImageError } from './errors.js';
import { isDigest } from './reference.js';

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function newHash(): Hash {
  return createHash('sha256');
}

export function assertDigest(d: string): string {
  if (!isDigest(d)) throw new ImageError(`unsupported or malformed digest "${d}" (only sha256 is supported)`);
  return d;
}

export function digestHex(d: string): string {
  return assertDigest(d).slice('sha256:'.length);
}

export function verifyDigest(expected: string, data: Buffer, what: string): void {
  const actual = sha256(data);
  if (actual !== expected) throw new DigestMismatchError(expected, actual, what);
}
