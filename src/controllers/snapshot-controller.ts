/**
 * The common snapshot controller (upstream kubernetes-csi/external-snapshotter
 * pkg/common-controller): it binds VolumeSnapshots to VolumeSnapshotContents, both ways, and
 * leaves the driver calls to each driver's snapshotter sidecar (src/storage/snapshotter.ts).
 *
 * - Dynamic: a snapshot of a Bound claim (class named, or the class annotated default for the
 *   claim's volume driver) gets a content `snapcontent-<snapshot uid>` naming the volume handle,
 *   driver, class and its deletionPolicy, pointing back at the snapshot by uid. A volume with node
 *   affinity (a node-local volume) also gets upstream's distributed-snapshotting label
 *   `snapshot.storage.kubernetes.io/managed-by: <node>`, so only that node's sidecar takes it.
 * - Pre-provisioned: a snapshot naming a content whose volumeSnapshotRef names it gets bound (the
 *   content's ref gains the snapshot's uid).
 * - Status: readyToUse, restoreSize, creationTime and error copied from the content's status.
 * - Finalizers: as-source on every snapshot (released once no Pending claim restores from it),
 *   bound on a snapshot whose content has deletionPolicy Delete (released once the content is
 *   gone), the content's own (released by the sidecar), and the claim's while a snapshot of it is
 *   being taken.
 * - Deletion: deleting a snapshot marks its content `volumesnapshot-being-deleted` and, with
 *   Delete, deletes the content (the sidecar deletes the backing snapshot, then lets it go); with
 *   Retain the content and data stay. A bound content whose snapshot vanished is deleted with Delete.
 * - Errors (missing claim, unbound claim, missing class, class of another driver, ...) go to
 *   status.error and a Warning event, and the snapshot is retried when the objects change.
 */
import { finalStateOf, isAlreadyExists, isConflict, isNotFound, type Informer, runController, WorkQueue } from '../client/index.js';
import { isClaimBound, PVCS, pvSpec, PVS } from '../storage/api.js';
import {
  ANN_SNAPSHOT_BEING_DELETED,
  boundContentName,
  claimDataSource,
  CONTENT_FINALIZER,
  contentPointsTo,
  dynamicContentName,
  isSnapshotReady,
  isSnapshotSource,
  LABEL_MANAGED_BY,
  PVC_AS_SOURCE_FINALIZER,
  SNAPSHOT_AS_SOURCE_FINALIZER,
  SNAPSHOT_BOUND_FINALIZER,
  snapshotKeyOf,
  VOLUME_SNAPSHOT_CLASSES,
  VOLUME_SNAPSHOT_CONTENTS,
  VOLUME_SNAPSHOTS,
  type VolumeSnapshot,
  type VolumeSnapshotClass,
  type VolumeSnapshotContent,
} from '../storage/snapshot-api.js';
import type { KubeObject } from '../util/object.js';
import type { ControllerContext, ControllerSpec } from './context.js';
import type { EventRecorder } from './events.js';
import { defaultSnapshotClass, isBeingRestored, isClaimBeingSnapshotted, rfc3339, SnapshotRuleError, snapshotStatusFromContent } from './snapshot-rules.js';
import { nodeSelectorTermMatchesNode } from './util/node-fit.js';
import { NODES } from './util/nodes.js';

const CONFLICT_RETRY_MS = 100;
/** A snapshot whose deletion waits for a restore: looked at again this often (claim events also wake it). */
const RESTORE_WAIT_MS = 5_000;

type Result = { requeueAfterMs?: number } | void;

class SnapshotController {
  private readonly snapshots: Informer<VolumeSnapshot>;
  private readonly contents: Informer<VolumeSnapshotContent>;
  private readonly classes: Informer<VolumeSnapshotClass>;
  private readonly pvcs: Informer<KubeObject>;
  private readonly pvs: Informer<KubeObject>;
  private readonly nodes: Informer<KubeObject>;
  readonly queue = new WorkQueue<string>({ name: 'snapshot-controller' });
  private readonly recorder: EventRecorder;

