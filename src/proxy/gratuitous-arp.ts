/**
 * Gratuitous ARP through busybox's arping (every Cairn host has the static busybox the built-in
 * image is made of): when a node takes over a LoadBalancer IP, its neighbours' ARP caches still
 * point at the node that had it; an unsolicited ARP reply makes them switch at once instead of
 * after their entry goes stale.
 */
import { BUSYBOX_PATH } from '../agent/images/busybox-image.js';
import { checkIfName, checkIpv4, type Ip } from '../net/ip.js';

export class GratuitousArpError extends Error {
  override name = 'GratuitousArpError';
}

/** Announces `ip` as the address of `dev` in the namespace of `node`. */
export async function announceAddress(node: Ip, dev: string, ip: string): Promise<void> {
  const argv = [BUSYBOX_PATH, 'arping', '-U', '-c', '1', '-I', checkIfName(dev), '-s', checkIpv4(ip), ip];
  try {
    await node.exec(argv, { timeoutMs: 5000 });
  } catch (e) {
    throw new GratuitousArpError(`gratuitous ARP for ${ip} on ${dev} in ${node} failed: ${(e as Error).message}`);
  }
}
