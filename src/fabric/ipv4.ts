// Subnet questions the topology checks and renderers ask, on top of src/net/ip.ts's CIDR
// arithmetic (addresses and subnets are validated as dotted quads by the schema first).
import { cidrContains, parseCidr } from '../net/ip.js';

/** True when "10.10.10.1/24" was written where "10.10.10.0/24" was meant. */
export function hasHostBits(cidr: string): boolean {
  return normalizeCidr(cidr) !== cidr;
}

/** The subnet with its host bits cleared, as written in configs ("10.10.10.0/24"). */
export function normalizeCidr(cidr: string): string {
  const c = parseCidr(cidr, false);
  return `${c.network}/${c.prefix}`;
}

export function contains(cidr: string, addr: string): boolean {
  return cidrContains(parseCidr(cidr, false), addr);
}

export function overlaps(a: string, b: string): boolean {
  const x = parseCidr(a, false);
  const y = parseCidr(b, false);
  return x.base < y.base + y.size && y.base < x.base + x.size;
}