  constructor(private readonly ctx: ControllerContext) {
    this.recorder = ctx.recorder('snapshot-controller');
    this.snapshots = ctx.informers.forResource<VolumeSnapshot>(VOLUME_SNAPSHOTS);
    this.contents = ctx.informers.forResource<VolumeSnapshotContent>(VOLUME_SNAPSHOT_CONTENTS);
    this.classes = ctx.informers.forResource<VolumeSnapshotClass>(VOLUME_SNAPSHOT_CLASSES);
    this.pvcs = ctx.informers.forResource<KubeObject>(PVCS);
    this.pvs = ctx.informers.forResource<KubeObject>(PVS);
    this.nodes = ctx.informers.forResource<KubeObject>(NODES);
    const snap = (s: KubeObject) => this.queue.add(`snapshot:${snapshotKeyOf(s)}`);
    this.snapshots.addEventHandler({ onAdd: snap, onUpdate: (_o, s) => snap(s), onDelete: (d) => this.claimOfDeleted(finalStateOf(d)) });
    const content = (c: VolumeSnapshotContent) => {
      this.queue.add(`content:${c.metadata.name}`);
      const r = c.spec?.volumeSnapshotRef;
      if (r?.namespace && r.name) this.queue.add(`snapshot:${r.namespace}/${r.name}`);
    };
    this.contents.addEventHandler({ onAdd: content, onUpdate: (_o, c) => content(c), onDelete: (d) => content(finalStateOf(d)) });
    // A claim becoming Bound lets a snapshot of it (or a restore from one) proceed.
    const claim = (c: KubeObject) => {
      for (const s of this.snapshots.store.byNamespace(c.metadata.namespace!)) {
        const src = claimDataSource(c);
        if (s.spec?.source?.persistentVolumeClaimName === c.metadata.name || (isSnapshotSource(src) && src?.name === s.metadata.name)) snap(s);
      }
    };
    this.pvcs.addEventHandler({ onAdd: claim, onUpdate: (_o, c) => claim(c), onDelete: (d) => claim(finalStateOf(d)) });
    this.classes.onAdd(() => {
      for (const s of this.snapshots.store.list()) if (!isSnapshotReady(s)) snap(s);
    });
  }

  start() {
    return runController({
      name: 'snapshot-controller',
      queue: this.queue,
      reconcile: (key) => this.reconcile(key),
      informers: [this.snapshots, this.contents, this.classes, this.pvcs, this.pvs, this.nodes],
      workers: 2,
      signal: this.ctx.signal,
      logger: this.ctx.logger,
    });
  }

  private async reconcile(key: string): Promise<Result> {
    try {
      if (key.startsWith('snapshot:')) return await this.syncSnapshot(key.slice(9));
      if (key.startsWith('claim:')) return await this.releaseClaim(key.slice(6));
      return await this.syncContent(key.slice(8));
    } catch (e) {
      if (isConflict(e)) return { requeueAfterMs: CONFLICT_RETRY_MS };
      if (isNotFound(e)) return;
      throw e;
    }
  }

  /** A deleted snapshot may have been the last one holding its claim. */
  private claimOfDeleted(s: VolumeSnapshot): void {
    const name = s.spec?.source?.persistentVolumeClaimName;
    const claim = name ? this.pvcs.store.getByName(name, s.metadata.namespace) : undefined;
    if (claim?.metadata.finalizers?.includes(PVC_AS_SOURCE_FINALIZER)) this.queue.add(`claim:${s.metadata.namespace}/${name}`);
  }

