/**
 * `cairn down`: stops a local cluster and removes what it put on the host, in an order that
 * frees each thing before its container: agents, the DNS server and the API server (SIGTERM,
 * then SIGKILL), each node's Ingress nginx master, every container (`runc delete --force` under
 * each node's runc root), the daemons of `cairn ceph up` (their data kept), leftover shim/runc
 * processes, mounts under the data dir (deepest first), the cluster's cgroup subtree in every hierarchy, the root-namespace pod routes, on a
 * fabric FRR's daemons, and the lab's namespaces, links and nft tables. Every step runs even
 * when an earlier one failed (or there is nothing to do); the failures are reported together.
 * `purge` also deletes the data dir.
 */
import { CoreDumpCollector } from '../agent/crash/core-collector.js';
import { existsSync } from 'node:fs';
import { readdir, realpath, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Runc } from '../agent/runtime/runc.js';
import { Nginx } from '../ingress/nginx.js';
import { ingressPaths } from '../ingress/paths.js';
import { teardownCluster } from '../net/lab.js';
import { removeCgroupTree } from './cgroup-tree.js';
import { ClusterError } from './errors.js';
import { stopFabric } from './fabric-underlay.js';
import { removePodRoutes } from './host-routes.js';
import { ClusterLayout, nodeDir } from './layout.js';
import { unmountAllUnder } from './mounts.js';
import { detachLoopDevicesUnder } from '../storage/losetup.js';
import { stopCeph } from '../ceph/down.js';
import { requireRoot } from './preflight.js';
import { isCairnProcess, listProcesses, readArgs, stopProcesses } from './processes.js';
import { readState, writeState } from './state.js';

export interface DownOptions {
  dataDir: string;
  purge?: boolean;
  progress?: (line: string) => void;
}

/** The node indexes that have a data dir (whatever the spec says: a partial `up` may have made fewer). */
async function nodeIndexes(dataDir: string): Promise<number[]> {
  const names = await readdir(join(dataDir, 'nodes')).catch(() => [] as string[]);
  return names.filter((n) => /^\d+$/.test(n)).map(Number);
}

/**
 * A container's helper left over from the cluster in dataDir — a shim (`node shim.js <state dir>`),
 * `runc --root <root> ...`, an exec — recognised by an argument inside the data dir.
 */
function leftOver(args: string[], dataDir: string): boolean {
  return args.some((a) => a.startsWith(`${dataDir}/`));
}

