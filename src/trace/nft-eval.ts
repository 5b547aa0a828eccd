// A small evaluator of an nftables table (the JSON `nft -j list table` prints, parsed by
// Nft.list()) on one packet at one netfilter hook: the base chains of the hook in priority
// order, each rule's statements in order, jump/goto/return with a call stack, verdict maps and
// maps (named or anonymous, keys with prefixes, ranges and concatenations), marks, conntrack
// state/status, fib address types, NAT (dnat/snat/masquerade/redirect), reject and drop.
//
// It follows the kernel where the result depends on it:
//   - nat chains see only the first packet of a connection (ct state new), and once one nat
//     chain of a hook has made a binding the later ones are skipped (nf_nat_inet_fn);
//   - a NAT statement ends its chain (it returns NF_ACCEPT), `accept` ends only its base chain
//     (the next base chain of the hook still runs), `drop` and `reject` end the packet;
//   - a failed map lookup, or a meta interface key the hook does not have (iifname at output),
//     ends the rule without a match (NFT_BREAK).
// `numgen` is where the kernel draws a random number: the evaluator returns one result per
// possible value, each with its probability, so a trace shows every endpoint a Service may pick.
// An expression outside this subset makes its rule count as not matching, with a note saying so.
import type { NftRuleInfo, NftSetInfo, NftTableState } from '../net/nft.js';
import { renderExpr, renderRule } from './nft-render.js';
import { type Scalar, type Value, NftValueError, compare, elementMatches, literal, protocolNumber, ctStateBit, unwrapElem } from './nft-values.js';
import { type TracePacket, CT_STATUS_BITS, clonePacket } from './packet.js';

export type HookName = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';

export interface HookEnv {
  hook: HookName;
  /** The input interface as netfilter sees it at this hook (none at output/postrouting of local packets). */
  iifname?: string;
  oifname?: string;
  /** `fib ... type`: 'local' for an address of this namespace, else 'unicast' (or broadcast/multicast). */
  addressType(ip: string): string;
  /** The source address masquerade picks (the output route's preferred source). */
  masqueradeAddress?: string;
  /** The address redirect rewrites to (the incoming interface's primary address). */
  redirectAddress?: string;
}

export type Verdict = 'accept' | 'drop' | 'reject';

/** A rule that matched and did something. */
export interface RuleHit {
  chain: string;
  handle: number;
  comment?: string;
  /** The rule as `nft list` prints it. */
  rule: string;
  /** What it did to the packet or the evaluation: `goto service-...`, `dnat to 10.244.1.5:8080`, `meta mark 0x00004000`. */
  effect?: string;
}

export interface NatAction {
  kind: 'dnat' | 'snat' | 'masquerade' | 'redirect';
  /** The new address (and port) of the packet. */
  addr: string;
  port?: number;
  /** The rule that made it. */
  hit: RuleHit;
}

export interface NumgenChoice {
  chain: string;
  handle: number;
  comment?: string;
  /** The value drawn, of `of` possible (0..of-1). */
  value: number;
  of: number;
}

export interface ChainRun {
  name: string;
  type: string;
  prio: number;
  /** How the base chain ended: a rule's verdict, its policy, or a NAT binding. */
  verdict: Verdict;
  by: 'rule' | 'policy' | 'nat' | 'skipped';
}

export interface HookResult {
  hook: HookName;
  chains: ChainRun[];
  hits: RuleHit[];
  verdict: Verdict;
  /** For drop/reject: the rule that decided, or the base chain whose policy did. */
  decidedBy?: { chain: string; hit?: RuleHit; policy?: true };
  rejectWith?: string;
  nat: NatAction[];
  choices: NumgenChoice[];
  /** Of this result among all the numgen draws (1 without numgen). */
  probability: number;
  /** The packet after the hook (NAT, marks applied). */
  packet: TracePacket;
  notes: string[];
}

/** A rule statement the evaluator cannot follow: the rule is taken as not matching. */
class Unsupported extends Error {
  override name = 'Unsupported';
}
/** A numgen draw past the scripted ones: the caller reruns once per possible value. */
class Fork {
  constructor(readonly mod: number) {}
}

