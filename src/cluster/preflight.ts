/**
 * Checks before `cairn up` touches the host, each failing with one line that says what to change:
 * root, the cluster name not taken by another cluster's network objects, the underlay and pod
 * networks not overlapping a route the host already has, and the ports free.
 */
import { createServer } from 'node:net';
import { Ip, netns, parseCidr, type Cidr } from '../net/ip.js';
import { ClusterError } from './errors.js';
import type { ClusterLayout } from './layout.js';

export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) throw new ClusterError(`${what} needs root (it creates network namespaces, routes and cgroups)`);
}

const overlaps = (a: Cidr, b: Cidr) => a.base < b.base + b.size && b.base < a.base + a.size;

/** For a cluster this data dir has not made yet: no namespace or link of that name may exist. */
export async function checkNameFree(layout: ClusterLayout): Promise<void> {
  const { lab } = layout;
  const taken = (await netns.list()).map((n) => n.name).filter((n) => n.startsWith(lab.prefix));
  if (await Ip.root.link(lab.bridge)) taken.unshift(lab.bridge);
  if (taken.length)
    throw new ClusterError(
      `a cluster named "${layout.spec.name}" already has network objects on this host (${taken.slice(0, 3).join(', ')}); choose another --name, or run 'cairn down' with that cluster's --data-dir`,
    );
}

/** The underlay and cluster CIDRs must not overlap a route of the root namespace that is not this cluster's. */
export async function checkNetworksFree(layout: ClusterLayout): Promise<void> {
  const mine = [
    { flag: '--underlay-cidr', cidr: parseCidr(layout.spec.underlayCidr) },
    { flag: '--cluster-cidr', cidr: parseCidr(layout.spec.clusterCidr) },
  ];
  for (const r of await Ip.root.routes()) {
    if (r.dst === 'default' || r.dev === layout.lab.bridge) continue;
    let dst: Cidr;
    try {
      dst = parseCidr(r.dst.includes('/') ? r.dst : `${r.dst}/32`, false);
    } catch {
      continue;
    }
    for (const m of mine) {
      if (overlaps(m.cidr, dst))
        throw new ClusterError(`${m.flag} ${m.cidr.network}/${m.cidr.prefix} overlaps the host's route to ${r.dst}${r.dev ? ` on ${r.dev}` : ''}; choose another ${m.flag}`);
    }
  }
}

export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export async function requirePortFree(port: number, flag: string, forWhat: string): Promise<void> {
  if (!(await portFree(port))) throw new ClusterError(`port ${port} (for ${forWhat}) is in use on 127.0.0.1; choose another ${flag}`);
}
