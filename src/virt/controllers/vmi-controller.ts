/**
 * The VirtualMachineInstance controller (KubeVirt's virt-controller VMI loop,
 * pkg/virt-controller/watch/vmi): it makes each VMI's launcher pod (launcher-pod.ts) once the
 * VMI's claims exist and are populated, follows the pod through scheduling to the node, and keeps
 * the VMI fields it owns (vmi-status.ts) in step with the pod; on deletion it deletes the pods and
 * lets the VMI go once none is left. The node's VirtHandler takes the VMI from Scheduled.
 * Level-triggered on the informers' caches; pod creations and deletions are guarded by
 * expectations, so a lagging cache never makes a second pod. The VMI has no status subresource:
 * its fields are written back whole with the resourceVersion they were computed from, and a
 * conflict (the handler wrote meanwhile) requeues.
 *
 * It also plays KubeVirt's node controller: a Scheduled or Running VMI whose node is gone or no
 * longer heard from (Ready Unknown) and has no live launcher pod there fails (NodeUnresponsive),
 * so its VM's run strategy can start it elsewhere.
 */
import { finalStateOf, isConflict, isNotFound } from '../../client/index.js';
import type { ControllerSpec } from '../../controllers/context.js';
import { objectKeyOf, simpleController } from '../../controllers/context.js';
import { controllerRefOf, isControlledBy } from '../../controllers/util/controller-ref.js';
import { Expectations, watchOwnedPods } from '../../controllers/util/expectations.js';
import { conditionOf as nodeCondition, NODES, PODS, rfc3339 } from '../../controllers/util/nodes.js';
import { podPhase } from '../../controllers/util/pod-state.js';
import { PVCS, pvcSpec } from '../../storage/api.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import { type DataVolume, DATAVOLUMES } from '../cdi/datavolume-api.js';
import { claimNameOf, launcherPod } from '../launcher/launcher-pod.js';
import type { Vmi } from '../launcher/vmi-types.js';
import { conditionOf, VIRTUAL_MACHINES, VMIS } from './vm-api.js';
import { isPodDown, isProvisioningPod, launcherTermination } from './vmi-pod-state.js';
import { currentPod, isFinalPhase, nextVmi, REASON_NODE_UNRESPONSIVE, REASON_PVC_NOT_FOUND, type SyncError } from './vmi-status.js';
import { checkVolumes, hasFailedDataVolume } from './vmi-volumes.js';

/** KubeVirt's event reasons (pkg/controller). */
const REASON = {
  created: 'SuccessfulCreate',
  failedCreate: 'FailedCreate',
  deleted: 'SuccessfulDelete',
  failedDelete: 'FailedDelete',
  unsupportedProbe: 'UnsupportedProbe',
  launcherFailed: 'Failed',
  nodeUnresponsive: REASON_NODE_UNRESPONSIVE,
} as const;

/** How soon a VMI waiting on its expectations is looked at again (KubeVirt re-enqueues too). */
const EXPECTATIONS_RECHECK_MS = 1000;

const ownerKeyOf = (o: KubeObject) => {
  const ref = controllerRefOf(o);
  return ref?.kind === 'VirtualMachineInstance' ? `${o.metadata.namespace}/${ref.name}` : undefined;
};