const obj = (x: unknown): Record<string, unknown> | undefined => (typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : undefined);
const NAT_HOOKS: Record<HookName, 'dst' | 'src'> = { prerouting: 'dst', output: 'dst', input: 'src', postrouting: 'src', forward: 'src' };
/** The kernel's jump stack depth (NFT_JUMP_STACK_SIZE). */
const MAX_DEPTH = 16;
const MAX_FORKS = 4096;

/**
 * Evaluates the table's base chains of `env.hook` on the packet. Returns one result per possible
 * outcome: more than one only when a rule draws a random number (numgen).
 */
export function evaluateHook(table: NftTableState | undefined, env: HookEnv, packet: TracePacket): HookResult[] {
  const out: HookResult[] = [];
  const pending: number[][] = [[]];
  while (pending.length) {
    const script = pending.shift()!;
    const r = new HookRun(table, env, packet, script).run();
    if (r instanceof Fork) {
      if (out.length + pending.length + r.mod > MAX_FORKS) throw new Error(`numgen draws make more than ${MAX_FORKS} outcomes at ${env.hook}`);
      for (let v = 0; v < r.mod; v++) pending.push([...script, v]);
    } else out.push(r);
  }
  return out;
}

type Flow = { t: 'next' } | { t: 'verdict'; v: Verdict | 'return' | 'continue'; reject?: string } | { t: 'jump' | 'goto'; chain: string } | { t: 'nat' };

class HookRun {
  private readonly rulesByChain = new Map<string, NftRuleInfo[]>();
  private readonly pkt: TracePacket;
  private draws = 0;
  private readonly res: HookResult;
  /** Set while a rule runs, for the records it makes. */
  private current?: { chain: string; rule: NftRuleInfo; hit?: RuleHit };
  /** The type of the base chain being evaluated (NAT statements need a nat chain). */
  private baseType?: string;

  constructor(
    private readonly table: NftTableState | undefined,
    private readonly env: HookEnv,
    packet: TracePacket,
    private readonly script: number[],
  ) {
    for (const r of table?.rules ?? []) {
      const list = this.rulesByChain.get(r.chain) ?? [];
      list.push(r);
      this.rulesByChain.set(r.chain, list);
    }
    this.pkt = clonePacket(packet);
    this.res = { hook: env.hook, chains: [], hits: [], verdict: 'accept', nat: [], choices: [], probability: 1, packet: this.pkt, notes: [] };
  }

  run(): HookResult | Fork {
    const bases = (this.table?.chains ?? [])
      .filter((c) => c.hook === this.env.hook && c.type !== undefined)
      .sort((a, b) => (a.prio ?? 0) - (b.prio ?? 0) || a.handle - b.handle);
    let natDone = false;
    for (const c of bases) {
      const run: ChainRun = { name: c.name, type: c.type!, prio: c.prio ?? 0, verdict: 'accept', by: 'policy' };
      this.res.chains.push(run);
      if (c.type === 'nat' && (natDone || this.pkt.ct.state !== 'new')) {
        run.by = 'skipped';
        continue;
      }
      let end: { v: Verdict; by: ChainRun['by']; hit?: RuleHit; reject?: string };
      this.baseType = c.type;
      try {
        end = this.runBase(c.name, (c.policy ?? 'accept') as Verdict);
      } catch (e) {
        if (e instanceof Fork) return e;
        throw e;
      }
      run.verdict = end.v;
      run.by = end.by;
      if (end.by === 'nat') natDone = true;
      if (end.v !== 'accept') {
        this.res.verdict = end.v;
        this.res.decidedBy = end.by === 'policy' ? { chain: c.name, policy: true } : { chain: c.name, hit: end.hit };
        if (end.reject) this.res.rejectWith = end.reject;
        break;
      }
    }
    return this.res;
  }

