// Typed wrapper over nftables: `nft -j list ...` parsed, changes applied as one `nft -f -`
// transaction built from validated pieces. Cairn owns one table per network namespace (default
// `ip cairn`); each subsystem owns chains/sets/maps inside it and syncs them atomically
// (ensure + flush + refill in one transaction), so no subsystem disturbs another's rules.
//
// Rules are written with the `rule` template tag: the literal parts are code, every interpolated
// value must be an NftValue made by a validating constructor in `nv` — a raw string is refused,
// so nothing from the API reaches the ruleset text unchecked.
import { runTool, ToolError } from './exec.js';
import { checkIfName, checkIpv4, checkMac, checkNetnsName, parseCidr } from './ip.js';

export class NftError extends ToolError {
  constructor(
    message: string,
    argv: readonly string[],
    stderr: string,
    code: number | null,
    /** The transaction that failed, if any. */
    readonly script?: string,
  ) {
    super(message, argv, stderr, code);
  }
}
export class NftNotFoundError extends NftError {
  override name = 'NftNotFoundError';
}
export class NftInvalidError extends Error {
  override name = 'NftInvalidError';
}

export type Family = 'ip' | 'ip6' | 'inet' | 'arp' | 'bridge' | 'netdev';
const FAMILIES: readonly Family[] = ['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev'];

// nft 1.0 cannot quote names, so a name that is also a keyword ("masquerade", "drop", "filter")
// is a syntax error. Names here are lowercase words joined by '-', with at least one '-' (no
// plain-word keyword has one) — except the table name "cairn" itself.
const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)+$/;
const DASHED_KEYWORDS = new Set(['fully-random']);
export function checkNftName(name: string): string {
  if (name !== 'cairn' && (name.length > 64 || !NAME.test(name) || DASHED_KEYWORDS.has(name))) {
    throw new NftInvalidError(`invalid nftables name ${JSON.stringify(name)} (lowercase words joined by '-', at least two)`);
  }
  return name;
}
/** Table names: "cairn" or names accepted by checkNftName. */
function checkTableName(name: string): string {
  return checkNftName(name);
}
function checkFamily(f: string): Family {
  if (!(FAMILIES as readonly string[]).includes(f)) throw new NftInvalidError(`invalid nftables family ${JSON.stringify(f)}`);
  return f as Family;
}

// ---------------------------------------------------------------------------------------------
// Values and rules

const VALUE = Symbol('NftValue');
/** A checked piece of ruleset text. Only the constructors in `nv` make them. */
export interface NftValue {
  readonly [VALUE]: true;
  readonly text: string;
}
function val(text: string): NftValue {
  return { [VALUE]: true, text };
}
function isValue(x: unknown): x is NftValue {
  return typeof x === 'object' && x !== null && (x as NftValue)[VALUE] === true;
}

