/**
 * Root-namespace routes to the nodes' pod networks: `<podCIDR> via <node underlay IP>` on the
 * cluster's bridge, so the host (the API server proxying port-forwards, probes, a user's curl)
 * reaches pod IPs directly. `cairn up` reconciles them on every run (the agents do not touch the
 * root namespace); `cairn down` removes them.
 */
import { Ip } from '../net/ip.js';

export interface PodRoute {
  podCidr: string;
  via: string;
}

/** Makes the gateway routes on `bridge` exactly `want`; returns the routes added or changed. */
export async function reconcilePodRoutes(bridge: string, want: PodRoute[]): Promise<PodRoute[]> {
  const have = (await Ip.root.routes({ dev: bridge })).filter((r) => r.gateway);
  const changed: PodRoute[] = [];
  for (const r of want) {
    if (have.some((h) => h.dst === r.podCidr && h.gateway === r.via)) continue;
    await Ip.root.replaceRoute({ dst: r.podCidr, via: r.via, dev: bridge });
    changed.push(r);
  }
  for (const h of have) if (!want.some((r) => r.podCidr === h.dst)) await Ip.root.removeRoute({ dst: h.dst, via: h.gateway, dev: bridge });
  return changed;
}

/** Removes every gateway route on `bridge` (none when the bridge is gone); returns their destinations. */
export async function removePodRoutes(bridge: string): Promise<string[]> {
  if (!(await Ip.root.link(bridge))) return [];
  const removed: string[] = [];
  for (const r of (await Ip.root.routes({ dev: bridge })).filter((x) => x.gateway)) {
    if (await Ip.root.removeRoute({ dst: r.dst, via: r.gateway, dev: bridge })) removed.push(r.dst);
  }
  return removed;
}