  private runBase(base: string, policy: Verdict): { v: Verdict; by: ChainRun['by']; hit?: RuleHit; reject?: string } {
    const stack: { chain: string; i: number }[] = [];
    let chain = base;
    let i = 0;
    for (let steps = 0; steps < 1_000_000; steps++) {
      const rules = this.rulesByChain.get(chain) ?? [];
      if (i >= rules.length) {
        const back = stack.pop();
        if (!back) return { v: policy, by: 'policy' };
        ({ chain, i } = back);
        continue;
      }
      const rule = rules[i++]!;
      const flow = this.runRule(chain, rule);
      const hit = this.current?.hit;
      this.current = undefined;
      switch (flow.t) {
        case 'next':
          break;
        case 'nat':
          return { v: 'accept', by: 'nat', hit };
        case 'jump':
        case 'goto':
          if (!this.rulesByChain.has(flow.chain) && !this.table?.chains.some((c) => c.name === flow.chain)) {
            this.res.notes.push(`${chain}: ${flow.t} to a chain that does not exist (${flow.chain}); ignored`);
            break;
          }
          if (flow.t === 'jump') {
            if (stack.length >= MAX_DEPTH) throw new Error(`${chain}: jumps nest deeper than ${MAX_DEPTH} (the kernel refuses such a ruleset)`);
            stack.push({ chain, i });
          }
          chain = flow.chain;
          i = 0;
          break;
        case 'verdict':
          if (flow.v === 'continue') break;
          if (flow.v === 'return') {
            const back = stack.pop();
            if (!back) return { v: policy, by: 'policy' };
            ({ chain, i } = back);
            break;
          }
          return { v: flow.v, by: 'rule', hit, reject: flow.reject };
      }
    }
    throw new Error(`${base}: evaluation does not end (a jump loop?)`);
  }

  /** One rule; records a hit when its matches pass. */
  private runRule(chain: string, rule: NftRuleInfo): Flow {
    this.current = { chain, rule };
    try {
      for (const st of rule.expr) {
        const flow = this.statement(st);
        if (flow === 'nomatch') return { t: 'next' };
        if (flow) return flow;
      }
      this.record();
      return { t: 'next' };
    } catch (e) {
      if (e instanceof Unsupported || e instanceof NftValueError) {
        this.res.notes.push(`${chain} rule ${rule.handle} (${renderRule(rule.expr)}): ${e.message}; taken as not matching`);
        return { t: 'next' };
      }
      throw e;
    }
  }

  private record(effect?: string): RuleHit {
    const c = this.current!;
    if (!c.hit) {
      c.hit = { chain: c.chain, handle: c.rule.handle, rule: renderRule(c.rule.expr), ...(c.rule.comment !== undefined ? { comment: c.rule.comment } : {}) };
      this.res.hits.push(c.hit);
    }
    if (effect) c.hit.effect = c.hit.effect ? `${c.hit.effect}; ${effect}` : effect;
    return c.hit;
  }

  /** A statement: 'nomatch' ends the rule, a Flow ends it with that flow, undefined goes on. */
  private statement(st: unknown): Flow | 'nomatch' | undefined {
    const o = obj(st);
    if (!o) throw new Unsupported(`unknown statement ${JSON.stringify(st)}`);
    const [key] = Object.keys(o);
    const a = obj(o[key!]) ?? {};
    switch (key) {
      case 'match':
        return this.match(a) ? undefined : 'nomatch';
      case 'counter':
      case 'log':
      case 'limit':
      case 'quota':
        return undefined;
      case 'accept':
      case 'drop':
        this.record(key);
        return { t: 'verdict', v: key };
      case 'continue':
      case 'return':
        this.record(key);
        return { t: 'verdict', v: key };
      case 'reject': {
        const how = o[key!] ? `${String(a['type'])}${a['expr'] ? ` ${String(a['expr'])}` : ''}` : 'icmp port-unreachable';
        this.record(`reject (${how})`);
        return { t: 'verdict', v: 'reject', reject: how };
      }
      case 'jump':
      case 'goto':
        this.record(`${key} ${String(a['target'])}`);
        return { t: key, chain: String(a['target']) };
      case 'vmap':
        return this.vmap(a);
      case 'mangle':
        this.mangle(a);
        return undefined;
      case 'dnat':
      case 'snat':
      case 'masquerade':
      case 'redirect':
        return this.nat(key, a);
      case 'set':
        this.record(`${String(a['op'])} ${renderExpr(a['elem'])} in ${String(a['set'])}`);
        return undefined;
      case 'notrack':
        this.record('notrack');
        this.res.notes.push('notrack: the packet would skip conntrack (NAT would not apply); the trace goes on as tracked');
        return undefined;
      case 'queue':
        this.record('queue to userspace');
        this.res.notes.push('queue: a userspace program decides; the trace assumes accept');
        return { t: 'verdict', v: 'accept' };
    }
    throw new Unsupported(`unsupported statement ${key}`);
  }

