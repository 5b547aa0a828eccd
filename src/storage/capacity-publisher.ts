/**
 * Storage capacity tracking, as external-provisioner's capacity controller does it in its
 * distributed mode: for every StorageClass of a node-scoped driver, one CSIStorageCapacity
 * object per node (namespace kube-system, topology `kubernetes.io/hostname=<node>`) holding
 * GetCapacity's answer, which the scheduler checks before it picks the node for a new volume.
 *
 * Refreshed every 10 s, written only when the figure moved by more than 64 MiB or 1 % (free
 * space shifts all the time with logs and images), and at once after this node made, grew or
 * removed a volume. Objects carry upstream's labels (drivername, managed-by) and the Node as
 * owner, so they go with the node; ones for classes that no longer exist are removed.
 */
import { type Client, isAlreadyExists, isNotFound, type Logger, type SharedInformerFactory } from '../client/index.js';
import { binaryQuantity } from '../agent/node/quantity.js';
import { parseQuantity } from '../registry/validation.js';
import type { KubeObject } from '../util/object.js';
import { CSI_STORAGE_CAPACITIES, type StorageClass, STORAGE_CLASSES } from './api.js';
import { CSI_PARAMETER_PREFIX, type StorageDriver, type Topology } from './driver.js';

export const CAPACITY_NAMESPACE = 'kube-system';
const DRIVER_LABEL = 'csi.storage.k8s.io/drivername';
const MANAGED_BY_LABEL = 'csi.storage.k8s.io/managed-by';
const REFRESH_MS = 10_000;
const MIN_CHANGE_BYTES = 64 * 1024 * 1024;

interface CapacityObject extends KubeObject {
  storageClassName?: string;
  capacity?: string;
  maximumVolumeSize?: string;
}

export interface CapacityPublisherOptions {
  client: Client;
  informers: SharedInformerFactory;
  logger: Logger;
  driver: StorageDriver;
  node: { name: string; uid: () => string | undefined; topology: () => Topology };
}

const moved = (a: unknown, b: number) => {
  const old = parseQuantity(a);
  return !Number.isFinite(old) || Math.abs(old - b) >= Math.max(MIN_CHANGE_BYTES, old * 0.01);
};

export class CapacityPublisher {
  private readonly classes;
  private readonly capacities;
  private readonly managedBy: string;
  private timer?: NodeJS.Timeout;
  private running: Promise<void> = Promise.resolve();
  private force = true;

  constructor(private readonly o: CapacityPublisherOptions) {
    this.classes = o.informers.forResource<StorageClass>(STORAGE_CLASSES);
    this.capacities = o.informers.forResource<CapacityObject>(CSI_STORAGE_CAPACITIES, { namespace: CAPACITY_NAMESPACE });
    this.managedBy = `external-provisioner-${o.node.name}`;
    this.classes.addEventHandler({ onAdd: () => this.kick(), onDelete: () => this.kick() });
  }

  start(): void {
    this.kick();
    this.timer = setInterval(() => this.kick(false), REFRESH_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** Publishes again (`force`: whatever the change). Calls are serialized. */
  kick(force = true): void {
    if (force) this.force = true;
    this.running = this.running.then(() => this.sync()).catch((e: Error) => this.o.logger({ level: 'warn', msg: 'could not publish storage capacity', error: e.message }));
  }

  private nameFor(className: string): string {
    const name = `${className}-${this.o.node.name}`;
    return name.length <= 253 ? name : name.slice(0, 253);
  }

  private async sync(): Promise<void> {
    if (!this.classes.hasSynced() || !this.capacities.hasSynced()) return;
    const force = this.force;
    this.force = false;
    const api = this.o.client.resource<CapacityObject>(CSI_STORAGE_CAPACITIES);
    const topology = this.o.node.topology();
    const wanted = new Set<string>();
    for (const sc of this.classes.store.list()) {
      if (sc.provisioner !== this.o.driver.provisioner) continue;
      // Every class of the driver gets its figure, also one with parameters the driver refuses:
      // its claims then reach the provisioner, whose event names the bad parameter.
      const params = Object.fromEntries(Object.entries(sc.parameters ?? {}).filter(([k]) => !k.startsWith(CSI_PARAMETER_PREFIX)));
      const name = this.nameFor(sc.metadata.name!);
      wanted.add(name);
      const cap = await this.o.driver.controller.getCapacity(params, topology);
      const have = this.capacities.store.getByName(name, CAPACITY_NAMESPACE);
      if (have && !force && !moved(have.capacity, cap.availableBytes)) continue;
      const body: CapacityObject = {
        apiVersion: 'storage.k8s.io/v1',
        kind: 'CSIStorageCapacity',
        metadata: {
          name,
          namespace: CAPACITY_NAMESPACE,
          labels: { [DRIVER_LABEL]: this.o.driver.name, [MANAGED_BY_LABEL]: this.managedBy },
          ...(this.o.node.uid() ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.o.node.name, uid: this.o.node.uid()! }] } : {}),
        },
        nodeTopology: { matchLabels: topology },
        storageClassName: sc.metadata.name,
        capacity: binaryQuantity(cap.availableBytes),
        maximumVolumeSize: binaryQuantity(cap.maximumVolumeBytes),
      };
      if (have) {
        if (have.capacity === body.capacity && have.maximumVolumeSize === body.maximumVolumeSize) continue;
        await api.update({ ...have, capacity: body.capacity, maximumVolumeSize: body.maximumVolumeSize }, { namespace: CAPACITY_NAMESPACE }).catch((e) => {
          if (!isNotFound(e)) throw e;
        });
      } else {
        await api.create(body, { namespace: CAPACITY_NAMESPACE }).catch((e) => {
          if (!isAlreadyExists(e)) throw e;
        });
      }
    }
    for (const c of this.capacities.store.list()) {
      if (c.metadata.labels?.[MANAGED_BY_LABEL] !== this.managedBy || wanted.has(c.metadata.name!)) continue;
      await api.delete(c.metadata.name!, { namespace: CAPACITY_NAMESPACE }).catch((e) => {
        if (!isNotFound(e)) throw e;
      });
    }
  }
}
