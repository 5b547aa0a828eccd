/**
 * The JSONPath subset CRD printer columns and scale paths use in practice: `.a.b`, `.a[0].b`,
 * `.a['x.y']`, optionally wrapped in `{...}`. Anything richer (filters, wildcards) is rejected
 * by parse, so such a column prints `<none>`-style empty cells instead of wrong ones.
 */
export type PathSegment = string | number;

export function parseSimpleJsonPath(expr: string): PathSegment[] | undefined {
  let s = expr.trim();
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1).trim();
  if (!s.startsWith('.') && !s.startsWith('[')) return undefined;
  const segs: PathSegment[] = [];
  const re = /\.([A-Za-z0-9_\-$@]+)|\[(\d+)\]|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]/y;
  let i = 0;
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m) return undefined;
    segs.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (m[3] ?? m[4])));
    i = re.lastIndex;
  }
  return segs;
}

export function evalSimpleJsonPath(obj: unknown, segs: PathSegment[]): unknown {
  let cur: unknown = obj;
  for (const seg of segs) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}