export const vmiController: ControllerSpec = {
  name: 'virtualmachineinstance',
  start(ctx) {
    const vmiInf = ctx.informers.forResource<KubeObject>(VMIS);
    const podInf = ctx.informers.forResource<KubeObject>(PODS);
    const pvcInf = ctx.informers.forResource<KubeObject>(PVCS);
    const dvInf = ctx.informers.forResource<KubeObject>(DATAVOLUMES);
    const vmInf = ctx.informers.forResource<KubeObject>(VIRTUAL_MACHINES);
    const nodeInf = ctx.informers.forResource<KubeObject>(NODES);
    const recorder = ctx.recorder('virtualmachineinstance-controller');
    const expectations = new Expectations();
    const { controller, queue } = simpleController(ctx, { name: 'virtualmachineinstance', primary: vmiInf, secondary: [podInf, pvcInf, dvInf, vmInf, nodeInf], reconcile: (key) => reconcile(key) });

    watchOwnedPods(podInf, { expectations, queue, ownerKey: ownerKeyOf, orphan: () => undefined });
    // A claim or DataVolume concerns the VMIs of its namespace whose volumes name it; a VM its VMI (named alike).
    const usersOf = (o: KubeObject) =>
      (vmiInf.store.byNamespace(o.metadata.namespace ?? '') as Vmi[]).filter((vmi) => (vmi.spec.volumes ?? []).some((v) => claimNameOf(v) === o.metadata.name)).forEach((vmi) => queue.add(objectKeyOf(vmi)));
    for (const inf of [pvcInf, dvInf]) inf.addEventHandler({ onAdd: usersOf, onUpdate: (_o, n) => usersOf(n), onDelete: (o) => usersOf(finalStateOf(o)) });
    vmInf.addEventHandler({ onDelete: (o) => queue.add(objectKeyOf(finalStateOf(o))) });
    // A node going silent, coming back or being deleted concerns the VMIs on it.
    const vmisOn = (node: KubeObject) => (vmiInf.store.list() as Vmi[]).filter((vmi) => vmi.status?.nodeName === node.metadata.name).forEach((vmi) => queue.add(objectKeyOf(vmi)));
    nodeInf.addEventHandler({
      onUpdate: (o, n) => nodeCondition(o, 'Ready')?.status !== nodeCondition(n, 'Ready')?.status && vmisOn(n),
      onDelete: (o) => vmisOn(finalStateOf(o)),
    });

    /** KubeVirt's isNodeUnresponsive, with the agent's heartbeat (the node's Ready condition) for virt-handler's. */
    const nodeUnresponsive = (name: string | undefined) => {
      if (!name) return false;
      const node = nodeInf.store.get(name);
      return !node || nodeCondition(node, 'Ready')?.status === 'Unknown';
    };

    async function createPod(vmi: Vmi, key: string, provisioning: boolean): Promise<KubeObject> {
      const ns = vmi.metadata.namespace!;
      const rendered = launcherPod(vmi, (claim) => pvcSpec(pvcInf.store.getByName(claim, ns) ?? { metadata: {} }).volumeMode, { provisioning });
      expectations.expectCreations(key, 1);
      let pod: KubeObject;
      try {
        pod = await ctx.client.resource(PODS).create(rendered.pod, { namespace: ns });
      } catch (e) {
        expectations.creationObserved(key);
        recorder.event(vmi, 'Warning', REASON.failedCreate, `Error creating pod: ${(e as Error).message}`);
        throw e;
      }
      recorder.event(vmi, 'Normal', REASON.created, `Created virtual machine pod ${pod.metadata.name}`);
      for (const w of rendered.warnings) recorder.event(vmi, 'Warning', REASON.unsupportedProbe, w);
      return pod;
    }

    async function deletePod(vmi: Vmi, key: string, pod: KubeObject): Promise<void> {
      expectations.expectDeletion(key, objectKeyOf(pod));
      try {
        // No grace period given: the pod's own lets the handler shut the guest down through ACPI.
        await ctx.client.resource(PODS).delete(pod.metadata.name!, { namespace: pod.metadata.namespace, preconditions: { uid: pod.metadata.uid } });
      } catch (e) {
        expectations.deletionObserved(key, objectKeyOf(pod));
        if (isNotFound(e)) return;
        recorder.event(vmi, 'Warning', REASON.failedDelete, `Failed to delete virtual machine pod ${pod.metadata.name}`);
        throw e;
      }
      recorder.event(vmi, 'Normal', REASON.deleted, `Deleted virtual machine pod ${pod.metadata.name}`);
    }

    function hasOwnerVm(vmi: Vmi): boolean {
      const ref = controllerRefOf(vmi);
      return ref?.kind === 'VirtualMachine' && vmInf.store.getByName(ref.name, vmi.metadata.namespace)?.metadata.uid === ref.uid;
    }

    async function reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
      const vmi = vmiInf.store.get(key) as Vmi | undefined;
      if (!vmi) {
        expectations.forget(key);
        return;
      }
      if (!expectations.satisfied(key)) return { requeueAfterMs: EXPECTATIONS_RECHECK_MS };
      const ns = vmi.metadata.namespace!;
      const owned = podInf.store.byNamespace(ns).filter((p) => isControlledBy(p, vmi));
      let pod = currentPod(vmi, owned);
      const volumes = checkVolumes(vmi, (n) => pvcInf.store.getByName(n, ns), (n) => dvInf.store.getByName(n, ns) as DataVolume | undefined);
      const phase = vmi.status?.phase;
      let syncError: SyncError | undefined;

      if (vmi.metadata.deletionTimestamp) {
        // A pod already terminating is left to its grace period.
        for (const p of owned) if (!p.metadata.deletionTimestamp) await deletePod(vmi, key, p);
      } else if (!isFinalPhase(phase)) {
        // The provisioning pod has done its work once no claim waits for a consumer any more (KubeVirt's cleanupWaitForFirstConsumerTemporaryPods).
        if (pod && isProvisioningPod(pod) && !volumes.waitForFirstConsumer && (isPodDown(pod) || podPhase(pod) === 'Running')) {
          if (!pod.metadata.deletionTimestamp) await deletePod(vmi, key, pod);
          return { requeueAfterMs: EXPECTATIONS_RECHECK_MS };
        }
        if (volumes.missing) {
          // Users and CDI may create the claim later: wait for it (an informal error, as KubeVirt's).
          syncError = { reason: REASON_PVC_NOT_FOUND, message: volumes.missing };
          if (conditionOf(vmi, 'Synchronized')?.reason !== REASON_PVC_NOT_FOUND) recorder.event(vmi, 'Normal', REASON_PVC_NOT_FOUND, volumes.missing);
        } else if (!pod && (phase ?? 'Pending') === 'Pending' && volumes.ready && !hasFailedDataVolume(volumes)) {
          pod = await createPod(vmi, key, volumes.waitForFirstConsumer);
        }
      }

      const next = nextVmi(vmi, { pod, ownedPods: owned, volumes, syncError, hasOwnerVm: hasOwnerVm(vmi), nodeUnresponsive: nodeUnresponsive(vmi.status?.nodeName), now: rfc3339() });
      if (deepEqual(next, vmi)) return;
      try {
        await ctx.client.resource(VMIS).update(next, { namespace: ns });
      } catch (e) {
        if (isNotFound(e)) return;
        if (isConflict(e)) return { requeueAfterMs: 100 };
        throw e;
      }
      const failedNow = next.status?.phase === 'Failed' && phase !== 'Failed';
      if (failedNow && next.status?.reason === REASON_NODE_UNRESPONSIVE) recorder.event(vmi, 'Normal', REASON.nodeUnresponsive, `virt-handler on node ${vmi.status?.nodeName} is not responsive, marking VMI as failed`);
      const ended = failedNow && pod ? launcherTermination(pod) : undefined;
      // QEMU's own words when it printed any (a bad disk); always the reason and exit code (137: killed).
      if (ended) recorder.event(vmi, 'Warning', REASON.launcherFailed, `virt-launcher pod ${pod!.metadata.name} failed: ${ended.reason}${ended.exitCode !== undefined ? ` (exit code ${ended.exitCode})` : ''}${ended.message ? `: ${ended.message}` : ''}`);
    }

    return controller;
  },
};
