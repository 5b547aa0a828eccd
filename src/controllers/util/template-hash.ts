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

/** Drops undefined, null, empty arrays and empty objects (as omitempty would), recursively. */
function pruneEmpty(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(pruneEmpty);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const p = pruneEmpty(x);
      if (p === undefined || p === null) continue;
      if (Array.isArray(p) && p.length === 0) continue;
      if (typeof p === 'object' && !Array.isArray(p) && Object.keys(p as object).length === 0) continue;
      out[k] = p;
    }
    return out;
  }
  return v;
}

/** Whether two statuses say the same thing (key order and omitted empties aside), so a controller never rewrites an unchanged one. */
export function semanticallyEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(pruneEmpty(a)) === canonicalJson(pruneEmpty(b));
}
