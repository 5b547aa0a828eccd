// Check: every guest reaches every other guest on its VNI over the overlay, with a packet as
// large as the topology's overlay MTU promises and fragmentation forbidden in the guest (ping
// -M do); and no node fragmented anything meanwhile (its IP FragCreates counter is unchanged),
// so the VXLAN-encapsulated frames crossed the underlay whole.
import { Ip } from '../../net/ip.js';
import { checkResult, type CheckContext, type CheckResult } from './check.js';
import { nodeNetns } from './names.js';
import { echo } from './ping.js';
import type { LabGuest, LabState } from './state.js';

/** IPv4 header (20) + ICMP header (8): a ping of MTU - 28 payload bytes fills the MTU exactly. */
const ICMP_OVERHEAD = 28;
/** Pings in flight at once (the machine may have two cores). */
const CONCURRENCY = 8;

/** Ordered pairs of guests on the same VNI (each direction is its own path through the fabric). */
export function guestPairs(state: LabState): [LabGuest, LabGuest][] {
  const pairs: [LabGuest, LabGuest][] = [];
  for (const a of state.guests) for (const b of state.guests) if (a !== b && a.vni === b.vni) pairs.push([a, b]);
  return pairs;
}

const hostOf = (g: LabGuest) => g.address.split('/')[0]!;
export const pairName = ([a, b]: [LabGuest, LabGuest]) => `${a.node} → ${b.node} (VNI ${a.vni})`;

/** Pings every pair (full-MTU and unfragmentable when `fullSize`); returns the pairs that got no answer. */
export async function unreachablePairs(pairs: [LabGuest, LabGuest][], fullSize: boolean, waitS = 1): Promise<[LabGuest, LabGuest][]> {
  const failed: [LabGuest, LabGuest][] = [];
  let next = 0;
  const worker = async () => {
    while (next < pairs.length) {
      const pair = pairs[next++]!;
      const [a, b] = pair;
      const ok = await echo(a.netns, hostOf(b), fullSize ? { size: a.mtu - ICMP_OVERHEAD, dontFragment: true, waitS } : { waitS });
      if (!ok) failed.push(pair);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, pairs.length) }, worker));
  return failed;
}

/** The node namespace's count of fragments it created (/proc/net/snmp, read inside the namespace). */
async function fragCreates(netns: string): Promise<number> {
  const snmp = (await Ip.ns(netns).exec(['cat', '/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Ip: '));
  const names = snmp[0]?.split(/\s+/) ?? [];
  const values = snmp[1]?.split(/\s+/) ?? [];
  return Number(values[names.indexOf('FragCreates')] ?? 0);
}

export async function checkGuestReach(ctx: CheckContext): Promise<CheckResult> {
  const { t, state } = ctx;
  const pairs = guestPairs(state);
  const before = await Promise.all(t.nodes.map((n) => fragCreates(nodeNetns(ctx.id, n.name))));
  const failed = await unreachablePairs(pairs, true);
  const after = await Promise.all(t.nodes.map((n) => fragCreates(nodeNetns(ctx.id, n.name))));
  const problems = failed.map((p) => `${pairName(p)}: no answer to a ${p[0].mtu}-byte unfragmentable ping`);
  t.nodes.forEach((n, i) => {
    if (after[i]! > before[i]!) problems.push(`${n.name} fragmented ${after[i]! - before[i]!} packets`);
  });
  return checkResult('guest reachability', problems, `${pairs.length - failed.length} of ${pairs.length} guest pairs answer ${t.mtu.overlay}-byte unfragmentable pings`);
}
