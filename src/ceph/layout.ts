/**
 * Where a `cairn ceph up` cluster lives inside its Cairn cluster's data dir, and where each
 * daemon runs. Everything is under DIR/ceph, so `cairn down --purge` removes it with the rest:
 *
 *   DIR/ceph/ceph.conf                    the conf every daemon and client reads
 *   DIR/ceph/ceph.client.admin.keyring    client.admin's key (0600); also ceph.client.cairn.keyring
 *   DIR/ceph/mon-node-1/ mgr-node-1/ mds-node-N/ osd-K/   each daemon's data dir and keyring
 *   DIR/ceph/osd-K/block                  the OSD's BlueStore device: a sparse file
 *   DIR/ceph/log/<type>.<id>.log          each daemon's log (and the cluster log ceph.log)
 *   DIR/ceph/run/                         admin sockets
 *   DIR/ceph/complete                     written last by the bootstrap: the cluster is whole
 *
 * Placement: the monitors where its networks put them (networks.ts: mon.node-1 on the underlay,
 * or one on each node a fabric topology names), the mgr on node-1, the MDS on node-2 (node-1 on
 * a 1-node cluster), OSD K on node-(K mod N + 1); each daemon binds to its node's address on the
 * public network (and an OSD also on the cluster network). It is a function of the node count
 * and the networks alone, so a stopped cluster is started again without a record of it.
 */
import { join } from 'node:path';
import type { ClusterLayout } from '../cluster/layout.js';
import type { DaemonType } from './ceph-cli.js';
import { cephNetworks, type CephNetworks, underlayNetworks } from './networks.js';

export const RBD_POOL = 'cairn-rbd';
export const FS_NAME = 'cairnfs';
export const FS_METADATA_POOL = `${FS_NAME}-metadata`;
export const FS_DATA_POOL = `${FS_NAME}-data`;
/** The least-privilege client the storage drivers use. */
export const DRIVER_CLIENT = 'cairn';
export const ADMIN_CLIENT = 'admin';
export const MSGR1_PORT = 6789;

export interface DaemonPlace {
  type: DaemonType;
  id: string;
  /** 1-based node index. */
  node: number;
}

export const daemonName = (d: { type: DaemonType; id: string }) => `${d.type}.${d.id}`;

export class CephLayout {
  readonly networks: CephNetworks;

  constructor(
    readonly cluster: ClusterLayout,
    networks?: CephNetworks,
  ) {
    this.networks = networks ?? underlayNetworks(cluster);
  }

  /** The layout with the cluster's own networks: its fabric topology's when it stands on one. */
  static async of(cluster: ClusterLayout): Promise<CephLayout> {
    return new CephLayout(cluster, await cephNetworks(cluster));
  }

  get dir(): string {
    return join(this.cluster.dataDir, 'ceph');
  }
  get conf(): string {
    return join(this.dir, 'ceph.conf');
  }
  keyring(clientId: string): string {
    return join(this.dir, `ceph.client.${clientId}.keyring`);
  }
  get logDir(): string {
    return join(this.dir, 'log');
  }
  get runDir(): string {
    return join(this.dir, 'run');
  }
  get completeMarker(): string {
    return join(this.dir, 'complete');
  }
  dataDir(d: { type: DaemonType; id: string }): string {
    return join(this.dir, `${d.type}-${d.id}`);
  }
  log(d: { type: DaemonType; id: string }): string {
    return join(this.logDir, `${daemonName(d)}.log`);
  }
  /** The daemon's admin socket (the default $run_dir/$cluster-$name.asok). */
  asok(d: { type: DaemonType; id: string }): string {
    return join(this.runDir, `ceph-${daemonName(d)}.asok`);
  }
  netns(d: DaemonPlace): string {
    return this.cluster.lab.nodeNetns(d.node);
  }

  get mons(): DaemonPlace[] {
    return this.networks.monitors.map((m) => ({ type: 'mon', id: m.name, node: m.node }));
  }
  get mgr(): DaemonPlace {
    return { type: 'mgr', id: this.cluster.nodeName(1), node: 1 };
  }
  get mds(): DaemonPlace {
    const node = Math.min(2, this.cluster.spec.nodes);
    return { type: 'mds', id: this.cluster.nodeName(node), node };
  }
  osd(id: number): DaemonPlace {
    return { type: 'osd', id: String(id), node: (id % this.cluster.spec.nodes) + 1 };
  }
  /** `mon` addresses as clients name them (msgr1 port: every client speaks it). */
  get monitors(): string[] {
    return this.networks.monitors.map((m) => `${m.address}:${MSGR1_PORT}`);
  }
}
