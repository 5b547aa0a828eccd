/**
 * Reads a node agent's IPAM state (DATA/ipam/<subnet>.json, src/net/ipam.ts) to find what owns a
 * pod IP: the pod's network namespace, and when the address was allocated.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface IpamAllocation {
  netns: string;
  /** ms since the epoch. */
  allocatedAt: number;
}

/** The allocation of `ip` on the node whose agent data dir is `nodeDir`. */
export function ipamAllocation(nodeDir: string, ip: string): IpamAllocation {
  const dir = join(nodeDir, 'ipam');
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    const state = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { allocations?: Record<string, { allocatedAt?: string; meta?: { netns?: string } }> };
    const a = state.allocations?.[ip];
    if (a?.meta?.netns) return { netns: a.meta.netns, allocatedAt: Date.parse(a.allocatedAt ?? '') };
  }
  throw new Error(`no IPAM allocation for ${ip} in ${dir}`);
}
