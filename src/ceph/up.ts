/**
 * `cairn ceph up`: a Ceph cluster for a running `cairn up` cluster (see layout.ts for where its
 * daemons run and keep their files). Idempotent: a complete cluster found in the data dir has
 * whatever of its daemons is not running started again; a bootstrap that was cut short is
 * removed and redone. Ends when the cluster is healthy, with the Kubernetes objects applied.
 */
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Client, HttpsTransport } from '../client/index.js';
import { ClusterLayout } from '../cluster/layout.js';
import { requireRoot } from '../cluster/preflight.js';
import { aliveCairn } from '../cluster/processes.js';
import { readState, writeState } from '../cluster/state.js';
import { bootstrap } from './bootstrap.js';
import { ceph, type CephAuth, CephError } from './ceph-cli.js';
import { runningDaemons, spawnDaemon, stopDaemons } from './daemons.js';
import { CephClusterError } from './errors.js';
import { ensurePublicNetworkRoute } from './host-route.js';
import { waitHealthy, waitForMon } from './health.js';
import { ensureKubeObjects } from './kube-objects.js';
import type { CephStatus } from './status-types.js';
import { ADMIN_CLIENT, CephLayout, daemonName, type DaemonPlace, DRIVER_CLIENT } from './layout.js';

export interface CephUpOptions {
  dataDir: string;
  /** For a new cluster; an existing one keeps what it was made with. */
  osds?: number;
  osdSizeBytes?: number;
  timeoutMs?: number;
  progress?: (line: string) => void;
}

export interface CephUpResult {
  layout: CephLayout;
  admin: CephAuth;
  /** True when the cluster existed (whether or not daemons had to be started again). */
  existed: boolean;
  status: CephStatus;
}

export const DEFAULT_OSDS = 3;
export const DEFAULT_OSD_SIZE = 4 * 2 ** 30;

/** The Cairn cluster in the data dir, which must be running. */
export async function runningCluster(dataDir: string): Promise<ClusterLayout> {
  const state = await readState(dataDir);
  if (!state) throw new CephClusterError(`no Cairn cluster in ${dataDir}: run 'cairn up --data-dir ${dataDir}' first`);
  const layout = new ClusterLayout(dataDir, state.spec);
  if (!(await aliveCairn(state.serverPid, 'server', layout.serverDir)))
    throw new CephClusterError(`the Cairn cluster in ${dataDir} is not running: run 'cairn up --data-dir ${dataDir}' first`);
  return layout;
}

export const adminAuth = (l: CephLayout): CephAuth => ({ conf: l.conf, keyring: l.keyring(ADMIN_CLIENT), id: ADMIN_CLIENT });

/** The OSD ids a complete cluster has (from their data dirs). */
async function osdIds(l: CephLayout): Promise<number[]> {
  const names = await readdir(l.dir).catch(() => [] as string[]);
  return names.flatMap((n) => (/^osd-(\d+)$/.test(n) ? [Number(n.slice(4))] : [])).sort((a, b) => a - b);
}

export async function cephUp(opts: CephUpOptions): Promise<CephUpResult> {
  requireRoot('cairn ceph up');
  const progress = opts.progress ?? (() => {});
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const cluster = await runningCluster(resolve(opts.dataDir));
  const l = await CephLayout.of(cluster);
  const admin = adminAuth(l);
  const existed = existsSync(l.completeMarker);
  try {
    const routed = await ensurePublicNetworkRoute(l);
    if (routed) progress(routed);
    if (existed) {
      const ids = await osdIds(l);
      if (opts.osds !== undefined && opts.osds !== ids.length)
        throw new CephClusterError(`the Ceph cluster in ${l.dir} has ${ids.length} OSDs, not ${opts.osds}; run 'cairn ceph down --data-dir ${cluster.dataDir}' first to make a different one`);
      await startMissing(l, admin, ids.map((id) => l.osd(id)), timeoutMs, progress);
    } else {
      if (existsSync(l.dir)) {
        for (const d of await stopDaemons(l)) progress(`ceph: stopped ${d} of an unfinished bootstrap`);
        await rm(l.dir, { recursive: true, force: true });
      }
      await bootstrap(l, admin, { osds: opts.osds ?? DEFAULT_OSDS, osdSizeBytes: opts.osdSizeBytes ?? DEFAULT_OSD_SIZE, timeoutMs, progress });
    }
    const osds = (await osdIds(l)).map((id) => l.osd(id));
    const status = await waitHealthy(l, admin, [...l.mons, l.mgr, l.mds, ...osds], timeoutMs);
    await recordPids(l);
    await applyKubeObjects(l, admin, status.fsid);
    return { layout: l, admin, existed, status };
  } catch (e) {
    if (e instanceof CephError) throw new CephClusterError(e.message);
    throw e;
  }
}

/** Starts the daemons of a complete cluster that are not running: the monitors first, as the others need them. */
async function startMissing(l: CephLayout, admin: CephAuth, osds: DaemonPlace[], timeoutMs: number, progress: (line: string) => void): Promise<void> {
  const running = new Set((await runningDaemons(l)).map(daemonName));
  const start = (d: DaemonPlace) => {
    if (running.has(daemonName(d))) return;
    spawnDaemon(l, d);
    progress(`ceph: ${daemonName(d)} started on ${l.cluster.nodeName(d.node)}, log ${l.log(d)}`);
  };
  for (const mon of l.mons) start(mon);
  await waitForMon(l, admin, timeoutMs);
  for (const d of [l.mgr, ...osds, l.mds]) start(d);
}

async function recordPids(l: CephLayout): Promise<void> {
  const state = await readState(l.cluster.dataDir);
  if (!state) return;
  const cephPids = Object.fromEntries((await runningDaemons(l)).map((d) => [daemonName(d), d.pid]));
  await writeState(l.cluster.dataDir, { ...state, cephPids });
}

async function applyKubeObjects(l: CephLayout, admin: CephAuth, fsid: string): Promise<void> {
  const key = async (id: string) => (await ceph<{ key: string }[]>(['auth', 'get', `client.${id}`], admin))[0].key;
  const transport = HttpsTransport.fromKubeconfig(l.cluster.adminKubeconfig);
  try {
    await ensureKubeObjects(new Client(transport), {
      fsid,
      monitors: l.monitors,
      user: { id: DRIVER_CLIENT, key: await key(DRIVER_CLIENT) },
      admin: { id: ADMIN_CLIENT, key: await key(ADMIN_CLIENT) },
    });
  } finally {
    transport.close();
  }
}
