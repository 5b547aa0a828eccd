/**
 * The snapshotter sidecar (upstream kubernetes-csi/external-snapshotter pkg/sidecar-controller)
 * for one StorageDriver: it acts on the VolumeSnapshotContents whose spec.driver is the driver's.
 *
 * - Dynamic (spec.source.volumeHandle): CreateSnapshot named after the content (the idempotency
 *   key), then status.snapshotHandle, readyToUse, restoreSize (bytes) and creationTime (ns since
 *   the epoch); asked again while not ready. A failure goes to status.error and an event, and is
 *   retried with back-off.
 * - Pre-provisioned (spec.source.snapshotHandle): status from the handle — ready, as upstream
 *   reports a driver without ListSnapshots.
 * - Deletion: a content being deleted that the snapshot controller released (the
 *   volumesnapshot-being-deleted annotation), or a pre-provisioned one never bound, gets
 *   DeleteSnapshot when its deletionPolicy is Delete, then loses its finalizer.
 *
 * For a node-scoped driver (`cairn.io/local`) each node's agent runs one limited to the contents
 * labelled `snapshot.storage.kubernetes.io/managed-by: <node>` — upstream's distributed
 * snapshotting, the label the snapshot controller puts on snapshots of node-local volumes.
 */
import { type Client, finalStateOf, isConflict, isNotFound, type Logger, type RunningController, runController, type SharedInformerFactory, WorkQueue } from '../client/index.js';
import type { EventRecorder } from '../controllers/events.js';
import { rfc3339 } from '../controllers/snapshot-rules.js';
import { CSI_PARAMETER_PREFIX, type Secrets, type StorageDriver } from './driver.js';
import { classSecretRef, readSecret } from './csi-secrets.js';
import { asStorageError } from './errors.js';
import { ANN_SNAPSHOT_BEING_DELETED, CONTENT_FINALIZER, LABEL_MANAGED_BY, VOLUME_SNAPSHOT_CLASSES, VOLUME_SNAPSHOT_CONTENTS, type VolumeSnapshotClass, type VolumeSnapshotContent } from './snapshot-api.js';

export interface SnapshotterOptions {
  informers: SharedInformerFactory;
  client: Client;
  recorder: EventRecorder;
  logger: Logger;
  driver: StorageDriver;
  /** For a node-scoped driver: the node whose contents this sidecar handles. */
  nodeName?: string;
}

const CONFLICT_RETRY_MS = 100;

/** upstream shouldDelete. */
function shouldDelete(c: VolumeSnapshotContent): boolean {
  if (!c.metadata.deletionTimestamp) return false;
  if (c.spec?.source?.snapshotHandle && !c.spec.volumeSnapshotRef?.uid) return true;
  return c.metadata.annotations?.[ANN_SNAPSHOT_BEING_DELETED] === 'yes';
}

export class Snapshotter {
  private readonly contents;
  private readonly classes;
  private readonly queue = new WorkQueue<string>({ name: 'csi-snapshotter' });

  constructor(private readonly o: SnapshotterOptions) {
    this.contents = o.informers.forResource<VolumeSnapshotContent>(VOLUME_SNAPSHOT_CONTENTS);
    this.classes = o.informers.forResource<VolumeSnapshotClass>(VOLUME_SNAPSHOT_CLASSES);
    const add = (c: VolumeSnapshotContent) => this.mine(c) && this.queue.add(c.metadata.name!);
    this.contents.addEventHandler({ onAdd: add, onUpdate: (_o, c) => add(c), onDelete: (d) => add(finalStateOf(d)) });
    this.classes.onAdd(() => {
      for (const c of this.contents.store.list()) if (this.mine(c) && !c.status?.readyToUse) this.queue.add(c.metadata.name!);
    });
  }

  start(signal: AbortSignal): RunningController {
    return runController({
      name: `csi-snapshotter(${this.o.driver.name})`,
      queue: this.queue,
      reconcile: async (name) => {
        try {
          return await this.sync(name);
        } catch (e) {
          if (isConflict(e)) return { requeueAfterMs: CONFLICT_RETRY_MS };
          if (isNotFound(e)) return;
          throw e;
        }
      },
      informers: [this.contents, this.classes],
      workers: 2,
      signal,
      logger: this.o.logger,
    });
  }

  private mine(c: VolumeSnapshotContent): boolean {
    return c.spec?.driver === this.o.driver.name && (!this.o.nodeName || c.metadata.labels?.[LABEL_MANAGED_BY] === this.o.nodeName);
  }

