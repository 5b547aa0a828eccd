/**
 * Allocates items from a fixed range (service IPs, node ports) with one store key per allocated
 * item: creating the key is the allocation, so two API servers on one etcd can never hand out the
 * same item, and a crash between steps leaves at most a stray key (never a double allocation).
 */
import { KeyExistsError, KeyNotFoundError } from '../../store/errors.js';
import type { Store } from '../../store/types.js';

export class RangeFullError extends Error {}
export class AlreadyAllocatedError extends Error {}
export class OutOfRangeError extends Error {}

export interface Range {
  /** Human description for messages, e.g. `10.96.0.0/12` or `30000-32767`. */
  readonly text: string;
  readonly size: number;
  /** The item at an offset in the range. */
  item(offset: number): string;
  /** The offset of an item, or undefined when it lies outside the range. */
  offset(item: string): number | undefined;
}

const encoder = new TextEncoder();

export class RangeAllocator {
  constructor(
    private readonly store: Store,
    /** Key directory, e.g. `/registry/ranges/serviceips/`. */
    private readonly prefix: string,
    readonly range: Range,
    /** Offsets never handed out by random allocation (e.g. the `kubernetes` Service's IP). */
    private readonly reserved: ReadonlySet<number> = new Set(),
  ) {}

  private key(item: string) {
    return `${this.prefix}${item}`;
  }

  /** Allocates a specific item for `owner`. */
  async allocate(item: string, owner: string): Promise<void> {
    if (this.range.offset(item) === undefined) throw new OutOfRangeError(item);
    try {
      await this.store.create(this.key(item), encoder.encode(owner));
    } catch (e) {
      if (e instanceof KeyExistsError) throw new AlreadyAllocatedError(item);
      throw e;
    }
  }

  /** Allocates any free item: a random start, then the next free one. */
  async allocateNext(owner: string): Promise<string> {
    const taken = new Set((await this.store.list(this.prefix)).items.map((kv) => kv.key.slice(this.prefix.length)));
    const start = Math.floor(Math.random() * this.range.size);
    for (let i = 0; i < this.range.size; i++) {
      const off = (start + i) % this.range.size;
      if (this.reserved.has(off)) continue;
      const item = this.range.item(off);
      if (taken.has(item)) continue;
      try {
        await this.store.create(this.key(item), encoder.encode(owner));
        return item;
      } catch (e) {
        if (!(e instanceof KeyExistsError)) throw e;
      }
    }
    throw new RangeFullError(this.range.text);
  }

  /** Whether an item could be allocated now (for dry runs). */
  async isFree(item: string): Promise<boolean> {
    if (this.range.offset(item) === undefined) throw new OutOfRangeError(item);
    return (await this.store.get(this.key(item))) === null;
  }

  async release(item: string): Promise<void> {
    try {
      await this.store.delete(this.key(item));
    } catch (e) {
      if (!(e instanceof KeyNotFoundError)) throw e;
    }
  }
}

/** An IPv4 CIDR as a range of host addresses (network and broadcast addresses excluded). */
export function ipv4CidrRange(cidr: string): Range {
  const [ip, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const base = ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const hostCount = 2 ** (32 - bits);
  const network = base - (base % hostCount);
  const toText = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
  return {
    text: cidr,
    size: Math.max(0, hostCount - 2),
    item: (off) => toText(network + 1 + off),
    offset: (item) => {
      const parts = item.split('.');
      if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
      const n = parts.reduce((a, o) => a * 256 + Number(o), 0);
      const off = n - network - 1;
      return off >= 0 && off < hostCount - 2 ? off : undefined;
    },
  };
}

export function portRange(min: number, max: number): Range {
  return {
    text: `${min}-${max}`,
    size: max - min + 1,
    item: (off) => String(min + off),
    offset: (item) => {
      if (!/^\d+$/.test(item)) return undefined;
      const n = Number(item);
      return n >= min && n <= max ? n - min : undefined;
    },
  };
}
