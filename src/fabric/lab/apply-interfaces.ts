// Applies a rendered ifupdown2 `interfaces` file to one node's network namespace, the way
// `ifup -a` would, for the subset of ifupdown2 Cairn renders: the loopback's extra addresses,
// the NICs (addresses, MTU), VXLAN devices (vxlan-id, vxlan-local-tunnelip, learning) and the
// bridges they attach to (ports, STP, forward delay, per-port learning and ARP/ND suppression).
//
// ifupdown2 itself is not used to apply: installed, it replaces the host's ifupdown, and its
// `ifup` keeps its lock and state under the host's /run and /var/tmp. Every change here goes
// through `ip -n NAMESPACE`, so nothing outside the namespace can change. `ifquery --check`
// (ifquery.ts) then compares the namespace's kernel state with the same file, using
// ifupdown2's own reading of it.
import { Ip, checkIpv4, parseCidr, IpError } from '../../net/ip.js';
import { InterfacesError } from './errors.js';
import { parseInterfaces, type IfaceStanza } from './interfaces-file.js';

export interface IfacePlan {
  name: string;
  kind: 'loopback' | 'nic' | 'vxlan' | 'bridge';
  addresses: string[];
  mtu?: number;
  vxlan?: { vni: number; local?: string; learning: boolean; port: number };
  bridge?: { ports: string[]; stp: boolean; forwardDelay?: number };
  /** Settings of this interface as a bridge port. */
  port: { learning?: boolean; neighSuppress?: boolean };
}

/** What applying the file will do, interface by interface, in the order ifup would bring them up. */
export function planInterfaces(text: string, existing: ReadonlySet<string>, source = 'interfaces'): IfacePlan[] {
  const file = parseInterfaces(text, source);
  const byName = new Map(file.ifaces.map((s) => [s.name, s]));
  const plans = new Map<string, IfacePlan>();
  for (const s of file.ifaces) plans.set(s.name, planStanza(s, existing, source));
  // ifup -a: the `auto` interfaces, and what they depend on (a bridge's ports).
  const wanted = new Set<string>();
  for (const name of file.auto) {
    if (!byName.has(name)) {
      if (name === 'lo' || existing.has(name)) continue; // `auto X` with no stanza: ifup only brings it up
      throw new InterfacesError(`${source}: "auto ${name}" names an interface that neither exists nor has an iface stanza`);
    }
    wanted.add(name);
    for (const p of plans.get(name)!.bridge?.ports ?? []) wanted.add(p);
  }
  for (const name of wanted) {
    if (!plans.has(name)) {
      if (existing.has(name)) plans.set(name, { name, kind: 'nic', addresses: [], port: {} });
      else throw new InterfacesError(`${source}: bridge port ${name} neither exists nor has an iface stanza`);
    }
  }
  const order = { loopback: 0, nic: 1, vxlan: 2, bridge: 3 } as const;
  return [...plans.values()].filter((p) => wanted.has(p.name)).sort((a, b) => order[a.kind] - order[b.kind]);
}

