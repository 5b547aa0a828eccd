/**
 * The node's own address when not given, chosen as the kubelet does (ChooseHostInterface): the
 * first IPv4 address of the device the default route leaves through, in the node's network
 * namespace (or the host's).
 */
import type { Ip } from '../../net/ip.js';

export class NoAddressError extends Error {
  override name = 'NoAddressError';
}

/** The default route's device and its first IPv4 address. */
export async function defaultRouteAddress(ip: Ip): Promise<{ address: string; dev: string }> {
  const route = (await ip.routes()).find((r) => r.dst === 'default' && r.dev);
  if (!route?.dev) throw new NoAddressError(`no default route in ${ip} to pick the node address from; pass --internal-ip`);
  const addr = (await ip.ipv4Addrs(route.dev))[0];
  if (!addr) throw new NoAddressError(`${route.dev} (the default route's device in ${ip}) has no IPv4 address; pass --internal-ip`);
  return { address: addr.split('/')[0]!, dev: route.dev };
}

/** The device carrying `address` in that namespace. */
export async function deviceWithAddress(ip: Ip, address: string): Promise<string> {
  for (const l of await ip.addrs()) if (l.addr_info.some((a) => a.family === 'inet' && a.local === address)) return l.ifname;
  throw new NoAddressError(`no device in ${ip} has the address ${address}`);
}
