/**
 * The node agent's storage: the `cairn.io/local` driver on this node's disk (images under
 * DATA/storage/local), the persistentVolumeClaim volume plugin that stages and publishes CSI
 * volumes for pods, and — because local volumes live on one node — the provisioner, resizer and
 * capacity publisher for the volumes of this node, and the snapshotter for their snapshots.
 * The Ceph drivers' node services (and the node step of RBD expansion) run here too; their
 * controller calls run once for the cluster (cluster-storage.ts).
 *
 * At start, before any pod is synced, volumes left staged by an earlier agent that no pod on the
 * node uses any more are unstaged (their loop devices detached), and half-made images removed.
 */
import { join } from 'node:path';
import type { Client, Logger, RunningController, SharedInformerFactory } from '../client/index.js';
import { EventRecorder } from '../controllers/events.js';
import { NODES } from '../controllers/util/nodes.js';
import { CsiVolumes } from '../agent/volumes/csi-volumes.js';
import { persistentClaimPlugin } from '../agent/volumes/persistent-claim.js';
import type { VolumePlugin } from '../agent/volumes/plugin.js';
import { collectClaimStats, renderClaimStats } from '../agent/volumes/volume-stats.js';
import type { KubeObject } from '../util/object.js';
import { PVCS, pvSpec, PVS, type PVSpec } from './api.js';
import { CapacityPublisher } from './capacity-publisher.js';
import type { StorageDriver, Topology } from './driver.js';
import { localDriver } from './local/local-driver.js';
import { LocalVolumeStore } from './local/volume-store.js';
import { LOCAL_TOPOLOGY_KEY } from './names.js';
import { stagingDir, stagingPathIn } from './node-paths.js';
import { ClaimProvisioner } from './provisioner.js';
import { VolumeResizer } from './resizer.js';
import { cephfsDriver, rbdDriver } from './ceph/ceph-drivers.js';
import { readSecretRef, type SecretRef } from './csi-secrets.js';
import { Snapshotter } from './snapshotter.js';

export interface NodeStorageOptions {
  client: Client;
  informers: SharedInformerFactory;
  /** The kubelet's recorder (events of the node side: mounts, filesystem resizes). */
  recorder: EventRecorder;
  logger: Logger;
  nodeName: string;
  /** The agent's data dir and its pods dir. */
  dataDir: string;
  podsDir: string;
}

export class NodeStorage {
  readonly volumePlugin: VolumePlugin;
  private readonly drivers: Map<string, StorageDriver>;
  private readonly store: LocalVolumeStore;
  private readonly csi: CsiVolumes;
  private readonly provisioner: ClaimProvisioner;
  private readonly resizer: VolumeResizer;
  private readonly rbdResizer: VolumeResizer;
  private readonly capacity: CapacityPublisher;
  private readonly snapshotter: Snapshotter;
  private readonly ac = new AbortController();
  private controllers: RunningController[] = [];

  constructor(private readonly o: NodeStorageOptions) {
    this.store = new LocalVolumeStore(join(o.dataDir, 'storage', 'local'));
    const driver = localDriver(this.store);
    // The Ceph drivers' node services: their controller calls run in the controller manager.
    const rbd = rbdDriver();
    this.drivers = new Map([driver, rbd, cephfsDriver()].map((d) => [d.name, d]));
    const nodes = o.informers.forResource<KubeObject>(NODES);
    const pvcs = o.informers.forResource<KubeObject>(PVCS);
    const pvs = o.informers.forResource<KubeObject>(PVS);
    const self = () => nodes.store.get(o.nodeName);
    const labels = () => self()?.metadata.labels ?? {};
    const topology = (): Topology => ({ [LOCAL_TOPOLOGY_KEY]: labels()[LOCAL_TOPOLOGY_KEY] ?? o.nodeName });
    const node = { name: o.nodeName, labels, topology, uid: () => self()?.metadata.uid };
    const log: Logger = (e) => o.logger({ ...e, component: 'storage', node: o.nodeName });
    const onChange = () => this.capacity.kick();
    const stagingPath = (pv: KubeObject) => {
      const s: PVSpec = pvSpec(pv);
      return stagingPathIn(stagingDir(o.dataDir, s.csi!.driver, s.csi!.volumeHandle), s.volumeMode === 'Block' ? 'Block' : 'Filesystem');
    };

    this.csi = new CsiVolumes({
      dataDir: o.dataDir,
      podsDir: o.podsDir,
      drivers: this.drivers,
      logger: log,
      onStaged: (claim) => {
        this.resizer.kick(claim);
        this.rbdResizer.kick(claim);
      },
      nodeStageSecrets: (pv) => readSecretRef(o.client, (pvSpec(pv).csi as { nodeStageSecretRef?: SecretRef } | undefined)?.nodeStageSecretRef),
    });
    this.volumePlugin = persistentClaimPlugin({ claim: (ns, name) => pvcs.store.getByName(name, ns), volume: (name) => pvs.store.get(name) }, this.csi);
    this.provisioner = new ClaimProvisioner({
      client: o.client,
      informers: o.informers,
      recorder: new EventRecorder(o.client, `${driver.provisioner}_${o.nodeName}`, log),
      logger: log,
      driver,
      node,
      onChange,
    });
    this.resizer = new VolumeResizer({
      client: o.client,
      informers: o.informers,
      recorder: new EventRecorder(o.client, `external-resizer ${driver.name}`, log),
      kubeletRecorder: o.recorder,
      logger: log,
      driver,
      node,
      stagingPath,
      onChange,
    });
    // RBD volumes grow on the cluster, then their filesystem on the node that has them staged.
    this.rbdResizer = new VolumeResizer({
      client: o.client,
      informers: o.informers,
      recorder: new EventRecorder(o.client, `external-resizer ${rbd.name}`, log),
      kubeletRecorder: o.recorder,
      logger: log,
      driver: rbd,
      node,
      steps: 'node',
      stagingPath,
    });
    this.capacity = new CapacityPublisher({ client: o.client, informers: o.informers, logger: log, driver, node });
    this.snapshotter = new Snapshotter({ client: o.client, informers: o.informers, recorder: new EventRecorder(o.client, `csi-snapshotter ${driver.name}`, log), logger: log, driver, nodeName: o.nodeName });
  }

  /** Call once the informers have synced, before the pod loop starts. */
  async start(): Promise<void> {
    await this.store.init();
    const unstaged = await this.csi.cleanupStaged();
    if (unstaged.length) this.o.logger({ level: 'info', msg: 'unstaged volumes no pod uses', volumes: unstaged });
    this.controllers = [this.provisioner.start(this.ac.signal), this.resizer.start(this.ac.signal), this.rbdResizer.start(this.ac.signal), this.snapshotter.start(this.ac.signal)];
    this.capacity.start();
  }

  async stop(): Promise<void> {
    this.ac.abort();
    await Promise.all(this.controllers.map((c) => c.stop()));
    await this.capacity.stop();
  }

  /** kubelet_volume_stats_* for the claims mounted on this node. */
  async metrics(): Promise<string> {
    return renderClaimStats(await collectClaimStats(this.csi, this.drivers, this.o.logger));
  }
}
