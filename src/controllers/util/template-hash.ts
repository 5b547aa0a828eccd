/**
 * Pod template hashes as upstream computes them for `controller-revision-hash` and
 * `pod-template-hash`: 32-bit FNV-1a over the object's serialization (plus a collision count),
 * rendered with rand.SafeEncodeString's alphabet (no vowels, no look-alikes).
 */
const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

export function fnv32a(data: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(data, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** rand.SafeEncodeString: each character mapped into the safe alphabet. */
export function safeEncodeString(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += ALPHANUMS[s.charCodeAt(i) % ALPHANUMS.length];
  return out;
}

/** JSON with object keys sorted, so equal objects hash alike whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** controller.ComputeHash: the safe-encoded decimal FNV-1a of the template (and collision count). */
export function computeHash(template: unknown, collisionCount?: number): string {
  const data = canonicalJson(template) + (collisionCount ? String(collisionCount) : '');
  return safeEncodeString(String(fnv32a(data)));
}
