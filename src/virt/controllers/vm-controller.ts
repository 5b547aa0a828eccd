/**
 * The VirtualMachine controller (KubeVirt's virt-controller VM loop, pkg/virt-controller/watch/vm):
 * it keeps each VM's VirtualMachineInstance as the run strategy asks (run-strategy.ts), pins and
 * applies the VM's instancetype and preference (instancetype-revision.ts, instancetype-apply.ts),
 * creates the DataVolumes of `dataVolumeTemplates` before the VMI and holds the VMI back until
 * they are populated (vm-volumes.ts), and writes the VM's status (vm-status.ts). Level-triggered:
 * everything it decides comes from the informers' caches and the VM itself, so a restarted
 * controller carries on; API errors requeue the VM with backoff.
 *
 * Starts that failed (a VMI finished without ever running) back off (start-failure.ts).
 *
 * Not yet, as the launcher and node side come later: the VMI finalizer KubeVirt adds so the VM
 * sees a VMI's final state (nothing would remove it before the VMI controller exists), and the
 * VM-spec ControllerRevision for RestartRequired.
 */
import { setMaxListeners } from 'node:events';
import { finalStateOf, type Informer, isAlreadyExists, isConflict, isNotFound, type ResourceRef, runController, type Syncable, WorkQueue } from '../../client/index.js';
import type { ControllerSpec } from '../../controllers/context.js';
import { objectKeyOf } from '../../controllers/context.js';
import { controllerRefOf } from '../../controllers/util/controller-ref.js';
import { rfc3339 } from '../../controllers/util/nodes.js';
import { PVCS } from '../../storage/api.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import { runStrategyOf, type RunStrategy, type StateChangeRequest } from '../api/vm-lifecycle.js';
import { type DataVolume, DATAVOLUMES } from '../cdi/datavolume-api.js';
import { InstancetypeConflictError, type InstancetypeSpec, type PreferenceSpec } from './instancetype-apply.js';
import { ReferenceNotFoundError, type Resolved, resolveReference, revisionFor, type Which } from './instancetype-revision.js';
import { decideRun, firstRequestDone, hasStartRequest, isSetToStart } from './run-strategy.js';
import { backoffLeftMs, nextStartFailure } from './start-failure.js';
import {
  CLUSTER_INSTANCETYPES,
  CLUSTER_PREFERENCES,
  CONTROLLER_REVISIONS,
  INSTANCETYPES,
  PREFERENCES,
  type RevisionRef,
  VIRTUAL_MACHINES,
  type VirtualMachine,
  type VirtualMachineInstance,
  VMIS,
} from './vm-api.js';
import { type AppliedTypes, vmiFromVm } from './vmi-from-vm.js';
import { type SyncFailure, nextStatus } from './vm-status.js';
import { dataVolumeError, dataVolumeFromTemplate, dataVolumeProvisioning, hasUnboundClaim, templateState, volumeSourceNames } from './vm-volumes.js';

/** KubeVirt's event reasons (virt-controller watch/common). */
const REASON = {
  created: 'SuccessfulCreate',
  failedCreate: 'FailedCreate',
  deleted: 'SuccessfulDelete',
  dvCreated: 'SuccessfulDataVolumeCreate',
  dvImportFailed: 'FailedDataVolumeImport',
} as const;

const ownedByVm = (o: KubeObject) => controllerRefOf(o)?.kind === 'VirtualMachine';

/** All of `caches` synced, waited for on a signal of its own: one listener on the runner's signal however many caches. */
function allSynced(caches: Syncable[]): Syncable {
  return {
    async waitForSync(signal) {
      const ac = new AbortController();
      setMaxListeners(0, ac.signal);
      const abort = () => ac.abort();
      signal?.addEventListener('abort', abort, { once: true });
      try {
        await Promise.all(caches.map((c) => c.waitForSync(ac.signal)));
      } finally {
        signal?.removeEventListener('abort', abort);
      }
    },
  };
}

