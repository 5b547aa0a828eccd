/**
 * `$(VAR)` references in env values, command and args, as upstream's
 * third_party/forked/golang/expansion: `$(NAME)` is replaced by NAME's value when NAME is
 * defined and left as written when it is not; `$$` is an escaped `$`; a `$` followed by anything
 * else (or an unterminated `$(`) is kept literally. There is no nesting and no recursion: a
 * replacement's own `$(...)` stays as it is.
 *
 * One difference, on purpose: upstream works on bytes, so a `$` followed by a multi-byte UTF-8
 * character mangles that character; here the character is kept whole.
 */

/** Looks a name up in each map in turn; undefined when none defines it. */
export type VarLookup = (name: string) => string | undefined;

/** A lookup over several maps, the first defining a name winning (upstream MappingFuncFor). */
export function lookupIn(...maps: (ReadonlyMap<string, string> | Record<string, string>)[]): VarLookup {
  return (name) => {
    for (const m of maps) {
      if (m instanceof Map) {
        if (m.has(name)) return m.get(name);
      } else if (Object.prototype.hasOwnProperty.call(m, name)) {
        return (m as Record<string, string>)[name];
      }
    }
    return undefined;
  };
}

export function expand(input: string, lookup: VarLookup): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (c !== '$' || i + 1 >= input.length) {
      out += c;
      i++;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      // Escaped operator.
      out += '$';
      i += 2;
      continue;
    }
    if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        // Unterminated reference: keep `$(` and carry on after it.
        out += '$(';
        i += 2;
        continue;
      }
      const name = input.slice(i + 2, close);
      const value = lookup(name);
      out += value === undefined ? `$(${name})` : value;
      i = close + 1;
      continue;
    }
    // A `$` that starts no expression: kept with the character after it.
    const cp = input.codePointAt(i + 1)!;
    const ch = String.fromCodePoint(cp);
    out += '$' + ch;
    i += 1 + ch.length;
  }
  return out;
}
