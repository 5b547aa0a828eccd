// Typed wrapper over iproute2 (`ip`, `bridge`): argument vectors only, `-j` JSON parsed, failures
// turned into typed errors. An `Ip` handle addresses one network namespace — the root namespace
// (`Ip.root`) or a named one (`Ip.ns('cairn-x-node-1')`, which runs `ip -n NAME ...`) — so code
// that programs a node works the same whether the node is the host or a namespace on it.
import { runTool, ToolError } from './exec.js';

// ---------------------------------------------------------------------------------------------
// Errors

export class IpError extends ToolError {}
/** The object to create already exists ("File exists"). */
export class ExistsError extends IpError {
  override name = 'ExistsError';
}
/** The object (device, namespace, route, neighbour, FDB entry) does not exist. */
export class NotFoundError extends IpError {
  override name = 'NotFoundError';
}
/** An argument failed validation before any command ran. */
export class InvalidArgumentError extends Error {
  override name = 'InvalidArgumentError';
}

const EXISTS = /File exists|already exists/i;
const NOT_FOUND =
  /Cannot find device|does not exist|No such device|No such file or directory|No such process|Cannot open network namespace|not found|Invalid "netns" value|Object not found|Cannot assign requested address/i;

function classify(argv: readonly string[], stderr: string, code: number | null): IpError {
  const text = stderr.trim() || `exit code ${code}`;
  const msg = `${argv.join(' ')}: ${text}`;
  if (EXISTS.test(stderr)) return new ExistsError(msg, argv, stderr, code);
  if (NOT_FOUND.test(stderr)) return new NotFoundError(msg, argv, stderr, code);
  return new IpError(msg, argv, stderr, code);
}

async function tool(cmd: string, args: readonly string[]): Promise<string> {
  const argv = [cmd, ...args];
  let r;
  try {
    r = await runTool(cmd, args);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new IpError(`${cmd} is not installed (install iproute2)`, argv, '', null);
    throw e;
  }
  if (r.code !== 0) throw classify(argv, r.stderr, r.code);
  return r.stdout;
}

function parseJson<T>(argv: readonly string[], text: string): T {
  const t = text.trim();
  if (!t) return [] as unknown as T;
  try {
    return JSON.parse(t) as T;
  } catch {
    throw new IpError(`${argv.join(' ')}: unparseable JSON output`, argv, t.slice(0, 500), 0);
  }
}

// ---------------------------------------------------------------------------------------------
// Validation (arguments are vectors, but a value must never read as an option or keyword)

const IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,14}$/;
const NSNAME = /^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const SYSCTL_KEY = /^[a-z0-9_]+(\.[A-Za-z0-9_\-]+)+$/;
const SYSCTL_VALUE = /^[A-Za-z0-9_ \-]{1,64}$/;

export function checkIfName(name: string): string {
  if (!IFNAME.test(name) || name === '.' || name === '..') throw new InvalidArgumentError(`invalid interface name ${JSON.stringify(name)}`);
  return name;
}
export function checkNetnsName(name: string): string {
  if (!NSNAME.test(name) || name === '.' || name === '..') throw new InvalidArgumentError(`invalid network namespace name ${JSON.stringify(name)}`);
  return name;
}
export function checkMac(mac: string): string {
  const m = mac.toLowerCase();
  if (!MAC.test(m)) throw new InvalidArgumentError(`invalid MAC address ${JSON.stringify(mac)}`);
  return m;
}

/** Parses a dotted-quad IPv4 address to a 32-bit unsigned number. */
export function ipv4ToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new InvalidArgumentError(`invalid IPv4 address ${JSON.stringify(ip)}`);
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) throw new InvalidArgumentError(`invalid IPv4 address ${JSON.stringify(ip)}`);
    n = n * 256 + Number(p);
  }
  return n;
}
export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
export function checkIpv4(ip: string): string {
  ipv4ToInt(ip);
  return ip;
}

