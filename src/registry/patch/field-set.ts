/**
 * Sets of field paths, as structured-merge-diff's fieldpath.Set, and their FieldsV1 encoding
 * (the `fieldsV1` of a managedFields entry).
 *
 * A path element is kept in its FieldsV1 spelling, which is canonical and so doubles as an
 * identity: `f:<field name>`, `k:<JSON object of the key fields, sorted by name>` for an item
 * of a map-keyed list, `v:<JSON value>` for an item of a set, `i:<index>` for a list index.
 * A set is a flat collection of paths; FieldsV1 nests them, with `.` marking a path that is a
 * member itself while also having members below it.
 */

export type PathElement = string;
export type Path = readonly PathElement[];

/** Go's encoding/json escapes these; keeping the same bytes keeps `k:`/`v:` keys identical. */
export function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export const fieldPE = (name: string): PathElement => `f:${name}`;
export const valuePE = (v: unknown): PathElement => `v:${goJson(v)}`;
export const indexPE = (i: number): PathElement => `i:${i}`;
/** `fields` must be sorted by name (keys are always emitted sorted). */
export function keyPE(fields: [string, unknown][]): PathElement {
  return `k:{${fields.map(([n, v]) => `${goJson(n)}:${goJson(v)}`).join(',')}}`;
}

/** The field name of an `f:` element, or undefined for item elements. */
export function fieldNameOf(pe: PathElement): string | undefined {
  return pe.startsWith('f:') ? pe.slice(2) : undefined;
}

export class FieldSet {
  private readonly paths = new Map<string, Path>();

  static of(paths: Iterable<Path>): FieldSet {
    const s = new FieldSet();
    for (const p of paths) s.insert(p);
    return s;
  }

  insert(path: Path): void {
    this.paths.set(JSON.stringify(path), [...path]);
  }

  has(path: Path): boolean {
    return this.paths.has(JSON.stringify(path));
  }

  get empty(): boolean {
    return this.paths.size === 0;
  }

  all(): Path[] {
    return [...this.paths.values()];
  }

  union(o: FieldSet): FieldSet {
    return FieldSet.of([...this.all(), ...o.all()]);
  }

  difference(o: FieldSet): FieldSet {
    return FieldSet.of(this.all().filter((p) => !o.has(p)));
  }

  intersection(o: FieldSet): FieldSet {
    return FieldSet.of(this.all().filter((p) => o.has(p)));
  }

  filter(keep: (p: Path) => boolean): FieldSet {
    return FieldSet.of(this.all().filter(keep));
  }

  /** The paths below `pe`, with `pe` removed from their front. */
  withPrefix(pe: PathElement): FieldSet {
    return FieldSet.of(this.all().filter((p) => p.length > 1 && p[0] === pe).map((p) => p.slice(1)));
  }

  equals(o: FieldSet): boolean {
    return this.paths.size === o.paths.size && this.all().every((p) => o.has(p));
  }
}

/** Paths under any of `prefixes` (each given as field names), the prefixes included. */
export function underAny(path: Path, prefixes: readonly (readonly string[])[]): boolean {
  return prefixes.some((pre) => pre.length <= path.length && pre.every((name, i) => path[i] === fieldPE(name)));
}

// ---- ordering, as fieldpath.PathElement.Compare -------------------------------------------

const KIND_ORDER: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 };

/** Value order of structured-merge-diff: numbers < strings < bools < lists < maps < null. */
function compareValues(a: unknown, b: unknown): number {
  const rank = (v: unknown) =>
    typeof v === 'number' ? 0 : typeof v === 'string' ? 1 : typeof v === 'boolean' ? 2 : Array.isArray(v) ? 3 : v === null ? 5 : 4;
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'number') return a - (b as number);
  if (typeof a === 'string') return a < (b as string) ? -1 : a > (b as string) ? 1 : 0;
  if (typeof a === 'boolean') return Number(a) - Number(b);
  return goJson(a) < goJson(b) ? -1 : goJson(a) > goJson(b) ? 1 : 0;
}

