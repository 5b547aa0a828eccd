/**
 * Volume expansion for a node-scoped driver, in two steps as upstream splits them between the
 * external-resizer and the kubelet — both run by the agent of the volume's node here, since both
 * touch that node's disk:
 *
 * 1. controller: a bound claim asking for more than its PV holds → Resizing, ControllerExpandVolume
 *    (the image file grows, within the node's free space), the PV's capacity updated, then
 *    FileSystemResizePending ("Waiting for user to (re-)start a pod ...");
 * 2. node: a PV larger than its claim's status.capacity, staged on this node → NodeExpandVolume
 *    (resize2fs / xfs_growfs online), status.capacity updated and the conditions cleared. A
 *    volume not in use waits for its next stage (which grows an ext4 offline first), as upstream
 *    waits for the next mount.
 *
 * Failures are events on the claim with upstream's wording; a claim asking for more than the
 * node can give gets ControllerResizeError and stays at its size.
 */
import { type Client, isConflict, isNotFound, type Logger, type RunningController, runController, type SharedInformerFactory, WorkQueue } from '../client/index.js';
import type { EventRecorder } from '../controllers/events.js';
import { nodeSelectorTermMatches } from '../controllers/util/node-fit.js';
import { binaryQuantity } from '../agent/node/quantity.js';
import { parseQuantity } from '../registry/validation.js';
import type { KubeObject } from '../util/object.js';
import { claimKeyOf, isClaimBound, PVCS, pvcSpec, pvcStatus, PVS, pvSpec } from './api.js';
import { FS_RESIZE_PENDING_MESSAGE, type ResizeState, withResizeState } from './claim-status.js';
import type { AccessMode, StorageDriver, VolumeCapability, VolumeMode } from './driver.js';
import { asStorageError } from './errors.js';
import { readSecretRef, type SecretRef } from './csi-secrets.js';
import type { FsType } from './mkfs.js';

export interface ResizerOptions {
  client: Client;
  informers: SharedInformerFactory;
  /** external-resizer's events (controller step). */
  recorder: EventRecorder;
  /** The kubelet's events (node step). */
  kubeletRecorder: EventRecorder;
  logger: Logger;
  driver: StorageDriver;
  /**
   * The node this resizer runs on (absent: the cluster's controller manager). A node-scoped
   * driver's resizer takes the volumes of its node; a cluster-scoped driver's takes every volume
   * of the driver, split by `steps`: the controller step once for the cluster, the node step in
   * each agent for the volumes staged there.
   */
  node?: { name: string; labels: () => Record<string, string> };
  /** Which of the two steps to run (default both). */
  steps?: 'controller' | 'node';
  /** Where the volume of `pv` is staged on this node (for the node step). */
  stagingPath?: (pv: KubeObject) => string;
  onChange?: () => void;
}

/** The CSI capability a provisioned PV was made with. */
export function pvCapability(pv: KubeObject): VolumeCapability {
  const s = pvSpec(pv);
  const mode = (s.volumeMode ?? 'Filesystem') as VolumeMode;
  return { mode, accessModes: (s.accessModes ?? []) as AccessMode[], ...(mode === 'Filesystem' && s.csi?.fsType ? { fsType: s.csi.fsType as FsType } : {}) };
}

const bytesOf = (q: unknown) => {
  const v = parseQuantity(q);
  return Number.isFinite(v) ? v : 0;
};

export class VolumeResizer {
  private readonly pvcs;
  private readonly pvs;
  private readonly queue = new WorkQueue<string>({ name: 'storage-resizer' });
  /** Online-resize refusals already told (pv name@size), so a retry loop does not repeat the event. */
  private readonly told = new Set<string>();

  constructor(private readonly o: ResizerOptions) {
    this.pvcs = o.informers.forResource<KubeObject>(PVCS);
    this.pvs = o.informers.forResource<KubeObject>(PVS);
    this.pvcs.addEventHandler({
      onAdd: (c) => this.queue.add(claimKeyOf(c)),
      onUpdate: (_o, c) => this.queue.add(claimKeyOf(c)),
    });
    this.pvs.onUpdate((_o, pv) => {
      const ref = pvSpec(pv).claimRef;
      if (ref?.namespace && ref.name) this.queue.add(`${ref.namespace}/${ref.name}`);
    });
  }

  start(signal: AbortSignal): RunningController {
    return runController({
      name: `storage-resizer(${this.o.driver.provisioner})`,
      queue: this.queue,
      reconcile: (key) => this.sync(key),
      informers: [this.pvcs, this.pvs],
      signal,
      logger: this.o.logger,
    });
  }

  /** A volume was just staged here: a pending filesystem resize can finish now. */
  kick(claimKey: string): void {
    this.queue.add(claimKey);
  }

  private owns(pv: KubeObject): boolean {
    const s = pvSpec(pv);
    if (s.csi?.driver !== this.o.driver.name) return false;
    const node = this.o.node;
    if (this.o.driver.controllerScope === 'cluster' || !node) return true;
    const labels = node.labels();
    return (s.nodeAffinity?.required?.nodeSelectorTerms ?? []).some((t) => nodeSelectorTermMatches(t, labels, node.name));
  }