  private async syncSnapshot(key: string): Promise<Result> {
    const s = this.snapshots.store.get(key);
    if (!s) return;
    if (s.metadata.deletionTimestamp) return this.deleteSnapshot(s);
    if (isSnapshotReady(s)) await this.releaseClaimOf(s, false);
    if (!s.metadata.finalizers?.includes(SNAPSHOT_AS_SOURCE_FINALIZER)) return void (await this.setFinalizers(s, [...(s.metadata.finalizers ?? []), SNAPSHOT_AS_SOURCE_FINALIZER]));
    const content = this.contents.store.get(boundContentName(s) ?? '');
    if (content && contentPointsTo(content, s) && content.spec?.deletionPolicy === 'Delete' && !s.metadata.finalizers.includes(SNAPSHOT_BOUND_FINALIZER))
      return void (await this.setFinalizers(s, [...s.metadata.finalizers, SNAPSHOT_BOUND_FINALIZER]));
    try {
      if (isSnapshotReady(s) && s.status?.boundVolumeSnapshotContentName) return await this.syncReady(s);
      return await (s.spec?.source?.volumeSnapshotContentName ? this.syncPreProvisioned(s, s.spec.source.volumeSnapshotContentName) : this.syncDynamic(s));
    } catch (e) {
      if (!(e instanceof SnapshotRuleError)) throw e;
      await this.failed(s, e.reason, e.message);
    }
  }

  private async syncReady(s: VolumeSnapshot): Promise<void> {
    const c = this.contents.store.get(s.status!.boundVolumeSnapshotContentName!);
    if (!c) throw new SnapshotRuleError('SnapshotContentMissing', 'VolumeSnapshotContent is missing');
    if (!contentPointsTo(c, s)) throw new SnapshotRuleError('SnapshotMisbound', 'VolumeSnapshotContent is not bound to the VolumeSnapshot correctly');
    await this.copyStatus(s, c);
  }

  private async syncPreProvisioned(s: VolumeSnapshot, name: string): Promise<void> {
    const c = this.contents.store.get(name);
    if (!c) throw new SnapshotRuleError('SnapshotContentMissing', 'VolumeSnapshotContent is missing');
    if (!c.spec?.source?.snapshotHandle) throw new SnapshotRuleError('SnapshotContentMismatch', 'VolumeSnapshotContent is dynamically provisioned while expecting a pre-provisioned one');
    const r = c.spec.volumeSnapshotRef ?? {};
    if (r.name !== s.metadata.name || r.namespace !== s.metadata.namespace || (r.uid && r.uid !== s.metadata.uid))
      throw new SnapshotRuleError('SnapshotContentMisbound', `VolumeSnapshotContent [${name}] is bound to a different snapshot`);
    if (!r.uid) {
      // Binding: the content learns which snapshot (by uid) it belongs to.
      const spec = { volumeSnapshotRef: { ...r, uid: s.metadata.uid }, ...(s.spec?.volumeSnapshotClassName ? { volumeSnapshotClassName: s.spec.volumeSnapshotClassName } : {}) };
      const bound = await this.ctx.client.resource<VolumeSnapshotContent>(VOLUME_SNAPSHOT_CONTENTS).patch(name, { spec }, 'merge');
      return this.copyStatus(s, bound);
    }
    await this.copyStatus(s, c);
  }