  private match(a: Record<string, unknown>): boolean {
    const left = this.value(a['left']);
    if (left === undefined) return false;
    const right = a['right'];
    const op = String(a['op']);
    return compare(op, left, right, this.elementsOf(right));
  }

  /** The elements of a set literal or a named set; undefined for a plain value. */
  private elementsOf(x: unknown): unknown[] | undefined {
    if (typeof x === 'string' && x.startsWith('@')) return this.named(x).elem;
    const s = obj(x)?.['set'];
    return Array.isArray(s) ? s : undefined;
  }

  private named(ref: string): NftSetInfo {
    const name = ref.slice(1);
    const s = this.table?.sets.find((x) => x.name === name) ?? this.table?.maps.find((x) => x.name === name);
    if (!s) throw new Unsupported(`no set or map named ${name}`);
    return s;
  }

  /** Map entries [key, data] of an anonymous map literal or a named map. */
  private entriesOf(data: unknown): [unknown, unknown][] {
    const list = typeof data === 'string' && data.startsWith('@') ? this.named(data).elem : obj(data)?.['set'];
    if (!Array.isArray(list)) throw new Unsupported(`unsupported map ${JSON.stringify(data)}`);
    return list.filter((e): e is [unknown, unknown] => Array.isArray(e) && e.length === 2);
  }

  private lookup(key: Value, data: unknown): unknown {
    return this.entriesOf(data).find(([k]) => elementMatches(key, k))?.[1];
  }

  private vmap(a: Record<string, unknown>): Flow | 'nomatch' {
    const key = this.value(a['key']);
    if (key === undefined) return 'nomatch';
    const entry = this.entriesOf(a['data']).find(([k]) => elementMatches(key, k));
    const v = obj(entry?.[1]);
    if (!v) return 'nomatch';
    // A map element may carry its own comment (`10.96.0.1 . tcp . 443 comment "default/kubernetes:https"`).
    const comment = obj(obj(entry![0])?.['elem'])?.['comment'];
    const note = typeof comment === 'string' ? ` (${comment})` : '';
    const [verdict] = Object.keys(v);
    const target = obj(v[verdict!])?.['target'];
    switch (verdict) {
      case 'jump':
      case 'goto':
        this.record(`${verdict} ${String(target)}${note}`);
        return { t: verdict, chain: String(target) };
      case 'accept':
      case 'drop':
      case 'continue':
      case 'return':
        this.record(`${verdict}${note}`);
        return { t: 'verdict', v: verdict };
    }
    throw new Unsupported(`unsupported verdict ${JSON.stringify(v)}`);
  }

  private mangle(a: Record<string, unknown>): void {
    const key = obj(a['key']);
    const v = this.value(a['value']);
    if (v === undefined || Array.isArray(v) || typeof v.v !== 'number') throw new Unsupported(`unsupported value ${renderExpr(a['value'])}`);
    const n = v.v >>> 0;
    const meta = obj(key?.['meta'])?.['key'];
    const ct = obj(key?.['ct'])?.['key'];
    if (meta === 'mark') {
      this.pkt.mark = n;
      this.record(`meta mark 0x${n.toString(16).padStart(8, '0')}`);
    } else if (ct === 'mark') {
      this.pkt.ct.mark = n;
      this.record(`ct mark 0x${n.toString(16).padStart(8, '0')}`);
    } else throw new Unsupported(`unsupported mangle of ${renderExpr(a['key'])}`);
  }

