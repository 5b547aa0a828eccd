/**
 * The part of a VMI's status the node writes (KubeVirt's virt-handler owns the same fields):
 * phase Running, the interfaces with the pod IP (masquerade) and what the guest agent reports,
 * the Paused, AgentConnected and LiveMigratable conditions, guestOSInfo, the machine, CPU
 * topology and memory. The controller's fields (phase before Running and the final phases,
 * nodeName, activePods, Ready, PodScheduled, ...) are left as they are.
 */
import type { VmCondition } from '../controllers/vm-api.js';
import type { Vmi, VmiInterfaceStatus, VmiStatusTyped } from '../launcher/vmi-types.js';
import { cpuTopology } from '../launcher/vmi-guest.js';
import { type BridgeNic, guestMemory, type MasqueradeNic } from './launch-plan.js';
import type { SessionState } from './launcher-session.js';

export interface NodeStatusInput {
  vmi: Vmi;
  podIP?: string;
  nic?: MasqueradeNic;
  /** The secondary networks' bridge-bound NICs. */
  bridgeNics?: BridgeNic[];
  session: SessionState;
  /** Claim names the VMI uses that are not ReadWriteMany (they block live migration). */
  unsharedClaims: string[];
  now: string;
}

const binary = (bytes: number) => (bytes % 2 ** 30 === 0 ? `${bytes / 2 ** 30}Gi` : bytes % 2 ** 20 === 0 ? `${bytes / 2 ** 20}Mi` : String(bytes));

function condition(prev: VmCondition[] | undefined, c: Omit<VmCondition, 'lastTransitionTime' | 'lastProbeTime'>, now: string): VmCondition {
  const old = prev?.find((x) => x.type === c.type);
  return { ...c, lastProbeTime: null, lastTransitionTime: old && old.status === c.status ? (old.lastTransitionTime ?? now) : now };
}

/** A bridge-bound NIC: its addresses are the guest's own, known only from the guest agent. */
function bridgedInterface(i: NodeStatusInput, b: BridgeNic): VmiInterfaceStatus {
  const guest = i.session.agent?.interfaces?.find((g) => g['hardware-address']?.toLowerCase() === b.mac);
  const ips = (guest?.['ip-addresses'] ?? []).filter((a) => a['ip-address-type'] === 'ipv4').map((a) => a['ip-address']);
  return {
    name: b.name,
    mac: b.mac,
    ...(ips.length ? { ipAddress: ips[0], ipAddresses: ips } : {}),
    podInterfaceName: b.podIface,
    ...(guest ? { interfaceName: guest.name } : {}),
    infoSource: guest ? 'domain, guest-agent, multus-status' : 'domain, multus-status',
    queueCount: 1,
    linkState: 'up',
  };
}

function interfaces(i: NodeStatusInput): VmiInterfaceStatus[] {
  const order = (i.vmi.spec.domain.devices.interfaces ?? []).map((x) => x.name);
  const bridged = (i.bridgeNics ?? []).map((b) => bridgedInterface(i, b));
  return [...podInterface(i), ...bridged].sort((a, b) => order.indexOf(a.name!) - order.indexOf(b.name!));
}

function podInterface(i: NodeStatusInput): VmiInterfaceStatus[] {
  if (!i.nic) return [];
  const guest = i.session.agent?.interfaces?.find((g) => g['hardware-address']?.toLowerCase() === i.nic!.mac);
  const ips = i.podIP ? [i.podIP] : [];
  return [
    {
      name: i.nic.name,
      mac: i.nic.mac,
      ...(ips.length ? { ipAddress: ips[0], ipAddresses: ips } : {}),
      podInterfaceName: 'eth0',
      ...(guest ? { interfaceName: guest.name } : {}),
      infoSource: guest ? 'domain, guest-agent' : 'domain',
      queueCount: 1,
      linkState: 'up',
    },
  ];
}

/** KubeVirt's guestOSInfo from the agent's guest-get-osinfo. */
function guestOSInfo(s: SessionState): Record<string, string> | undefined {
  const o = s.agent?.osInfo;
  if (!o) return undefined;
  const out: Record<string, string> = {};
  if (o.id) out['id'] = o.id;
  if (o.name) out['name'] = o.name;
  if (o['kernel-release']) out['kernelRelease'] = o['kernel-release'];
  if (o.machine) out['machine'] = o.machine;
  return out;
}

/** The VMI's status with the node's fields set (a new object; the input is not changed). */
export function withNodeStatus(i: NodeStatusInput): VmiStatusTyped {
  const prev = i.vmi.status ?? {};
  const conditions = (prev.conditions ?? []).filter((c) => !['Paused', 'AgentConnected', 'LiveMigratable'].includes(c.type));
  const paused = i.session.userPaused && ['paused', 'prelaunch'].includes(i.session.runState);
  if (paused) conditions.push(condition(prev.conditions, { type: 'Paused', status: 'True', reason: 'PausedByUser', message: 'VMI was paused by user' }, i.now));
  if (i.session.agent) conditions.push(condition(prev.conditions, { type: 'AgentConnected', status: 'True' }, i.now));
  conditions.push(
    condition(
      prev.conditions,
      i.unsharedClaims.length
        ? { type: 'LiveMigratable', status: 'False', reason: 'DisksNotLiveMigratable', message: `cannot migrate VMI: PVC ${i.unsharedClaims[0]} is not shared, live migration requires that all PVCs must be shared (using ReadWriteMany access mode)` }
        : { type: 'LiveMigratable', status: 'True' },
      i.now,
    ),
  );
  const memory = binary(guestMemory(i.vmi));
  const os = guestOSInfo(i.session);
  const { guestOSInfo: _old, ...rest } = prev;
  return {
    ...rest,
    phase: 'Running',
    conditions,
    interfaces: interfaces(i),
    ...(os ? { guestOSInfo: os } : {}),
    machine: { type: 'q35' },
    currentCPUTopology: cpuTopology(i.vmi.spec),
    memory: { guestAtBoot: memory, guestCurrent: memory, guestRequested: memory },
  };
}