  private async syncDynamic(s: VolumeSnapshot): Promise<void> {
    const existing = this.contents.store.get(dynamicContentName(s));
    if (existing) {
      if (existing.spec?.source?.snapshotHandle)
        throw new SnapshotRuleError('SnapshotHandleSet', `Snapshot handle should not be set in content ${snapshotKeyOf(s)} for dynamic provisioning`);
      if (!contentPointsTo(existing, s)) throw new SnapshotRuleError('SnapshotContentMisbound', `VolumeSnapshotContent [${existing.metadata.name}] is bound to a different snapshot`);
      return this.copyStatus(s, existing);
    }
    const claimName = s.spec?.source?.persistentVolumeClaimName;
    if (!claimName) throw new SnapshotRuleError('SnapshotPVCSourceMissing', `PVC source for snapshot ${snapshotKeyOf(s)} is missing`);
    const { claim, pv, driver } = this.source(s, claimName);
    const cls = this.snapshotClass(s, driver);
    if (!s.spec?.volumeSnapshotClassName) {
      // upstream writes the default class into the snapshot first.
      await this.ctx.client.resource(VOLUME_SNAPSHOTS).patch(s.metadata.name!, { spec: { volumeSnapshotClassName: cls.metadata.name } }, 'merge', { namespace: s.metadata.namespace });
      return;
    }
    if (claim.metadata.deletionTimestamp) throw new SnapshotRuleError('SnapshotContentCreationFailed', `Failed to create snapshot content with error cannot add finalizer on claim ${claimName} because it is being deleted`);
    if (!claim.metadata.finalizers?.includes(PVC_AS_SOURCE_FINALIZER))
      await this.ctx.client.resource(PVCS).update({ ...claim, metadata: { ...claim.metadata, finalizers: [...(claim.metadata.finalizers ?? []), PVC_AS_SOURCE_FINALIZER] } });
    const node = this.managingNode(pv);
    const content: VolumeSnapshotContent = {
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshotContent',
      metadata: { name: dynamicContentName(s), ...(node ? { labels: { [LABEL_MANAGED_BY]: node } } : {}) },
      spec: {
        volumeSnapshotRef: { kind: 'VolumeSnapshot', apiVersion: 'snapshot.storage.k8s.io/v1', namespace: s.metadata.namespace, name: s.metadata.name, uid: s.metadata.uid, resourceVersion: s.metadata.resourceVersion },
        source: { volumeHandle: pvSpec(pv).csi!.volumeHandle },
        volumeSnapshotClassName: cls.metadata.name,
        deletionPolicy: cls.deletionPolicy ?? 'Delete',
        driver,
        ...(pvSpec(pv).volumeMode ? { sourceVolumeMode: pvSpec(pv).volumeMode } : {}),
      },
    };
    let made: VolumeSnapshotContent;
    try {
      made = await this.ctx.client.resource<VolumeSnapshotContent>(VOLUME_SNAPSHOT_CONTENTS).create(content);
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
      made = content;
    }
    this.recorder.event(s, 'Normal', 'CreatingSnapshot', `Waiting for a snapshot ${snapshotKeyOf(s)} to be created by the CSI driver.`);
    await this.copyStatus(s, made);
  }

  /** The claim, its bound CSI volume and that volume's driver. */
  private source(s: VolumeSnapshot, claimName: string): { claim: KubeObject; pv: KubeObject; driver: string } {
    const claim = this.pvcs.store.getByName(claimName, s.metadata.namespace);
    const noClass = !s.spec?.volumeSnapshotClassName;
    const fail = (msg: string) =>
      new SnapshotRuleError(noClass ? 'SetDefaultSnapshotClassFailed' : 'SnapshotContentCreationFailed', `${noClass ? 'Failed to set default snapshot class' : 'Failed to create snapshot content'} with error ${msg}`);
    if (!claim) throw fail(`failed to retrieve PVC ${claimName} from the lister: persistentvolumeclaim "${claimName}" not found`);
    if (!isClaimBound(claim) || (claim.status as { phase?: string } | undefined)?.phase !== 'Bound')
      throw fail(`the PVC ${claimName} is not yet bound to a PV, will not attempt to take a snapshot`);
    const pv = this.pvs.store.get((claim.spec as { volumeName: string }).volumeName);
    if (!pv || pvSpec(pv).claimRef?.uid !== claim.metadata.uid) throw fail('claim in dataSource not bound or invalid');
    if (!pvSpec(pv).csi) throw fail(`snapshotting non-CSI volumes is not supported, snapshot:${snapshotKeyOf(s)}`);
    return { claim, pv, driver: pvSpec(pv).csi!.driver };
  }