  private nat(kind: 'dnat' | 'snat' | 'masquerade' | 'redirect', a: Record<string, unknown>): Flow {
    const maniptype = NAT_HOOKS[this.env.hook];
    const wants = kind === 'dnat' || kind === 'redirect' ? 'dst' : 'src';
    if (this.baseType !== 'nat' || maniptype !== wants) throw new Unsupported(`${kind} at the ${this.env.hook} hook`);
    let addr: string | undefined;
    let port: number | undefined;
    if (kind === 'masquerade') addr = this.env.masqueradeAddress;
    else if (kind === 'redirect') addr = this.env.redirectAddress;
    else {
      const target = this.natAddr(a['addr']);
      addr = target.addr;
      port = target.port;
    }
    if (a['port'] !== undefined) {
      const p = this.value(a['port']);
      if (p === undefined || Array.isArray(p) || typeof p.v !== 'number') throw new Unsupported(`unsupported nat port ${renderExpr(a['port'])}`);
      port = p.v;
    }
    if (!addr) throw new Unsupported(`${kind}: no address to use here`);
    const random = kind === 'masquerade' || kind === 'snat' ? String(a['flags'] ?? '').includes('random') : false;
    if (wants === 'dst') {
      this.pkt.daddr = addr;
      if (port !== undefined) this.pkt.dport = port;
      this.pkt.ct.status |= CT_STATUS_BITS['dnat']!;
    } else {
      this.pkt.saddr = addr;
      if (port !== undefined) this.pkt.sport = port;
      this.pkt.ct.status |= CT_STATUS_BITS['snat']!;
    }
    const hit = this.record(`${kind} to ${addr}${port !== undefined ? `:${port}` : ''}${random ? ' (random source port)' : ''}`);
    this.res.nat.push({ kind, addr, ...(port !== undefined ? { port } : {}), hit });
    return { t: 'nat' };
  }

  /** A dnat/snat address: a literal, or a map lookup giving an address or `address . port`. */
  private natAddr(x: unknown): { addr?: string; port?: number } {
    if (typeof x === 'string') return { addr: x };
    const m = obj(obj(x)?.['map']);
    if (!m) throw new Unsupported(`unsupported nat address ${renderExpr(x)}`);
    const key = this.value(m['key']);
    const data = key === undefined ? undefined : unwrapElem(this.lookup(key, m['data']));
    if (data === undefined) throw new Unsupported(`nat map has no entry for this packet`);
    if (typeof data === 'string') return { addr: data };
    const parts = obj(data)?.['concat'];
    if (Array.isArray(parts) && typeof parts[0] === 'string' && typeof parts[1] === 'number') return { addr: parts[0], port: parts[1] };
    throw new Unsupported(`unsupported nat map value ${JSON.stringify(data)}`);
  }

  /** A field of the packet (or an expression over fields). undefined: the expression breaks the rule. */
  private value(x: unknown): Value | undefined {
    const o = obj(x);
    if (!o) {
      // A literal as an expression (mangle values, binop operands).
      if (typeof x === 'number') return { kind: 'int', v: x };
      throw new Unsupported(`unsupported expression ${JSON.stringify(x)}`);
    }
    const [key] = Object.keys(o);
    const a = obj(o[key!]) ?? {};
    const p = this.pkt;
    switch (key) {
      case 'payload':
        return this.payload(String(a['protocol']), String(a['field']));
      case 'meta':
        return this.meta(String(a['key']));
      case 'ct':
        return this.ct(String(a['key']), a['dir'] as string | undefined);
      case 'fib': {
        if (a['result'] !== 'type') throw new Unsupported(`fib ${String(a['result'])} is not evaluated`);
        const flags = (a['flags'] as string[] | undefined) ?? [];
        const addr = flags.includes('saddr') ? p.saddr : p.daddr;
        return { kind: 'string', v: this.env.addressType(addr) };
      }
      case 'numgen': {
        const mod = Number(a['mod']);
        const offset = Number(a['offset'] ?? 0);
        const i = this.draws++;
        if (i >= this.script.length) throw new Fork(mod);
        const value = this.script[i]!;
        const c = this.current!;
        this.res.choices.push({ chain: c.chain, handle: c.rule.handle, ...(c.rule.comment !== undefined ? { comment: c.rule.comment } : {}), value, of: mod });
        this.res.probability /= mod;
        return { kind: 'int', v: value + offset };
      }
      case 'concat': {
        const parts: Scalar[] = [];
        for (const e of o['concat'] as unknown[]) {
          const v = this.value(e);
          if (v === undefined) return undefined;
          if (Array.isArray(v)) throw new Unsupported('nested concatenation');
          parts.push(v);
        }
        return parts;
      }
      case 'map': {
        const k = this.value(a['key']);
        if (k === undefined) return undefined;
        const d = unwrapElem(this.lookup(k, a['data']));
        if (d === undefined) return undefined;
        if (typeof d === 'number') return { kind: 'int', v: d };
        throw new Unsupported(`unsupported map value ${JSON.stringify(d)}`);
      }
      case '&':
      case '|':
      case '^':
      case '<<':
      case '>>': {
        const [l, r] = o[key] as unknown[];
        const lv = this.value(l);
        if (lv === undefined) return undefined;
        if (Array.isArray(lv) || typeof lv.v !== 'number') throw new Unsupported(`unsupported operand of ${key}`);
        const rv = typeof r === 'number' || typeof r === 'string' ? (literal(lv.kind, r) as number) : (this.value(r) as Scalar | undefined)?.v;
        if (typeof rv !== 'number') throw new Unsupported(`unsupported operand of ${key}`);
        const n = key === '&' ? lv.v & rv : key === '|' ? lv.v | rv : key === '^' ? lv.v ^ rv : key === '<<' ? lv.v << rv : lv.v >>> rv;
        return { kind: lv.kind, v: n >>> 0 };
      }
    }
    throw new Unsupported(`unsupported expression ${key}`);
  }

