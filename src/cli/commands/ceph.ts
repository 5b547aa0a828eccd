/** `cairn ceph up|down|status`: a Ceph cluster (mon, mgr, MDS, OSDs) on a `cairn up` cluster's nodes. */
import { CephError } from '../../ceph/ceph-cli.js';
import { POOL_SIZE } from '../../ceph/conf.js';
import { dataDirOfCluster } from '../../ceph/cluster-dir.js';
import { cephDown } from '../../ceph/down.js';
import { CephClusterError } from '../../ceph/errors.js';
import { CEPHFS_CLASS, RBD_CLASS, SECRET_NAME, SECRET_NAMESPACE } from '../../ceph/kube-objects.js';
import { FS_NAME, RBD_POOL } from '../../ceph/layout.js';
import { cephStatus, type CephClusterStatus } from '../../ceph/status.js';
import { cephUp, DEFAULT_OSD_SIZE, DEFAULT_OSDS } from '../../ceph/up.js';
import { ClusterError } from '../../cluster/errors.js';
import { CliError } from '../errors.js';
import type { Command } from '../main.js';
import { DEFAULT_CLUSTER_DIR } from './up.js';

const MAX_OSDS = 16;
const UNITS: Record<string, number> = { '': 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

const USAGE = `usage: cairn ceph up [--data-dir DIR | --name NAME] [--osds N] [--osd-size SIZE] [--timeout SECONDS]
       cairn ceph status [--data-dir DIR | --name NAME] [-o json]
       cairn ceph down [--data-dir DIR | --name NAME]

  up      start a Ceph cluster on the nodes of the running cluster in DIR: one mon on node-1
          (on a --fabric cluster, the topology's monitors, on its Ceph networks), the mgr, one MDS, N OSDs (default ${DEFAULT_OSDS}, at least ${POOL_SIZE}) spread over the nodes,
          each BlueStore on a sparse file of SIZE (default 4Gi) under DIR/ceph; the RBD pool
          ${RBD_POOL}, the CephFS ${FS_NAME}, the Secret ${SECRET_NAMESPACE}/${SECRET_NAME} and the
          StorageClasses ${RBD_CLASS} and ${CEPHFS_CLASS}. Waits until it is healthy (--timeout, default 300).
          Run again to see it, or to start what stopped.
  status  health, daemons, OSDs, placement groups, pools and usage
  down    stop the daemons and delete the Ceph cluster with its data, its Secret and StorageClasses

  --data-dir DIR   the cluster's data dir (default ${DEFAULT_CLUSTER_DIR})
  --name NAME      or the running cluster of that name (cairn up --name)`;

function parseSize(v: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(v);
  const bytes = m ? Number(m[1]) * UNITS[m[2] ?? ''] : NaN;
  if (!(bytes >= 2 ** 30 && bytes <= 2 ** 40)) throw new CliError(`--osd-size wants a size from 1Gi to 1Ti (e.g. 4Gi), got "${v}"`);
  return bytes;
}

function wholeNumber(v: string, flag: string, min: number, max: number, why = ''): number {
  if (!/^[0-9]+$/.test(v) || Number(v) < min || Number(v) > max) throw new CliError(`${flag} wants a whole number from ${min} to ${max}${why}, got "${v}"`);
  return Number(v);
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;

function printStatus(s: CephClusterStatus): void {
  console.log(`cluster ${s.fsid}: ${s.health}`);
  for (const [k, m] of Object.entries(s.checks)) console.log(`  ${k}: ${m}`);
  console.log(`monitors: ${s.monitors.join(', ')}`);
  console.log(`daemons: ${s.daemons.map((d) => `${d.name} (pid ${d.pid})`).join(', ')}`);
  console.log(`osds: ${s.osds.total} total, ${s.osds.up} up, ${s.osds.in} in`);
  console.log(`pgs: ${s.pgs.total} (${Object.entries(s.pgs.byState).map(([k, n]) => `${n} ${k}`).join(', ')})`);
  console.log(`usage: ${gib(s.usage.usedBytes)} used, ${gib(s.usage.availBytes)} of ${gib(s.usage.totalBytes)} available`);
  const rows = [['POOL', 'STORED', 'OBJECTS', '%USED', 'MAX AVAIL'], ...s.pools.map((p) => [p.name, gib(p.storedBytes), String(p.objects), (p.percentUsed * 100).toFixed(2), gib(p.maxAvailBytes)])];
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(w[i])).join('   ').trimEnd());
  console.log(`conf: ${s.conf}`);
  console.log(`admin keyring: ${s.adminKeyring}`);
}

