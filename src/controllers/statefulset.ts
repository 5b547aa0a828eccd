/**
 * StatefulSet controller (upstream pkg/controller/statefulset): pods with stable identities
 * `<set>-<ordinal>` (ordinals from spec.ordinals.start), each with its own PersistentVolumeClaims
 * `<claim>-<set>-<ordinal>` from volumeClaimTemplates. OrderedReady creates ordinal N+1 only once
 * N is Running and Ready and removes from the highest ordinal, one at a time; Parallel does both
 * at once. RollingUpdate replaces pods from the highest ordinal down to the partition; OnDelete
 * waits for pods to be deleted. persistentVolumeClaimRetentionPolicy is carried out through
 * ownerReferences on the claims (to the set for whenDeleted=Delete, to the condemned pod for
 * whenScaled=Delete), which the garbage collector follows.
 *
 * This controller keeps no ControllerRevisions (so no `kubectl rollout undo` history). A
 * revision is named `<set>-<hash of the template>`; the current revision's template is kept in
 * the set's `apps.cairn.io/current-revision-template` annotation so that pods below a partition
 * are recreated at the current revision, as upstream.
 */
import { finalStateOf, isAlreadyExists, isConflict, isNotFound } from '../client/index.js';
import type { IntOrString } from '../kinds/apps/workload-common.js';
import { type LabelSelector, labelSelectorAsSelector } from '../kinds/label-selector.js';
import { deepClone, deepEqual, type KubeObject, type OwnerReference } from '../util/object.js';
import { type ControllerSpec, objectKeyOf, simpleController } from './context.js';
import { claimObjects, controllerRefOf, newControllerRef } from './util/controller-ref.js';
import { Expectations, watchOwnedPods } from './util/expectations.js';
import { isPodAvailable, isPodReady, isPodTerminal, podAvailableAt, podPhase } from './util/pod-state.js';
import { RequeueAt } from './util/requeue.js';
import { computeHash, semanticallyEqual } from './util/template-hash.js';
import { PODS, PVCS, STATEFULSETS, withControllerIndex } from './util/workload-refs.js';

export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';
export const REVISION_LABEL = 'controller-revision-hash';
export const CURRENT_TEMPLATE_ANNOTATION = 'apps.cairn.io/current-revision-template';

interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { volumes?: { name: string; [k: string]: unknown }[]; hostname?: string; subdomain?: string; [k: string]: unknown };
}
interface ClaimTemplate {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}
interface StatefulSetSpec {
  replicas?: number;
  selector?: LabelSelector;
  template?: PodTemplate;
  serviceName?: string;
  podManagementPolicy?: string;
  updateStrategy?: { type?: string; rollingUpdate?: { partition?: number; maxUnavailable?: IntOrString } };
  volumeClaimTemplates?: ClaimTemplate[];
  ordinals?: { start?: number };
  persistentVolumeClaimRetentionPolicy?: { whenDeleted?: string; whenScaled?: string };
  minReadySeconds?: number;
}
interface StatefulSetStatus {
  observedGeneration?: number;
  replicas: number;
  readyReplicas: number;
  currentReplicas: number;
  updatedReplicas: number;
  availableReplicas: number;
  currentRevision?: string;
  updateRevision?: string;
  collisionCount?: number;
  conditions?: unknown[];
}

const specOf = (s: KubeObject) => (s.spec ?? {}) as StatefulSetSpec;

/** The ordinal in a pod name `<set>-<n>`, or -1 when the pod is not a member of this set. */
export function ordinalOf(setName: string, pod: KubeObject): number {
  const name = pod.metadata.name ?? '';
  if (!name.startsWith(`${setName}-`)) return -1;
  const rest = name.slice(setName.length + 1);
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : -1;
}

export const claimName = (claim: string, setName: string, ordinal: number) => `${claim}-${setName}-${ordinal}`;

