/**
 * The ceph.conf of a `cairn ceph up` cluster, written with the fabric's renderer
 * (src/fabric/render/ceph.ts): its [global] (fsid, networks, mon_host, cephx) and [mon.NAME]
 * sections — on a fabric the very values `cairn fabric render` writes (networks.ts) — plus the
 * settings of daemons that run as plain processes under DIR/ceph — data dirs, keyrings, logs
 * and admin sockets there rather than in /var/lib/ceph and /var/log/ceph — and small memory
 * settings for a cluster that shares one small machine with everything else.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { normalizeCidr } from '../fabric/ipv4.js';
import { renderCephConf } from '../fabric/render/ceph.js';
import type { CephLayout } from './layout.js';

/** Every pool is size 3 / min_size 2, as a production cluster's. */
export const POOL_SIZE = 3;

export interface ConfOptions {
  fsid: string;
  /** Each OSD's BlueStore block file, bytes (sparse). */
  osdSizeBytes: number;
  /** The hosts the OSDs are spread over: with fewer than POOL_SIZE, replicas go to distinct OSDs instead. */
  osdHosts: number;
}

const MiB = 1024 * 1024;

/**
 * With a cluster network apart from the public one, an OSD's connections to its peers' cluster
 * addresses start from its own cluster address. Otherwise the kernel would pick their source by
 * the route — on a fabric, whose NICs carry the node's addresses on both networks, the NIC's
 * first one, on the public network — and replication would leave the cluster network at one end.
 */
function replicationSource(l: CephLayout): [string, string][] {
  const n = l.networks;
  return normalizeCidr(n.clusterNetwork) === normalizeCidr(n.publicNetwork) ? [] : [['ms_bind_before_connect', 'true']];
}

export function renderClusterConf(l: CephLayout, o: ConfOptions): string {
  const daemon = (type: string, dataKey: string, more: [string, string][] = []) => ({
    name: type,
    entries: [
      [dataKey, join(l.dir, `${type}-$id`)],
      ['keyring', `$${dataKey}/keyring`],
      ['log_file', join(l.logDir, '$name.log')],
      ...more,
    ] as [string, string][],
  });
  const n = l.networks;
  return renderCephConf({
    fsid: o.fsid,
    publicNetwork: n.publicNetwork,
    clusterNetwork: n.clusterNetwork,
    monitors: n.monitors,
    global: [
      ['auth_allow_insecure_global_id_reclaim', 'false'],
      ['keyring', join(l.dir, '$cluster.$name.keyring')],
      ['run_dir', l.runDir],
      ['crash_dir', join(l.dir, 'crash')],
      ['osd_pool_default_size', String(POOL_SIZE)],
      ['osd_pool_default_min_size', String(POOL_SIZE - 1)],
      ['osd_pool_default_pg_autoscale_mode', 'off'],
      ['osd_pool_default_pg_num', '8'],
      ['osd_pool_default_pgp_num', '8'],
      // The failure domain of the default replicated rule (made when the mon store is): host
      // when there are enough hosts for a replica on each, else osd.
      ['osd_crush_chooseleaf_type', o.osdHosts >= POOL_SIZE ? '1' : '0'],
    ],
    sections: [
      daemon('mon', 'mon_data', [
        ['mon_cluster_log_file', join(l.logDir, 'ceph.log')],
        // The OSDs' sparse files share the host's disk with everything else: warn only when it is nearly full.
        ['mon_data_avail_warn', '5'],
        ['mon_data_avail_crit', '2'],
      ]),
      daemon('mgr', 'mgr_data'),
      daemon('osd', 'osd_data', [
        ['osd_objectstore', 'bluestore'],
        ['bluestore_block_create', 'true'],
        ['bluestore_block_size', String(o.osdSizeBytes)],
        // Placed by `ceph osd crush add` at creation (host=<node>): the process's hostname is the machine's.
        ['osd_crush_update_on_start', 'false'],
        ['osd_memory_target', String(512 * MiB)],
        ['osd_memory_cache_min', String(64 * MiB)],
        ...replicationSource(l),
      ]),
      daemon('mds', 'mds_data', [['mds_cache_memory_limit', String(128 * MiB)]]),
    ],
  });
}

export async function writeClusterConf(l: CephLayout, o: ConfOptions): Promise<void> {
  await writeFile(l.conf, renderClusterConf(l, o), { mode: 0o644 });
}