export interface Cidr {
  /** Network address (host bits cleared). */
  network: string;
  prefix: number;
  /** First address as a number, and the number of addresses. */
  base: number;
  size: number;
}
/** Parses "a.b.c.d/n". With strict, host bits must be zero. */
export function parseCidr(text: string, strict = true): Cidr {
  const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(text);
  if (!m) throw new InvalidArgumentError(`invalid CIDR ${JSON.stringify(text)}`);
  const prefix = Number(m[2]);
  if (prefix > 32) throw new InvalidArgumentError(`invalid CIDR ${JSON.stringify(text)}`);
  const addr = ipv4ToInt(m[1]!);
  const size = 2 ** (32 - prefix);
  const base = addr - (addr % size);
  if (strict && base !== addr) throw new InvalidArgumentError(`CIDR ${text} has host bits set (network is ${intToIpv4(base)}/${prefix})`);
  return { network: intToIpv4(base), prefix, base, size };
}
export function cidrContains(cidr: Cidr, ip: string): boolean {
  const n = ipv4ToInt(ip);
  return n >= cidr.base && n < cidr.base + cidr.size;
}
/** Accepts "a.b.c.d/n" with host bits (an interface address) or a plain address (→ /32). */
export function checkAddrPrefix(text: string): string {
  if (text.includes('/')) parseCidr(text, false);
  else checkIpv4(text);
  return text;
}
/** A route destination: "default" or a CIDR (host bits must be zero) or a plain address. */
function checkRouteDst(dst: string): string {
  if (dst === 'default') return dst;
  if (dst.includes('/')) parseCidr(dst, true);
  else checkIpv4(dst);
  return dst;
}

// ---------------------------------------------------------------------------------------------
// JSON shapes (the fields we use; iproute2 prints more)

export interface Link {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  operstate?: string;
  master?: string;
  address?: string;
  link_type?: string;
  /** The peer's interface index / netns id, for veth. */
  link?: string;
  link_index?: number;
  link_netnsid?: number;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown>; info_slave_kind?: string };
}
export interface AddrInfo {
  family: string;
  local: string;
  prefixlen: number;
  scope?: string;
  label?: string;
}
export interface LinkAddrs {
  ifindex: number;
  ifname: string;
  addr_info: AddrInfo[];
}
export interface Route {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  flags: string[];
  metric?: number;
}
export interface Neigh {
  dst: string;
  dev?: string;
  lladdr?: string;
  state: string[];
}
export interface FdbEntry {
  mac: string;
  ifname?: string;
  dst?: string;
  master?: string;
  vlan?: number;
  flags: string[];
  state?: string;
}
export interface NetnsEntry {
  name: string;
  id?: number;
}

// ---------------------------------------------------------------------------------------------
// Options

export interface LinkCommon {
  mtu?: number;
  address?: string;
}
export interface VethPeer {
  name: string;
  /** Network namespace (name) to create the peer in; default the same namespace. */
  netns?: string;
  mtu?: number;
  address?: string;
}
export interface VxlanOptions extends LinkCommon {
  vni: number;
  /** Local underlay address (source of encapsulated packets). */
  local?: string;
  dstport?: number;
  /** Underlay device. */
  dev?: string;
  /** MAC learning; off unless asked (FDB entries are programmed). */
  learning?: boolean;
}
export interface LinkSet {
  up?: boolean;
  /** Bridge to enslave to; null = nomaster. */
  master?: string | null;
  mtu?: number;
  address?: string;
  /** Move the link into this namespace (name). */
  netns?: string;
  /** Rename. */
  name?: string;
}
export interface RouteSpec {
  dst: string;
  via?: string;
  dev?: string;
  onlink?: boolean;
  src?: string;
  metric?: number;
  table?: number;
  scope?: 'global' | 'link' | 'host';
}
export interface NeighSpec {
  ip: string;
  dev: string;
  lladdr?: string;
  /** nud permanent (default true). */
  permanent?: boolean;
}
export interface FdbSpec {
  mac: string;
  dev: string;
  /** Remote VTEP (VXLAN). */
  dst?: string;
  /** `self` (program the device itself — VXLAN) rather than `master`; default true. */
  self?: boolean;
  /** Default true. */
  permanent?: boolean;
}