/** newStatefulSetPod: the template with identity, storage and revision applied. */
function newPod(set: KubeObject, template: PodTemplate, ordinal: number, revision: string): KubeObject {
  const spec = specOf(set);
  const name = `${set.metadata.name}-${ordinal}`;
  const t = deepClone(template);
  const podSpec = (t.spec ??= {});
  // Storage: every claim template becomes the volume of that name, replacing a template volume.
  const claims = spec.volumeClaimTemplates ?? [];
  const claimVolumes = claims.map((c) => ({ name: c.metadata!.name!, persistentVolumeClaim: { claimName: claimName(c.metadata!.name!, set.metadata.name!, ordinal) } }));
  const kept = (podSpec.volumes ?? []).filter((v) => !claimVolumes.some((c) => c.name === v.name));
  if (claimVolumes.length || kept.length) podSpec.volumes = [...kept, ...claimVolumes];
  podSpec.hostname = name;
  if (spec.serviceName) podSpec.subdomain = spec.serviceName;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: set.metadata.namespace,
      labels: { ...(t.metadata?.labels ?? {}), [POD_NAME_LABEL]: name, [POD_INDEX_LABEL]: String(ordinal), [REVISION_LABEL]: revision },
      ...(t.metadata?.annotations ? { annotations: { ...t.metadata.annotations } } : {}),
      ownerReferences: [newControllerRef(set)],
    },
    spec: podSpec,
  };
}

const revisionOf = (p: KubeObject) => p.metadata.labels?.[REVISION_LABEL] ?? '';

