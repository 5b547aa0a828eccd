// Check: every BGP session Established, from FRR's `show bgp neighbors json` on every node, and
// every node peering with every other node's VTEP (the EVPN sessions). While a cable is cut,
// the single-hop eBGP sessions across it cannot come up (their TTL of 1 forbids the detour);
// they are reported as expected rather than as problems. Multi-hop and iBGP sessions must
// survive a cut by rerouting.
import { vtepAddress } from '../topology.js';
import { checkResult, cutApart, nodeOfAddress, type CheckContext, type CheckResult } from './check.js';
import { frrOf } from './instances.js';

interface NeighborJson {
  bgpState?: string;
  nbrExternalLink?: boolean;
  externalBgpNbrMaxHopsAway?: number;
}

export async function checkBgpSessions(ctx: CheckContext): Promise<CheckResult> {
  const { t, state } = ctx;
  const problems: string[] = [];
  let established = 0;
  let expectedDown = 0;
  for (const node of t.nodes) {
    const neighbors = await frrOf(ctx.id, node.name).json<Record<string, NeighborJson>>('show bgp neighbors');
    for (const peer of t.nodes) {
      if (peer.name === node.name) continue;
      const vtep = vtepAddress(t, peer.name)!;
      if (!neighbors[vtep]) problems.push(`${node.name} has no BGP session with ${peer.name}'s VTEP ${vtep}`);
    }
    for (const [addr, n] of Object.entries(neighbors)) {
      if (n.bgpState === 'Established') {
        established++;
        continue;
      }
      const peer = nodeOfAddress(t, addr);
      const singleHop = n.nbrExternalLink === true && (n.externalBgpNbrMaxHopsAway ?? 1) === 1;
      if (peer && singleHop && cutApart(state, node.name, peer)) expectedDown++;
      else problems.push(`${node.name} → ${addr}${peer ? ` (${peer})` : ''}: ${n.bgpState ?? 'no state'}`);
    }
  }
  const extra = expectedDown ? ` (${expectedDown} single-hop across cut links down, as expected)` : '';
  return checkResult('BGP sessions', problems, `${established} sessions Established${extra}`);
}