function mtuArgs(mtu: number | undefined): string[] {
  if (mtu === undefined) return [];
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new InvalidArgumentError(`invalid MTU ${mtu}`);
  return ['mtu', String(mtu)];
}
function addressArgs(mac: string | undefined): string[] {
  return mac === undefined ? [] : ['address', checkMac(mac)];
}
function routeArgs(r: RouteSpec): string[] {
  const a = [checkRouteDst(r.dst)];
  if (r.via !== undefined) a.push('via', checkIpv4(r.via));
  if (r.dev !== undefined) a.push('dev', checkIfName(r.dev));
  if (r.src !== undefined) a.push('src', checkIpv4(r.src));
  if (r.scope !== undefined) a.push('scope', r.scope);
  if (r.metric !== undefined) {
    if (!Number.isInteger(r.metric) || r.metric < 0) throw new InvalidArgumentError(`invalid metric ${r.metric}`);
    a.push('metric', String(r.metric));
  }
  if (r.table !== undefined) {
    if (!Number.isInteger(r.table) || r.table < 0) throw new InvalidArgumentError(`invalid table ${r.table}`);
    a.push('table', String(r.table));
  }
  if (r.onlink) a.push('onlink');
  return a;
}
function fdbArgs(f: FdbSpec): string[] {
  const a = [checkMac(f.mac), 'dev', checkIfName(f.dev)];
  if (f.dst !== undefined) a.push('dst', checkIpv4(f.dst));
  a.push(f.self === false ? 'master' : 'self');
  if (f.permanent !== false) a.push('permanent');
  return a;
}

// ---------------------------------------------------------------------------------------------
// Namespaces (global: the names live in /run/netns of this mount namespace)

export const netns = {
  async list(): Promise<NetnsEntry[]> {
    const argv = ['-j', 'netns', 'list'];
    return parseJson<NetnsEntry[]>(['ip', ...argv], await tool('ip', argv));
  },
  async exists(name: string): Promise<boolean> {
    checkNetnsName(name);
    return (await netns.list()).some((n) => n.name === name);
  },
  async add(name: string): Promise<void> {
    await tool('ip', ['netns', 'add', checkNetnsName(name)]);
  },
  /** Creates the namespace unless it exists; returns true when it was created. */
  async ensure(name: string): Promise<boolean> {
    try {
      await netns.add(name);
      return true;
    } catch (e) {
      if (e instanceof ExistsError) return false;
      throw e;
    }
  },
  async delete(name: string): Promise<void> {
    await tool('ip', ['netns', 'delete', checkNetnsName(name)]);
  },
  /** Deletes the namespace if present; returns true when it was there. */
  async remove(name: string): Promise<boolean> {
    try {
      await netns.delete(name);
      return true;
    } catch (e) {
      if (e instanceof NotFoundError) return false;
      throw e;
    }
  },
};

// ---------------------------------------------------------------------------------------------
// The per-namespace handle

export class Ip {
  static readonly root = new Ip(undefined);
  static ns(name: string): Ip {
    return new Ip(name);
  }

  constructor(readonly netns?: string) {
    if (netns !== undefined) checkNetnsName(netns);
  }

  toString(): string {
    return this.netns ?? '(root)';
  }

  private nsArgs(): string[] {
    return this.netns === undefined ? [] : ['-n', this.netns];
  }
  /** Runs `ip [-n NS] ARGS...`. */
  ip(args: readonly string[]): Promise<string> {
    return tool('ip', [...this.nsArgs(), ...args]);
  }
  /** Runs `bridge [-n NS] ARGS...`. */
  bridge(args: readonly string[]): Promise<string> {
    return tool('bridge', [...this.nsArgs(), ...args]);
  }
  private async ipJson<T>(args: readonly string[]): Promise<T> {
    const full = [...this.nsArgs(), '-j', ...args];
    return parseJson<T>(['ip', ...full], await tool('ip', full));
  }

