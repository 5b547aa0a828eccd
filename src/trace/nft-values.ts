// Values of the nft JSON expression language, as the evaluator compares them. A packet field
// evaluates to a typed scalar (an IPv4 address as a number, a port, a protocol number, an
// interface name, conntrack flag bits...); the literal it is compared with — a plain value, a
// prefix, a range, an element of a named or anonymous set, a part of a concatenation — is read
// with the type of the field, exactly as nft gives a literal the type of the left-hand side.
import { ipv4ToInt } from '../net/ip.js';
import { CT_STATUS_BITS } from './packet.js';

export type Kind = 'ipv4' | 'int' | 'proto' | 'ifname' | 'ctstate' | 'ctstatus' | 'string' | 'bool';

export interface Scalar {
  kind: Kind;
  v: number | string | boolean;
}
/** A field's value: one scalar, or the parts of a concatenation. */
export type Value = Scalar | Scalar[];

/** Raised when a literal cannot be read with the field's type (the rule is then not evaluated). */
export class NftValueError extends Error {
  override name = 'NftValueError';
}

const PROTOCOLS: Readonly<Record<string, number>> = { icmp: 1, igmp: 2, tcp: 6, udp: 17, gre: 47, esp: 50, ah: 51, icmpv6: 58, sctp: 132, udplite: 136 };
const CT_STATES: Readonly<Record<string, number>> = { invalid: 1, established: 2, related: 4, new: 8, untracked: 64 };

export function protocolNumber(name: string): number {
  const n = PROTOCOLS[name];
  if (n === undefined) throw new NftValueError(`unknown protocol ${JSON.stringify(name)}`);
  return n;
}
export function ctStateBit(state: string): number {
  const n = CT_STATES[state];
  if (n === undefined) throw new NftValueError(`unknown conntrack state ${JSON.stringify(state)}`);
  return n;
}

function flagBits(x: unknown, table: Readonly<Record<string, number>>): number {
  if (typeof x === 'number') return x;
  const names = Array.isArray(x) ? x : [x];
  let bits = 0;
  for (const n of names) {
    const b = typeof n === 'string' ? table[n] : undefined;
    if (b === undefined) throw new NftValueError(`unknown flag ${JSON.stringify(n)}`);
    bits |= b;
  }
  return bits;
}

/** A literal read with a kind: the number or string it stands for. */
export function literal(kind: Kind, x: unknown): number | string | boolean {
  switch (kind) {
    case 'ipv4':
      if (typeof x === 'string') return ipv4ToInt(x);
      if (typeof x === 'number') return x >>> 0;
      break;
    case 'int':
      if (typeof x === 'number') return x;
      if (typeof x === 'string' && /^(0x[0-9a-f]+|[0-9]+)$/i.test(x)) return Number(x);
      break;
    case 'proto':
      if (typeof x === 'number') return x;
      if (typeof x === 'string') return protocolNumber(x);
      break;
    case 'ctstate':
      return flagBits(x, CT_STATES);
    case 'ctstatus':
      return flagBits(x, CT_STATUS_BITS);
    case 'bool':
      if (typeof x === 'boolean') return x;
      break;
    case 'ifname':
    case 'string':
      if (typeof x === 'string') return x;
      break;
  }
  throw new NftValueError(`cannot read ${JSON.stringify(x)} as ${kind}`);
}

const obj = (x: unknown): Record<string, unknown> | undefined => (typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : undefined);

/** Set elements may carry per-element data (timeouts, comments): `{"elem": {"val": ...}}`. */
export function unwrapElem(x: unknown): unknown {
  const o = obj(x);
  const e = o && obj(o['elem']);
  return e && 'val' in e ? e['val'] : x;
}

/** Does one scalar lie in one literal element: a value, a prefix, a range, an interface wildcard? */
function scalarIn(s: Scalar, el: unknown): boolean {
  el = unwrapElem(el);
  const o = obj(el);
  if (o && 'prefix' in o) {
    const p = obj(o['prefix'])!;
    const len = Number(p['len']);
    const base = literal(s.kind, p['addr']) as number;
    const size = 2 ** (32 - len);
    const lo = base - (base % size);
    return (s.v as number) >= lo && (s.v as number) < lo + size;
  }
  if (o && 'range' in o) {
    const [a, b] = o['range'] as unknown[];
    const v = s.v as number;
    return v >= (literal(s.kind, a) as number) && v <= (literal(s.kind, b) as number);
  }
  if (o) throw new NftValueError(`unsupported set element ${JSON.stringify(el)}`);
  if (s.kind === 'ifname' && typeof el === 'string' && el.endsWith('*') && !el.endsWith('\\*')) return String(s.v).startsWith(el.slice(0, -1));
  if (s.kind === 'ctstate' || s.kind === 'ctstatus') return ((s.v as number) & (literal(s.kind, el) as number)) !== 0;
  return s.v === literal(s.kind, el);
}

/** Does a value (scalar or concatenation) match one element of a set or one map key? */
export function elementMatches(value: Value, el: unknown): boolean {
  el = unwrapElem(el);
  if (Array.isArray(value)) {
    const parts = obj(el)?.['concat'];
    if (!Array.isArray(parts) || parts.length !== value.length) return false;
    return value.every((s, i) => scalarIn(s, parts[i]));
  }
  return scalarIn(value, el);
}

/** `left OP right` where right is a literal, a prefix/range, or a list of elements (a set). */
export function compare(op: string, value: Value, right: unknown, elements?: unknown[]): boolean {
  if (elements) {
    const member = elements.some((e) => elementMatches(value, e));
    return op === '!=' ? !member : member;
  }
  if (Array.isArray(value)) {
    const eq = elementMatches(value, right);
    return op === '!=' ? !eq : eq;
  }
  switch (op) {
    case '==':
      return scalarEquals(value, right);
    case '!=':
      return !scalarEquals(value, right);
    case 'in':
      // A flag test for bitmask types (ct state new), membership otherwise.
      if (value.kind === 'ctstate' || value.kind === 'ctstatus') return ((value.v as number) & (literal(value.kind, right) as number)) !== 0;
      return scalarIn(value, right);
    case '<':
    case '>':
    case '<=':
    case '>=': {
      const a = value.v as number;
      const b = literal(value.kind, right) as number;
      return op === '<' ? a < b : op === '>' ? a > b : op === '<=' ? a <= b : a >= b;
    }
  }
  throw new NftValueError(`unsupported comparison ${op}`);
}

function scalarEquals(s: Scalar, right: unknown): boolean {
  // A flags field compared with a plain value is an equality of the bits, not a flag test.
  if ((s.kind === 'ctstate' || s.kind === 'ctstatus') && !obj(right)) return s.v === literal(s.kind, right);
  return scalarIn(s, right);
}