export const nv = {
  /** An IPv4 address. */
  ip: (a: string) => val(checkIpv4(a)),
  /** An IPv4 prefix (host bits must be zero). */
  cidr: (c: string) => {
    const p = parseCidr(c, true);
    return val(`${p.network}/${p.prefix}`);
  },
  /** An address or prefix. */
  addr: (a: string) => (a.includes('/') ? nv.cidr(a) : nv.ip(a)),
  port: (p: number) => {
    if (!Number.isInteger(p) || p < 0 || p > 65535) throw new NftInvalidError(`invalid port ${p}`);
    return val(String(p));
  },
  int: (n: number) => {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new NftInvalidError(`invalid integer ${n}`);
    return val(String(n));
  },
  proto: (p: 'tcp' | 'udp' | 'sctp' | 'icmp') => {
    if (!['tcp', 'udp', 'sctp', 'icmp'].includes(p)) throw new NftInvalidError(`invalid protocol ${p}`);
    return val(p);
  },
  /** An interface name, quoted. */
  iface: (name: string) => val(`"${checkIfName(name)}"`),
  mac: (m: string) => val(checkMac(m)),
  /** A reference to a named set or map in the same table: @name. */
  set: (name: string) => val(`@${checkNftName(name)}`),
  /** A chain name (for jump/goto). */
  chain: (name: string) => val(checkNftName(name)),
  verdict: (v: 'accept' | 'drop' | 'return' | 'continue' | { jump: string } | { goto: string }) => {
    if (typeof v === 'string') {
      if (!['accept', 'drop', 'return', 'continue'].includes(v)) throw new NftInvalidError(`invalid verdict ${v}`);
      return val(v);
    }
    if ('jump' in v) return val(`jump ${checkNftName(v.jump)}`);
    return val(`goto ${checkNftName(v.goto)}`);
  },
  /** A quoted string (comments); printable ASCII without quotes or backslashes, ≤ 128 chars. */
  str: (s: string) => {
    if (!/^[\x20-\x7e]{0,128}$/.test(s) || /["\\]/.test(s)) throw new NftInvalidError(`invalid nftables string ${JSON.stringify(s)}`);
    return val(`"${s}"`);
  },
  /** An anonymous set of values: { a, b, c }. */
  anon: (items: NftValue[]) => {
    if (!items.length) throw new NftInvalidError('empty anonymous set');
    for (const i of items) if (!isValue(i)) throw new NftInvalidError('anonymous set items must be NftValues');
    return val(`{ ${items.map((i) => i.text).join(', ')} }`);
  },
  /** An anonymous map: { k1 : v1, k2 : v2 } (e.g. the verdicts of `numgen random mod N vmap`). */
  anonMap: (entries: [NftValue, NftValue][]) => {
    if (!entries.length) throw new NftInvalidError('empty anonymous map');
    for (const [k, v] of entries) if (!isValue(k) || !isValue(v)) throw new NftInvalidError('anonymous map entries must be NftValues');
    return val(`{ ${entries.map(([k, v]) => `${k.text} : ${v.text}`).join(', ')} }`);
  },
};

export interface NftRule {
  readonly text: string;
  readonly comment?: string;
}

/**
 * Builds a rule: rule`ip saddr ${nv.cidr(c)} masquerade`. The literal parts may not contain
 * statement separators; interpolations must be NftValues.
 */
export function rule(strings: TemplateStringsArray, ...values: NftValue[]): NftRule {
  let text = '';
  strings.forEach((s, i) => {
    if (/[;\n\r#"]/.test(s)) throw new NftInvalidError(`rule text may not contain ; # " or newlines: ${JSON.stringify(s)}`);
    text += s;
    if (i < values.length) {
      const v = values[i];
      if (!isValue(v)) throw new NftInvalidError(`rule value ${i} is not an NftValue (use nv.*): ${JSON.stringify(v)}`);
      text += v.text;
    }
  });
  text = text.trim().replace(/\s+/g, ' ');
  if (!text) throw new NftInvalidError('empty rule');
  return { text };
}
/** The same rule with a comment (shown in listings; used to find a rule again). */
export function withComment(r: NftRule, comment: string): NftRule {
  nv.str(comment);
  return { text: r.text, comment };
}

// ---------------------------------------------------------------------------------------------
// Specs and listings

export type Hook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting' | 'ingress';
export type Priority = number | 'raw' | 'mangle' | 'dstnat' | 'filter' | 'security' | 'srcnat';
export interface ChainSpec {
  name: string;
  /** Base chain: type, hook, priority (policy default accept). Omit for a regular chain. */
  base?: { type: 'filter' | 'nat' | 'route'; hook: Hook; priority: Priority; policy?: 'accept' | 'drop' };
}
const SET_TYPE = /^[a-z0-9_]+( \. [a-z0-9_]+)*$/;
export interface SetSpec {
  name: string;
  /** e.g. 'ipv4_addr', 'inet_service', 'ipv4_addr . inet_proto . inet_service'. */
  type: string;
  flags?: ('interval' | 'timeout' | 'constant' | 'dynamic')[];
  /** Default element timeout in seconds (with the 'timeout' flag). */
  timeout?: number;
}
export interface MapSpec extends SetSpec {
  /** The value type, or 'verdict'. */
  valueType: string;
}

export interface NftTableRef {
  family: Family;
  name: string;
  handle?: number;
}
export interface NftChainInfo {
  name: string;
  handle: number;
  type?: string;
  hook?: string;
  prio?: number;
  policy?: string;
}
export interface NftRuleInfo {
  chain: string;
  handle: number;
  comment?: string;
  expr: unknown[];
}
export interface NftSetInfo {
  name: string;
  type: string | string[];
  /** Present for maps: the value type. */
  map?: string;
  flags: string[];
  /** Default element timeout in seconds, if the set has one. */
  timeout?: number;
  elem: unknown[];
}
export interface NftTableState {
  family: Family;
  name: string;
  chains: NftChainInfo[];
  rules: NftRuleInfo[];
  sets: NftSetInfo[];
  maps: NftSetInfo[];
}

// ---------------------------------------------------------------------------------------------
// Transactions

/** A list of nft commands applied as one atomic transaction by `Nft.apply`. */
export class NftScript {
  readonly lines: string[] = [];
  constructor(
    readonly family: Family,
    readonly table: string,
  ) {
    checkFamily(family);
    checkTableName(table);
  }
  private get t(): string {
    return `${this.family} ${this.table}`;
  }
  addTable(): this {
    this.lines.push(`add table ${this.t}`);
    return this;
  }
  deleteTable(): this {
    this.lines.push(`delete table ${this.t}`);
    return this;
  }
  addChain(c: ChainSpec): this {
    const name = checkNftName(c.name);
    if (!c.base) {
      this.lines.push(`add chain ${this.t} ${name}`);
      return this;
    }
    const b = c.base;
    if (!['filter', 'nat', 'route'].includes(b.type)) throw new NftInvalidError(`invalid chain type ${b.type}`);
    if (!['prerouting', 'input', 'forward', 'output', 'postrouting', 'ingress'].includes(b.hook)) throw new NftInvalidError(`invalid hook ${b.hook}`);
    let prio: string;
    if (typeof b.priority === 'number') {
      if (!Number.isInteger(b.priority) || Math.abs(b.priority) > 100000) throw new NftInvalidError(`invalid priority ${b.priority}`);
      prio = String(b.priority);
    } else if (['raw', 'mangle', 'dstnat', 'filter', 'security', 'srcnat'].includes(b.priority)) prio = b.priority;
    else throw new NftInvalidError(`invalid priority ${String(b.priority)}`);
    const policy = b.policy ?? 'accept';
    if (policy !== 'accept' && policy !== 'drop') throw new NftInvalidError(`invalid policy ${String(policy)}`);
    this.lines.push(`add chain ${this.t} ${name} { type ${b.type} hook ${b.hook} priority ${prio}; policy ${policy}; }`);
    return this;
  }
  flushChain(name: string): this {
    this.lines.push(`flush chain ${this.t} ${checkNftName(name)}`);
    return this;
  }
  deleteChain(name: string): this {
    this.lines.push(`delete chain ${this.t} ${checkNftName(name)}`);
    return this;
  }
  addRule(chain: string, r: NftRule): this {
    if (/[;\n\r#]/.test(r.text)) throw new NftInvalidError('rule text may not contain ; # or newlines (build rules with rule``)');
    const comment = r.comment !== undefined ? ` comment ${nv.str(r.comment).text}` : '';
    this.lines.push(`add rule ${this.t} ${checkNftName(chain)} ${r.text}${comment}`);
    return this;
  }
  private setDecl(kind: 'set' | 'map', s: SetSpec, valueType?: string): string {
    const name = checkNftName(s.name);
    if (!SET_TYPE.test(s.type)) throw new NftInvalidError(`invalid set type ${JSON.stringify(s.type)}`);
    if (valueType !== undefined && !SET_TYPE.test(valueType)) throw new NftInvalidError(`invalid map value type ${JSON.stringify(valueType)}`);
    const flags = (s.flags ?? []).map((f) => {
      if (!['interval', 'timeout', 'constant', 'dynamic'].includes(f)) throw new NftInvalidError(`invalid set flag ${f}`);
      return f;
    });
    const type = valueType === undefined ? s.type : `${s.type} : ${valueType}`;
    if (s.timeout !== undefined && (!Number.isInteger(s.timeout) || s.timeout < 1 || s.timeout > 0xffffffff)) throw new NftInvalidError(`invalid set timeout ${s.timeout}`);
    const timeout = s.timeout !== undefined ? ` timeout ${s.timeout}s;` : '';
    return `add ${kind} ${this.t} ${name} { type ${type};${flags.length ? ` flags ${flags.join(', ')};` : ''}${timeout} }`;
  }
  addSet(s: SetSpec): this {
    this.lines.push(this.setDecl('set', s));
    return this;
  }
  addMap(m: MapSpec): this {
    this.lines.push(this.setDecl('map', m, m.valueType));
    return this;
  }
  /** Flushes a set or map's elements. */
  flushSet(name: string, kind: 'set' | 'map' = 'set'): this {
    this.lines.push(`flush ${kind} ${this.t} ${checkNftName(name)}`);
    return this;
  }
  deleteSet(name: string, kind: 'set' | 'map' = 'set'): this {
    this.lines.push(`delete ${kind} ${this.t} ${checkNftName(name)}`);
    return this;
  }
  /** Set elements are values (concatenations as arrays); map elements are [key, value] pairs. */
  addElements(name: string, elements: (NftValue | NftValue[])[]): this {
    if (elements.length) this.lines.push(`add element ${this.t} ${checkNftName(name)} { ${elements.map(elemText).join(', ')} }`);
    return this;
  }
  /** Map entries are [key, value] or [key, value, comment] (the comment shows in listings). */
  addMapElements(name: string, entries: [NftValue | NftValue[], NftValue, string?][]): this {
    const entry = ([k, v, c]: [NftValue | NftValue[], NftValue, string?]) => `${elemText(k)}${c !== undefined ? ` comment ${nv.str(c).text}` : ''} : ${elemText(v)}`;
    if (entries.length) this.lines.push(`add element ${this.t} ${checkNftName(name)} { ${entries.map(entry).join(', ')} }`);
    return this;
  }
  deleteElements(name: string, keys: (NftValue | NftValue[])[]): this {
    if (keys.length) this.lines.push(`delete element ${this.t} ${checkNftName(name)} { ${keys.map(elemText).join(', ')} }`);
    return this;
  }
  text(): string {
    return this.lines.join('\n') + '\n';
  }
}
function elemText(e: NftValue | NftValue[]): string {
  const parts = Array.isArray(e) ? e : [e];
  if (!parts.length) throw new NftInvalidError('empty element');
  for (const p of parts) if (!isValue(p)) throw new NftInvalidError('set elements must be NftValues (use nv.*)');
  return parts.map((p) => p.text).join(' . ');
}

// ---------------------------------------------------------------------------------------------
// The wrapper

export interface NftOptions {
  /** Network namespace (name); default the root namespace. */
  netns?: string;
  family?: Family;
  /** Default 'cairn'. */
  table?: string;
}

export class Nft {
  readonly netns?: string;
  readonly family: Family;
  readonly table: string;

  constructor(opts: NftOptions = {}) {
    if (opts.netns !== undefined) checkNetnsName(opts.netns);
    this.netns = opts.netns;
    this.family = checkFamily(opts.family ?? 'ip');
    this.table = checkTableName(opts.table ?? 'cairn');
  }

  /** Runs `nft ARGS...` in this namespace (killed after timeoutMs, default runTool's). */
  async run(args: readonly string[], input?: string, timeoutMs?: number): Promise<string> {
    const [cmd, full] = this.netns === undefined ? ['nft', [...args]] : ['ip', ['netns', 'exec', this.netns, 'nft', ...args]];
    const argv = [cmd, ...full];
    let r;
    try {
      r = await runTool(cmd, full, { input, timeoutMs });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NftError(`${cmd} is not installed`, argv, '', null, input);
      throw e;
    }
    if (r.code !== 0) {
      if (/exec of "nft" failed/.test(r.stderr)) {
        throw new NftError('nft is not installed (install nftables)', argv, r.stderr, r.code, input);
      }
      const msg = `${argv.join(' ')}: ${r.stderr.trim() || `exit code ${r.code}`}`;
      if (/No such file or directory|does not exist/.test(r.stderr)) throw new NftNotFoundError(msg, argv, r.stderr, r.code, input);
      throw new NftError(msg, argv, r.stderr, r.code, input);
    }
    return r.stdout;
  }

  script(): NftScript {
    return new NftScript(this.family, this.table);
  }

  /** Applies a transaction atomically (`nft -f -`): all of it or none of it. */
  async apply(s: NftScript, opts: { timeoutMs?: number } = {}): Promise<void> {
    if (!s.lines.length) return;
    await this.run(['-f', '-'], s.text(), opts.timeoutMs);
  }

  /**
   * The chains of this wrapper's table, without their rules: `list chains` is cheap where a
   * full `list table` of a large table (tens of thousands of rules) takes seconds.
   */
  async listChains(): Promise<NftChainInfo[]> {
    const out = await this.run(['-j', 'list', 'chains', this.family]);
    return items(out)
      .filter((i) => 'chain' in i && (i['chain'] as { table?: string }).table === this.table)
      .map((i) => i['chain'] as NftChainInfo);
  }

  /** The named sets (not maps) of this wrapper's table, without their elements. */
  async listSets(): Promise<NftSetInfo[]> {
    const out = await this.run(['-j', '-t', 'list', 'sets', this.family]);
    return items(out)
      .filter((i) => 'set' in i && (i['set'] as { table?: string }).table === this.table)
      .map((i) => setInfo(i['set'] as RawSet));
  }

  /** Every table in this namespace (all families). */
  async listTables(): Promise<NftTableRef[]> {
    const out = await this.run(['-j', 'list', 'tables']);
    return items(out)
      .filter((i) => 'table' in i)
      .map((i) => i['table'] as NftTableRef);
  }

  /** This wrapper's table, parsed; undefined when it does not exist. */
  async list(): Promise<NftTableState | undefined> {
    let out: string;
    try {
      out = await this.run(['-j', 'list', 'table', this.family, this.table]);
    } catch (e) {
      if (e instanceof NftNotFoundError) return undefined;
      throw e;
    }
    const st: NftTableState = { family: this.family, name: this.table, chains: [], rules: [], sets: [], maps: [] };
    for (const i of items(out)) {
      if ('chain' in i) st.chains.push(i['chain'] as NftChainInfo);
      else if ('rule' in i) {
        const r = i['rule'] as { chain: string; handle: number; comment?: string; expr?: unknown[] };
        st.rules.push({ chain: r.chain, handle: r.handle, comment: r.comment, expr: r.expr ?? [] });
      } else if ('set' in i || 'map' in i) {
        ('map' in i ? st.maps : st.sets).push(setInfo((i['set'] ?? i['map']) as RawSet));
      }
    }
    return st;
  }

  async ensureTable(): Promise<void> {
    await this.apply(this.script().addTable());
  }

  /** Deletes the table if it exists; returns true when it was there. */
  async removeTable(): Promise<boolean> {
    try {
      await this.apply(this.script().deleteTable());
      return true;
    } catch (e) {
      if (e instanceof NftNotFoundError) return false;
      throw e;
    }
  }

  /** Makes the chain exist with exactly these rules, atomically (table created if needed). */
  async syncChain(chain: ChainSpec, rules: NftRule[]): Promise<void> {
    const s = this.script().addTable().addChain(chain).flushChain(chain.name);
    for (const r of rules) s.addRule(chain.name, r);
    await this.apply(s);
  }

  /** Removes a chain (flushing it first) if it exists. */
  async removeChain(name: string): Promise<boolean> {
    const st = await this.list();
    if (!st?.chains.some((c) => c.name === name)) return false;
    await this.apply(this.script().flushChain(name).deleteChain(name));
    return true;
  }

  /** Makes the set exist with exactly these elements, atomically. */
  async syncSet(set: SetSpec, elements: (NftValue | NftValue[])[]): Promise<void> {
    await this.apply(this.script().addTable().addSet(set).flushSet(set.name).addElements(set.name, elements));
  }

  /** Makes the map exist with exactly these entries, atomically. */
  async syncMap(map: MapSpec, entries: [NftValue | NftValue[], NftValue][]): Promise<void> {
    await this.apply(this.script().addTable().addMap(map).flushSet(map.name, 'map').addMapElements(map.name, entries));
  }
}

interface RawSet {
  name: string;
  type: string | string[];
  map?: string;
  flags?: string[];
  timeout?: number;
  elem?: unknown[];
}
function setInfo(s: RawSet): NftSetInfo {
  return { name: s.name, type: s.type, map: s.map, flags: s.flags ?? [], ...(s.timeout !== undefined ? { timeout: s.timeout } : {}), elem: s.elem ?? [] };
}

function items(out: string): Record<string, unknown>[] {
  const t = out.trim();
  if (!t) return [];
  try {
    const j = JSON.parse(t) as { nftables?: Record<string, unknown>[] };
    return j.nftables ?? [];
  } catch {
    throw new NftError('nft: unparseable JSON output', ['nft', '-j'], t.slice(0, 500), 0);
  }
}
