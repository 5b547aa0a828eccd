/**
 * Makes a new Ceph cluster the way Ceph's manual deployment does, without cephadm or systemd:
 * keys and a monmap, the mon's store, then each daemon's key from the running mon, its data
 * dir and its process in its node's namespace; OSDs as BlueStore on sparse files, placed in
 * CRUSH under host=<node>; the RBD pool and the CephFS with their pools; the drivers' client.
 * The complete marker is written last: a bootstrap cut short is removed and redone.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ceph, type CephAuth, createMonmap, genKey, importKeyring, mkfsMon, mkfsOsd, rbd, writeKeyring } from './ceph-cli.js';
import { writeClusterConf } from './conf.js';
import { spawnDaemon } from './daemons.js';
import { waitForMon } from './health.js';
import {
  ADMIN_CLIENT,
  type CephLayout,
  daemonName,
  type DaemonPlace,
  DRIVER_CLIENT,
  FS_DATA_POOL,
  FS_METADATA_POOL,
  FS_NAME,
  RBD_POOL,
} from './layout.js';

export interface BootstrapOptions {
  osds: number;
  osdSizeBytes: number;
  timeoutMs: number;
  progress: (line: string) => void;
}

const ALL = 'allow *';

/**
 * The drivers' client: RBD images in the RBD pool (mon `profile rbd` also lets it blocklist a
 * dead client's watch, as ceph-csi needs), CephFS data in that file system's pools, the MDS for
 * mounts, and the mgr for `ceph fs subvolume` calls.
 */
export const DRIVER_CAPS = {
  mon: 'profile rbd, allow r',
  osd: `profile rbd pool=${RBD_POOL}, allow rw tag cephfs data=${FS_NAME}`,
  mds: 'allow rw',
  mgr: 'allow rw',
};

const DAEMON_CAPS = {
  mgr: { mon: 'allow profile mgr', osd: ALL, mds: ALL },
  mds: { mon: 'allow profile mds', osd: 'allow rwx', mds: 'allow', mgr: 'allow profile mds' },
};

/** The OSD's CRUSH weight: its size in TiB, as ceph-volume sets it. */
const crushWeight = (bytes: number) => (bytes / 2 ** 40).toFixed(5);

export async function bootstrap(l: CephLayout, admin: CephAuth, o: BootstrapOptions): Promise<void> {
  const fsid = l.networks.fsid ?? randomUUID();
  await mkdir(l.logDir, { recursive: true, mode: 0o700 });
  await mkdir(l.runDir, { recursive: true, mode: 0o700 });
  const osdHosts = Math.min(o.osds, l.cluster.spec.nodes);
  await writeClusterConf(l, { fsid, osdSizeBytes: o.osdSizeBytes, osdHosts });
  o.progress(`ceph: new cluster ${fsid}, conf ${l.conf}`);

  // Every monitor's store holds the mon. key and client.admin from the start, and the same
  // monmap: they find each other and form a quorum without being added one by one.
  await writeKeyring(admin.keyring, `client.${ADMIN_CLIENT}`, await genKey(), { mon: ALL, osd: ALL, mds: ALL, mgr: ALL });
  const seedKeyring = join(l.dir, 'mon-seed.keyring');
  const monmap = join(l.dir, 'monmap');
  await writeKeyring(seedKeyring, 'mon.', await genKey(), { mon: ALL });
  await importKeyring(seedKeyring, admin.keyring);
  await createMonmap(monmap, fsid, l.networks.monitors);
  for (const mon of l.mons) {
    await mkdir(l.dataDir(mon), { recursive: true, mode: 0o700 });
    await mkfsMon(l.conf, mon.id, monmap, seedKeyring);
  }
  await rm(seedKeyring);
  await rm(monmap);
  for (const mon of l.mons) spawnDaemon(l, mon);
  await waitForMon(l, admin, o.timeoutMs);
  for (const m of l.networks.monitors) o.progress(`ceph: mon.${m.name} up at ${m.address} (${l.cluster.lab.nodeNetns(m.node)})`);

  await startWithKey(l, admin, l.mgr, DAEMON_CAPS.mgr);
  o.progress(`ceph: ${daemonName(l.mgr)} started`);

  for (let i = 0; i < o.osds; i++) {
    const uuid = randomUUID();
    const key = await genKey();
    const { osdid } = await ceph<{ osdid: number }>(['osd', 'new', uuid, '-i', '-'], admin, { input: JSON.stringify({ cephx_secret: key }) });
    const osd = l.osd(osdid);
    const dir = l.dataDir(osd);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeKeyring(join(dir, 'keyring'), `osd.${osdid}`, key);
    await mkfsOsd(l.conf, osdid, uuid);
    const host = l.cluster.nodeName(osd.node);
    await ceph(['osd', 'crush', 'add', `osd.${osdid}`, crushWeight(o.osdSizeBytes), `host=${host}`, 'root=default'], admin);
    spawnDaemon(l, osd);
    o.progress(`ceph: ${daemonName(osd)} started on ${host} (BlueStore on ${join(dir, 'block')})`);
  }

  await ceph(['osd', 'pool', 'create', RBD_POOL, '16', '16', 'replicated'], admin);
  await rbd(['pool', 'init', RBD_POOL], admin, { timeoutMs: o.timeoutMs });
  await ceph(['osd', 'pool', 'create', FS_METADATA_POOL, '8', '8', 'replicated'], admin);
  await ceph(['osd', 'pool', 'create', FS_DATA_POOL, '16', '16', 'replicated'], admin);
  await ceph(['fs', 'new', FS_NAME, FS_METADATA_POOL, FS_DATA_POOL], admin);
  o.progress(`ceph: pool ${RBD_POOL} (RBD), file system ${FS_NAME} (pools ${FS_METADATA_POOL}, ${FS_DATA_POOL})`);

  await startWithKey(l, admin, l.mds, DAEMON_CAPS.mds);
  o.progress(`ceph: ${daemonName(l.mds)} started`);

  const [driver] = await ceph<{ key: string }[]>(['auth', 'get-or-create', `client.${DRIVER_CLIENT}`, ...Object.entries(DRIVER_CAPS).flat()], admin);
  await writeKeyring(l.keyring(DRIVER_CLIENT), `client.${DRIVER_CLIENT}`, driver.key);
  await writeFile(l.completeMarker, `${fsid}\n`);
}

/** Gets the daemon's key from the mon into its data dir, and starts it. */
async function startWithKey(l: CephLayout, admin: CephAuth, d: DaemonPlace, caps: Record<string, string>): Promise<void> {
  const [entry] = await ceph<{ key: string }[]>(['auth', 'get-or-create', daemonName(d), ...Object.entries(caps).flat()], admin);
  const dir = l.dataDir(d);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeKeyring(join(dir, 'keyring'), daemonName(d), entry.key);
  spawnDaemon(l, d);
}
