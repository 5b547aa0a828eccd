/**
 * The VirtualMachineInstanceMigration controller (KubeVirt's virt-controller migration loop):
 * level-triggered from the VMIM, VMI and pod caches, it takes each migration through its phases
 * (migration-phase.ts decides a pass), creates and deletes the target launcher pod
 * (migration-target-pod.ts) under the parallel limits (migration-limits.ts), and writes the VMI
 * fields it owns (migration-vmi.ts) with the configuration resolved from the cluster's KubeVirt CR
 * and the matching MigrationPolicy (migration-policy-match.ts); it also reports the KubeVirt CR in
 * force Deployed (migration-kubevirt-status.ts);
 * a VMI's ended migrations beyond the newest few are deleted (migration-gc.ts). Pod creations and
 * deletions are guarded by expectations, so a lagging cache never makes a second target pod; one
 * worker, so two migrations never pass the limits together. Alongside runs the clean-up of pod
 * IP handoff claims a lost node cannot withdraw (migration-handoff-gc.ts).
 */
import { finalStateOf, isConflict, isNotFound } from '../../client/index.js';
import type { ControllerSpec } from '../../controllers/context.js';
import { objectKeyOf, simpleController } from '../../controllers/context.js';
import { NAMESPACES } from '../../controllers/namespace.js';
import { isControlledBy } from '../../controllers/util/controller-ref.js';
import { Expectations } from '../../controllers/util/expectations.js';
import { PODS, rfc3339 } from '../../controllers/util/nodes.js';
import { PVCS, pvcSpec } from '../../storage/api.js';
import { deepEqual, type KubeObject } from '../../util/object.js';
import type { MigrationPolicy } from '../api/migration-policy.js';
import { ANN_DOMAIN, APP_VIRT_LAUNCHER, LABEL_APP } from '../launcher/layout.js';
import type { Vmi } from '../launcher/vmi-types.js';
import { clusterMigrationConfiguration, honouredKubeVirt, type KubeVirt, KUBEVIRTS } from '../api/kubevirt-cr.js';
import { LABEL_MIGRATION_JOB_UID, MIGRATION_POLICIES, migrationStateOf, type VirtualMachineInstanceMigration, VMIMS } from '../migration/migration-state.js';
import { migrationsToCollect } from './migration-gc.js';
import { startHandoffGc } from './migration-handoff-gc.js';
import { startKubeVirtStatus } from './migration-kubevirt-status.js';
import { isFinalMigration, parallelLimitReached } from './migration-limits.js';
import { DEFAULT_PENDING_TIMEOUTS, type MigrationAction, type MigrationEvent, type MigrationStep, type PendingTimeouts, REASON, stepMigration } from './migration-phase.js';
import { resolveMigrationConfiguration } from './migration-policy-match.js';
import { migrationTargetPod } from './migration-target-pod.js';
import { dropTargetLabel, handOff, markFailed, moveToTarget, requestAbort, TARGET_POD_DOWN } from './migration-vmi.js';
import { VMIS } from './vm-api.js';
import { isPodDown } from './vmi-pod-state.js';
import { currentPod } from './vmi-status.js';

const JOB_INDEX = 'migration-job-uid';
/** How soon a migration waiting on its expectations or a conflicting write is looked at again. */
const RECHECK_MS = 1000;

export interface MigrationControllerOptions {
  /** The target pod's pending timeouts (tests shorten them; KubeVirt's annotations override them per migration). */
  timeouts?: PendingTimeouts;
}

type Vmim = VirtualMachineInstanceMigration & KubeObject;
const ignoreNotFound = (e: unknown) => {
  if (!isNotFound(e)) throw e;
};
type Resolve = () => ReturnType<typeof resolveMigrationConfiguration>;