  /**
   * Runs a program inside this namespace (`ip netns exec NS argv...`; in the root namespace, the
   * program directly). Resolves with its output; rejects with IpError on a non-zero exit.
   */
  async exec(argv: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
    if (argv.length === 0) throw new InvalidArgumentError('exec: empty argument vector');
    const [cmd, args] = this.netns === undefined ? [argv[0]!, argv.slice(1)] : ['ip', ['netns', 'exec', this.netns, ...argv]];
    const r = await runTool(cmd, args, opts);
    if (r.code !== 0) throw new IpError(`${[cmd, ...args].join(' ')}: ${r.stderr.trim() || `exit code ${r.code}`}`, [cmd, ...args], r.stderr, r.code);
    return { stdout: r.stdout, stderr: r.stderr };
  }

  // -- links ----------------------------------------------------------------------------------

  async links(): Promise<Link[]> {
    return this.ipJson<Link[]>(['-d', 'link', 'show']);
  }
  async link(name: string): Promise<Link | undefined> {
    try {
      const l = await this.ipJson<Link[]>(['-d', 'link', 'show', 'dev', checkIfName(name)]);
      return l[0];
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }
  async addVeth(name: string, peer: VethPeer, opts: LinkCommon = {}): Promise<void> {
    const args = ['link', 'add', checkIfName(name), ...mtuArgs(opts.mtu), ...addressArgs(opts.address), 'type', 'veth', 'peer', 'name', checkIfName(peer.name)];
    args.push(...mtuArgs(peer.mtu ?? opts.mtu), ...addressArgs(peer.address));
    if (peer.netns !== undefined) args.push('netns', checkNetnsName(peer.netns));
    await this.ip(args);
  }
  async addBridge(name: string, opts: LinkCommon = {}): Promise<void> {
    await this.ip(['link', 'add', checkIfName(name), ...mtuArgs(opts.mtu), ...addressArgs(opts.address), 'type', 'bridge']);
  }
  async addVxlan(name: string, o: VxlanOptions): Promise<void> {
    if (!Number.isInteger(o.vni) || o.vni < 0 || o.vni > 0xffffff) throw new InvalidArgumentError(`invalid VNI ${o.vni}`);
    const args = ['link', 'add', checkIfName(name), ...mtuArgs(o.mtu), ...addressArgs(o.address), 'type', 'vxlan', 'id', String(o.vni)];
    if (o.local !== undefined) args.push('local', checkIpv4(o.local));
    const port = o.dstport ?? 4789;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(`invalid port ${port}`);
    args.push('dstport', String(port));
    if (o.dev !== undefined) args.push('dev', checkIfName(o.dev));
    args.push(o.learning ? 'learning' : 'nolearning');
    await this.ip(args);
  }
  async setLink(name: string, s: LinkSet): Promise<void> {
    const args = ['link', 'set', 'dev', checkIfName(name)];
    if (s.name !== undefined) args.push('name', checkIfName(s.name));
    args.push(...mtuArgs(s.mtu), ...addressArgs(s.address));
    if (s.master === null) args.push('nomaster');
    else if (s.master !== undefined) args.push('master', checkIfName(s.master));
    if (s.netns !== undefined) args.push('netns', checkNetnsName(s.netns));
    if (s.up !== undefined) args.push(s.up ? 'up' : 'down');
    if (args.length === 4) return;
    await this.ip(args);
  }
  async deleteLink(name: string): Promise<void> {
    await this.ip(['link', 'delete', 'dev', checkIfName(name)]);
  }
  /** Deletes the link if present; returns true when it was there. */
  async removeLink(name: string): Promise<boolean> {
    try {
      await this.deleteLink(name);
      return true;
    } catch (e) {
      if (e instanceof NotFoundError) return false;
      throw e;
    }
  }

  // -- addresses ------------------------------------------------------------------------------

  async addrs(dev?: string): Promise<LinkAddrs[]> {
    return this.ipJson<LinkAddrs[]>(dev === undefined ? ['addr', 'show'] : ['addr', 'show', 'dev', checkIfName(dev)]);
  }
  /** IPv4 addresses on dev as "a.b.c.d/n". */
  async ipv4Addrs(dev: string): Promise<string[]> {
    const l = await this.addrs(dev);
    return (l[0]?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
  }
  async addAddr(dev: string, addr: string): Promise<void> {
    await this.ip(['addr', 'add', checkAddrPrefix(addr), 'dev', checkIfName(dev)]);
  }
  async delAddr(dev: string, addr: string): Promise<void> {
    await this.ip(['addr', 'del', checkAddrPrefix(addr), 'dev', checkIfName(dev)]);
  }
  async flushAddrs(dev: string): Promise<void> {
    await this.ip(['addr', 'flush', 'dev', checkIfName(dev)]);
  }

  // -- routes ---------------------------------------------------------------------------------

  async routes(filter: { dev?: string; table?: number } = {}): Promise<Route[]> {
    const args = ['route', 'show'];
    if (filter.table !== undefined) args.push('table', String(filter.table));
    if (filter.dev !== undefined) args.push('dev', checkIfName(filter.dev));
    const rs = await this.ipJson<Route[]>(args);
    return rs.map((r) => ({ ...r, flags: r.flags ?? [], dev: r.dev ?? filter.dev }));
  }
  async addRoute(r: RouteSpec): Promise<void> {
    await this.ip(['route', 'add', ...routeArgs(r)]);
  }
  async replaceRoute(r: RouteSpec): Promise<void> {
    await this.ip(['route', 'replace', ...routeArgs(r)]);
  }
  async delRoute(r: RouteSpec): Promise<void> {
    await this.ip(['route', 'del', ...routeArgs(r)]);
  }

  // -- neighbours -----------------------------------------------------------------------------

  async neighs(dev?: string): Promise<Neigh[]> {
    const rs = await this.ipJson<Neigh[]>(dev === undefined ? ['neigh', 'show'] : ['neigh', 'show', 'dev', checkIfName(dev)]);
    return rs.map((n) => ({ ...n, state: n.state ?? [], dev: n.dev ?? dev }));
  }
  async replaceNeigh(n: NeighSpec): Promise<void> {
    const args = ['neigh', 'replace', checkIpv4(n.ip)];
    if (n.lladdr !== undefined) args.push('lladdr', checkMac(n.lladdr));
    args.push('dev', checkIfName(n.dev), 'nud', n.permanent === false ? 'reachable' : 'permanent');
    await this.ip(args);
  }
  async delNeigh(n: { ip: string; dev: string }): Promise<void> {
    await this.ip(['neigh', 'del', checkIpv4(n.ip), 'dev', checkIfName(n.dev)]);
  }

  // -- bridge FDB -----------------------------------------------------------------------------

  async fdb(dev: string): Promise<FdbEntry[]> {
    const full = [...this.nsArgs(), '-j', 'fdb', 'show', 'dev', checkIfName(dev)];
    const rs = parseJson<FdbEntry[]>(['bridge', ...full], await tool('bridge', full));
    return rs.map((f) => ({ ...f, flags: f.flags ?? [], ifname: f.ifname ?? dev }));
  }
  async fdbAppend(f: FdbSpec): Promise<void> {
    await this.bridge(['fdb', 'append', ...fdbArgs(f)]);
  }
  async fdbReplace(f: FdbSpec): Promise<void> {
    await this.bridge(['fdb', 'replace', ...fdbArgs(f)]);
  }
  async fdbDel(f: FdbSpec): Promise<void> {
    await this.bridge(['fdb', 'del', ...fdbArgs({ ...f, permanent: false })]);
  }

  // -- sysctl ---------------------------------------------------------------------------------

  /** Writes a sysctl inside this namespace (`net.ipv4.ip_forward`, `net.ipv4.conf.all.rp_filter`...). */
  async sysctl(key: string, value: string | number): Promise<void> {
    if (!SYSCTL_KEY.test(key)) throw new InvalidArgumentError(`invalid sysctl key ${JSON.stringify(key)}`);
    const v = String(value);
    if (!SYSCTL_VALUE.test(v)) throw new InvalidArgumentError(`invalid sysctl value ${JSON.stringify(v)}`);
    await this.exec(['sysctl', '-q', '-w', `${key}=${v}`]);
  }
  async readSysctl(key: string): Promise<string> {
    if (!SYSCTL_KEY.test(key)) throw new InvalidArgumentError(`invalid sysctl key ${JSON.stringify(key)}`);
    const r = await this.exec(['sysctl', '-n', key]);
    return r.stdout.trim();
  }

  // -- idempotent helpers for reconcile loops --------------------------------------------------

  /** Makes a bridge exist with these settings and up; returns true when it was created. */
  async ensureBridge(name: string, opts: LinkCommon = {}): Promise<boolean> {
    const cur = await this.link(name);
    if (cur && cur.linkinfo?.info_kind !== 'bridge') throw new ExistsError(`${name} exists and is not a bridge (${cur.linkinfo?.info_kind ?? 'unknown kind'})`, [], '', null);
    if (!cur) await this.addBridge(name, opts);
    await this.setLink(name, {
      mtu: cur && opts.mtu !== undefined && cur.mtu === opts.mtu ? undefined : opts.mtu,
      address: cur && opts.address !== undefined && cur.address === opts.address.toLowerCase() ? undefined : opts.address,
      up: true,
    });
    return !cur;
  }

  /** Makes a VXLAN device exist with exactly these parameters (recreated if they differ), up. */
  async ensureVxlan(name: string, o: VxlanOptions): Promise<boolean> {
    const cur = await this.link(name);
    if (cur) {
      const d = cur.linkinfo?.info_data ?? {};
      const same =
        cur.linkinfo?.info_kind === 'vxlan' &&
        d['id'] === o.vni &&
        (o.local === undefined || d['local'] === o.local) &&
        d['port'] === (o.dstport ?? 4789) &&
        Boolean(d['learning']) === Boolean(o.learning) &&
        (o.dev === undefined || d['link'] === o.dev || d['link'] === undefined);
      if (!same) {
        await this.deleteLink(name);
      } else {
        await this.setLink(name, {
          mtu: o.mtu !== undefined && cur.mtu !== o.mtu ? o.mtu : undefined,
          address: o.address !== undefined && cur.address !== o.address.toLowerCase() ? o.address : undefined,
          up: true,
        });
        return false;
      }
    }
    await this.addVxlan(name, o);
    await this.setLink(name, { up: true });
    return true;
  }

  /** Adds an address unless the device already has it. */
  async ensureAddr(dev: string, addr: string): Promise<boolean> {
    const want = addr.includes('/') ? addr : `${addr}/32`;
    if ((await this.ipv4Addrs(dev)).includes(want)) return false;
    try {
      await this.addAddr(dev, want);
      return true;
    } catch (e) {
      if (e instanceof ExistsError) return false;
      throw e;
    }
  }

  async ensureUp(dev: string): Promise<void> {
    await this.setLink(dev, { up: true });
  }

  async removeRoute(r: RouteSpec): Promise<boolean> {
    try {
      await this.delRoute(r);
      return true;
    } catch (e) {
      if (e instanceof NotFoundError) return false;
      throw e;
    }
  }
  async removeNeigh(n: { ip: string; dev: string }): Promise<boolean> {
    try {
      await this.delNeigh(n);
      return true;
    } catch (e) {
      if (e instanceof NotFoundError) return false;
      throw e;
    }
  }
  async removeFdb(f: FdbSpec): Promise<boolean> {
    // The kernel answers success when the MAC exists with other destinations only, so look first.
    const mac = checkMac(f.mac);
    const have = await this.fdb(f.dev).catch((e: unknown) => {
      if (e instanceof NotFoundError) return [];
      throw e;
    });
    if (!have.some((x) => x.mac === mac && (f.dst === undefined || x.dst === f.dst))) return false;
    try {
      await this.fdbDel(f);
      return true;
    } catch (e) {
      if (e instanceof NotFoundError) return false;
      throw e;
    }
  }
}
