/** `cairn ceph status`: health, daemons, OSDs up/in, pools and usage of a `cairn ceph up` cluster. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { readState } from '../cluster/state.js';
import { ClusterLayout } from '../cluster/layout.js';
import { ceph } from './ceph-cli.js';
import { runningDaemons } from './daemons.js';
import { CephClusterError } from './errors.js';
import { CephLayout, daemonName } from './layout.js';
import type { CephDf, CephStatus } from './status-types.js';
import { adminAuth } from './up.js';

export interface CephClusterStatus {
  fsid: string;
  health: string;
  /** Health check name → message. */
  checks: Record<string, string>;
  monitors: string[];
  daemons: { name: string; pid: number; log: string }[];
  osds: { total: number; up: number; in: number };
  pgs: { total: number; byState: Record<string, number> };
  usage: { usedBytes: number; availBytes: number; totalBytes: number };
  pools: { name: string; storedBytes: number; objects: number; percentUsed: number; maxAvailBytes: number }[];
  conf: string;
  adminKeyring: string;
}

export async function cephStatus(dataDir: string): Promise<CephClusterStatus> {
  dataDir = resolve(dataDir);
  const state = await readState(dataDir);
  if (!state) throw new CephClusterError(`no Cairn cluster in ${dataDir}`);
  const l = await CephLayout.of(new ClusterLayout(dataDir, state.spec));
  if (!existsSync(l.completeMarker)) throw new CephClusterError(`no Ceph cluster in ${dataDir}: run 'cairn ceph up --data-dir ${dataDir}'`);
  const admin = adminAuth(l);
  const daemons = (await runningDaemons(l)).map((d) => ({ name: daemonName(d), pid: d.pid, log: l.log(d) }));
  const stopped = l.mons.filter((m) => !daemons.some((d) => d.name === daemonName(m)));
  if (stopped.length * 2 >= l.mons.length) {
    const which = stopped.map((m) => `${daemonName(m)} (log ${l.log(m)})`).join(', ');
    throw new CephClusterError(`too few monitors run for a quorum (${which} not running): run 'cairn ceph up --data-dir ${dataDir}'`);
  }
  const s = await ceph<CephStatus>(['status'], admin);
  const df = await ceph<CephDf>(['df'], admin);
  return {
    fsid: s.fsid,
    health: s.health.status,
    checks: Object.fromEntries(Object.entries(s.health.checks).map(([k, c]) => [k, c.summary.message])),
    monitors: l.monitors,
    daemons,
    osds: { total: s.osdmap.num_osds, up: s.osdmap.num_up_osds, in: s.osdmap.num_in_osds },
    pgs: { total: s.pgmap.num_pgs, byState: Object.fromEntries((s.pgmap.pgs_by_state ?? []).map((p) => [p.state_name, p.count])) },
    usage: { usedBytes: s.pgmap.bytes_used, availBytes: s.pgmap.bytes_avail, totalBytes: s.pgmap.bytes_total },
    pools: df.pools.map((p) => ({ name: p.name, storedBytes: p.stats.stored, objects: p.stats.objects, percentUsed: p.stats.percent_used, maxAvailBytes: p.stats.max_avail })),
    conf: l.conf,
    adminKeyring: admin.keyring,
  };
}
