/**
 * PersistentVolume binder (upstream pkg/controller/volume/persistentvolume, static binding and
 * the provisioning hook): one work queue of claims (`claim:NS/NAME`) and volumes
 * (`volume:NAME`) with a single worker, so no two claims can race for one volume.
 *
 * Claims: an unbound claim binds to a volume pre-bound to it (spec.claimRef), or else to the
 * smallest Available volume whose storageClassName, volumeMode, accessModes (a superset),
 * capacity (at least the request), label selector and node affinity (once a node is known)
 * match. A claim naming spec.volumeName binds to that volume if it satisfies the claim. Binding
 * sets pv.spec.claimRef (annotated pv.kubernetes.io/bound-by-controller) and phase Bound, then the
 * claim's spec.volumeName (annotated pv.kubernetes.io/bind-completed, and bound-by-controller when
 * the controller chose the volume) and status phase/capacity/accessModes. Without a match: a
 * WaitForFirstConsumer class waits for a pod using the claim to be scheduled (or the
 * volume.kubernetes.io/selected-node annotation); a class whose provisioner is registered
 * (volume-provisioner.ts) gets a volume provisioned; any other provisioner leaves the claim
 * Pending with upstream's ExternalProvisioning event.
 *
 * Volumes: claimRef unset → Available; claimRef to a claim that no longer exists → Released, then
 * reclaimPolicy Retain keeps it Released, Delete removes it (through its provisioner when it was
 * provisioned) or marks it Failed when nothing can delete it.
 */
import { finalStateOf, isAlreadyExists, isConflict, isNotFound, WorkQueue, runController } from '../client/index.js';
import { labelSelectorAsSelector } from '../kinds/label-selector.js';
import { milli } from '../kinds/core/quota-usage.js';
import {
  ANN_BETA_STORAGE_PROVISIONER,
  ANN_BIND_COMPLETED,
  ANN_BOUND_BY_CONTROLLER,
  ANN_PROVISIONED_BY,
  ANN_SELECTED_NODE,
  ANN_STORAGE_PROVISIONER,
  type ClaimRef,
  claimClass,
  claimKeyOf,
  NO_PROVISIONER,
  phaseOf,
  PVCS,
  type PVCSpec,
  pvcSpec,
  PVS,
  type PVSpec,
  pvSpec,
  STORAGE_CLASSES,
  volumeClass,
} from '../storage/api.js';
import { type KubeObject } from '../util/object.js';
import type { ControllerSpec } from './context.js';
import { NODES, PODS } from './util/nodes.js';
import { nodeSelectorTermMatchesNode } from './util/node-fit.js';
import { volumeProvisioner } from './volume-provisioner.js';

const refKey = (r: ClaimRef) => `${r.namespace}/${r.name}`;

/** The volume's claimRef names this claim (IsVolumeBoundToClaim): same name and namespace, and UID when set. */
const boundToClaim = (pv: KubeObject, c: KubeObject) => {
  const r = pvSpec(pv).claimRef;
  return !!r && r.name === c.metadata.name && r.namespace === c.metadata.namespace && (!r.uid || r.uid === c.metadata.uid);
};

/** Why the volume cannot serve the claim (checkVolumeSatisfyClaim), or undefined when it can. */
export function volumeMismatch(pv: KubeObject, c: KubeObject): string | undefined {
  const want = milli(pvcSpec(c).resources?.requests?.storage);
  const have = milli(pvSpec(pv).capacity?.storage);
  if (!(have >= want)) return 'requested PV is too small';
  if (volumeClass(pv) !== claimClass(c)) return 'storageClassName does not match';
  if ((pvSpec(pv).volumeMode ?? 'Filesystem') !== (pvcSpec(c).volumeMode ?? 'Filesystem')) return 'incompatible volumeMode';
  const modes = new Set(pvSpec(pv).accessModes ?? []);
  if (!(pvcSpec(c).accessModes ?? []).every((m) => modes.has(m))) return 'incompatible accessMode';
  return undefined;
}

function nodeAffinityAllows(pv: KubeObject, node: KubeObject | undefined): boolean {
  const terms = pvSpec(pv).nodeAffinity?.required?.nodeSelectorTerms;
  if (!terms || !node) return true;
  return terms.some((t) => nodeSelectorTermMatchesNode(t, node));
}

/**
 * findBestMatchForClaim: a volume pre-bound to the claim wins; otherwise the smallest Available
 * one that matches class, mode, access modes, size, selector and (when given) node.
 */