export const statefulSetController: ControllerSpec = {
  name: 'statefulset',
  start(ctx) {
    const setInformer = ctx.informers.forResource<KubeObject>(STATEFULSETS);
    const podInformer = withControllerIndex(ctx.informers.forResource<KubeObject>(PODS));
    const pvcInformer = ctx.informers.forResource<KubeObject>(PVCS);
    const pods = ctx.client.resource(PODS);
    const pvcs = ctx.client.resource(PVCS);
    const sets = ctx.client.resource(STATEFULSETS);
    const recorder = ctx.recorder('statefulset-controller');
    const expectations = new Expectations();

    const podEvent = (set: KubeObject, verb: 'Create' | 'Delete', pod: string, err?: unknown) => {
      if (err) recorder.event(set, 'Warning', `Failed${verb}`, `${verb.toLowerCase()} Pod ${pod} in StatefulSet ${set.metadata.name} failed error: ${(err as Error).message}`);
      else recorder.event(set, 'Normal', `Successful${verb}`, `${verb.toLowerCase()} Pod ${pod} in StatefulSet ${set.metadata.name} successful`);
    };

    /** The claims of one ordinal as they should be (upstream getPersistentVolumeClaims). */
    function desiredClaims(set: KubeObject, ordinal: number): KubeObject[] {
      const spec = specOf(set);
      return (spec.volumeClaimTemplates ?? []).map((c) => ({
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: {
          name: claimName(c.metadata!.name!, set.metadata.name!, ordinal),
          namespace: set.metadata.namespace,
          labels: { ...(c.metadata?.labels ?? {}), ...(spec.selector?.matchLabels ?? {}) },
          ...(c.metadata?.annotations ? { annotations: { ...c.metadata.annotations } } : {}),
        },
        spec: deepClone(c.spec ?? {}),
      }));
    }

    /** The ownerReferences a claim should carry under the retention policy (upstream updateClaimOwnerRefForSetAndPod). */
    function claimOwners(set: KubeObject, claim: KubeObject, pod: KubeObject | undefined, condemned: boolean): OwnerReference[] {
      const policy = specOf(set).persistentVolumeClaimRetentionPolicy ?? {};
      const podUids = new Set(podInformer.store.byNamespace(set.metadata.namespace!).filter((p) => ordinalOf(set.metadata.name!, p) >= 0).map((p) => p.metadata.uid));
      if (pod) podUids.add(pod.metadata.uid);
      const refs = (claim.metadata.ownerReferences ?? []).filter((r) => r.uid !== set.metadata.uid && !(r.kind === 'Pod' && podUids.has(r.uid)));
      // A condemned pod's claims belong to the pod alone, so they go with it even while the set stays.
      if (policy.whenScaled === 'Delete' && condemned && pod) refs.push({ apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name!, uid: pod.metadata.uid! });
      else if (policy.whenDeleted === 'Delete') refs.push({ apiVersion: 'apps/v1', kind: 'StatefulSet', name: set.metadata.name!, uid: set.metadata.uid! });
      return refs;
    }

    async function syncClaimOwners(set: KubeObject, ordinal: number, pod: KubeObject | undefined, condemned: boolean): Promise<void> {
      for (const want of desiredClaims(set, ordinal)) {
        const claim = pvcInformer.store.getByName(want.metadata.name!, set.metadata.namespace);
        if (!claim || claim.metadata.deletionTimestamp) continue;
        const refs = claimOwners(set, claim, pod, condemned);
        if (deepEqual(refs, claim.metadata.ownerReferences ?? [])) continue;
        const next = deepClone(claim);
        if (refs.length) next.metadata.ownerReferences = refs;
        else delete next.metadata.ownerReferences;
        try {
          await pvcs.update(next);
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
    }

    /** Creates the missing claims of an ordinal; false while one is still being deleted. */
    async function createClaims(set: KubeObject, ordinal: number, podName: string): Promise<boolean> {
      let ready = true;
      for (const want of desiredClaims(set, ordinal)) {
        const existing = pvcInformer.store.getByName(want.metadata.name!, set.metadata.namespace);
        if (existing) {
          if (existing.metadata.deletionTimestamp) ready = false;
          continue;
        }
        const refs = claimOwners(set, want, undefined, false);
        if (refs.length) want.metadata.ownerReferences = refs;
        try {
          await pvcs.create(want);
          recorder.event(set, 'Normal', 'SuccessfulCreate', `create Claim ${want.metadata.name} Pod ${podName} in StatefulSet ${set.metadata.name} success`);
        } catch (e) {
          if (isAlreadyExists(e)) continue;
          recorder.event(set, 'Warning', 'FailedCreate', `create Claim ${want.metadata.name} for Pod ${podName} in StatefulSet ${set.metadata.name} failed error: ${(e as Error).message}`);
          throw e;
        }
      }
      return ready;
    }

    const reconcile = async (key: string): Promise<{ requeueAfterMs?: number } | void> => {
      const cached = setInformer.store.get(key);
      if (!cached) {
        expectations.forget(key);
        return;
      }
      const set = { ...cached, apiVersion: 'apps/v1', kind: 'StatefulSet' } as KubeObject;
      const spec = specOf(set);
      const selector = labelSelectorAsSelector(spec.selector);
      if (!selector || selector.empty) return;
      const setName = set.metadata.name!;
      const oldStatus = (cached.status ?? {}) as Partial<StatefulSetStatus>;
      const collisionCount = oldStatus.collisionCount ?? 0;
      const updateRevision = `${setName}-${computeHash(spec.template, collisionCount)}`;
      const currentRevision = oldStatus.currentRevision || updateRevision;
      const minReady = spec.minReadySeconds ?? 0;
      const now = Date.now();
      const requeue = new RequeueAt();
      const requeueAt = requeue.at;

      // Keep the current revision's template so pods below a partition can be recreated from it.
      const stored = set.metadata.annotations?.[CURRENT_TEMPLATE_ANNOTATION];
      let currentTemplate: PodTemplate | undefined;
      if (stored) {
        try {
          const parsed = JSON.parse(stored) as { revision?: string; template?: PodTemplate };
          if (parsed.revision === currentRevision) currentTemplate = parsed.template;
        } catch {
          /* rewritten below */
        }
      }
      if (currentRevision === updateRevision && !currentTemplate && !set.metadata.deletionTimestamp) {
        try {
          await sets.patch(setName, { metadata: { annotations: { [CURRENT_TEMPLATE_ANNOTATION]: JSON.stringify({ revision: updateRevision, template: spec.template ?? {} }) } } }, 'merge', {
            namespace: set.metadata.namespace,
          });
        } catch (e) {
          if (isNotFound(e)) return;
          throw e;
        }
        return; // the update brings us back with the annotation in the cache
      }

      const candidates = podInformer.store.byNamespace(set.metadata.namespace!).filter((p) => ordinalOf(setName, p) >= 0 || controllerRefOf(p)?.uid === set.metadata.uid);
      const owned = (await claimObjects(pods, set, selector, candidates, newControllerRef(set), (p) => ordinalOf(setName, p) >= 0)).filter((p) => ordinalOf(setName, p) >= 0);

      const start = spec.ordinals?.start ?? 0;
      const replicaCount = spec.replicas ?? 1;
      const replicas: (KubeObject | undefined)[] = new Array(replicaCount).fill(undefined);
      const condemned: KubeObject[] = [];
      for (const p of owned) {
        const ord = ordinalOf(setName, p);
        if (ord >= start && ord < start + replicaCount) replicas[ord - start] = p;
        else condemned.push(p);
      }
      condemned.sort((a, b) => ordinalOf(setName, b) - ordinalOf(setName, a));

      const healthy = (p: KubeObject) => {
        if (p.metadata.deletionTimestamp || podPhase(p) !== 'Running' || !isPodReady(p)) return false;
        if (isPodAvailable(p, minReady, now)) return true;
        const at = podAvailableAt(p, minReady);
        if (at !== undefined) requeueAt(at);
        return false;
      };

      if (!set.metadata.deletionTimestamp && expectations.satisfied(key)) await update();

      async function update(): Promise<void> {
        const monotonic = spec.podManagementPolicy !== 'Parallel';
        const partition = spec.updateStrategy?.type === 'RollingUpdate' ? (spec.updateStrategy.rollingUpdate?.partition ?? 0) : 0;
        const templateFor = (index: number): [PodTemplate, string] => {
          // newVersionedStatefulSetPod: below the partition, pods stay at the current revision.
          if (spec.updateStrategy?.type === 'RollingUpdate' && index < partition && currentRevision !== updateRevision && currentTemplate) return [currentTemplate, currentRevision];
          return [spec.template ?? {}, updateRevision];
        };

        // Terminated pods are deleted and recreated.
        for (let i = 0; i < replicas.length; i++) {
          const p = replicas[i];
          if (!p || p.metadata.deletionTimestamp || !isPodTerminal(p)) continue;
          recorder.event(set, 'Warning', podPhase(p) === 'Failed' ? 'RecreatingFailedPod' : 'RecreatingTerminatedPod', `StatefulSet ${set.metadata.namespace}/${setName} is recreating ${podPhase(p) === 'Failed' ? 'failed' : 'terminated'} Pod ${p.metadata.name}`);
          await deletePod(p);
          if (monotonic) return;
        }

        // Create and wait, in ordinal order.
        const creates: Promise<void>[] = [];
        for (let i = 0; i < replicas.length; i++) {
          const p = replicas[i];
          const ordinal = start + i;
          if (!p) {
            const [template, revision] = templateFor(i);
            const pod = newPod(set, template, ordinal, revision);
            const create = (async () => {
              if (!(await createClaims(set, ordinal, pod.metadata.name!))) return;
              expectations.expectCreations(key, 1);
              try {
                await pods.create(pod);
                podEvent(set, 'Create', pod.metadata.name!);
              } catch (e) {
                expectations.creationObserved(key);
                if (isAlreadyExists(e)) return;
                podEvent(set, 'Create', pod.metadata.name!, e);
                throw e;
              }
            })();
            if (monotonic) return create;
            creates.push(create);
            continue;
          }
          if (!p.metadata.deletionTimestamp && podPhase(p) !== 'Pending') await syncClaimOwners(set, ordinal, p, false);
          if (monotonic && (p.metadata.deletionTimestamp || !healthy(p))) {
            await Promise.all(creates);
            return;
          }
        }
        await Promise.all(creates);

        // Scale down from the highest ordinal.
        if (condemned.length) {
          const unhealthy = replicas.some((p) => !p || !healthy(p));
          const deletes: Promise<void>[] = [];
          for (const p of condemned) {
            if (p.metadata.deletionTimestamp) {
              if (monotonic) return;
              continue;
            }
            if (monotonic && (unhealthy || condemned.some((c) => c !== p && c.metadata.deletionTimestamp))) return;
            await syncClaimOwners(set, ordinalOf(setName, p), p, true);
            deletes.push(deletePod(p));
            if (monotonic) break;
          }
          await Promise.all(deletes);
          return;
        }

        // Rolling update from the highest ordinal down to the partition, one pod at a time.
        if (spec.updateStrategy?.type !== 'RollingUpdate') return;
        for (let i = replicas.length - 1; i >= partition; i--) {
          const p = replicas[i];
          if (!p) return;
          if (revisionOf(p) !== updateRevision && !p.metadata.deletionTimestamp) {
            await deletePod(p);
            return;
          }
          if (!healthy(p)) return;
        }
      }

      async function deletePod(p: KubeObject): Promise<void> {
        expectations.expectDeletion(key, objectKeyOf(p));
        try {
          await pods.delete(p.metadata.name!, { namespace: p.metadata.namespace, preconditions: { uid: p.metadata.uid } });
          podEvent(set, 'Delete', p.metadata.name!);
        } catch (e) {
          expectations.deletionObserved(key, objectKeyOf(p));
          if (isNotFound(e) || isConflict(e)) return;
          podEvent(set, 'Delete', p.metadata.name!, e);
          throw e;
        }
      }

      // Status from the pods as the cache shows them.
      const st: StatefulSetStatus = {
        observedGeneration: set.metadata.generation,
        replicas: 0,
        readyReplicas: 0,
        currentReplicas: 0,
        updatedReplicas: 0,
        availableReplicas: 0,
        currentRevision,
        updateRevision,
        collisionCount,
      };
      for (const p of owned) {
        st.replicas++;
        if (podPhase(p) === 'Running' && isPodReady(p)) {
          st.readyReplicas++;
          if (isPodAvailable(p, minReady, now)) st.availableReplicas++;
        }
        if (!p.metadata.deletionTimestamp) {
          if (revisionOf(p) === currentRevision) st.currentReplicas++;
          if (revisionOf(p) === updateRevision) st.updatedReplicas++;
        }
      }
      // completeRollingUpdate: every pod updated and ready makes the update revision current.
      if (spec.updateStrategy?.type === 'RollingUpdate' && st.updatedReplicas === replicaCount && st.readyReplicas === replicaCount && st.replicas === replicaCount) {
        st.currentReplicas = st.updatedReplicas;
        st.currentRevision = updateRevision;
      }
      if (oldStatus.conditions !== undefined) st.conditions = oldStatus.conditions;
      const changed = !semanticallyEqual(st, oldStatus);
      if (changed) {
        try {
          await sets.updateStatus({ ...deepClone(cached), status: st } as KubeObject);
        } catch (e) {
          if (isNotFound(e)) return;
          if (isConflict(e)) return; // the cache is behind; the informer brings the newer object back
          throw e;
        }
      }
      return requeue.result();
    };

    const { controller, queue } = simpleController(ctx, { name: 'statefulset', primary: setInformer, secondary: [podInformer, pvcInformer], reconcile });

    const ownerKey = (p: KubeObject) => {
      const ref = controllerRefOf(p);
      return ref && ref.kind === 'StatefulSet' ? `${p.metadata.namespace}/${ref.name}` : undefined;
    };
    const enqueueMatching = (p: KubeObject) => {
      for (const s of setInformer.store.byNamespace(p.metadata.namespace ?? '')) {
        const sel = labelSelectorAsSelector(specOf(s).selector);
        if (sel && !sel.empty && sel.matches(p.metadata.labels) && ordinalOf(s.metadata.name!, p) >= 0) queue.add(objectKeyOf(s));
      }
    };
    watchOwnedPods(podInformer, { expectations, queue, ownerKey, orphan: enqueueMatching });
    // Claims: a claim deleted (or finished deleting) may unblock a pod.
    const claimOwner = (c: KubeObject) => {
      for (const s of setInformer.store.byNamespace(c.metadata.namespace ?? ''))
        for (const t of specOf(s).volumeClaimTemplates ?? []) if (c.metadata.name?.startsWith(`${t.metadata?.name}-${s.metadata.name}-`)) queue.add(objectKeyOf(s));
    };
    pvcInformer.addEventHandler({ onAdd: claimOwner, onUpdate: (_o, c) => claimOwner(c), onDelete: (o) => claimOwner(finalStateOf(o)) });
    return controller;
  },
};
