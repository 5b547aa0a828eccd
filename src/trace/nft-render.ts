// nft JSON expressions back to the text `nft list` prints, so `cairn trace` shows a matched
// rule the way an operator reads it (`ip daddr . meta l4proto . th dport vmap @service-ips`).
// Anything outside the known subset is shown as compact JSON rather than guessed at.

const obj = (x: unknown): Record<string, unknown> | undefined => (typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : undefined);

const META_BARE = new Set(['iifname', 'oifname', 'iif', 'oif']);
const HEX_KEYS = new Set(['mark']);

/** A value or expression. */
export function renderExpr(x: unknown, hex = false): string {
  if (typeof x === 'number') return hex ? `0x${x.toString(16).padStart(8, '0')}` : String(x);
  if (typeof x === 'string') return x.startsWith('@') ? x : /^[A-Za-z0-9_.:\-/*]+$/.test(x) ? x : JSON.stringify(x);
  if (typeof x === 'boolean') return x ? 'exists' : 'missing';
  if (Array.isArray(x)) return x.map((e) => renderExpr(e, hex)).join(',');
  const o = obj(x);
  if (!o) return String(x);
  const [key] = Object.keys(o);
  const v = o[key!];
  const a = obj(v) ?? {};
  switch (key) {
    case 'payload':
      return a['protocol'] ? `${String(a['protocol'])} ${String(a['field'])}` : `@${String(a['base'])},${String(a['offset'])},${String(a['len'])}`;
    case 'meta':
      return META_BARE.has(String(a['key'])) ? String(a['key']) : `meta ${String(a['key'])}`;
    case 'ct':
      return `ct ${a['dir'] ? `${String(a['dir'])} ` : ''}${String(a['key'])}`;
    case 'fib':
      return `fib ${(a['flags'] as string[] | undefined ?? []).join(' . ')} ${String(a['result'])}`;
    case 'numgen':
      return `numgen ${String(a['mode'])} mod ${String(a['mod'])}${a['offset'] ? ` offset ${String(a['offset'])}` : ''}`;
    case 'concat':
      return (v as unknown[]).map((e) => renderExpr(e, hex)).join(' . ');
    case 'prefix':
      return `${String(a['addr'])}/${String(a['len'])}`;
    case 'range':
      return (v as unknown[]).map((e) => renderExpr(e, hex)).join('-');
    case 'set':
      return `{ ${(v as unknown[]).map((e) => (Array.isArray(e) ? `${renderExpr(e[0], hex)} : ${renderStatement(e[1])}` : renderExpr(e, hex))).join(', ')} }`;
    case 'elem':
      return renderExpr(a['val'], hex);
    case 'map':
      return `${renderExpr(a['key'])} map ${renderExpr(a['data'])}`;
    case '&':
    case '|':
    case '^':
    case '<<':
    case '>>': {
      const [l, r] = v as unknown[];
      const h = isHexField(l);
      return `${renderExpr(l, h)} ${key} ${renderExpr(r, h)}`;
    }
  }
  return JSON.stringify(x);
}

const BINOPS = ['&', '|', '^', '<<', '>>'];

/** Marks read best in hex, also under a mask (`meta mark & 0x00004000`). */
function isHexField(x: unknown): boolean {
  const o = obj(x);
  const op = BINOPS.find((k) => o && k in o);
  if (op) return isHexField((o![op] as unknown[])[0]);
  const m = obj(o?.['meta']) ?? obj(o?.['ct']);
  return !!m && HEX_KEYS.has(String(m['key']));
}

/** One statement of a rule (`match`, verdicts, nat, vmap, mangle, ...). */
export function renderStatement(s: unknown): string {
  const o = obj(s);
  if (!o) return JSON.stringify(s);
  const [key] = Object.keys(o);
  const v = o[key!];
  const a = obj(v) ?? {};
  switch (key) {
    case 'match': {
      const op = String(a['op']);
      const h = isHexField(a['left']);
      // nft leaves out an implicit `==`, except after a mask, where it would read ambiguously.
      const masked = BINOPS.some((k) => k in (obj(a['left']) ?? {}));
      return `${renderExpr(a['left'], h)} ${(op === '==' && !masked) || op === 'in' ? '' : `${op} `}${renderExpr(a['right'], h)}`;
    }
    case 'accept':
    case 'drop':
    case 'continue':
    case 'return':
    case 'notrack':
      return key;
    case 'jump':
    case 'goto':
      return `${key} ${String(a['target'])}`;
    case 'vmap':
      return `${renderExpr(a['key'])} vmap ${renderExpr(a['data'])}`;
    case 'counter':
      return 'counter';
    case 'mangle':
      return `${renderExpr(a['key'])} set ${renderExpr(a['value'], isHexField(a['key']))}`;
    case 'dnat':
    case 'snat':
      return `${key} to ${natTarget(a)}`;
    case 'masquerade':
    case 'redirect':
      return [key, a['port'] !== undefined ? `to :${renderExpr(a['port'])}` : '', a['flags'] ? renderExpr(a['flags']) : ''].filter(Boolean).join(' ');
    case 'reject':
      return v ? `reject with ${String(a['type'])}${a['expr'] ? ` type ${String(a['expr'])}` : ''}` : 'reject';
    case 'log':
      return a['prefix'] ? `log prefix ${JSON.stringify(a['prefix'])}` : 'log';
    case 'limit':
      return `limit rate ${String(a['rate'])}/${String(a['per'])}`;
    case 'set':
      return `${String(a['op'])} ${String(a['set'])} { ${renderExpr(a['elem'])} }`;
  }
  return JSON.stringify(s);
}

function natTarget(a: Record<string, unknown>): string {
  const addr = a['addr'] !== undefined ? renderExpr(a['addr']) : '';
  return a['port'] !== undefined ? `${addr}:${renderExpr(a['port'])}` : addr;
}

/** A whole rule, as `nft list` shows it (without the comment). */
export function renderRule(expr: unknown[]): string {
  return expr.map(renderStatement).join(' ');
}
