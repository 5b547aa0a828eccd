// The BGP design: one AS in bgp.asn for iBGP, or a distinct AS on every node for eBGP (never a
// mix), AS numbers in range, and timers BGP accepts.
import { FABRIC_LIMITS as L } from '../defaults.js';
import type { Topology } from '../topology.js';
import { duplicates, type Problems } from './problems.js';

function asnInRange(p: Problems, path: string, asn: number): void {
  if (asn < L.asn.min || asn > L.asn.max) p.add('asn-range', path, `AS ${asn} is out of range (${L.asn.min}-${L.asn.max})`);
}

export function checkBgp(t: Topology, p: Problems): void {
  const { scheme, asn, timers } = t.bgp;
  if (scheme === 'ibgp') {
    if (asn === undefined) p.add('asn-scheme', 'bgp.asn', 'the ibgp scheme needs the cluster\'s AS in bgp.asn');
    else asnInRange(p, 'bgp.asn', asn);
    t.nodes.forEach((n, i) => {
      if (n.asn !== undefined) p.add('asn-scheme', `nodes[${i}].asn`, `the ibgp scheme uses one AS (bgp.asn) for every node; remove the per-node AS ${n.asn} or use scheme ebgp`);
    });
  } else {
    if (asn !== undefined) p.add('asn-scheme', 'bgp.asn', 'the ebgp scheme gives every node its own AS in nodes[].asn; remove bgp.asn or use scheme ibgp');
    t.nodes.forEach((n, i) => {
      if (n.asn === undefined) p.add('asn-scheme', `nodes[${i}].asn`, `the ebgp scheme needs an AS for node ${n.name}`);
      else asnInRange(p, `nodes[${i}].asn`, n.asn);
    });
    const withAsn = t.nodes.map((n, i) => ({ asn: n.asn, i })).filter((x) => x.asn !== undefined);
    for (const d of duplicates(withAsn, (x) => x.asn!)) {
      p.add('asn-scheme', `nodes[${withAsn[d.index].i}].asn`, `AS ${d.value} is also nodes[${withAsn[d.first].i}]'s; with eBGP every node needs its own AS`);
    }
  }
  if (timers.hold > L.timer.max || timers.keepalive > L.timer.max) p.add('bgp-timers', 'bgp.timers', `timers are at most ${L.timer.max} s`);
  if (timers.hold !== 0 && timers.hold < 3) p.add('bgp-timers', 'bgp.timers.hold', `hold time ${timers.hold} s: BGP allows 0 or at least 3 s`);
  if (timers.hold !== 0 && timers.keepalive >= timers.hold) p.add('bgp-timers', 'bgp.timers.keepalive', `keepalive ${timers.keepalive} s must be shorter than the hold time ${timers.hold} s (usually a third of it)`);
}