export function findBestMatch(pvs: KubeObject[], c: KubeObject, node: KubeObject | undefined, delayBinding: boolean, taken: (pv: KubeObject) => boolean): KubeObject | undefined {
  const want = milli(pvcSpec(c).resources?.requests?.storage);
  const modes = pvcSpec(c).accessModes ?? [];
  const selector = pvcSpec(c).selector ? labelSelectorAsSelector(pvcSpec(c).selector) : undefined;
  let best: KubeObject | undefined;
  for (const pv of pvs) {
    const s = pvSpec(pv);
    if (!(milli(s.capacity?.storage) >= want)) continue;
    if ((s.volumeMode ?? 'Filesystem') !== (pvcSpec(c).volumeMode ?? 'Filesystem')) continue;
    const have = new Set(s.accessModes ?? []);
    if (!modes.every((m) => have.has(m))) continue;
    if (pv.metadata.deletionTimestamp) continue;
    const nodeOk = nodeAffinityAllows(pv, node);
    if (boundToClaim(pv, c)) return nodeOk ? pv : undefined;
    if (delayBinding && !node) continue;
    if (!nodeOk) continue;
    if (s.claimRef || phaseOf(pv) !== 'Available' || taken(pv)) continue;
    if (volumeClass(pv) !== claimClass(c)) continue;
    if (selector === null || (selector && !selector.matches(pv.metadata.labels))) continue;
    if (!best || milli(s.capacity?.storage) < milli(pvSpec(best).capacity?.storage)) best = pv;
  }
  return best;
}

export const externalProvisioningMessage = (provisioner: string) =>
  `Waiting for a volume to be created either by the external provisioner '${provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.`;

