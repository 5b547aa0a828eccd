// What `cairn trace` reads from one network namespace (the root namespace, a node's or a pod's):
// links, addresses, neighbours, bridge and VXLAN FDBs, the `ip cairn` nftables table and the
// kernel's own routing decision (`ip -j route get`), each read once per trace and cached, all
// through the ip/bridge/nft wrappers.
import { Ip, IpError, checkIfName, checkIpv4, type FdbEntry, type Link, type LinkAddrs, type Neigh } from '../net/ip.js';
import { Nft, type NftTableState } from '../net/nft.js';

/** The kernel's answer to `ip route get`. */
export interface RouteDecision {
  /** 'unicast' (forward / send out `dev`), 'local' (deliver here), or another route type. */
  type: string;
  dst: string;
  gateway?: string;
  dev: string;
  /** The source address the kernel picks for locally generated packets. */
  prefsrc?: string;
  flags: string[];
}

/** The kernel refused to route: the reason in words and the errno text it gave. */
export class NoRouteError extends Error {
  override name = 'NoRouteError';
  constructor(
    message: string,
    readonly kernel: string,
  ) {
    super(message);
  }
}

/** The kernel's route errors, as `ip route get` reports them, in words. */
function routeFailure(stderr: string, input: boolean): string {
  if (/Network is unreachable/.test(stderr)) return 'no route to the destination';
  if (/No route to host/.test(stderr)) return input ? 'an unreachable route, or forwarding is disabled here' : 'an unreachable route';
  if (/Permission denied/.test(stderr)) return 'a prohibit route';
  if (/Invalid argument/.test(stderr)) return input ? 'a blackhole route, or the source fails the reverse-path (rp_filter) or martian check' : 'a blackhole route';
  return 'the kernel refused to route it';
}

export class NetnsView {
  readonly ip: Ip;
  private readonly cache = new Map<string, Promise<unknown>>();

  constructor(readonly netns: string | undefined) {
    this.ip = netns === undefined ? Ip.root : Ip.ns(netns);
  }

  private once<T>(key: string, load: () => Promise<T>): Promise<T> {
    let p = this.cache.get(key) as Promise<T> | undefined;
    if (!p) {
      p = load();
      this.cache.set(key, p);
    }
    return p;
  }

  links(): Promise<Link[]> {
    return this.once('links', () => this.ip.links());
  }
  async link(name: string): Promise<Link | undefined> {
    return (await this.links()).find((l) => l.ifname === name);
  }
  addrs(): Promise<LinkAddrs[]> {
    return this.once('addrs', () => this.ip.addrs());
  }
  /** Every IPv4 address of the namespace. */
  async localAddresses(): Promise<Set<string>> {
    const all = await this.addrs();
    return new Set(all.flatMap((l) => l.addr_info.filter((a) => a.family === 'inet').map((a) => a.local)));
  }
  /** The first IPv4 address of a device. */
  async primaryAddress(dev: string): Promise<string | undefined> {
    const l = (await this.addrs()).find((x) => x.ifname === dev);
    return l?.addr_info.find((a) => a.family === 'inet')?.local;
  }
  /** Which device holds this address (with its prefix). */
  async deviceWithAddress(ip: string): Promise<{ dev: string; prefixlen: number } | undefined> {
    for (const l of await this.addrs()) {
      const a = l.addr_info.find((x) => x.family === 'inet' && x.local === ip);
      if (a) return { dev: l.ifname, prefixlen: a.prefixlen };
    }
    return undefined;
  }

  neighs(dev: string): Promise<Neigh[]> {
    return this.once(`neigh ${dev}`, () => this.ip.neighs(checkIfName(dev)));
  }
  /** The bridge's forwarding database (all its ports). */
  bridgeFdb(bridge: string): Promise<FdbEntry[]> {
    return this.once(`fdb br ${bridge}`, async () => {
      const args = ['-j', 'fdb', 'show', 'br', checkIfName(bridge)];
      const text = (await this.ip.bridge(args)).trim();
      const rows = (text ? JSON.parse(text) : []) as FdbEntry[];
      return rows.map((f) => ({ ...f, flags: f.flags ?? [] }));
    });
  }
  /** A device's own FDB (a VXLAN device's remote VTEPs). */
  deviceFdb(dev: string): Promise<FdbEntry[]> {
    return this.once(`fdb dev ${dev}`, () => this.ip.fdb(checkIfName(dev)));
  }

  /** The `ip cairn` table, or undefined when this namespace has none. */
  table(): Promise<NftTableState | undefined> {
    return this.once('nft', () => new Nft({ netns: this.netns }).list());
  }
  /** Tables other than `ip cairn` here (the trace does not evaluate them, and says so). */
  otherTables(): Promise<string[]> {
    return this.once('nft tables', async () =>
      (await new Nft({ netns: this.netns }).listTables()).filter((t) => !(t.family === 'ip' && t.name === 'cairn')).map((t) => `${t.family} ${t.name}`),
    );
  }

  /** A sysctl of this namespace (`net.bridge.bridge-nf-call-iptables`); undefined when absent. */
  sysctl(key: string): Promise<string | undefined> {
    return this.once(`sysctl ${key}`, () => this.ip.readSysctl(key).catch((e: unknown) => (e instanceof IpError ? undefined : Promise.reject(e))));
  }

  /**
   * The routing decision for a packet: arriving on `iif` (forwarded or delivered locally, with
   * the reverse-path check) or, without `iif`, sent by this namespace. Throws NoRouteError when
   * the kernel refuses.
   */
  async route(dst: string, opts: { from?: string; iif?: string; mark?: number } = {}): Promise<RouteDecision> {
    const args = ['-j', 'route', 'get', checkIpv4(dst)];
    if (opts.from !== undefined) args.push('from', checkIpv4(opts.from));
    if (opts.iif !== undefined) args.push('iif', checkIfName(opts.iif));
    if (opts.mark) args.push('mark', `0x${opts.mark.toString(16)}`);
    return this.once(args.join(' '), async () => {
      let text: string;
      try {
        text = await this.ip.ip(args);
      } catch (e) {
        if (!(e instanceof IpError)) throw e;
        const kernel = e.stderr.trim().replace(/^RTNETLINK answers: /, '');
        throw new NoRouteError(routeFailure(e.stderr, opts.iif !== undefined), kernel);
      }
      const [r] = JSON.parse(text) as (Partial<RouteDecision> & { dst: string; dev: string })[];
      if (!r) throw new NoRouteError('the kernel gave no route', '');
      return { type: r.type ?? 'unicast', dst: r.dst, gateway: r.gateway, dev: r.dev, prefsrc: r.prefsrc, flags: r.flags ?? [] };
    });
  }
}
