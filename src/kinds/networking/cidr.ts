/** Just enough CIDR arithmetic for NetworkPolicy ipBlock checks ("except" must lie inside "cidr"). */
import { isIPv4, isIPv6, isValidCIDR } from '../../registry/validation.js';

export interface ParsedCIDR {
  v6: boolean;
  /** The address as given (not masked), as Go's net.ParseCIDR returns it in IPNet.IP after masking. */
  addr: bigint;
  prefix: number;
}

function ipToBigInt(ip: string): bigint {
  if (isIPv4(ip)) return ip.split('.').reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
  // IPv6: expand "::" and an embedded dotted IPv4 tail into eight 16-bit groups.
  let text = ip;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = ipToBigInt(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

export function parseCIDR(v: string): ParsedCIDR | null {
  if (!isValidCIDR(v)) return null;
  const [ip, bits] = v.split('/');
  return { v6: isIPv6(ip), addr: ipToBigInt(ip), prefix: Number(bits) };
}

/** Whether `inner`'s address lies in `outer`'s network (Go's IPNet.Contains on the inner IP). */
export function cidrContains(outer: ParsedCIDR, inner: ParsedCIDR): boolean {
  if (outer.v6 !== inner.v6) return false;
  const width = outer.v6 ? 128n : 32n;
  const shift = width - BigInt(outer.prefix);
  return outer.addr >> shift === inner.addr >> shift;
}