/** Returns false when there was no cluster in the data dir (nothing to do). */
export async function clusterDown(opts: DownOptions): Promise<boolean> {
  const progress = opts.progress ?? (() => {});
  requireRoot('cairn down');
  const dataDir = resolve(opts.dataDir);
  const errors: string[] = [];
  const step = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      errors.push(`${what}: ${(e as Error).message}`);
    }
  };
  let state;
  try {
    state = await readState(dataDir);
  } catch (e) {
    errors.push((e as Error).message);
  }
  const nodes = [...new Set([...(await nodeIndexes(dataDir)), ...Object.keys(state?.agentPids ?? {}).map(Number)])];
  if (!state && !existsSync(dataDir)) {
    progress(`nothing to do: ${dataDir} does not exist`);
    return false;
  }

  await step('stopping agents, DNS and server', async () => {
    const serverDir = join(dataDir, 'server');
    const isAgent = (args: string[]) => nodes.some((n) => isCairnProcess(args, 'agent', nodeDir(dataDir, n)));
    const isDns = (args: string[]) => isCairnProcess(args, 'dns', join(dataDir, 'dns'));
    const isServer = (args: string[]) => isCairnProcess(args, 'server', serverDir);
    // Agents first, all together; then DNS and the server, so no client is left retrying against nothing.
    for (const [what, is] of [['agent', isAgent], ['dns', isDns], ['server', isServer]] as const) {
      const pids = (await listProcesses()).filter((p) => is(p.args)).map((p) => p.pid);
      const still = async (pid: number) => is((await readArgs(pid)) ?? []);
      for (const pid of await stopProcesses(pids, still, 15_000)) progress(`stopped ${what} (pid ${pid})`);
    }
  });
  await step('stopping the ingress nginx masters', async () => {
    for (const n of nodes) {
      const paths = ingressPaths(nodeDir(dataDir, n));
      const nginx = new Nginx({ conf: paths.conf, pidFile: paths.pidFile, prefix: `${paths.dir}/` });
      for (const pid of await nginx.masters()) {
        await nginx.stop(pid);
        progress(`stopped the ingress nginx of node ${n} (pid ${pid})`);
      }
    }
  });

  for (const n of nodes) {
    const root = join(nodeDir(dataDir, n), 'runtime', 'runc');
    if (!existsSync(root)) continue;
    await step(`removing the containers of node ${n}`, async () => {
      const runc = new Runc({ root });
      for (const c of await runc.list()) {
        await runc.delete(c.id, { force: true });
        progress(`removed container ${c.id}`);
      }
    });
  }
  if (state) {
    await step('stopping Ceph', async () => {
      for (const line of await stopCeph(dataDir, state.spec)) progress(line);
    });
  }
  await step('stopping leftover container processes', async () => {
    const left = (await listProcesses()).filter((p) => p.pid !== process.pid && leftOver(p.args, dataDir)).map((p) => p.pid);
    const still = async (pid: number) => leftOver((await readArgs(pid)) ?? [], dataDir);
    for (const pid of await stopProcesses(left, still, 3000)) progress(`stopped leftover process ${pid}`);
  });
  await step('restoring the host core_pattern', async () => {
    // Agents stopped with SIGKILL never gave the core-dump handler back.
    await new CoreDumpCollector({ dataDir }).restoreIfUnheld();
  });
  await step('unmounting', async () => {
    for (const m of await unmountAllUnder(dataDir)) progress(`unmounted ${m}`);
  });
  await step('detaching loop devices', async () => {
    // Local volumes the agents left attached (their images live under the data dir).
    for (const d of await detachLoopDevicesUnder(await realpath(dataDir).catch(() => dataDir))) progress(`detached ${d}`);
  });

  if (state) {
    const layout = new ClusterLayout(dataDir, state.spec);
    await step('removing cgroups', async () => {
      const removed = await removeCgroupTree(layout.cgroupParent);
      if (removed.length) progress(`removed cgroups under ${layout.cgroupParent} (${removed.length} directories)`);
    });
    await step('removing routes', async () => {
      for (const r of await removePodRoutes(layout.lab.bridge)) progress(`removed route to ${r}`);
    });
    if (state.spec.fabric) {
      await step('stopping FRR', async () => {
        const stopped = await stopFabric(layout, [...new Set([...nodes, ...layout.indexes()])]);
        if (stopped.length) progress(`stopped FRR daemons (pids ${stopped.join(', ')})`);
      });
    }
    await step('removing the network', async () => {
      const report = await teardownCluster(state.spec.name);
      if (report.netns.length) progress(`removed namespaces ${report.netns.join(', ')}`);
      if (report.links.length) progress(`removed links ${report.links.join(', ')}`);
      if (report.nftTables.length) progress(`removed nft tables ${report.nftTables.join(', ')}`);
    });
    if (!opts.purge) await step('updating the state file', () => writeState(dataDir, { spec: state.spec, agentPids: {} }));
  } else {
    progress(`no readable cluster.json in ${dataDir}: the cluster's name is unknown, so its cgroups, routes and namespaces were left alone`);
  }
  if (opts.purge && !errors.length) {
    await step(`deleting ${dataDir}`, async () => {
      await rm(dataDir, { recursive: true, force: true });
      progress(`deleted ${dataDir}`);
    });
  }
  if (errors.length) throw new ClusterError(`cairn down left things behind (run it again once fixed):\n  ${errors.join('\n  ')}`);
  return true;
}
