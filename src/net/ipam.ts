// Host-local IPAM for one node's pod subnet (a /24 by default): hands out .2–.254 (.1 is the
// bridge gateway), keyed by an owner id (pod UID or sandbox/container id), persisted as one
// JSON file per subnet written atomically (temp file, fsync, rename, fsync of the directory).
// Like CNI host-local it allocates round-robin after the last reserved address, so a released
// address is not handed out again at once, and never one the `reserved` callback names (pod IP
// handoff). Calls are serialized within the process.
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Mutex } from './exec.js';
import { intToIpv4, ipv4ToInt, parseCidr, type Cidr } from './ip.js';

export class IpamError extends Error {
  override name = 'IpamError';
}
export class IpamExhaustedError extends IpamError {
  override name = 'IpamExhaustedError';
}

export interface Allocation {
  ip: string;
  /** Owner id: pod UID or sandbox id. */
  id: string;
  /** Free-form owner details (pod namespace/name, netns), kept for operators. */
  meta?: Record<string, string>;
  /** ISO time of allocation. */
  allocatedAt: string;
}

interface StateFile {
  version: 1;
  subnet: string;
  gateway: string;
  lastReserved?: string;
  /** By IP. */
  allocations: Record<string, Omit<Allocation, 'ip'>>;
}

export interface IpamOptions {
  /** Directory holding the state file (created if missing). */
  dir: string;
  /** The node's pod subnet, e.g. 10.244.1.0/24. */
  subnet: string;
  /** Default: the first address after the network address (.1). */
  gateway?: string;
  /**
   * Addresses not to hand out although no allocation here holds them: pod IP handoff keeps an
   * address another node's pod has taken over (listed in a Node annotation) out of reach.
   */
  reserved?: () => ReadonlySet<string>;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,252}$/;

export class Ipam {
  readonly subnet: Cidr;
  readonly gateway: string;
  readonly file: string;
  private state: StateFile;
  private readonly mutex = new Mutex();
  private readonly reserved: () => ReadonlySet<string>;

  private constructor(opts: IpamOptions, subnet: Cidr, gateway: string, state: StateFile) {
    this.reserved = opts.reserved ?? (() => new Set());
    this.subnet = subnet;
    this.gateway = gateway;
    this.file = stateFile(opts.dir, subnet);
    this.state = state;
  }

  /** Opens (or creates) the allocation state for a subnet. */
  static async open(opts: IpamOptions): Promise<Ipam> {
    const subnet = parseCidr(opts.subnet, true);
    if (subnet.prefix > 30) throw new IpamError(`subnet ${opts.subnet} is too small for pods`);
    const gateway = opts.gateway ?? intToIpv4(subnet.base + 1);
    const g = ipv4ToInt(gateway);
    if (g <= subnet.base || g >= subnet.base + subnet.size - 1) throw new IpamError(`gateway ${gateway} is not a host address in ${opts.subnet}`);
    await mkdir(opts.dir, { recursive: true });
    const file = stateFile(opts.dir, subnet);
    let state: StateFile;
    try {
      const text = await readFile(file, 'utf8');
      try {
        state = JSON.parse(text) as StateFile;
      } catch {
        throw new IpamError(`IPAM state ${file} is not valid JSON; refusing to guess allocations (move it away to start afresh)`);
      }
      if (state.version !== 1 || state.subnet !== `${subnet.network}/${subnet.prefix}` || typeof state.allocations !== 'object') {
        throw new IpamError(`IPAM state ${file} does not describe subnet ${opts.subnet}`);
      }
      if (state.gateway !== gateway) throw new IpamError(`IPAM state ${file} has gateway ${state.gateway}, not ${gateway}`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      state = { version: 1, subnet: `${subnet.network}/${subnet.prefix}`, gateway, allocations: {} };
    }
    return new Ipam(opts, subnet, gateway, state);
  }

  /** The prefix length pods get on eth0. */
  get prefixLength(): number {
    return this.subnet.prefix;
  }

  /** Returns the owner's address, allocating one if it has none (idempotent per id). */
  allocate(id: string, meta?: Record<string, string>): Promise<string> {
    checkId(id);
    return this.mutex.run(async () => {
      const have = this.findLocked(id);
      if (have) return have.ip;
      const first = this.subnet.base + 1;
      const last = this.subnet.base + this.subnet.size - 2; // broadcast excluded
      const count = last - first + 1;
      const gw = ipv4ToInt(this.gateway);
      const start = this.state.lastReserved ? ipv4ToInt(this.state.lastReserved) + 1 : first;
      const reserved = this.reserved();
      for (let i = 0; i < count; i++) {
        const n = first + ((((start - first + i) % count) + count) % count);
        if (n === gw) continue;
        const ip = intToIpv4(n);
        if (this.state.allocations[ip] || reserved.has(ip)) continue;
        const next: StateFile = {
          ...this.state,
          lastReserved: ip,
          allocations: { ...this.state.allocations, [ip]: { id, ...(meta ? { meta } : {}), allocatedAt: new Date().toISOString() } },
        };
        await this.persist(next);
        return ip;
      }
      throw new IpamExhaustedError(`no free address in ${this.state.subnet} (${Object.keys(this.state.allocations).length} allocated)`);
    });
  }

  /** Releases the owner's address; returns it, or undefined when the owner had none. */
  release(id: string): Promise<string | undefined> {
    return this.mutex.run(async () => {
      const have = this.findLocked(id);
      if (!have) return undefined;
      const allocations = { ...this.state.allocations };
      delete allocations[have.ip];
      await this.persist({ ...this.state, allocations });
      return have.ip;
    });
  }

  /**
   * Releases every allocation whose owner is not in `live` (leaks left by a crash between
   * allocation and sandbox creation, or sandboxes removed while the agent was down).
   * Returns what was released.
   */
  reclaim(live: Iterable<string>): Promise<Allocation[]> {
    const keep = new Set(live);
    return this.mutex.run(async () => {
      const allocations: StateFile['allocations'] = {};
      const released: Allocation[] = [];
      for (const [ip, a] of Object.entries(this.state.allocations)) {
        if (keep.has(a.id)) allocations[ip] = a;
        else released.push({ ip, ...a });
      }
      if (released.length) await this.persist({ ...this.state, allocations });
      return released;
    });
  }

  /** The owner's allocation, if any. */
  get(id: string): Allocation | undefined {
    return this.findLocked(id);
  }

  list(): Allocation[] {
    return Object.entries(this.state.allocations)
      .map(([ip, a]) => ({ ip, ...a }))
      .sort((a, b) => ipv4ToInt(a.ip) - ipv4ToInt(b.ip));
  }

  private findLocked(id: string): Allocation | undefined {
    for (const [ip, a] of Object.entries(this.state.allocations)) if (a.id === id) return { ip, ...a };
    return undefined;
  }

  private async persist(next: StateFile): Promise<void> {
    await writeAtomic(this.file, JSON.stringify(next, null, 2) + '\n');
    this.state = next;
  }
}

function checkId(id: string): void {
  if (!ID.test(id)) throw new IpamError(`invalid IPAM owner id ${JSON.stringify(id)}`);
}

function stateFile(dir: string, subnet: Cidr): string {
  return join(dir, `${subnet.network}-${subnet.prefix}.json`);
}

/** Writes a file so that readers see the old or the new content, never a torn one. */
export async function writeAtomic(file: string, content: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  const dir = await open(join(file, '..'), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
