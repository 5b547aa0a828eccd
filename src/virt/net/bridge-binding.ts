// KubeVirt's bridge binding: the guest on a secondary network's L2 segment itself, no DHCP and
// no NAT. In a launcher pod (setupPodBridgeBinding), the pod's interface for the network (a port
// of the node's bridge, from the NetworkAttachmentDefinition) and QEMU's tap are enslaved to an
// in-pod bridge `k6t-…`, as KubeVirt's virt-launcher does. attachBridgeTap is the node-level
// form: a tap straight on an existing bridge, with an optional VLAN on its port.
import { Ip, IpError, checkIfName } from '../../net/ip.js';
import { ensureTap, removeTap } from './tap.js';

export class BridgeBindingError extends Error {
  override name = 'BridgeBindingError';
}

export interface BridgeBindingSpec {
  /** Namespace holding the bridge and the tap (QEMU's); default the root namespace. */
  netns?: string;
  bridge: string;
  tap: string;
  /** 802.1Q VLAN id for the tap's port (needs vlan_filtering on the bridge). */
  vlan?: number;
}

export async function attachBridgeTap(s: BridgeBindingSpec): Promise<void> {
  const ip = s.netns === undefined ? Ip.root : Ip.ns(s.netns);
  const br = await ip.link(s.bridge);
  if (!br || br.linkinfo?.info_kind !== 'bridge') throw new BridgeBindingError(`bridge ${s.bridge} does not exist in ${ip.toString()}`);
  if (s.vlan !== undefined) {
    if (!Number.isInteger(s.vlan) || s.vlan < 1 || s.vlan > 4094) throw new BridgeBindingError(`invalid VLAN id ${s.vlan}`);
    // Tags only take effect on a VLAN-filtering bridge (other ports keep VLAN 1 untagged).
    try {
      await ip.ip(['link', 'set', 'dev', checkIfName(s.bridge), 'type', 'bridge', 'vlan_filtering', '1']);
    } catch (e) {
      if (e instanceof IpError && /not supported/i.test(e.stderr)) throw new BridgeBindingError(`VLAN ${s.vlan} on ${s.bridge}: this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)`);
      throw e;
    }
  }
  await ensureTap(ip, { name: s.tap, bridge: s.bridge, mtu: br.mtu });
  if (s.vlan !== undefined) {
    await ip.bridge(['vlan', 'del', 'dev', s.tap, 'vid', '1']);
    await ip.bridge(['vlan', 'add', 'dev', s.tap, 'vid', String(s.vlan), 'pvid', 'untagged']);
  }
}

export async function detachBridgeTap(s: Pick<BridgeBindingSpec, 'netns' | 'tap'>): Promise<boolean> {
  return removeTap(s.netns === undefined ? Ip.root : Ip.ns(s.netns), s.tap);
}

export interface PodBridgeBindingSpec {
  /** The launcher pod's network namespace. */
  netns: string;
  /** The pod's interface for the network (made by the node's Multus). */
  podIface: string;
  bridge: string;
  tap: string;
  /** The uid allowed to open the tap without CAP_NET_ADMIN (the launcher's QEMU). */
  tapOwner?: number;
}

/**
 * The in-pod bridge holding the pod interface and QEMU's tap, everything up; the pod interface
 * loses any address the NAD's IPAM gave it (a bridge port has none; KubeVirt would hand it to the
 * guest by DHCP, Cairn leaves the guest's addressing to the guest). The tap is made anew (a
 * leftover is replaced), the rest is kept when present.
 */
export async function setupPodBridgeBinding(s: PodBridgeBindingSpec): Promise<void> {
  const ip = Ip.ns(s.netns);
  const pod = await ip.link(s.podIface);
  if (!pod) throw new BridgeBindingError(`bridge binding: the pod has no interface ${s.podIface} (its network attachment is missing)`);
  await ip.ensureBridge(s.bridge, { mtu: pod.mtu });
  await ip.flushAddrs(s.podIface);
  await ip.setLink(s.podIface, { master: s.bridge, up: true });
  await ensureTap(ip, { name: s.tap, bridge: s.bridge, mtu: pod.mtu, owner: s.tapOwner });
}