function planStanza(s: IfaceStanza, existing: ReadonlySet<string>, source: string): IfacePlan {
  const at = (line: number) => `${source} line ${line}`;
  const onOff = (v: string, line: number): boolean => {
    if (['on', 'yes', '1'].includes(v)) return true;
    if (['off', 'no', '0'].includes(v)) return false;
    throw new InterfacesError(`${at(line)}: expected on or off, got "${v}"`);
  };
  const int = (v: string, line: number, min: number, max: number): number => {
    const n = Number(v);
    if (!/^[0-9]+$/.test(v) || n < min || n > max) throw new InterfacesError(`${at(line)}: expected a number ${min}–${max}, got "${v}"`);
    return n;
  };
  const plan: IfacePlan = { name: s.name, kind: 'nic', addresses: [], port: {} };
  let vni: number | undefined;
  let local: string | undefined;
  let learning = true;
  let vxPort = 4789;
  let ports: string[] | undefined;
  let stp = false;
  let fd: number | undefined;
  for (const { key, value, line } of s.attrs) {
    switch (key) {
      case 'address': {
        const addr = value.includes('/') ? value : `${value}/32`;
        try {
          parseCidr(addr, false);
        } catch {
          throw new InterfacesError(`${at(line)}: invalid address "${value}"`);
        }
        plan.addresses.push(addr);
        break;
      }
      case 'mtu':
        plan.mtu = int(value, line, 68, 65535);
        break;
      case 'vxlan-id':
        vni = int(value, line, 1, 16_777_215);
        break;
      case 'vxlan-local-tunnelip':
        try {
          local = checkIpv4(value);
        } catch {
          throw new InterfacesError(`${at(line)}: invalid vxlan-local-tunnelip "${value}"`);
        }
        break;
      case 'vxlan-learning':
        learning = onOff(value, line);
        break;
      case 'vxlan-port':
        vxPort = int(value, line, 1, 65535);
        break;
      case 'bridge-ports':
        ports = value === 'none' ? [] : value.split(/\s+/);
        break;
      case 'bridge-stp':
        stp = onOff(value, line);
        break;
      case 'bridge-fd':
        fd = int(value, line, 0, 30);
        break;
      case 'bridge-vlan-aware':
        if (onOff(value, line)) throw new InterfacesError(`${at(line)}: VLAN-aware bridges are not supported by the lab`);
        break;
      case 'bridge-learning':
        plan.port.learning = onOff(value, line);
        break;
      case 'bridge-arp-nd-suppress':
        plan.port.neighSuppress = onOff(value, line);
        break;
      default:
        throw new InterfacesError(`${at(line)}: attribute "${key}" is not one the lab can apply`);
    }
  }
  if (vni !== undefined && ports !== undefined) throw new InterfacesError(`${at(s.line)}: ${s.name} cannot be both a VXLAN device and a bridge`);
  if (s.name === 'lo') plan.kind = 'loopback';
  else if (vni !== undefined) {
    plan.kind = 'vxlan';
    plan.vxlan = { vni, local, learning, port: vxPort };
  } else if (ports !== undefined) {
    plan.kind = 'bridge';
    plan.bridge = { ports, stp, forwardDelay: fd };
  } else if (!existing.has(s.name)) {
    throw new InterfacesError(`${at(s.line)}: ${s.name} is not a NIC of this node and has no vxlan-id or bridge-ports`);
  }
  return plan;
}

/** Applies the file to the namespace behind `ip`; returns the plan it carried out. */
export async function applyInterfaces(ip: Ip, text: string, source = 'interfaces'): Promise<IfacePlan[]> {
  const existing = new Set((await ip.links()).map((l) => l.ifname));
  const plans = planInterfaces(text, existing, source);
  try {
    for (const p of plans) await create(ip, p);
    // Ports are enslaved once every bridge exists, then per-port settings (which need a master).
    for (const p of plans) {
      for (const port of p.bridge?.ports ?? []) await ip.setLink(port, { master: p.name });
    }
    for (const p of plans) {
      const s: string[] = [];
      if (p.port.learning !== undefined) s.push('learning', p.port.learning ? 'on' : 'off');
      if (p.port.neighSuppress !== undefined) s.push('neigh_suppress', p.port.neighSuppress ? 'on' : 'off');
      if (s.length) await ip.ip(['link', 'set', 'dev', p.name, 'type', 'bridge_slave', ...s]);
    }
    for (const p of plans) {
      for (const a of p.addresses) await ip.ensureAddr(p.name, a);
      // Set again after enslaving: a bridge otherwise follows its smallest port's MTU.
      await ip.setLink(p.name, { mtu: p.mtu, up: true });
    }
  } catch (e) {
    if (e instanceof IpError) throw new InterfacesError(`applying ${source} in ${ip}: ${e.message}`);
    throw e;
  }
  return plans;
}

async function create(ip: Ip, p: IfacePlan): Promise<void> {
  switch (p.kind) {
    case 'loopback':
    case 'nic':
      if (p.mtu !== undefined) await ip.setLink(p.name, { mtu: p.mtu });
      return;
    case 'vxlan': {
      const v = p.vxlan!;
      await ip.addVxlan(p.name, { vni: v.vni, local: v.local, dstport: v.port, learning: v.learning, mtu: p.mtu });
      return;
    }
    case 'bridge': {
      const b = p.bridge!;
      await ip.addBridge(p.name, { mtu: p.mtu });
      const opts = ['stp_state', b.stp ? '1' : '0'];
      // ifupdown2's bridge-fd is in seconds; the kernel's forward_delay in hundredths.
      if (b.forwardDelay !== undefined) opts.push('forward_delay', String(b.forwardDelay * 100));
      await ip.ip(['link', 'set', 'dev', p.name, 'type', 'bridge', ...opts]);
      return;
    }
  }
}