  private async sync(name: string): Promise<void> {
    const c = this.contents.store.get(name);
    if (!c || !this.mine(c)) return;
    if (c.metadata.deletionTimestamp) {
      if (shouldDelete(c) && c.metadata.finalizers?.includes(CONTENT_FINALIZER)) await this.delete(c);
      return;
    }
    if (c.status?.readyToUse) return;
    if (c.spec?.source?.snapshotHandle) return this.preProvisioned(c, c.spec.source.snapshotHandle);
    if (c.spec?.source?.volumeHandle) return this.create(c, c.spec.source.volumeHandle);
  }

  private async preProvisioned(c: VolumeSnapshotContent, handle: string): Promise<void> {
    await this.setStatus(c, { snapshotHandle: handle, readyToUse: true, creationTime: Date.now() * 1e6, restoreSize: c.status?.restoreSize ?? 0 });
  }

  private async create(c: VolumeSnapshotContent, volumeId: string): Promise<void> {
    const api = this.o.driver.controller;
    const className = c.spec?.volumeSnapshotClassName;
    const cls = className ? this.classes.store.get(className) : undefined;
    if (!api.createSnapshot) return this.fail(c, `driver ${this.o.driver.name} does not support snapshots`);
    if (!cls) return this.fail(c, `failed to get input parameters to create snapshot for content ${c.metadata.name}: volumesnapshotclass.snapshot.storage.k8s.io "${className ?? ''}" not found`);
    const parameters = Object.fromEntries(Object.entries(cls.parameters ?? {}).filter(([k]) => !k.startsWith(CSI_PARAMETER_PREFIX)));
    let made;
    try {
      const secrets = await this.secrets(cls);
      made = await api.createSnapshot({ name: c.metadata.name!, sourceVolumeId: volumeId, parameters, ...(secrets ? { secrets } : {}) });
    } catch (e) {
      await this.fail(c, `failed to take snapshot of the volume ${volumeId}: ${asStorageError(e).message}`);
      throw e;
    }
    await this.setStatus(c, {
      snapshotHandle: made.snapshotId,
      readyToUse: made.readyToUse,
      restoreSize: made.sizeBytes,
      creationTime: made.creationTime.getTime() * 1e6,
    });
  }

  /** The class's snapshotter secret (`csi.storage.k8s.io/snapshotter-secret-*`), as the CSI calls get it. */
  private async secrets(cls: VolumeSnapshotClass | undefined): Promise<Secrets | undefined> {
    const ref = classSecretRef(cls?.parameters, 'snapshotter');
    return ref && readSecret(this.o.client, ref);
  }

  private async fail(c: VolumeSnapshotContent, message: string): Promise<void> {
    this.o.recorder.event(c, 'Warning', 'SnapshotCreationFailed', `Failed to create snapshot: ${message}`);
    if (c.status?.error?.message === message) return;
    await this.setStatus(c, { ...c.status, readyToUse: false, error: { message, time: rfc3339(new Date()) } });
  }

  private async setStatus(c: VolumeSnapshotContent, status: NonNullable<VolumeSnapshotContent['status']>): Promise<void> {
    await this.o.client.resource<VolumeSnapshotContent>(VOLUME_SNAPSHOT_CONTENTS).updateStatus({ ...c, status });
  }

  /** upstream deleteCSISnapshotOperation: the backing snapshot (policy Delete), then the finalizer. */
  private async delete(c: VolumeSnapshotContent): Promise<void> {
    const handle = c.status?.snapshotHandle ?? c.spec?.source?.snapshotHandle;
    if (c.spec?.deletionPolicy === 'Delete' && handle) {
      if (!this.o.driver.controller.deleteSnapshot) throw new Error(`driver ${this.o.driver.name} cannot delete snapshots`);
      try {
        const className = c.spec?.volumeSnapshotClassName;
        await this.o.driver.controller.deleteSnapshot(handle, await this.secrets(className ? this.classes.store.get(className) : undefined));
      } catch (e) {
        this.o.recorder.event(c, 'Warning', 'SnapshotDeleteError', `Failed to delete snapshot: ${asStorageError(e).message}`);
        throw e;
      }
    }
    const finalizers = (c.metadata.finalizers ?? []).filter((f) => f !== CONTENT_FINALIZER);
    await this.o.client.resource<VolumeSnapshotContent>(VOLUME_SNAPSHOT_CONTENTS).update({ ...c, metadata: { ...c.metadata, finalizers } });
  }
}