  private snapshotClass(s: VolumeSnapshot, driver: string): VolumeSnapshotClass {
    const name = s.spec?.volumeSnapshotClassName;
    if (!name) return defaultSnapshotClass(this.classes.store.list(), driver);
    const cls = this.classes.store.get(name);
    if (!cls) throw new SnapshotRuleError('SnapshotContentCreationFailed', `Failed to create snapshot content with error failed to get input parameters to create snapshot ${s.metadata.name}: volumesnapshotclass.snapshot.storage.k8s.io "${name}" not found`);
    if (cls.driver !== driver)
      throw new SnapshotRuleError('SnapshotContentCreationFailed', `Failed to create snapshot content with error VolumeSnapshotClass ${name} is for driver ${cls.driver}, but the volume of the snapshot's claim is of driver ${driver}`);
    return cls;
  }

  /** upstream getManagedByNode: the node a node-local volume's affinity selects. */
  private managingNode(pv: KubeObject): string | undefined {
    const terms = pvSpec(pv).nodeAffinity?.required?.nodeSelectorTerms;
    if (!terms?.length) return undefined;
    const names = this.nodes.store.list().filter((n) => terms.some((t) => nodeSelectorTermMatchesNode(t, n))).map((n) => n.metadata.name!).sort();
    return names[0];
  }

  private async copyStatus(s: VolumeSnapshot, c: VolumeSnapshotContent): Promise<void> {
    const change = snapshotStatusFromContent(s, c);
    if (!change) return;
    if (change.created) this.recorder.event(s, 'Normal', 'SnapshotCreated', `Snapshot ${snapshotKeyOf(s)} was successfully created by the CSI driver.`);
    if (change.ready) this.recorder.event(s, 'Normal', 'SnapshotReady', `Snapshot ${snapshotKeyOf(s)} is ready to use.`);
    await this.ctx.client.resource<VolumeSnapshot>(VOLUME_SNAPSHOTS).updateStatus({ ...s, status: change.status });
  }

  /** upstream updateSnapshotErrorStatusWithEvent: once per distinct message. */
  private async failed(s: VolumeSnapshot, reason: string, message: string): Promise<void> {
    if (s.status?.error?.message === message) return;
    this.recorder.event(s, 'Warning', reason, message);
    await this.ctx.client.resource<VolumeSnapshot>(VOLUME_SNAPSHOTS).updateStatus({ ...s, status: { ...s.status, readyToUse: false, error: { message, time: rfc3339(new Date()) } } });
  }

  private async setFinalizers(o: KubeObject, finalizers: string[]): Promise<void> {
    await this.ctx.client.resource(VOLUME_SNAPSHOTS).update({ ...o, metadata: { ...o.metadata, finalizers } });
  }

