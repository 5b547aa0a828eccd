/**
 * The JSONPath CRD printer columns and scale paths use in practice: `.a.b`, `.a[0].b`,
 * `.a['x.y']`, `.a[*].b` and equality filters such as KubeVirt's
 * `.status.conditions[?(@.type=='Ready')].status`, optionally wrapped in `{...}`. Anything
 * richer (recursive descent, slices, other operators) is rejected by parse, so such a column
 * prints empty cells instead of wrong ones.
 */
export type PathSegment = string | number | { wildcard: true } | { filter: { path: string[]; equals: string | number | boolean } };

const STEP = /\.([A-Za-z0-9_\-$@]+)|\[(\d+)\]|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]|\[\s*\*\s*\]|\[\?\(\s*@((?:\.[A-Za-z0-9_\-$]+)+)\s*==\s*(?:'([^']*)'|"([^"]*)"|(-?\d+(?:\.\d+)?|true|false))\s*\)\]/y;

export function parseSimpleJsonPath(expr: string): PathSegment[] | undefined {
  let s = expr.trim();
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1).trim();
  if (!s.startsWith('.') && !s.startsWith('[')) return undefined;
  const segs: PathSegment[] = [];
  let i = 0;
  while (i < s.length) {
    STEP.lastIndex = i;
    const m = STEP.exec(s);
    if (!m) return undefined;
    if (m[1] !== undefined) segs.push(m[1]);
    else if (m[2] !== undefined) segs.push(Number(m[2]));
    else if (m[3] !== undefined || m[4] !== undefined) segs.push((m[3] ?? m[4])!);
    else if (m[5] !== undefined) segs.push({ filter: { path: m[5].slice(1).split('.'), equals: m[6] ?? m[7] ?? literal(m[8]!) } });
    else segs.push({ wildcard: true });
    i = STEP.lastIndex;
  }
  return segs;
}

const literal = (v: string): number | boolean => (v === 'true' ? true : v === 'false' ? false : Number(v));

/** Every value the path selects, in document order. */
export function evalJsonPathAll(obj: unknown, segs: PathSegment[]): unknown[] {
  let cur: unknown[] = [obj];
  for (const seg of segs) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (v === null || typeof v !== 'object') continue;
      if (typeof seg === 'string' || typeof seg === 'number') {
        const x = (v as Record<string | number, unknown>)[seg];
        if (x !== undefined) next.push(x);
      } else {
        const items = Array.isArray(v) ? v : Object.values(v);
        next.push(...('wildcard' in seg ? items : items.filter((x) => evalSimpleJsonPath(x, seg.filter.path) === seg.filter.equals)));
      }
    }
    cur = next;
  }
  return cur;
}

/** The first value the path selects, as upstream's table convertor prints a column's first result. */
export function evalSimpleJsonPath(obj: unknown, segs: PathSegment[]): unknown {
  return evalJsonPathAll(obj, segs)[0];
}