export function makeMigrationController(opts: MigrationControllerOptions = {}): ControllerSpec {
  const timeouts = opts.timeouts ?? DEFAULT_PENDING_TIMEOUTS;
  return {
    name: 'virtualmachineinstancemigration',
    start(ctx) {
      const vmimInf = ctx.informers.forResource<KubeObject>(VMIMS);
      const vmiInf = ctx.informers.forResource<KubeObject>(VMIS);
      const podInf = ctx.informers.forResource<KubeObject>(PODS);
      const pvcInf = ctx.informers.forResource<KubeObject>(PVCS);
      const policyInf = ctx.informers.forResource<KubeObject>(MIGRATION_POLICIES);
      const nsInf = ctx.informers.forResource<KubeObject>(NAMESPACES);
      const kvInf = ctx.informers.forResource<KubeObject>(KUBEVIRTS);
      const clusterConfiguration = () => clusterMigrationConfiguration(honouredKubeVirt(kvInf.store.list() as KubeVirt[]));
      const recorder = ctx.recorder('migration-controller');
      const expectations = new Expectations();
      /** Migrations whose target pod was created but is not in the cache yet (they count against the limits). */
      const creating = new Set<string>();
      podInf.addIndexers({ [JOB_INDEX]: (p) => (p.metadata.labels?.[LABEL_MIGRATION_JOB_UID] ? [p.metadata.labels[LABEL_MIGRATION_JOB_UID]] : []) });
      const { controller, queue } = simpleController(ctx, {
        name: 'virtualmachineinstancemigration',
        primary: vmimInf,
        secondary: [vmiInf, podInf, pvcInf, policyInf, nsInf, kvInf],
        reconcile: (key) => reconcile(key),
        workers: 1,
      });

      const migrationsOfVmi = (ns: string, vmiName: string) => (vmimInf.store.byNamespace(ns) as Vmim[]).filter((m) => m.spec.vmiName === vmiName);
      const enqueueForVmi = (o: KubeObject) => migrationsOfVmi(o.metadata.namespace ?? '', o.metadata.name!).forEach((m) => queue.add(objectKeyOf(m)));
      vmiInf.addEventHandler({ onAdd: enqueueForVmi, onUpdate: (_o, n) => enqueueForVmi(n), onDelete: (o) => enqueueForVmi(finalStateOf(o)) });
      // A launcher pod concerns its VMI's migrations: the target pod its own, the source pod (its IP, its end) all of them.
      const onPod = (p: KubeObject, gone: boolean) => {
        if (p.metadata.labels?.[LABEL_APP] !== APP_VIRT_LAUNCHER) return;
        const jobUid = p.metadata.labels?.[LABEL_MIGRATION_JOB_UID];
        for (const m of migrationsOfVmi(p.metadata.namespace ?? '', p.metadata.annotations?.[ANN_DOMAIN] ?? '')) {
          const key = objectKeyOf(m);
          if (jobUid && m.metadata.uid === jobUid) {
            creating.delete(key);
            expectations.creationObserved(key);
            if (gone || p.metadata.deletionTimestamp) expectations.deletionObserved(key, objectKeyOf(p));
          }
          queue.add(key);
        }
      };
      podInf.addEventHandler({ onAdd: (p) => onPod(p, false), onUpdate: (_o, p) => onPod(p, false), onDelete: (o) => onPod(finalStateOf(o), true) });
      // A migration ending frees a place under the limits, and a changed KubeVirt CR may change them: wake the ones waiting.
      const wakePending = () => {
        for (const m of vmimInf.store.list() as Vmim[]) if ((m.status?.phase ?? 'Pending') === 'Pending') queue.add(objectKeyOf(m));
      };
      vmimInf.addEventHandler({
        onUpdate: (o, n) => {
          if (isFinalMigration(n as Vmim) && !isFinalMigration(o as Vmim)) wakePending();
        },
      });
      kvInf.addEventHandler({ onAdd: wakePending, onUpdate: wakePending, onDelete: wakePending });

      const hasTargetPod = (m: VirtualMachineInstanceMigration) => creating.has(`${m.metadata.namespace}/${m.metadata.name}`) || podInf.store.byIndex(JOB_INDEX, m.metadata.uid!).length > 0;
      const vmiOf = (m: VirtualMachineInstanceMigration) => vmiInf.store.getByName(m.spec.vmiName, m.metadata.namespace) as Vmi | undefined;

      function mustWait(vmim: Vmim, vmi: Vmi, owned: KubeObject[], target: KubeObject | undefined): string | undefined {
        const live = owned.filter((p) => p !== target && !isPodDown(p) && !p.metadata.deletionTimestamp);
        if (live.length > 1) return `there are already multiple pods running for vmi ${vmi.metadata.namespace}/${vmi.metadata.name}`;
        return parallelLimitReached(vmim, vmi.status?.nodeName ?? '', { migrations: vmimInf.store.list() as Vmim[], vmiOf, hasTargetPod }, clusterConfiguration());
      }

      function otherMigrationInFlight(vmim: Vmim, vmi: Vmi | undefined): boolean {
        const other = migrationStateOf(vmi)?.migrationUid;
        if (!other || other === vmim.metadata.uid) return false;
        return (vmimInf.store.byNamespace(vmim.metadata.namespace!) as Vmim[]).some((m) => m.metadata.uid === other && !isFinalMigration(m));
      }

      function record(events: MigrationEvent[], vmim: Vmim, vmi: Vmi | undefined): void {
        for (const e of events) {
          const target = e.on === 'vmim' ? vmim : vmi;
          if (target) recorder.event(target, e.type, e.reason, e.message);
        }
      }

      async function writeVmi(next: Vmi): Promise<void> {
        await ctx.client.resource(VMIS).update(next, { namespace: next.metadata.namespace });
      }

      /** Carries out the pass's action; its own events are recorded once it is done. */
      async function act(action: MigrationAction, key: string, vmim: Vmim, vmi: Vmi, target: KubeObject | undefined, source: KubeObject | undefined, resolve: Resolve): Promise<MigrationEvent[]> {
        const ns = vmim.metadata.namespace!;
        switch (action.kind) {
          case 'createTargetPod': {
            const volumeModeOf = (claim: string) => pvcSpec(pvcInf.store.getByName(claim, ns) ?? { metadata: {} }).volumeMode;
            const rendered = migrationTargetPod(vmi, vmim, source!, volumeModeOf, { allowPostCopy: resolve().configuration.allowPostCopy });
            expectations.expectCreations(key, 1);
            creating.add(key);
            let pod: KubeObject;
            try {
              pod = await ctx.client.resource(PODS).create(rendered.pod, { namespace: ns });
            } catch (e) {
              expectations.creationObserved(key);
              creating.delete(key);
              recorder.event(vmi, 'Warning', 'FailedCreate', `Error creating pod: ${(e as Error).message}`);
              throw e;
            }
            return [{ on: 'vmim', type: 'Normal', reason: REASON.createdPod, message: `Created migration target pod ${pod.metadata.name}` }];
          }
          case 'deleteTargetPod':
            expectations.expectDeletion(key, objectKeyOf(target!));
            try {
              await ctx.client.resource(PODS).delete(target!.metadata.name!, { namespace: ns, preconditions: { uid: target!.metadata.uid } });
            } catch (e) {
              expectations.deletionObserved(key, objectKeyOf(target!));
              if (!isNotFound(e)) throw e;
            }
            return [{ on: 'vmim', type: 'Normal', reason: REASON.deletedPod, message: action.message }];
          case 'handOff': {
            const { configuration, policyName } = resolve();
            await writeVmi(handOff(vmi, { migrationUid: vmim.metadata.uid!, sourcePod: source!, targetPod: target!, configuration, policyName }));
            return [{ on: 'vmim', type: 'Normal', reason: REASON.handedOver, message: 'Migration target pod is ready for preparation by virt-handler.' }];
          }
          case 'requestAbort':
            await writeVmi(requestAbort(vmi));
            return [];
          case 'moveToTarget':
            // The VMI's `Migrated` event is the source node's (KubeVirt's virt-handler emits it), with QEMU's figures.
            await writeVmi(moveToTarget(vmi, target));
            return [];
          case 'markFailedOnVmi':
            await writeVmi(markFailed(vmi, rfc3339()));
            return [{ on: 'vmi', type: 'Warning', reason: REASON.failed, message: `VirtualMachineInstance migration uid ${vmim.metadata.uid} failed. reason: ${TARGET_POD_DOWN}` }];
          case 'dropTargetLabel':
            await writeVmi(dropTargetLabel(vmi));
            return [];
        }
      }

      async function writeMigration(vmim: Vmim, step: MigrationStep): Promise<void> {
        let current: KubeObject = vmim;
        if (!deepEqual(step.status, vmim.status ?? {})) current = await ctx.client.resource(VMIMS).updateStatus({ ...vmim, status: step.status } as KubeObject, { namespace: vmim.metadata.namespace });
        if (!deepEqual(step.finalizers, vmim.metadata.finalizers ?? [])) {
          const finalizers = step.finalizers.length ? step.finalizers : undefined;
          await ctx.client.resource(VMIMS).update({ ...current, metadata: { ...current.metadata, finalizers } }, { namespace: vmim.metadata.namespace });
        }
      }

      /** Deletes the VMI's ended migrations beyond the newest few, and the pod each left behind (never the VMI's current one). */
      async function collectEnded(vmi: Vmi, current: KubeObject | undefined): Promise<void> {
        const ns = vmi.metadata.namespace!;
        for (const { migration, defunctPod } of migrationsToCollect(migrationsOfVmi(ns, vmi.metadata.name!))) {
          if (defunctPod && defunctPod !== current?.metadata.name) await ctx.client.resource(PODS).delete(defunctPod, { namespace: ns }).catch(ignoreNotFound);
          await ctx.client.resource(VMIMS).delete(migration.metadata.name!, { namespace: ns }).catch(ignoreNotFound);
        }
      }

      async function reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
        const vmim = vmimInf.store.get(key) as Vmim | undefined;
        if (!vmim) {
          expectations.forget(key);
          creating.delete(key);
          return;
        }
        if (!expectations.satisfied(key)) return { requeueAfterMs: RECHECK_MS };
        const ns = vmim.metadata.namespace!;
        const vmi = vmiOf(vmim);
        const owned = vmi ? podInf.store.byNamespace(ns).filter((p) => isControlledBy(p, vmi)) : [];
        const target = owned.find((p) => p.metadata.labels?.[LABEL_MIGRATION_JOB_UID] === vmim.metadata.uid);
        const source = vmi ? currentPod(vmi, owned.filter((p) => p !== target)) : undefined;
        let resolved: ReturnType<Resolve> | undefined;
        const resolve = () => (resolved ??= resolveMigrationConfiguration(policyInf.store.list() as MigrationPolicy[], vmi!, nsInf.store.getByName(ns), clusterConfiguration()));
        const waiting = vmi && (vmim.status?.phase ?? '') === 'Pending' && !target ? mustWait(vmim, vmi, owned, target) : undefined;
        const step = stepMigration({
          vmim,
          vmi,
          targetPod: target,
          sourcePod: source,
          otherMigrationInFlight: otherMigrationInFlight(vmim, vmi),
          mustWait: waiting,
          resolveConfiguration: resolve,
          now: Date.now(),
          timeouts,
        });
        const events = [...step.events];
        try {
          if (step.action) events.push(...(await act(step.action, key, vmim, vmi!, target, source, resolve)));
          await writeMigration(vmim, step);
          if (vmi && isFinalMigration({ ...vmim, status: step.status })) await collectEnded(vmi, currentPod(vmi, owned));
        } catch (e) {
          if (isNotFound(e)) return;
          if (isConflict(e)) return { requeueAfterMs: 100 };
          throw e;
        }
        record(events, vmim, vmi);
        return step.requeueAfterMs !== undefined ? { requeueAfterMs: step.requeueAfterMs } : undefined;
      }

      return [controller, startHandoffGc(ctx), startKubeVirtStatus(ctx, kvInf)];
    },
  };
}

export const migrationController = makeMigrationController();