  /** upstream processSnapshotWithDeletionTimestamp + checkandRemoveSnapshotFinalizersAndCheckandDeleteContent. */
  private async deleteSnapshot(s: VolumeSnapshot): Promise<Result> {
    await this.releaseClaimOf(s, true);
    const fins = s.metadata.finalizers ?? [];
    if (!fins.includes(SNAPSHOT_AS_SOURCE_FINALIZER) && !fins.includes(SNAPSHOT_BOUND_FINALIZER)) return;
    let content = this.contents.store.get(boundContentName(s) ?? '');
    if (content && !contentPointsTo(content, s)) content = undefined;
    if (content && isBeingRestored(s, this.pvcs.store.byNamespace(s.metadata.namespace!))) {
      this.recorder.event(s, 'Warning', 'SnapshotDeletePending', 'Snapshot is being used to restore a PVC');
      return { requeueAfterMs: RESTORE_WAIT_MS };
    }
    const deleteContent = content?.spec?.deletionPolicy === 'Delete';
    const contents = this.ctx.client.resource<VolumeSnapshotContent>(VOLUME_SNAPSHOT_CONTENTS);
    if (content && content.metadata.annotations?.[ANN_SNAPSHOT_BEING_DELETED] !== 'yes')
      content = await contents.patch(content.metadata.name!, { metadata: { annotations: { [ANN_SNAPSHOT_BEING_DELETED]: 'yes' } } }, 'merge');
    if (content && deleteContent && !content.metadata.deletionTimestamp) {
      try {
        await contents.delete(content.metadata.name!);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    // The bound finalizer stays until the sidecar has deleted the backing snapshot and the content.
    const keepBound = !!content && deleteContent;
    const next = fins.filter((f) => f !== SNAPSHOT_AS_SOURCE_FINALIZER && (keepBound || f !== SNAPSHOT_BOUND_FINALIZER));
    if (next.length !== fins.length) await this.setFinalizers(s, next);
  }

  /** upstream checkandRemovePVCFinalizer: the claim's finalizer goes once no snapshot of it is being taken. */
  private async releaseClaimOf(s: VolumeSnapshot, skipThis: boolean): Promise<void> {
    const name = s.spec?.source?.persistentVolumeClaimName;
    if (!name) return;
    const claim = this.pvcs.store.getByName(name, s.metadata.namespace);
    if (!claim?.metadata.finalizers?.includes(PVC_AS_SOURCE_FINALIZER)) return;
    if (isClaimBeingSnapshotted(name, this.snapshots.store.byNamespace(s.metadata.namespace!), skipThis ? s : undefined)) return;
    await this.dropClaimFinalizer(claim);
  }

  private async releaseClaim(key: string): Promise<void> {
    const claim = this.pvcs.store.get(key);
    if (!claim?.metadata.finalizers?.includes(PVC_AS_SOURCE_FINALIZER)) return;
    if (isClaimBeingSnapshotted(claim.metadata.name!, this.snapshots.store.byNamespace(claim.metadata.namespace!))) return;
    await this.dropClaimFinalizer(claim);
  }

  private async dropClaimFinalizer(claim: KubeObject): Promise<void> {
    const finalizers = claim.metadata.finalizers!.filter((f) => f !== PVC_AS_SOURCE_FINALIZER);
    await this.ctx.client.resource(PVCS).update({ ...claim, metadata: { ...claim.metadata, finalizers } });
  }

  /** upstream syncContent: the content's finalizer, and a bound content whose snapshot is gone. */
  private async syncContent(name: string): Promise<Result> {
    const c = this.contents.store.get(name);
    if (!c || c.metadata.deletionTimestamp) return;
    const contents = this.ctx.client.resource<VolumeSnapshotContent>(VOLUME_SNAPSHOT_CONTENTS);
    if (!c.metadata.finalizers?.includes(CONTENT_FINALIZER)) {
      await contents.update({ ...c, metadata: { ...c.metadata, finalizers: [...(c.metadata.finalizers ?? []), CONTENT_FINALIZER] } });
      return;
    }
    const r = c.spec?.volumeSnapshotRef;
    if (!r?.uid || !r.name || !r.namespace || c.spec?.deletionPolicy !== 'Delete') return;
    if (this.snapshots.store.getByName(r.name, r.namespace)?.metadata.uid === r.uid) return;
    // The cache may lag: only a snapshot the server does not have either is gone.
    const live = await this.ctx.client.resource(VOLUME_SNAPSHOTS).get(r.name, r.namespace).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
    if (live?.metadata.uid === r.uid) return;
    if (c.metadata.annotations?.[ANN_SNAPSHOT_BEING_DELETED] !== 'yes') await contents.patch(name, { metadata: { annotations: { [ANN_SNAPSHOT_BEING_DELETED]: 'yes' } } }, 'merge');
    await contents.delete(name);
  }
}

export const snapshotController: ControllerSpec = {
  name: 'snapshot-controller',
  start: (ctx) => new SnapshotController(ctx).start(),
};
