/**
 * ipBlock arithmetic: `cidr` minus its `except` list, several blocks of one rule merged, the
 * result as the disjoint prefixes an nftables interval set holds (overlapping elements are an
 * error there, and deleting an element needs the exact interval that was added, so the
 * decomposition must be canonical: the same blocks always give the same prefixes).
 *
 * The data plane is IPv4: an IPv6 block matches no packet it sees, so it contributes nothing.
 */
import { intToIpv4, parseCidr } from '../net/ip.js';
import type { IPBlock } from '../kinds/networking/network-policy.js';

/** An inclusive range of IPv4 addresses as 32-bit numbers. */
interface Range {
  lo: number;
  hi: number;
}

/** Go's net.ParseCIDR masks the address, so "10.0.0.7/24" is 10.0.0.0/24; undefined for IPv6 or garbage. */
function ipv4Range(cidr: string): Range | undefined {
  if (cidr.includes(':')) return undefined;
  try {
    const c = parseCidr(cidr, false);
    return { lo: c.base, hi: c.base + c.size - 1 };
  } catch {
    return undefined;
  }
}

/** Sorted, merged (overlapping or adjacent ranges joined). */
function normalize(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a.lo - b.lo);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.lo <= last.hi + 1) last.hi = Math.max(last.hi, r.hi);
    else out.push({ ...r });
  }
  return out;
}

function subtract(from: Range[], cut: Range[]): Range[] {
  let cur = from;
  for (const c of normalize(cut)) {
    const next: Range[] = [];
    for (const r of cur) {
      if (c.hi < r.lo || c.lo > r.hi) next.push(r);
      else {
        if (c.lo > r.lo) next.push({ lo: r.lo, hi: c.lo - 1 });
        if (c.hi < r.hi) next.push({ lo: c.hi + 1, hi: r.hi });
      }
    }
    cur = next;
  }
  return cur;
}

/** The largest aligned prefixes covering a range exactly, lowest first. */
function toPrefixes(r: Range): string[] {
  const out: string[] = [];
  let lo = r.lo;
  while (lo <= r.hi) {
    // The biggest block starting at lo that is aligned and does not pass hi.
    let size = lo === 0 ? 2 ** 32 : 2 ** Math.min(32, countTrailingZeros(lo));
    while (lo + size - 1 > r.hi) size /= 2;
    out.push(`${intToIpv4(lo)}/${32 - Math.log2(size)}`);
    lo += size;
  }
  return out;
}

function countTrailingZeros(n: number): number {
  let z = 0;
  while (n % 2 === 0 && z < 32) {
    n /= 2;
    z++;
  }
  return z;
}

/**
 * The IPv4 prefixes matched by any of these blocks (each block: its cidr minus its excepts), as
 * disjoint prefixes in address order.
 */
export function ipBlockPrefixes(blocks: IPBlock[]): string[] {
  const ranges: Range[] = [];
  for (const b of blocks) {
    const base = ipv4Range(b.cidr ?? '');
    if (!base) continue;
    const excepts = (b.except ?? []).map(ipv4Range).filter((x): x is Range => x !== undefined);
    ranges.push(...subtract([base], excepts));
  }
  return normalize(ranges).flatMap(toPrefixes);
}