export function comparePE(a: PathElement, b: PathElement): number {
  const ka = KIND_ORDER[a[0]] ?? 4;
  const kb = KIND_ORDER[b[0]] ?? 4;
  if (ka !== kb) return ka - kb;
  const ra = a.slice(2);
  const rb = b.slice(2);
  switch (a[0]) {
    case 'f':
      return ra < rb ? -1 : ra > rb ? 1 : 0;
    case 'k': {
      const fa = Object.entries(JSON.parse(ra) as Record<string, unknown>);
      const fb = Object.entries(JSON.parse(rb) as Record<string, unknown>);
      for (let i = 0; i < Math.min(fa.length, fb.length); i++) {
        if (fa[i][0] !== fb[i][0]) return fa[i][0] < fb[i][0] ? -1 : 1;
        const c = compareValues(fa[i][1], fb[i][1]);
        if (c !== 0) return c;
      }
      return fa.length - fb.length;
    }
    case 'v':
      return compareValues(JSON.parse(ra), JSON.parse(rb));
    default:
      return Number(ra) - Number(rb);
  }
}

// ---- tree form: FieldsV1 and iteration order -----------------------------------------------

interface Node {
  members: Set<PathElement>;
  children: Map<PathElement, Node>;
}

function toTree(set: FieldSet): Node {
  const root: Node = { members: new Set(), children: new Map() };
  for (const path of set.all()) {
    if (path.length === 0) continue;
    let n = root;
    for (const pe of path.slice(0, -1)) {
      let c = n.children.get(pe);
      if (!c) n.children.set(pe, (c = { members: new Set(), children: new Map() }));
      n = c;
    }
    n.members.add(path[path.length - 1]);
  }
  return root;
}

/** Encodes a set as FieldsV1 JSON, keys in fieldpath order (`.` first). */
export function toFieldsV1(set: FieldSet): Record<string, unknown> {
  const emit = (n: Node, self: boolean): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    if (self) out['.'] = {};
    const keys = [...new Set([...n.members, ...n.children.keys()])].sort(comparePE);
    for (const pe of keys) {
      const child = n.children.get(pe);
      const value = child ? emit(child, n.members.has(pe)) : {};
      Object.defineProperty(out, pe, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  };
  return emit(toTree(set), false);
}

/** Decodes FieldsV1 JSON; throws on a malformed document. */
export function fromFieldsV1(fields: unknown): FieldSet {
  const set = new FieldSet();
  const walk = (obj: unknown, prefix: PathElement[]) => {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Error('expected an object in fieldsV1');
    for (const [pe, sub] of Object.entries(obj)) {
      if (pe === '.') continue;
      if (!/^[fkvi]:/.test(pe)) throw new Error(`unknown path element type in ${JSON.stringify(pe)}`);
      const path = [...prefix, pe];
      const keys = Object.keys((sub ?? {}) as object);
      if (keys.length === 0 || keys.includes('.')) set.insert(path);
      if (keys.some((k) => k !== '.')) walk(sub, path);
    }
  };
  walk(fields, []);
  return set;
}

/** The paths of a set in structured-merge-diff's iteration order (members, then children). */
export function orderedPaths(set: FieldSet): Path[] {
  const out: Path[] = [];
  const walk = (n: Node, prefix: PathElement[]) => {
    for (const pe of [...n.members].sort(comparePE)) out.push([...prefix, pe]);
    for (const pe of [...n.children.keys()].sort(comparePE)) walk(n.children.get(pe)!, [...prefix, pe]);
  };
  walk(toTree(set), []);
  return out;
}

/** A path as structured-merge-diff prints it: `.spec.containers[name="nginx"].image`. */
export function pathString(path: Path): string {
  return path
    .map((pe) => {
      const rest = pe.slice(2);
      switch (pe[0]) {
        case 'f':
          return `.${rest}`;
        case 'k':
          return `[${Object.entries(JSON.parse(rest) as Record<string, unknown>)
            .map(([k, v]) => `${k}=${valueString(v)}`)
            .join(',')}]`;
        case 'v':
          return `[=${valueString(JSON.parse(rest))}]`;
        default:
          return `[${rest}]`;
      }
    })
    .join('');
}

/** value.ToString: strings quoted, other scalars bare. */
function valueString(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(valueString).join(',')}]`;
  if (typeof v === 'object') return Object.entries(v as object).map(([k, x]) => `${k}=${valueString(x)}`).join('');
  return String(v);
}