  private payload(protocol: string, field: string): Value | undefined {
    const p = this.pkt;
    if (protocol === 'ip') {
      if (field === 'saddr' || field === 'daddr') return { kind: 'ipv4', v: ipInt(p[field]) };
      if (field === 'protocol') return { kind: 'proto', v: protocolNumber(p.protocol) };
      throw new Unsupported(`ip ${field} is not evaluated`);
    }
    if (field === 'sport' || field === 'dport') {
      // `tcp dport` carries an implicit `meta l4proto tcp`; `th` is any transport with ports.
      if (protocol !== 'th' && protocol !== p.protocol) return undefined;
      if (field === 'sport') this.noteSourcePort();
      return { kind: 'int', v: p[field] };
    }
    if (['tcp', 'udp', 'th', 'icmp', 'sctp', 'udplite', 'icmpv6', 'ip6'].includes(protocol) && protocol !== p.protocol) return undefined;
    throw new Unsupported(`${protocol} ${field} is not evaluated`);
  }

  private noteSourcePort(): void {
    const c = this.current!;
    const note = `${c.chain} rule ${c.rule.handle} matches the source port; the trace used ${this.pkt.sport}, a real connection's port may differ`;
    if (!this.res.notes.includes(note)) this.res.notes.push(note);
  }

  private meta(key: string): Value | undefined {
    switch (key) {
      case 'l4proto':
        return { kind: 'proto', v: protocolNumber(this.pkt.protocol) };
      case 'nfproto':
        return { kind: 'string', v: 'ipv4' };
      case 'protocol':
        return { kind: 'string', v: 'ip' };
      case 'mark':
        return { kind: 'int', v: this.pkt.mark };
      case 'iifname':
      case 'iif':
        return this.env.iifname === undefined ? undefined : { kind: 'ifname', v: this.env.iifname };
      case 'oifname':
      case 'oif':
        return this.env.oifname === undefined ? undefined : { kind: 'ifname', v: this.env.oifname };
    }
    throw new Unsupported(`meta ${key} is not evaluated`);
  }

  private ct(key: string, dir: string | undefined): Value | undefined {
    const c = this.pkt.ct;
    switch (key) {
      case 'state':
        return { kind: 'ctstate', v: ctStateBit(c.state) };
      case 'status':
        return { kind: 'ctstatus', v: c.status };
      case 'mark':
        return { kind: 'int', v: c.mark };
      case 'direction':
        return { kind: 'string', v: 'original' };
      case 'l3proto':
        return { kind: 'string', v: 'ipv4' };
      case 'protocol':
        return { kind: 'proto', v: protocolNumber(this.pkt.protocol) };
    }
    // The reply tuple mirrors the packet as NAT has left it so far.
    const t = dir === 'reply' ? { saddr: this.pkt.daddr, daddr: this.pkt.saddr, sport: this.pkt.dport, dport: this.pkt.sport } : c.original;
    switch (key) {
      case 'ip saddr':
      case 'saddr':
        return { kind: 'ipv4', v: ipInt(t.saddr) };
      case 'ip daddr':
      case 'daddr':
        return { kind: 'ipv4', v: ipInt(t.daddr) };
      case 'proto-src':
        return { kind: 'int', v: t.sport };
      case 'proto-dst':
        return { kind: 'int', v: t.dport };
    }
    throw new Unsupported(`ct ${dir ? `${dir} ` : ''}${key} is not evaluated`);
  }
}

function ipInt(ip: string): number {
  return literal('ipv4', ip) as number;
}
