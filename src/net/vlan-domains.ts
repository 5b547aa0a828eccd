// VLANs of the VM networks' bridges, without 802.1Q in the kernel. Cairn's reference machines
// run kernels with neither bridge VLAN filtering nor VLAN devices (nor tc classifiers), so a VLAN
// is carried the way Proxmox's non-VLAN-aware bridges carry one — a bridge of its own per VLAN,
// `<bridge>v<vlan>` (vmbr0v100) — and between nodes as a VXLAN segment over the node's VM trunk
// with the VLAN id as its VNI, `<bridge>.<vlan>` (where Proxmox has the uplink's 802.1Q device).
// The untagged network (VLAN 1, the PVID of an untagged port) is the bridge itself, trunked as
// VNI 1. BUM traffic goes to one multicast group on the trunk's L2 segment, unicast MACs are
// learned; the trunk carries nothing but these VXLAN segments, so no pod shares L2 with a node.
//
// A bridge is trunked when it has its VNI 1 port (`<bridge>.1`, made by `cairn up`'s lab for
// br1); the per-VLAN segments copy its local address, device and group. VLANs on a bridge with
// no trunk stay on the node, as the bridge CNI plugin's own bridges do.
import { Ip, IpError, checkIfName, checkIpv4 } from './ip.js';

/** The UDP port of the VM networks' VXLAN (not 4789: the pod network's VNI 1 lives there). */
export const VM_VXLAN_PORT = 8472;
/** The multicast group every VLAN's flooded traffic goes to on the trunk. */
export const VM_VXLAN_GROUP = '239.1.1.1';

export class VlanDomainError extends Error {
  override name = 'VlanDomainError';
}

export interface TrunkSpec {
  /** The trunk device in this namespace, and its address (the VTEP). */
  dev: string;
  local: string;
}

const checkVlan = (v: number) => {
  if (!Number.isInteger(v) || v < 1 || v > 4094) throw new VlanDomainError(`invalid VLAN id ${v} (1..4094)`);
  return v;
};

/** The bridge that is `vlan` of `bridge` (the bridge itself for VLAN 1 or none), and its VXLAN segment. */
export function vlanDomainNames(bridge: string, vlan?: number): { bridge: string; vxlan: string } {
  const v = checkVlan(vlan ?? 1);
  const names = { bridge: v === 1 ? bridge : `${bridge}v${v}`, vxlan: `${bridge}.${v}` };
  for (const n of Object.values(names)) {
    if (n.length > 15) throw new VlanDomainError(`bridge ${bridge} is too long a name for VLAN ${v} (${n} has more than 15 characters)`);
    checkIfName(n);
  }
  return names;
}

async function ensurePlainBridge(ip: Ip, name: string, mtu?: number): Promise<void> {
  const cur = await ip.link(name);
  if (cur && cur.linkinfo?.info_kind !== 'bridge') throw new VlanDomainError(`${name} exists in ${ip.toString()} and is not a bridge (${cur.linkinfo?.info_kind ?? 'unknown kind'})`);
  await ip.ensureBridge(name, mtu === undefined ? {} : { mtu });
}

/** A VXLAN segment (VNI = the VLAN) on the trunk, enslaved to its bridge; recreated when its parameters differ. */
async function ensureSegment(ip: Ip, name: string, vni: number, trunk: TrunkSpec, bridge: string): Promise<void> {
  const cur = await ip.link(name);
  const d = cur?.linkinfo?.info_data ?? {};
  const same = cur?.linkinfo?.info_kind === 'vxlan' && d['id'] === vni && d['local'] === trunk.local && d['group'] === VM_VXLAN_GROUP && d['port'] === VM_VXLAN_PORT;
  if (cur && !same) await ip.removeLink(name);
  if (!same) {
    await ip.ip(['link', 'add', checkIfName(name), 'type', 'vxlan', 'id', String(vni), 'local', checkIpv4(trunk.local), 'group', VM_VXLAN_GROUP, 'dev', checkIfName(trunk.dev), 'dstport', String(VM_VXLAN_PORT), 'learning']);
  }
  await ip.setLink(name, { master: bridge, up: true });
}

/** The trunk of `bridge` (its VNI 1 segment's parameters), if it has one. */
async function trunkOf(ip: Ip, bridge: string): Promise<TrunkSpec | undefined> {
  const l = await ip.link(vlanDomainNames(bridge, 1).vxlan);
  const d = l?.linkinfo?.info_data;
  if (l?.linkinfo?.info_kind !== 'vxlan' || l.master !== bridge || typeof d?.['local'] !== 'string' || typeof d['link'] !== 'string') return undefined;
  return { local: d['local'], dev: d['link'] };
}

/** Makes `bridge` (plain, up) trunked over `trunk`: its VNI 1 segment. Idempotent (the lab's br1). */
export async function ensureTrunkedBridge(ip: Ip, bridge: string, trunk: TrunkSpec, mtu?: number): Promise<void> {
  await ensurePlainBridge(ip, bridge, mtu);
  await ensureSegment(ip, vlanDomainNames(bridge, 1).vxlan, 1, trunk, bridge);
}

/**
 * The bridge a port on `vlan` of `bridge` joins (made when missing: the bridge itself as the
 * bridge CNI plugin makes it, the VLAN's bridge and, when `bridge` is trunked, its segment).
 */
export async function ensureVlanDomain(ip: Ip, bridge: string, vlan?: number): Promise<string> {
  const names = vlanDomainNames(bridge, vlan);
  await ensurePlainBridge(ip, bridge);
  if (names.bridge === bridge) return bridge;
  const parent = await ip.link(bridge);
  await ensurePlainBridge(ip, names.bridge, parent?.mtu);
  const trunk = await trunkOf(ip, bridge);
  if (trunk) {
    try {
      await ensureSegment(ip, names.vxlan, vlan!, trunk, names.bridge);
    } catch (e) {
      if (e instanceof IpError) throw new VlanDomainError(`VLAN ${vlan} of ${bridge}: its VXLAN segment ${names.vxlan}: ${e.message}`);
      throw e;
    }
  }
  return names.bridge;
}