async function up(v: Record<string, unknown>, dataDir: string): Promise<void> {
  const osds = v.osds === undefined ? undefined : wholeNumber(v.osds as string, '--osds', POOL_SIZE, MAX_OSDS, ` (pools keep ${POOL_SIZE} replicas, each on its own OSD)`);
  const osdSizeBytes = v['osd-size'] === undefined ? undefined : parseSize(v['osd-size'] as string);
  const timeout = wholeNumber((v.timeout as string | undefined) ?? '300', '--timeout', 1, 86400);
  const started = Date.now();
  const r = await cephUp({ dataDir, osds, osdSizeBytes: osdSizeBytes ?? (osds === undefined ? undefined : DEFAULT_OSD_SIZE), timeoutMs: timeout * 1000, progress: (l) => console.log(l) });
  const s = r.status;
  console.log(
    `ceph: ${r.existed ? 'the existing cluster' : 'cluster'} ${s.fsid} is ${s.health.status}: ${s.osdmap.num_up_osds}/${s.osdmap.num_osds} OSDs up, ${s.pgmap.num_pgs} pgs (${((Date.now() - started) / 1000).toFixed(1)}s)`,
  );
  console.log(`ceph: monitors ${r.layout.monitors.join(',')}; conf ${r.layout.conf}; admin keyring ${r.admin.keyring}`);
  console.log(`ceph: StorageClasses ${RBD_CLASS} (pool ${RBD_POOL}) and ${CEPHFS_CLASS} (file system ${FS_NAME}), credentials in Secret ${SECRET_NAMESPACE}/${SECRET_NAME}`);
}

export const cephCommand: Command = {
  name: 'ceph',
  summary: "start, inspect and remove a Ceph cluster on the local cluster's nodes",
  usage: USAGE,
  options: {
    'data-dir': { type: 'string' },
    name: { type: 'string' },
    osds: { type: 'string' },
    'osd-size': { type: 'string' },
    timeout: { type: 'string' },
    output: { type: 'string', short: 'o' },
  },
  async run(v, positionals) {
    const [sub, ...extra] = positionals;
    if (extra.length) throw new CliError(`unexpected argument "${extra[0]}"; run 'cairn ceph --help'`, 2);
    if (sub !== 'up' && (v.osds !== undefined || v['osd-size'] !== undefined || v.timeout !== undefined))
      throw new CliError(`--osds, --osd-size and --timeout are options of 'cairn ceph up'`, 2);
    if (v.output !== undefined && (sub !== 'status' || v.output !== 'json')) throw new CliError(`-o json is an option of 'cairn ceph status'`, 2);
    if (v.name !== undefined && v['data-dir'] !== undefined) throw new CliError('give --data-dir or --name, not both', 2);
    try {
      const dataDir = v.name !== undefined ? await dataDirOfCluster(v.name as string) : ((v['data-dir'] as string | undefined) ?? DEFAULT_CLUSTER_DIR);
      if (sub === 'up') await up(v, dataDir);
      else if (sub === 'down') console.log((await cephDown({ dataDir, progress: (l) => console.log(l) })) ? 'ceph cluster removed' : 'no ceph cluster');
      else if (sub === 'status') {
        const s = await cephStatus(dataDir);
        if (v.output === 'json') console.log(JSON.stringify(s, null, 2));
        else printStatus(s);
      } else throw new CliError(`${sub === undefined ? 'a subcommand is needed' : `unknown subcommand "${sub}"`}: up, status or down; run 'cairn ceph --help'`, 2);
    } catch (e) {
      if (e instanceof CephClusterError || e instanceof CephError || e instanceof ClusterError) throw new CliError(e.message);
      throw e;
    }
  },
};
