// Check: the kernel FDB of every VXLAN device holds every remote VTEP — the all-zero MAC entry
// with `dst <VTEP>` that zebra installs from the type-3 routes, and that the kernel uses to
// flood broadcast and unknown traffic to the other nodes.
import { Ip } from '../../net/ip.js';
import { vtepAddress } from '../topology.js';
import { checkResult, type CheckContext, type CheckResult } from './check.js';
import { nodeNetns } from './names.js';

const FLOOD_MAC = '00:00:00:00:00:00';

export async function checkVxlanFdb(ctx: CheckContext): Promise<CheckResult> {
  const { t } = ctx;
  const problems: string[] = [];
  let seen = 0;
  for (const node of t.nodes) {
    const ip = Ip.ns(nodeNetns(ctx.id, node.name));
    for (const v of t.evpn.vnis) {
      const dsts = new Set((await ip.fdb(v.vxlan)).filter((f) => f.mac === FLOOD_MAC && f.dst).map((f) => f.dst));
      for (const peer of t.nodes) {
        if (peer.name === node.name) continue;
        const vtep = vtepAddress(t, peer.name)!;
        if (dsts.has(vtep)) seen++;
        else problems.push(`${node.name} ${v.vxlan}: no FDB entry for remote VTEP ${vtep} (${peer.name})`);
      }
    }
  }
  return checkResult('VXLAN FDB', problems, `${seen} remote VTEP entries`);
}
