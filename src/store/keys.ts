/**
 * Key-range helpers shared by the backends. A prefix names a key directory (see Store), so it is
 * normalized to end with "/" before use; otherwise "/a/b" would also match "/a/bc".
 */

export function normalizePrefix(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/**
 * The exclusive upper bound of the byte range holding every key that starts with `prefix`: the
 * prefix with its last byte incremented (trailing 0xff bytes dropped first). Null when there is
 * no bound (the empty prefix, or all bytes 0xff).
 */
export function prefixRangeEnd(prefix: Uint8Array): Buffer | null {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return null;
}

/**
 * The first key a (possibly paginated) listing under a normalized prefix starts at. A startKey
 * outside the prefix is a caller bug; it is clamped rather than allowed to read other keys.
 */
export function rangeStart(prefix: string, startKey: string | undefined): string {
  return startKey !== undefined && compareKeys(startKey, prefix) > 0 ? startKey : prefix;
}

/** Byte-order comparison, the order both etcd and SQLite's BINARY collation use for keys. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
