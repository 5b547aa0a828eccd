// KubeVirt's names for a VMI's secondary (Multus) networks (pkg/network/namescheme and
// pkg/network/link): the launcher pod's interface is `pod` + the first 11 hex digits of the
// network name's SHA-256, and inside the pod the bridge binding's bridge is `k6t-<those 11>` and
// QEMU's tap `tap<those 11>` — each within Linux's 15 characters. The launcher pod's networks
// annotation asks for the interface under that name; the VirtHandler finds it there.
import { createHash } from 'node:crypto';

const HASHED_PREFIX = 'pod';

/** The launcher pod's interface for a secondary network (by the VMI's network name). */
export function podInterfaceName(networkName: string): string {
  return HASHED_PREFIX + createHash('sha256').update(networkName).digest('hex').slice(0, 11);
}

/** The in-pod bridge of an interface (`k6t-eth0` for the pod network's). */
export function inPodBridgeName(podIface: string): string {
  return 'k6t-' + (podIface.startsWith(HASHED_PREFIX) ? podIface.slice(HASHED_PREFIX.length) : podIface);
}

/** QEMU's tap for a secondary network's interface. */
export function secondaryTapName(podIface: string): string {
  return 'tap' + podIface.slice(HASHED_PREFIX.length);
}