export const vmController: ControllerSpec = {
  name: 'virtualmachine',
  start(ctx) {
    const vmInf = ctx.informers.forResource<VirtualMachine>(VIRTUAL_MACHINES);
    const vmiInf = ctx.informers.forResource<VirtualMachineInstance>(VMIS);
    const dvInf = ctx.informers.forResource<DataVolume>(DATAVOLUMES);
    const pvcInf = ctx.informers.forResource<KubeObject>(PVCS);
    const typeInfs = new Map<ResourceRef, Informer<KubeObject>>(
      [INSTANCETYPES, CLUSTER_INSTANCETYPES, PREFERENCES, CLUSTER_PREFERENCES, CONTROLLER_REVISIONS].map((r) => [r, ctx.informers.forResource(r)]),
    );
    const recorder = ctx.recorder('virtualmachine-controller');
    const queue = new WorkQueue<string>({ name: 'virtualmachine' });
    const controller = runController({
      name: 'virtualmachine',
      queue,
      reconcile: (key) => reconcile(key),
      informers: [allSynced([vmInf, vmiInf, dvInf, pvcInf, ...typeInfs.values()])],
      workers: 2,
      signal: ctx.signal,
      logger: ctx.logger,
    });

    const on = <T extends KubeObject>(inf: Informer<T>, keys: (o: T) => string[]) => {
      const add = (o: T) => keys(o).forEach((k) => queue.add(k));
      inf.addEventHandler({ onAdd: add, onUpdate: (_o, n) => add(n), onDelete: (o) => add(finalStateOf(o)) });
    };
    // A VMI is named like its VM; owned objects name their VM; claims and DataVolumes concern every VM of their namespace using them.
    const ownerKey = (o: KubeObject) => (ownedByVm(o) ? [`${o.metadata.namespace}/${controllerRefOf(o)!.name}`] : []);
    const usersOf = (o: KubeObject) =>
      vmInf.store
        .byNamespace(o.metadata.namespace ?? '')
        .filter((vm) => volumeSourceNames(vm).includes(o.metadata.name!))
        .map(objectKeyOf);
    on(vmInf, (o) => [objectKeyOf(o)]);
    on(vmiInf, (o) => [objectKeyOf(o)]);
    on(dvInf, (o) => [...ownerKey(o), ...usersOf(o)]);
    on(pvcInf, usersOf);
    on(typeInfs.get(CONTROLLER_REVISIONS)!, ownerKey);
    for (const [ref, which] of [[INSTANCETYPES, 'instancetype'], [CLUSTER_INSTANCETYPES, 'instancetype'], [PREFERENCES, 'preference'], [CLUSTER_PREFERENCES, 'preference']] as const) {
      on(typeInfs.get(ref)!, (o) => vmInf.store.list().filter((vm) => vm.spec[which]?.name === o.metadata.name && !vm.spec[which]?.revisionName).map(objectKeyOf));
    }

    const lookup = (ref: ResourceRef, namespace: string | undefined, name: string) => typeInfs.get(ref)!.store.getByName(name, namespace);

    /** Pins a reference found by name: the ControllerRevision, then spec.<which>.revisionName. */
    async function pin(vm: VirtualMachine, which: Which, obj: KubeObject): Promise<VirtualMachine> {
      const rev = revisionFor(vm, obj);
      try {
        await ctx.client.resource(CONTROLLER_REVISIONS).create(rev, { namespace: vm.metadata.namespace });
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
      const patch = { metadata: { resourceVersion: vm.metadata.resourceVersion }, spec: { [which]: { revisionName: rev.metadata.name } } };
      return ctx.client.resource<VirtualMachine>(VIRTUAL_MACHINES).patch(vm.metadata.name!, patch, 'merge', { namespace: vm.metadata.namespace });
    }

    async function deleteVmi(vm: VirtualMachine, vmi: VirtualMachineInstance): Promise<void> {
      try {
        await ctx.client.resource(VMIS).delete(vmi.metadata.name!, { namespace: vmi.metadata.namespace, preconditions: { uid: vmi.metadata.uid } });
      } catch (e) {
        if (isNotFound(e) || isConflict(e)) return;
        throw e;
      }
      recorder.event(vm, 'Normal', REASON.deleted, `Stopped the virtual machine by deleting the virtual machine instance ${vmi.metadata.uid}`);
    }

    /** Creates the missing DataVolumes; whether the VMI may start now. */
    async function ensureDataVolumes(vm: VirtualMachine): Promise<boolean> {
      const ns = vm.metadata.namespace!;
      const state = templateState(vm, (name) => dvInf.store.getByName(name, ns));
      for (const t of state.missing) {
        try {
          const dv = await ctx.client.resource<DataVolume>(DATAVOLUMES).create(dataVolumeFromTemplate(vm, t), { namespace: ns });
          recorder.event(vm, 'Normal', REASON.dvCreated, `Created DataVolume ${dv.metadata.name}`);
        } catch (e) {
          if (!isAlreadyExists(e)) throw e;
        }
      }
      for (const dv of state.failed) recorder.event(vm, 'Warning', REASON.dvImportFailed, `DataVolume ${dv.metadata.name} failed to import disk image`);
      return state.ready;
    }

    /** Creates the VMI; a VM in conflict with its instancetype gets a sync failure instead. */
    async function startVmi(vm: VirtualMachine, types: AppliedTypes): Promise<{ vmi?: VirtualMachineInstance; failure?: SyncFailure }> {
      const first = vm.status?.stateChangeRequests?.[0];
      let vmi: VirtualMachineInstance;
      try {
        vmi = vmiFromVm(vm, types, { paused: first?.action === 'Start' && first.data?.paused === 'true' });
      } catch (e) {
        if (!(e instanceof InstancetypeConflictError)) throw e;
        recorder.event(vm, 'Warning', REASON.failedCreate, `Error creating virtual machine instance: Failed to apply instancetype: ${e.message}`);
        return { failure: { reason: REASON.failedCreate, message: `Failure while starting VMI: ${e.message}` } };
      }
      try {
        const created = await ctx.client.resource<VirtualMachineInstance>(VMIS).create(vmi, { namespace: vm.metadata.namespace });
        recorder.event(vm, 'Normal', REASON.created, `Started the virtual machine by creating the new virtual machine instance ${created.metadata.name}`);
        return { vmi: created };
      } catch (e) {
        if (isAlreadyExists(e)) return {};
        recorder.event(vm, 'Warning', REASON.failedCreate, `Error creating virtual machine instance: ${(e as Error).message}`);
        throw e;
      }
    }

    async function reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
      let vm = vmInf.store.get(key);
      if (!vm) return;
      const ns = vm.metadata.namespace!;
      const cached = vmiInf.store.get(key);
      // A VMI of that name controlled by something else is not this VM's to run or stop.
      const vmi = cached && controllerRefOf(cached)?.uid === vm.metadata.uid ? cached : undefined;

      let strategy: RunStrategy | undefined;
      let failure: SyncFailure | undefined;
      // virt-api's runStrategyOf refuses both fields with an API error; here it is KubeVirt's sync error.
      if (vm.spec.running !== undefined && vm.spec.runStrategy !== undefined) {
        failure = { reason: REASON.failedCreate, message: 'Error fetching RunStrategy: running and runstrategy are mutually exclusive' };
      } else strategy = runStrategyOf(vm);

      const types: AppliedTypes = {};
      const refs: { instancetypeRef?: RevisionRef; preferenceRef?: RevisionRef } = {};
      if (!failure && !vm.metadata.deletionTimestamp) {
        try {
          for (const which of ['instancetype', 'preference'] as const) {
            const found: Resolved<InstancetypeSpec | PreferenceSpec> | undefined = resolveReference(vm, which, lookup);
            if (!found) continue;
            if (found.toPin) vm = await pin(vm, which, found.toPin);
            if (which === 'instancetype') types.instancetype = { spec: found.spec as InstancetypeSpec, kind: found.kind };
            else types.preference = { spec: found.spec as PreferenceSpec, kind: found.kind };
            const revisionName = vm.spec[which]?.revisionName;
            refs[`${which}Ref`] = { name: vm.spec[which]!.name, kind: found.kind, ...(revisionName ? { controllerRevisionRef: { name: revisionName } } : {}) };
          }
        } catch (e) {
          if (isConflict(e)) return { requeueAfterMs: 100 };
          if (!(e instanceof ReferenceNotFoundError)) throw e;
          recorder.event(vm, 'Warning', e.reason, e.message);
          failure = { reason: e.reason, message: e.message };
        }
      }

      // A RerunOnFailure VM whose failed VMI this loop just deleted has a Start request queued in
      // its status; the deletion can reach this cache before that status does (KubeVirt waits on
      // its expectations): ask the API before deciding the VM stays down.
      if (!vmi && strategy === 'RerunOnFailure' && !hasStartRequest(vm) && !vm.metadata.deletionTimestamp) vm = await ctx.client.resource<VirtualMachine>(VIRTUAL_MACHINES).get(vm.metadata.name!, ns);
      const now = new Date();
      let requeueAfterMs: number | undefined;
      let startExpected = false;
      let stopExpected = false;
      let current = vmi;
      const requests: StateChangeRequest[] = [...(vm.status?.stateChangeRequests ?? [])];
      if (vm.metadata.deletionTimestamp) {
        // A VM being deleted stops its VMI first (the garbage collector would too, later).
        if (vmi && !vmi.metadata.deletionTimestamp) {
          await deleteVmi(vm, vmi);
          stopExpected = true;
        }
      } else if (!failure && strategy) {
        const d = decideRun(vm, vmi, strategy);
        if (d.queueStart && !hasStartRequest(vm)) {
          // The restart is recorded before the failed VMI goes: a status write lost after the
          // deletion would leave the VM down. The next pass, seeing the request, deletes it.
          requests.push({ action: 'Start' });
        } else if (d.stop && vmi) {
          await deleteVmi(vm, vmi);
          stopExpected = true;
        }
        if (d.flipToRunning) {
          const spec = vm.spec.runStrategy !== undefined ? { runStrategy: 'Always' } : { running: true };
          await ctx.client.resource(VIRTUAL_MACHINES).patch(vm.metadata.name!, { metadata: { resourceVersion: vm.metadata.resourceVersion }, spec }, 'merge', { namespace: ns });
          return;
        }
        // After starts that failed, Always and RerunOnFailure wait out the back-off. It is read from
        // the API: the pass that recorded the failure deleted the VMI, and that deletion may reach
        // this cache before the VM's new status does.
        const restarting = d.start && (strategy === 'Always' || strategy === 'RerunOnFailure');
        const waitMs = restarting ? backoffLeftMs(await ctx.client.resource<VirtualMachine>(VIRTUAL_MACHINES).get(vm.metadata.name!, ns), now) : 0;
        if (d.start && waitMs > 0) requeueAfterMs = waitMs;
        else if (d.start && (await ensureDataVolumes(vm))) {
          const r = await startVmi(vm, types);
          failure = r.failure;
          if (r.vmi) {
            current = r.vmi;
            startExpected = true;
          }
        }
      }
      const remaining = firstRequestDone({ ...vm, status: { ...vm.status, stateChangeRequests: requests } }, current) ? requests.slice(1) : requests;

      const getDv = (name: string) => dvInf.store.getByName(name, ns);
      const status = nextStatus(vm, current, {
        strategy,
        failure,
        stateChangeRequests: remaining,
        ...refs,
        startFailure: nextStartFailure(vm, vmi, strategy, now),
        now: rfc3339(now),
        facts: {
          startExpected,
          stopExpected,
          setToStart: !!strategy && isSetToStart(vm, current, strategy),
          restarts: strategy === 'Always' || strategy === 'RerunOnFailure' || strategy === 'Once',
          dataVolumeError: !!dataVolumeError(vm, getDv),
          dataVolumeProvisioning: dataVolumeProvisioning(vm, getDv),
          unboundClaim: hasUnboundClaim(vm, (name) => pvcInf.store.getByName(name, ns)),
        },
      });
      if (!deepEqual(status, vm.status ?? {})) {
        try {
          await ctx.client.resource<VirtualMachine>(VIRTUAL_MACHINES).updateStatus({ ...vm, status }, { namespace: ns });
        } catch (e) {
          if (isNotFound(e)) return;
          if (isConflict(e)) return { requeueAfterMs: 100 };
          throw e;
        }
      }
      if (requeueAfterMs) return { requeueAfterMs };
    }

    return controller;
  },
};
