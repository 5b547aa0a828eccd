// KubeVirt's bridge binding, the node-level half: the guest NIC's tap on an existing bridge (a
// secondary network's bridge, from a NetworkAttachmentDefinition of type bridge), no DHCP and no
// NAT — the guest is on that L2 segment itself. An optional VLAN tags the tap's port.
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
