// Checks on the EVPN routes each node's bgpd holds per VNI (`show bgp l2vpn evpn route vni all
// json`): a type-3 (inclusive multicast) route for every VNI from every other node — how a node
// learns the remote VTEPs to flood to — and a type-2 (MAC) route for every other node's guest
// MAC. A route counts when it has a valid path whose next hop is the originating node's VTEP.
import { vtepAddress } from '../topology.js';
import { checkResult, type CheckContext, type CheckResult } from './check.js';
import { frrOf } from './instances.js';

interface EvpnPathJson {
  valid?: boolean;
  routeType?: number;
  mac?: string;
  ip?: string;
  nexthops?: { ip?: string }[];
}
interface EvpnRouteJson {
  prefix?: string;
  paths?: EvpnPathJson[][];
}
type VniTablesJson = Record<string, Record<string, unknown>>;

/** Valid paths per VNI on one node. */
async function evpnPaths(ctx: CheckContext, node: string): Promise<Map<number, EvpnPathJson[]>> {
  const tables = await frrOf(ctx.id, node).json<VniTablesJson>('show bgp l2vpn evpn route vni all');
  const out = new Map<number, EvpnPathJson[]>();
  for (const [vni, table] of Object.entries(tables)) {
    const paths: EvpnPathJson[] = [];
    for (const route of Object.values(table)) {
      if (typeof route !== 'object' || route === null || !('paths' in route)) continue;
      for (const group of (route as EvpnRouteJson).paths ?? []) paths.push(...group.filter((p) => p.valid));
    }
    out.set(Number(vni), paths);
  }
  return out;
}

const fromVtep = (p: EvpnPathJson, vtep: string) => (p.nexthops ?? []).some((n) => n.ip === vtep);

export async function checkEvpnType3(ctx: CheckContext): Promise<CheckResult> {
  const { t } = ctx;
  const problems: string[] = [];
  let seen = 0;
  for (const node of t.nodes) {
    const paths = await evpnPaths(ctx, node.name);
    for (const v of t.evpn.vnis) {
      for (const peer of t.nodes) {
        if (peer.name === node.name) continue;
        const vtep = vtepAddress(t, peer.name)!;
        if ((paths.get(v.vni) ?? []).some((p) => p.routeType === 3 && p.ip === vtep && fromVtep(p, vtep))) seen++;
        else problems.push(`${node.name} has no type-3 route for VNI ${v.vni} from ${peer.name} (${vtep})`);
      }
    }
  }
  return checkResult('EVPN type-3 routes', problems, `${seen} type-3 routes (every VNI from every peer)`);
}

export async function checkEvpnType2(ctx: CheckContext): Promise<CheckResult> {
  const { t, state } = ctx;
  const problems: string[] = [];
  let seen = 0;
  for (const node of t.nodes) {
    const paths = await evpnPaths(ctx, node.name);
    for (const g of state.guests) {
      if (g.node === node.name) continue;
      const vtep = vtepAddress(t, g.node)!;
      if ((paths.get(g.vni) ?? []).some((p) => p.routeType === 2 && p.mac === g.mac && fromVtep(p, vtep))) seen++;
      else problems.push(`${node.name} has no type-2 route for ${g.node}'s guest ${g.mac} on VNI ${g.vni}`);
    }
  }
  return checkResult('EVPN type-2 routes', problems, `${seen} type-2 routes (every remote guest MAC)`);
}