export const pvBinderController: ControllerSpec = {
  name: 'persistentvolume-binder',
  start(ctx) {
    const pvInf = ctx.informers.forResource<KubeObject>(PVS);
    const pvcInf = ctx.informers.forResource<KubeObject>(PVCS);
    const classInf = ctx.informers.forResource<KubeObject>(STORAGE_CLASSES);
    const podInf = ctx.informers.forResource<KubeObject>(PODS);
    const nodeInf = ctx.informers.forResource<KubeObject>(NODES);
    const pvs = ctx.client.resource(PVS);
    const pvcs = ctx.client.resource(PVCS);
    const recorder = ctx.recorder('persistentvolume-controller');
    /** Volumes this worker bound and the cache may not show yet: pv name → claim key. */
    const assumed = new Map<string, string>();
    /** UIDs of volumes whose storage the provisioner already deleted. */
    const reclaimed = new Set<string>();

    const taken = (pv: KubeObject) => {
      const a = assumed.get(pv.metadata.name!);
      if (!a) return false;
      if (pvSpec(pv).claimRef) {
        assumed.delete(pv.metadata.name!);
        return false;
      }
      return true;
    };

    /** The node the claim's first consumer runs on, for delayed binding. */
    const selectedNode = (c: KubeObject): KubeObject | undefined => {
      let name = c.metadata.annotations?.[ANN_SELECTED_NODE];
      if (!name) {
        for (const p of podInf.store.byNamespace(c.metadata.namespace!)) {
          const spec = (p.spec ?? {}) as { nodeName?: string; volumes?: { persistentVolumeClaim?: { claimName?: string } }[] };
          if (spec.nodeName && (spec.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === c.metadata.name)) {
            name = spec.nodeName;
            break;
          }
        }
      }
      if (!name) return undefined;
      return nodeInf.store.get(name) ?? { metadata: { name, labels: { 'kubernetes.io/hostname': name } } };
    };

    const setPhase = async (pv: KubeObject, phase: string, message?: string): Promise<KubeObject> => {
      if (phaseOf(pv) === phase) return pv;
      const next = structuredClone(pv);
      next.status = { ...(next.status as object), phase, ...(message ? { message } : {}) };
      if (!message) delete (next.status as { message?: string }).message;
      return pvs.updateStatus(next);
    };

    /** Binds both sides (idempotent); `byController` when the controller chose the volume. */
    const bind = async (pv: KubeObject, c: KubeObject, byController: boolean): Promise<void> => {
      let vol = pv;
      const ref = pvSpec(pv).claimRef;
      if (!ref || ref.uid !== c.metadata.uid || ref.name !== c.metadata.name || ref.namespace !== c.metadata.namespace) {
        const next = structuredClone(pv);
        (next.spec as PVSpec).claimRef = {
          kind: 'PersistentVolumeClaim',
          namespace: c.metadata.namespace,
          name: c.metadata.name,
          uid: c.metadata.uid,
          apiVersion: 'v1',
          resourceVersion: c.metadata.resourceVersion,
        };
        if (!ref) next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [ANN_BOUND_BY_CONTROLLER]: 'yes' };
        vol = await pvs.update(next);
        assumed.set(vol.metadata.name!, claimKeyOf(c));
      }
      vol = await setPhase(vol, 'Bound');
      let claim = c;
      const ann = c.metadata.annotations ?? {};
      if (pvcSpec(c).volumeName !== vol.metadata.name || ann[ANN_BIND_COMPLETED] !== 'yes') {
        const next = structuredClone(c);
        const setByUs = !pvcSpec(c).volumeName;
        (next.spec as PVCSpec).volumeName = vol.metadata.name;
        next.metadata.annotations = { ...ann, [ANN_BIND_COMPLETED]: 'yes', ...(setByUs || byController ? { [ANN_BOUND_BY_CONTROLLER]: 'yes' } : {}) };
        claim = await pvcs.update(next);
      }
      const st = (claim.status ?? {}) as { phase?: string; capacity?: unknown; accessModes?: unknown };
      // Capacity only as the claim becomes Bound: later a larger PV means a filesystem resize is
      // still pending on the node, which sets the claim's capacity itself (upstream updateClaimStatus).
      const capacity = st.phase === 'Bound' ? st.capacity : pvSpec(vol).capacity;
      const want = { phase: 'Bound', capacity, accessModes: pvSpec(vol).accessModes };
      if (st.phase !== want.phase || JSON.stringify(st.capacity) !== JSON.stringify(want.capacity) || JSON.stringify(st.accessModes) !== JSON.stringify(want.accessModes)) {
        await pvcs.updateStatus({ ...claim, status: { ...(claim.status as object), ...want } });
      }
    };

    const syncClaim = async (key: string): Promise<{ requeueAfterMs?: number } | void> => {
      const c = pvcInf.store.get(key);
      if (!c || c.metadata.deletionTimestamp) return;
      const volumeName = pvcSpec(c).volumeName;
      const all = pvInf.store.list();
      if (volumeName) {
        const pv = pvInf.store.get(volumeName);
        if (!pv) {
          if (c.metadata.annotations?.[ANN_BIND_COMPLETED] === 'yes' && phaseOf(c) !== 'Lost') {
            await pvcs.updateStatus({ ...structuredClone(c), status: { ...(c.status as object), phase: 'Lost' } });
            recorder.event(c, 'Warning', 'ClaimLost', 'Bound claim has lost its PersistentVolume. Data on the volume is lost!');
          }
          return; // a user's pre-binding waits for the volume to appear
        }
        const ref = pvSpec(pv).claimRef;
        if (!ref || boundToClaim(pv, c)) {
          const why = ref ? undefined : volumeMismatch(pv, c);
          if (why) {
            recorder.event(c, 'Warning', 'VolumeMismatch', `Cannot bind to requested volume "${volumeName}": ${why}`);
            return;
          }
          await bind(pv, c, false);
          return;
        }
        if (c.metadata.annotations?.[ANN_BIND_COMPLETED] !== 'yes') recorder.event(c, 'Warning', 'FailedBinding', `volume "${volumeName}" already bound to a different claim.`);
        else if (phaseOf(c) !== 'Lost') {
          await pvcs.updateStatus({ ...structuredClone(c), status: { ...(c.status as object), phase: 'Lost' } });
          recorder.event(c, 'Warning', 'ClaimMisbound', 'Two claims are bound to the same volume, this one is bound incorrectly');
        }
        return;
      }
      const className = claimClass(c);
      const sc = className ? classInf.store.get(className) : undefined;
      const delay = (sc as { volumeBindingMode?: string } | undefined)?.volumeBindingMode === 'WaitForFirstConsumer';
      const node = delay ? selectedNode(c) : undefined;
      const pv = findBestMatch(all, c, node, delay, taken);
      if (pv) {
        await bind(pv, c, true);
        return;
      }
      if (delay && !node) {
        recorder.event(c, 'Normal', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding');
        return;
      }
      if (!className) {
        recorder.event(c, 'Normal', 'FailedBinding', 'no persistent volumes available for this claim and no storage class is set');
        return;
      }
      if (!sc) {
        recorder.event(c, 'Warning', 'ProvisioningFailed', `storageclass.storage.k8s.io "${className}" not found`);
        return;
      }
      const provisionerName = (sc as { provisioner?: string }).provisioner ?? '';
      if (provisionerName === NO_PROVISIONER) {
        recorder.event(c, 'Warning', 'ProvisioningFailed', `storageclass.storage.k8s.io "${className}" does not support dynamic provisioning`);
        return;
      }
      const prov = volumeProvisioner(provisionerName);
      if (!prov) {
        const ann = c.metadata.annotations ?? {};
        if (ann[ANN_STORAGE_PROVISIONER] !== provisionerName || ann[ANN_BETA_STORAGE_PROVISIONER] !== provisionerName) {
          const next = structuredClone(c);
          next.metadata.annotations = { ...ann, [ANN_STORAGE_PROVISIONER]: provisionerName, [ANN_BETA_STORAGE_PROVISIONER]: provisionerName };
          await pvcs.update(next);
        }
        recorder.event(c, 'Normal', 'ExternalProvisioning', externalProvisioningMessage(provisionerName));
        return;
      }
      // Provision through the registered hook; the new volume is pre-bound, so the next sync binds it.
      const pvName = `pvc-${c.metadata.uid}`;
      if (pvInf.store.get(pvName)) return;
      recorder.event(c, 'Normal', 'Provisioning', `External provisioner is provisioning volume for claim "${key}"`);
      let out;
      try {
        out = await prov.provision({ claim: c, storageClass: sc, pvName, selectedNode: node });
      } catch (e) {
        recorder.event(c, 'Warning', 'ProvisioningFailed', `failed to provision volume with StorageClass "${className}": ${(e as Error).message}`);
        throw e;
      }
      const scx = sc as { reclaimPolicy?: string; mountOptions?: string[] };
      const spec: Record<string, unknown> = {
        accessModes: pvcSpec(c).accessModes,
        volumeMode: pvcSpec(c).volumeMode ?? 'Filesystem',
        storageClassName: className,
        persistentVolumeReclaimPolicy: scx.reclaimPolicy ?? 'Delete',
        ...(scx.mountOptions ? { mountOptions: scx.mountOptions } : {}),
        ...out.spec,
        claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: c.metadata.namespace, name: c.metadata.name, uid: c.metadata.uid, resourceVersion: c.metadata.resourceVersion },
      };
      try {
        await pvs.create({
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: { name: pvName, labels: out.labels, annotations: { ...(out.annotations ?? {}), [ANN_PROVISIONED_BY]: provisionerName, [ANN_BOUND_BY_CONTROLLER]: 'yes' } },
          spec,
        });
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
      recorder.event(c, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${pvName}`);
    };

    const syncVolume = async (name: string): Promise<void> => {
      const pv = pvInf.store.get(name);
      if (!pv) return;
      // A volume being deleted (held by pv-protection) still goes Released when its claim goes.
      const ref = pvSpec(pv).claimRef;
      if (!ref) {
        if (phaseOf(pv) !== 'Available') await setPhase(pv, 'Available');
        return;
      }
      if (!ref.uid) {
        // Pre-bound by the administrator: the claim's sync binds it.
        if (phaseOf(pv) !== 'Available' && phaseOf(pv) !== 'Bound') await setPhase(pv, 'Available');
        queue.add(`claim:${refKey(ref)}`);
        return;
      }
      const c = pvcInf.store.get(refKey(ref));
      if (c && c.metadata.uid === ref.uid) {
        if (pvcSpec(c).volumeName === name) {
          if (phaseOf(pv) !== 'Bound') await setPhase(pv, 'Bound');
        } else if (!pvcSpec(c).volumeName) queue.add(`claim:${refKey(ref)}`);
        else if (pv.metadata.annotations?.[ANN_BOUND_BY_CONTROLLER] === 'yes') {
          // The claim went to another volume: give this one back.
          const next = structuredClone(pv);
          (next.spec as PVSpec).claimRef = null;
          delete (next.spec as PVSpec).claimRef;
          delete next.metadata.annotations![ANN_BOUND_BY_CONTROLLER];
          await setPhase(await pvs.update(next), 'Available');
        }
        return;
      }
      // The claim is gone: release and reclaim.
      let vol = pv;
      if (phaseOf(vol) !== 'Released' && phaseOf(vol) !== 'Failed') vol = await setPhase(vol, 'Released');
      if (phaseOf(vol) === 'Failed') return;
      const policy = pvSpec(vol).persistentVolumeReclaimPolicy ?? 'Retain';
      if (policy === 'Retain') return;
      if (policy === 'Recycle') {
        recorder.event(vol, 'Warning', 'VolumeFailedRecycle', 'Recycle policy is not supported');
        await setPhase(vol, 'Failed', 'Recycle policy is not supported');
        return;
      }
      const by = vol.metadata.annotations?.[ANN_PROVISIONED_BY];
      const prov = by ? volumeProvisioner(by) : undefined;
      if (by && !prov) return; // an external provisioner deletes its own volumes
      if (!prov) {
        const msg = `error getting deleter volume plugin for volume "${name}": no deletable volume plugin matched`;
        recorder.event(vol, 'Warning', 'VolumeFailedDelete', msg);
        await setPhase(vol, 'Failed', msg);
        return;
      }
      // A stale cache may bring a volume back once more after it was reclaimed.
      if (reclaimed.has(vol.metadata.uid!)) return;
      try {
        await prov.delete(vol);
      } catch (e) {
        recorder.event(vol, 'Warning', 'VolumeFailedDelete', (e as Error).message);
        throw e;
      }
      reclaimed.add(vol.metadata.uid!);
      if (reclaimed.size > 10_000) reclaimed.delete(reclaimed.values().next().value!);
      try {
        await pvs.delete(name, { preconditions: { uid: vol.metadata.uid } });
      } catch (e) {
        if (!isNotFound(e) && !isConflict(e)) throw e;
      }
    };

    const reconcile = async (key: string): Promise<{ requeueAfterMs?: number } | void> => {
      try {
        if (key.startsWith('claim:')) return await syncClaim(key.slice(6));
        if (key.startsWith('volume:')) return await syncVolume(key.slice(7));
      } catch (e) {
        // A stale cache: the informer event brings the key back with fresh state.
        if (isConflict(e)) return { requeueAfterMs: 100 };
        if (isNotFound(e)) return;
        throw e;
      }
    };

    const queue = new WorkQueue<string>({ name: 'persistentvolume-binder' });
    const pendingClaims = () => {
      for (const c of pvcInf.store.list()) if (!pvcSpec(c).volumeName || phaseOf(c) !== 'Bound') queue.add(`claim:${claimKeyOf(c)}`);
    };
    pvcInf.addEventHandler({
      onAdd: (c) => queue.add(`claim:${claimKeyOf(c)}`),
      onUpdate: (_o, c) => queue.add(`claim:${claimKeyOf(c)}`),
      onDelete: (c) => {
        const o = finalStateOf(c);
        const vol = pvcSpec(o).volumeName;
        if (vol) queue.add(`volume:${vol}`);
        for (const pv of pvInf.store.list()) if (pvSpec(pv).claimRef && refKey(pvSpec(pv).claimRef!) === claimKeyOf(o)) queue.add(`volume:${pv.metadata.name}`);
      },
    });
    pvInf.addEventHandler({
      onAdd: (pv) => {
        queue.add(`volume:${pv.metadata.name}`);
        pendingClaims();
      },
      onUpdate: (o, pv) => {
        queue.add(`volume:${pv.metadata.name}`);
        if (phaseOf(pv) === 'Available' && phaseOf(o) !== 'Available') pendingClaims();
      },
    });
    classInf.onAdd(() => pendingClaims());
    // A pod using a waiting claim was scheduled: its claims can bind now.
    podInf.onUpdate((o, p) => {
      const spec = (p.spec ?? {}) as { nodeName?: string; volumes?: { persistentVolumeClaim?: { claimName?: string } }[] };
      if (!spec.nodeName || (o.spec as { nodeName?: string } | undefined)?.nodeName === spec.nodeName) return;
      for (const v of spec.volumes ?? []) if (v.persistentVolumeClaim?.claimName) queue.add(`claim:${p.metadata.namespace}/${v.persistentVolumeClaim.claimName}`);
    });
    podInf.onAdd((p) => {
      const spec = (p.spec ?? {}) as { nodeName?: string; volumes?: { persistentVolumeClaim?: { claimName?: string } }[] };
      if (spec.nodeName) for (const v of spec.volumes ?? []) if (v.persistentVolumeClaim?.claimName) queue.add(`claim:${p.metadata.namespace}/${v.persistentVolumeClaim.claimName}`);
    });
    return runController({
      name: 'persistentvolume-binder',
      queue,
      reconcile,
      informers: [pvInf, pvcInf, classInf, podInf, nodeInf],
      workers: 1,
      signal: ctx.signal,
      logger: ctx.logger,
    });
  },
};

