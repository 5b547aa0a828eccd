/**
 * A `cairn up` node lost as a power cut would lose it, for tests of what the rest of the cluster
 * does about it (node lifecycle, VM failover, a migration whose target dies):
 *
 *   - its network goes first (every link of its namespace but lo, and the host end of its
 *     underlay veth, set down), so nothing it held open gets a FIN or RST out: its peers see the
 *     streams simply stop, as when a machine loses power;
 *   - then every process of the node dies by SIGKILL: its agent first (it reaches the API server
 *     through the root namespace, so it must not live to report its pods' ends), then everything
 *     in its cgroup subtree /cairn-<cluster>/node-N (pods, so QEMU in launcher pods), everything in
 *     its network namespace (migration proxies and their forked connections, FRR, Ceph daemons,
 *     nginx) and everything started on its data dir (container shims, runc) — found again until
 *     none is left, since a dying parent's children can still be forking.
 *
 * Nothing is removed (namespace, cgroups, mounts, data stay): `cluster.down()` cleans up as for
 * any cluster. `linksDown` says what was cut, should a test bring the node back (links up, then
 * `cairn up` over the same data dir restarts its agent).
 */
import assert from 'node:assert/strict';
import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { cgroupDirs } from '../../src/agent/runtime/cgroups.js';
import { findCairn, listProcesses } from '../../src/cluster/processes.js';
import { nodeDir } from '../../src/cluster/layout.js';
import { Ip } from '../../src/net/ip.js';
import { Lab } from '../../src/net/lab.js';
import type { CairnCluster } from './cairn-cluster.js';

export interface LostNode {
  node: string;
  /** N of `node-N`. */
  index: number;
  netns: string;
  /** Links set down: `[namespace, or undefined for the root namespace; link name]`. */
  linksDown: [string | undefined, string][];
  /** Every pid SIGKILLed. */
  killed: number[];
}

function nodeIndex(nodeName: string): number {
  const m = /^node-(\d+)$/.exec(nodeName);
  assert.ok(m, `${nodeName} is not a cairn up node name (node-N)`);
  return Number(m[1]);
}

/** Pids listed in cgroup.procs of `dir` and every cgroup below it. */
async function cgroupPids(dir: string): Promise<number[]> {
  const out: number[] = [];
  try {
    const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8');
    for (const line of procs.split('\n')) if (line.trim()) out.push(Number(line));
    for (const e of await readdir(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...(await cgroupPids(join(dir, e.name))));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return out;
}

async function inNetns(pid: number, netnsInode: number): Promise<boolean> {
  try {
    return (await readlink(`/proc/${pid}/ns/net`)) === `net:[${netnsInode}]`;
  } catch {
    return false;
  }
}

/** Every live (non-zombie) process belonging to the node. */
async function nodeProcesses(cluster: CairnCluster, index: number, netns: string): Promise<number[]> {
  const dir = nodeDir(cluster.dir, index);
  const netnsInode = (await stat(join('/run/netns', netns))).ino;
  const cgroupSet = new Set<number>();
  for (const d of cgroupDirs(`/cairn-${cluster.name}/node-${index}`)) for (const pid of await cgroupPids(d)) cgroupSet.add(pid);
  const out: number[] = [];
  // listProcesses skips zombies: a killed process awaiting its reaper is dead for this purpose.
  for (const p of await listProcesses()) {
    if (p.pid === process.pid) continue;
    if (cgroupSet.has(p.pid) || p.args.some((a) => a === dir || a.startsWith(`${dir}/`)) || (await inNetns(p.pid, netnsInode))) out.push(p.pid);
  }
  return out;
}

/** SIGKILLs `find()`'s processes until it finds none (a dying parent's children may still fork); returns every pid killed. */
async function killUntilNone(what: string, find: () => Promise<number[]>): Promise<number[]> {
  const killed = new Set<number>();
  const deadline = Date.now() + 20_000;
  for (;;) {
    const left = await find();
    if (!left.length) return [...killed];
    assert.ok(Date.now() < deadline, `${what}: processes still alive 20 s after SIGKILL: ${left.join(', ')}`);
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        /* gone meanwhile */
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function cutNetwork(cluster: CairnCluster, index: number, netns: string): Promise<[string | undefined, string][]> {
  const down: [string | undefined, string][] = [];
  const node = Ip.ns(netns);
  for (const link of await node.links()) {
    if (link.ifname === 'lo' || !link.flags.includes('UP')) continue;
    await node.setLink(link.ifname, { up: false });
    down.push([netns, link.ifname]);
  }
  const hostVeth = new Lab({ cluster: cluster.name, underlayCidr: `${cluster.underlayPrefix}.0/24` }).hostVeth(index);
  if ((await Ip.root.link(hostVeth))?.flags.includes('UP')) {
    await Ip.root.setLink(hostVeth, { up: false });
    down.push([undefined, hostVeth]);
  }
  return down;
}

/**
 * The agent first, and dead before anything else goes: it talks to the API server over the root
 * namespace, which the cut does not touch, and would report its pods' containers ending.
 */
async function killAll(cluster: CairnCluster, index: number, netns: string): Promise<number[]> {
  const agent = await killUntilNone(`node-${index}'s agent`, () => findCairn('agent', nodeDir(cluster.dir, index)));
  return [...agent, ...(await killUntilNone(`node-${index}`, () => nodeProcesses(cluster, index, netns)))];
}

/** Powers node `nodeName` (`node-N`) off; every process of it is dead when this returns. */
export async function loseNode(cluster: CairnCluster, nodeName: string): Promise<LostNode> {
  const index = nodeIndex(nodeName);
  const netns = `cairn-${cluster.name}-node-${index}`;
  const linksDown = await cutNetwork(cluster, index, netns);
  const killed = await killAll(cluster, index, netns);
  return { node: nodeName, index, netns, linksDown, killed };
}