  private async sync(key: string): Promise<void> {
    let claim = this.pvcs.store.get(key);
    if (!claim || !isClaimBound(claim) || claim.metadata.deletionTimestamp) return;
    let pv = this.pvs.store.get(pvcSpec(claim).volumeName!);
    if (!pv || !this.owns(pv)) return;
    const request = pvcSpec(claim).resources?.requests?.storage;
    const want = bytesOf(request);
    const st = pvcStatus(claim);
    // A size the driver refused for good is not tried again until the claim asks for another.
    const infeasible = st.allocatedResourceStatuses?.storage === 'ControllerResizeInfeasible' && String(st.allocatedResources?.storage) === String(request);
    try {
      if (this.o.steps !== 'node' && want > bytesOf(pvSpec(pv).capacity?.storage) && !infeasible) ({ claim, pv } = await this.expandController(claim, pv, want));
      const { node, stagingPath } = this.o;
      if (this.o.steps !== 'controller' && node && stagingPath && bytesOf(pvSpec(pv).capacity?.storage) > bytesOf(pvcStatus(claim).capacity?.storage)) await this.expandNode(claim, pv, node, stagingPath(pv));
    } catch (e) {
      if (isConflict(e)) return this.queue.addAfter(key, 200);
      if (isNotFound(e)) return;
      throw e;
    }
  }

  private async setStatus(claim: KubeObject, s: ResizeState): Promise<KubeObject> {
    return this.o.client.resource(PVCS).updateStatus({ ...claim, status: withResizeState(claim, s) }, { namespace: claim.metadata.namespace });
  }

  private async expandController(claim: KubeObject, pv: KubeObject, want: number): Promise<{ claim: KubeObject; pv: KubeObject }> {
    const name = pv.metadata.name!;
    const requested = String(pvcSpec(claim).resources?.requests?.storage);
    claim = await this.setStatus(claim, { condition: { type: 'Resizing' }, allocated: requested, resizeStatus: 'ControllerResizeInProgress' });
    this.o.recorder.event(claim, 'Normal', 'Resizing', `External resizer is resizing volume ${name}`);
    let result;
    try {
      const secrets = await readSecretRef(this.o.client, (pvSpec(pv).csi as { controllerExpandSecretRef?: SecretRef } | undefined)?.controllerExpandSecretRef);
      result = await this.o.driver.controller.controllerExpandVolume(pvSpec(pv).csi!.volumeHandle, want, pvCapability(pv), secrets);
    } catch (e) {
      const err = asStorageError(e);
      const message = `resize volume "${name}" by resizer "${this.o.driver.name}" failed: ${err.message}`;
      this.o.recorder.event(claim, 'Warning', 'VolumeResizeFailed', message);
      const final = err.code === 'ResourceExhausted' || err.code === 'InvalidArgument' || err.code === 'OutOfRange';
      await this.setStatus(claim, { condition: { type: 'ControllerResizeError', message }, resizeStatus: final ? 'ControllerResizeInfeasible' : 'ControllerResizeInProgress' });
      if (final) return { claim, pv };
      throw err;
    }
    this.o.onChange?.();
    const next = structuredClone(pv);
    (next.spec as { capacity: Record<string, unknown> }).capacity = { ...pvSpec(pv).capacity, storage: binaryQuantity(result.capacityBytes) };
    pv = await this.o.client.resource(PVS).update(next);
    if (result.nodeExpansionRequired) {
      claim = await this.setStatus(claim, { condition: { type: 'FileSystemResizePending', message: FS_RESIZE_PENDING_MESSAGE }, resizeStatus: 'NodeResizePending' });
      this.o.recorder.event(claim, 'Normal', 'FileSystemResizeRequired', 'Require file system resize of volume on node');
    } else {
      claim = await this.setStatus(claim, { capacity: binaryQuantity(result.capacityBytes), resizeStatus: null });
      this.o.recorder.event(claim, 'Normal', 'VolumeResizeSuccessful', 'Resize volume succeeded');
    }
    return { claim, pv };
  }

  private async expandNode(claim: KubeObject, pv: KubeObject, node: { name: string }, staging: string): Promise<void> {
    const name = pv.metadata.name!;
    const handle = pvSpec(pv).csi!.volumeHandle;
    if (!(await this.o.driver.node.isStaged(handle, staging))) return; // finished at the next stage
    const size = String(pvSpec(pv).capacity?.storage);
    try {
      await this.o.driver.node.nodeExpandVolume(handle, staging, pvCapability(pv));
    } catch (e) {
      const err = asStorageError(e);
      if (!this.told.has(`${name}@${size}`)) {
        this.told.add(`${name}@${size}`);
        this.o.kubeletRecorder.event(claim, 'Warning', 'VolumeResizeFailed', `MountVolume.NodeExpandVolume failed for volume "${name}" : ${err.desc}`);
      }
      if (err.code === 'FailedPrecondition') return;
      throw err;
    }
    this.told.delete(`${name}@${size}`);
    await this.setStatus(claim, { capacity: size, resizeStatus: null });
    this.o.kubeletRecorder.event(claim, 'Normal', 'FileSystemResizeSuccessful', `MountVolume.NodeExpandVolume succeeded for volume "${name}" ${node.name}`);
  }
}
