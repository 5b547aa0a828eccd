/**
 * The DataVolume controller (CDI's datavolume and import controllers in one loop), for the
 * `http` and `blank` sources: it creates the claim named like the DataVolume (owned by it, so
 * deleting the DataVolume deletes the claim, and through it the importer pod), then the importer
 * pod `importer-<name>` once the claim may be consumed — at once for Immediate classes or with
 * the `cdi.kubevirt.io/storage.bind.immediate.requested` annotation (the importer is then the
 * claim's first consumer), else once a consumer pod was scheduled and the claim bound on its node
 * (as CDI: the importer then follows the volume there; two pods racing for one unbound claim
 * would each trigger provisioning), with phase WaitForFirstConsumer meanwhile. Progress comes from the importer's
 * metric on its pod IP, the result from its termination message (importer-protocol.ts); a finished import is recorded
 * on the claim (CDI's pod.phase annotation) and the importer pod deleted. The `upload` source gets
 * CDI's upload server pod `cdi-upload-<name>` and its token Secret instead (upload-pod.ts), with
 * phases UploadScheduled and UploadReady (the pod is ready) until the server exits 0 after an upload.
 * The `registry` source is an import whose importer pulls the image (registry-source.ts). The
 * `pvc` source is a clone (clone-plan.ts): a CSI clone makes the claim with the source as its
 * dataSource (CSICloneInProgress until it is Bound); a host-assisted clone is an upload whose
 * data comes from a source pod in the source's namespace (CloneScheduled → CloneInProgress),
 * started only while no other pod writes to the source claim (CloneSourceInUse) and deleted
 * with the upload pod at the end. A missing source claim leaves the DataVolume Pending with
 * CDI's CloneWithoutSource event until it appears.
 */
import { finalStateOf, isAlreadyExists, isConflict, isNotFound } from '../../client/index.js';
import { defaultClassOf } from '../../api/admission/default-storage-class.js';
import type { ControllerSpec } from '../../controllers/context.js';
import { objectKeyOf, simpleController } from '../../controllers/context.js';
import { PODS, rfc3339 } from '../../controllers/util/nodes.js';
import { ANN_SELECTED_NODE, claimClass, phaseOf, PVCS, pvcStatus, STORAGE_CLASSES, type StorageClass } from '../../storage/api.js';
import { parseQuantity } from '../../registry/validation.js';
import type { KubeObject } from '../../util/object.js';
import { ClaimSpecError, claimSpec } from './claim-spec.js';
import {
  ANN_CERT_CONFIG_MAP,
  ANN_CLONE_REQUEST,
  ANN_CLONE_TYPE,
  ANN_OWNER_REF,
  ANN_CONTENT_TYPE,
  ANN_ENDPOINT,
  ANN_IMMEDIATE_BINDING,
  ANN_IMPORT_POD,
  ANN_POD_PHASE,
  ANN_POD_READY,
  ANN_POD_RESTARTS,
  ANN_SECRET,
  ANN_SOURCE,
  CDI_LABEL,
  type DataVolume,
  DATAVOLUMES,
  type DataVolumeStatus,
  SOURCE_HTTP,
  SOURCE_NONE,
  SOURCE_REGISTRY,
} from './datavolume-api.js';
import { type CloneSourceRef, cloneSourceOf, type CloneStrategy, cloneStrategy, podsUsingClaim, sourceRequest } from './clone-plan.js';
import { CLONE_SOURCE_LABEL, cloneSourcePod, cloneSourcePodName } from './clone-source-pod.js';
import { dataVolumeStatus, podReady } from './datavolume-status.js';
import { importerPod, importerPodName } from './importer-pod.js';
import { fetchProgress } from './importer-protocol.js';
import { ANN_UPLOAD_REQUEST, isUploadSource, UPLOAD_POD_PREFIX, UPLOAD_SERVER_LABEL, UPLOAD_TOKEN_KEY, uploadPodName, uploadTokenSecretName } from './upload-api.js';
import { uploadPod, uploadTokenSecret } from './upload-pod.js';
import { SECRETS } from '../../ingress/ingress-api.js';

/** How often a running import's progress is read. */
const PROGRESS_POLL_MS = 2000;
/** A claim marked for upload by a user rather than by a DataVolume (virtctl image-upload pvc). */
const isBareUploadClaim = (c: KubeObject) => c.metadata.annotations?.[ANN_UPLOAD_REQUEST] !== undefined && !c.metadata.ownerReferences?.some((r) => r.kind === 'DataVolume');

/** The upload pod and token helpers take a DataVolume; a bare claim stands in for its own (same name, namespace and uid). */
const uploadTargetOf = (claim: KubeObject): DataVolume => ({ ...claim, spec: { source: { upload: {} }, contentType: claim.metadata.annotations?.[ANN_CONTENT_TYPE] } });

/** How often a clone waiting for its source (missing, not yet populated, in use) looks again. */
const SOURCE_WAIT_MS = 5000;

const isOwnedBy = (o: KubeObject, owner: KubeObject) => (o.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid && r.controller);

/** Whether a write is needed (condition timestamps only move with a change, so equal JSON is no change). */
const sameStatus = (a: DataVolumeStatus | undefined, b: DataVolumeStatus) => JSON.stringify(a ?? {}) === JSON.stringify(b);

/** CDI's clone events, which name both ends. */
const CLONE_EVENTS: Partial<Record<string, [string, (from: string, to: string) => string]>> = {
  CloneScheduled: ['CloneScheduled', (f, t) => `Cloning from ${f} into ${t} scheduled`],
  CloneInProgress: ['CloneInProgress', (f, t) => `Cloning from ${f} into ${t} in progress`],
  CSICloneInProgress: ['CSICloneInProgress', (_f, t) => `CSI Volume clone in progress (for pvc ${t})`],
  Succeeded: ['CloneSucceeded', (f, t) => `Successfully cloned from ${f} into ${t}`],
};

/** A source claim a clone may read: bound, and filled when a DataVolume fills it. */
const populated = (c: KubeObject) =>
  phaseOf(c) === 'Bound' && (!c.metadata.ownerReferences?.some((r) => r.kind === 'DataVolume') || c.metadata.annotations?.[ANN_POD_PHASE] === 'Succeeded');

const PHASE_EVENTS: Partial<Record<string, (claim: string) => string>> = {
  ImportScheduled: (c) => `Import into ${c} scheduled`,
  ImportInProgress: (c) => `Import into ${c} in progress`,
  UploadScheduled: (c) => `Upload into ${c} scheduled`,
  UploadReady: (c) => `Upload into ${c} ready`,
  Succeeded: (c) => `Successfully imported into PVC ${c}`,
  WaitForFirstConsumer: (c) => `PVC ${c} Pending`,
};

export const dataVolumeController: ControllerSpec = {
  name: 'datavolume',
  start(ctx) {
    const dvInf = ctx.informers.forResource<DataVolume>(DATAVOLUMES);
    const pvcInf = ctx.informers.forResource<KubeObject>(PVCS);
    const podInf = ctx.informers.forResource<KubeObject>(PODS);
    const scInf = ctx.informers.forResource<KubeObject>(STORAGE_CLASSES);
    const recorder = ctx.recorder('datavolume-controller');
    const { controller, queue } = simpleController(ctx, { name: 'datavolume', primary: dvInf as never, secondary: [pvcInf, podInf, scInf], reconcile: (key) => reconcile(key) });
    // The claim is named like its DataVolume; the importer pod is `importer-<name>`, the upload server `cdi-upload-<name>`.
    const fromClaim = (c: KubeObject) => {
      if (c.metadata.ownerReferences?.some((r) => r.kind === 'DataVolume') || isBareUploadClaim(c)) queue.add(objectKeyOf(c));
      // Clones waiting for this claim as their source.
      for (const dv of dvInf.store.list()) {
        const src = cloneSourceOf(dv);
        if (src && src.namespace === c.metadata.namespace && src.name === c.metadata.name) queue.add(objectKeyOf(dv));
      }
    };
    const fromPod = (p: KubeObject) => {
      const role = p.metadata.labels?.['cdi.kubevirt.io'];
      if (role === 'importer') queue.add(`${p.metadata.namespace}/${p.metadata.name!.replace(/^importer-/, '')}`);
      else if (role === UPLOAD_SERVER_LABEL) queue.add(`${p.metadata.namespace}/${p.metadata.name!.slice(UPLOAD_POD_PREFIX.length)}`);
      else if (role === CLONE_SOURCE_LABEL && p.metadata.annotations?.[ANN_OWNER_REF]) queue.add(p.metadata.annotations[ANN_OWNER_REF]);
    };
    pvcInf.addEventHandler({ onAdd: fromClaim, onUpdate: (_o, c) => fromClaim(c), onDelete: (c) => fromClaim(finalStateOf(c)) });
    podInf.addEventHandler({ onAdd: fromPod, onUpdate: (_o, p) => fromPod(p), onDelete: (p) => fromPod(finalStateOf(p)) });

    const storageClassOf = (name: string | undefined): StorageClass | undefined =>
      (name ? scInf.store.get(name) : defaultClassOf(scInf.store.list())) as StorageClass | undefined;

    /** A clone that names no size gets its source's (CDI's). */
    const withCloneSize = (dv: DataVolume, source: KubeObject | undefined): DataVolume => {
      const s = dv.spec.storage;
      if (!source || !s || s.resources?.requests?.storage !== undefined) return dv;
      return { ...dv, spec: { ...dv.spec, storage: { ...s, resources: { ...s.resources, requests: { ...s.resources?.requests, storage: sourceRequest(source) ?? '' } } } } };
    };

    /**
     * A clone's claim is at least as large as its source volume turned out (a provisioner rounds
     * up, and a CSI clone smaller than its source's capacity is refused), as CDI sizes clone targets.
     */
    const growToSource = (spec: Record<string, unknown>, source: KubeObject) => {
      const have = pvcStatus(source).capacity?.storage as string | undefined;
      const requests = (spec.resources as { requests?: Record<string, string> } | undefined)?.requests;
      if (have && requests?.storage && parseQuantity(have) > parseQuantity(requests.storage)) requests.storage = have;
    };

    async function createClaim(dv: DataVolume, source?: KubeObject): Promise<KubeObject | undefined> {
      let spec: Record<string, unknown>;
      try {
        spec = claimSpec(withCloneSize(dv, source), storageClassOf((dv.spec.pvc?.storageClassName ?? dv.spec.storage?.storageClassName) as string | undefined));
      } catch (e) {
        if (!(e instanceof ClaimSpecError)) throw e;
        recorder.event(dv, 'Warning', 'ErrClaimNotValid', e.message);
        return undefined;
      }
      const http = dv.spec.source?.http ?? (dv.spec.source?.registry?.url ? { ...dv.spec.source.registry, url: dv.spec.source.registry.url } : undefined);
      const clone: CloneStrategy | undefined = source ? cloneStrategy(dv, { metadata: {}, spec }, source) : undefined;
      if (source) growToSource(spec, source);
      if (clone === 'csi-clone') {
        spec.dataSource = { kind: 'PersistentVolumeClaim', name: source!.metadata.name };
        spec.dataSourceRef = { kind: 'PersistentVolumeClaim', name: source!.metadata.name };
      }
      const upload = isUploadSource(dv) || clone === 'copy';
      const sourceNode = source?.metadata.annotations?.[ANN_SELECTED_NODE];
      const immediate = dv.metadata.annotations?.[ANN_IMMEDIATE_BINDING] !== undefined;
      const annotations: Record<string, string> = {
        // CDI marks an upload target instead of naming an import source; a clone names its source.
        ...(upload ? { [ANN_UPLOAD_REQUEST]: '' } : clone ? {} : { [ANN_SOURCE]: dv.spec.source?.registry ? SOURCE_REGISTRY : http ? SOURCE_HTTP : SOURCE_NONE, [ANN_IMPORT_POD]: importerPodName(dv) }),
        ...(clone ? { [ANN_CLONE_REQUEST]: `${source!.metadata.namespace}/${source!.metadata.name}`, [ANN_CLONE_TYPE]: clone } : {}),
        // A CSI clone of a node-local volume can only be made on the source's node: with immediate binding, that node is chosen now.
        ...(clone === 'csi-clone' && immediate && sourceNode ? { [ANN_SELECTED_NODE]: sourceNode } : {}),
        [ANN_CONTENT_TYPE]: dv.spec.contentType ?? 'kubevirt',
        ...(http ? { [ANN_ENDPOINT]: http.url } : {}),
        ...(http?.certConfigMap ? { [ANN_CERT_CONFIG_MAP]: http.certConfigMap } : {}),
        ...(http?.secretRef ? { [ANN_SECRET]: http.secretRef } : {}),
        ...(immediate ? { [ANN_IMMEDIATE_BINDING]: dv.metadata.annotations![ANN_IMMEDIATE_BINDING]! } : {}),
      };
      const claim: KubeObject = {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: {
          name: dv.metadata.name,
          namespace: dv.metadata.namespace,
          labels: { ...CDI_LABEL },
          annotations,
          ownerReferences: [{ apiVersion: `${DATAVOLUMES.group}/${DATAVOLUMES.version}`, kind: 'DataVolume', name: dv.metadata.name!, uid: dv.metadata.uid!, controller: true, blockOwnerDeletion: true }],
        },
        spec,
      };
      try {
        return await ctx.client.resource(PVCS).create(claim, { namespace: dv.metadata.namespace });
      } catch (e) {
        if (isAlreadyExists(e)) return undefined; // the informer brings it
        throw e;
      }
    }

    async function recordSuccess(claim: KubeObject, pod: KubeObject): Promise<void> {
      const restarts = String((pod.status as { containerStatuses?: { restartCount?: number }[] } | undefined)?.containerStatuses?.[0]?.restartCount ?? 0);
      await ctx.client.resource(PVCS).patch(claim.metadata.name!, { metadata: { annotations: { [ANN_POD_PHASE]: 'Succeeded', [ANN_POD_RESTARTS]: restarts } } }, 'merge', { namespace: claim.metadata.namespace });
    }

    async function deletePod(pod: KubeObject): Promise<void> {
      await ctx.client
        .resource(PODS)
        .delete(pod.metadata.name!, { namespace: pod.metadata.namespace })
        .catch((e) => {
          if (!isNotFound(e)) throw e;
        });
    }

    /** The upload pod's token; an existing one is kept (a client may hold it while the pod restarts). */
    async function createUploadToken(dv: DataVolume, claim: KubeObject): Promise<void> {
      await ctx.client
        .resource(SECRETS)
        .create(uploadTokenSecret(dv, claim), { namespace: dv.metadata.namespace })
        .catch((e) => {
          if (!isAlreadyExists(e)) throw e;
        });
    }

    async function deleteUploadToken(dv: DataVolume): Promise<void> {
      await ctx.client
        .resource(SECRETS)
        .delete(uploadTokenSecretName(dv), { namespace: dv.metadata.namespace })
        .catch((e) => {
          if (!isNotFound(e)) throw e;
        });
    }

    /** The clone source pods working for the DataVolume `key` (they live in the source's namespace). */
    const sourcePodsOf = (key: string) => podInf.store.list().filter((p) => p.metadata.labels?.['cdi.kubevirt.io'] === CLONE_SOURCE_LABEL && p.metadata.annotations?.[ANN_OWNER_REF] === key);

    /** Starts a host-assisted clone's source pod once the upload server listens and nobody else writes the source. */
    async function startSourcePod(dv: DataVolume, claim: KubeObject, source: KubeObject, uploadPod: KubeObject, src: CloneSourceRef): Promise<boolean> {
      const podIP = (uploadPod.status as { podIP?: string } | undefined)?.podIP;
      if (!podIP || phaseOf(uploadPod) !== 'Running') return false;
      const users = podsUsingClaim(podInf.store.list(), source, cloneSourcePodName(claim));
      if (users.length) {
        for (const u of users) recorder.event(dv, 'Normal', 'CloneSourceInUse', `pod ${u.metadata.namespace}/${u.metadata.name} using PersistentVolumeClaim ${src.name}`);
        return false;
      }
      const secret = await ctx.client.resource(SECRETS).get(uploadTokenSecretName(dv), dv.metadata.namespace!).catch((e) => {
        if (isNotFound(e)) return undefined;
        throw e;
      });
      const token = (secret as { data?: Record<string, string> } | undefined)?.data?.[UPLOAD_TOKEN_KEY];
      if (!token) return false;
      await ctx.client
        .resource(PODS)
        .create(cloneSourcePod(dv, claim, source, podIP, Buffer.from(token, 'base64').toString('utf8')), { namespace: src.namespace })
        .catch((e) => {
          if (!isAlreadyExists(e)) throw e;
        });
      return true;
    }

    /**
     * A claim annotated as an upload target without a DataVolume (`cairn vm image-upload pvc`, CDI's
     * upload controller): the same upload server pod and token, its state on the claim as CDI
     * records it (pod.phase, pod.ready), the pod and token removed once it succeeded.
     */
    async function reconcileUploadClaim(claim: KubeObject): Promise<{ requeueAfterMs?: number } | void> {
      const ns = claim.metadata.namespace!;
      const target = uploadTargetOf(claim);
      let pod = podInf.store.get(`${ns}/${uploadPodName(target)}`);
      if (pod && !isOwnedBy(pod, claim)) pod = undefined;
      const annotate = (a: Record<string, string>) => ctx.client.resource(PVCS).patch(claim.metadata.name!, { metadata: { annotations: a } }, 'merge', { namespace: ns });
      if (claim.metadata.annotations?.[ANN_POD_PHASE] === 'Succeeded' || (pod && phaseOf(pod) === 'Succeeded')) {
        if (claim.metadata.annotations?.[ANN_POD_PHASE] !== 'Succeeded') await annotate({ [ANN_POD_PHASE]: 'Succeeded', [ANN_POD_READY]: 'false' });
        if (pod) {
          await deletePod(pod);
          await deleteUploadToken(target);
        }
        return;
      }
      if (!pod) {
        await createUploadToken(target, claim);
        await ctx.client
          .resource(PODS)
          .create(uploadPod(target, claim), { namespace: ns })
          .catch((e) => {
            if (!isAlreadyExists(e)) throw e;
          });
        return { requeueAfterMs: PROGRESS_POLL_MS };
      }
      const ready = String(podReady(pod));
      const phase = phaseOf(pod) ?? 'Pending';
      if (claim.metadata.annotations?.[ANN_POD_PHASE] !== phase || claim.metadata.annotations?.[ANN_POD_READY] !== ready) await annotate({ [ANN_POD_PHASE]: phase, [ANN_POD_READY]: ready });
      return { requeueAfterMs: PROGRESS_POLL_MS };
    }

    async function reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
      const dv = dvInf.store.get(key);
      const bare = pvcInf.store.get(key);
      if (!dv && bare && isBareUploadClaim(bare) && !bare.metadata.deletionTimestamp) return reconcileUploadClaim(bare);
      const claimGoing = pvcInf.store.get(key)?.metadata.deletionTimestamp;
      if (!dv || dv.metadata.deletionTimestamp || claimGoing) {
        // A claim being deleted keeps its protection finalizer while the importer uses it (CDI's import controller deletes the pod).
        const claim = pvcInf.store.get(key);
        for (const prefix of ['importer-', UPLOAD_POD_PREFIX]) {
          const pod = podInf.store.get(`${key.split('/')[0]}/${prefix}${key.split('/')[1]}`);
          if (claimGoing && pod && claim && isOwnedBy(pod, claim)) await deletePod(pod);
        }
        // Nothing owns a clone's source pod across namespaces: it goes with its DataVolume.
        for (const pod of sourcePodsOf(key)) await deletePod(pod);
        return;
      }
      const http = dv.spec.source?.http;
      const registry = dv.spec.source?.registry;
      const src = cloneSourceOf(dv);
      if (!http && !registry && !dv.spec.source?.blank && !isUploadSource(dv) && !src) return; // other sources are not imported by this controller
      if (registry && !registry.url) {
        recorder.event(dv, 'Warning', 'ErrUnsupported', 'registry imageStream sources (OpenShift image streams) are not supported');
        return;
      }
      const ns = dv.metadata.namespace!;
      let claim = pvcInf.store.get(key);
      if (claim && !isOwnedBy(claim, dv)) {
        recorder.event(dv, 'Warning', 'ErrResourceExists', `Resource "${claim.metadata.name}" already exists and is not managed by DataVolume`);
        return;
      }
      const source = src ? pvcInf.store.get(`${src.namespace}/${src.name}`) : undefined;
      if (src && !claim && (!source || !populated(source))) {
        // CDI waits for the source: the clone starts once it exists and is filled.
        if (!source) recorder.event(dv, 'Warning', 'CloneWithoutSource', `The source pvc ${src.name} doesn't exist`);
        const status = dataVolumeStatus(dv, { succeeded: false, waitingForConsumer: false }, rfc3339());
        if (!sameStatus(dv.status, status)) await ctx.client.resource(DATAVOLUMES).patch(dv.metadata.name!, { status }, 'merge', { namespace: ns }).catch((e) => {
          if (!isNotFound(e) && !isConflict(e)) throw e;
        });
        return { requeueAfterMs: SOURCE_WAIT_MS };
      }
      if (!claim) claim = await createClaim(dv, source);
      const clone = claim?.metadata.annotations?.[ANN_CLONE_TYPE] as CloneStrategy | undefined;
      const upload = isUploadSource(dv) || clone === 'copy';
      let pod = clone === 'csi-clone' ? undefined : podInf.store.get(`${ns}/${upload ? uploadPodName(dv) : importerPodName(dv)}`);
      if (pod && claim && !isOwnedBy(pod, claim)) pod = undefined; // a stranger's pod of that name is not ours to judge or delete
      const sourcePod = clone === 'copy' && claim && src ? podInf.store.get(`${src.namespace}/${cloneSourcePodName(claim)}`) : undefined;

      let succeeded = claim?.metadata.annotations?.[ANN_POD_PHASE] === 'Succeeded';
      if (!succeeded && claim && pod && phaseOf(pod) === 'Succeeded') {
        await recordSuccess(claim, pod);
        succeeded = true;
      }
      if (!succeeded && claim && clone === 'csi-clone' && phaseOf(claim) === 'Bound') {
        // The driver copied the volume when it made it.
        await ctx.client.resource(PVCS).patch(claim.metadata.name!, { metadata: { annotations: { [ANN_POD_PHASE]: 'Succeeded' } } }, 'merge', { namespace: ns });
        succeeded = true;
      }
      const sc = claim ? storageClassOf(claimClass(claim) || undefined) : undefined;
      const waitingForConsumer =
        !!claim &&
        sc?.volumeBindingMode === 'WaitForFirstConsumer' &&
        dv.metadata.annotations?.[ANN_IMMEDIATE_BINDING] === undefined &&
        phaseOf(claim) !== 'Bound';

      let progress: string | undefined;
      let waitForSource = false;
      if (succeeded) {
        if (pod) {
          await deletePod(pod);
          if (upload) await deleteUploadToken(dv);
        }
        for (const p of sourcePodsOf(key)) await deletePod(p);
      } else if (clone === 'csi-clone') {
        // Nothing to run: the provisioner makes the clone.
      } else if (claim && !waitingForConsumer && !pod) {
        try {
          if (upload) await createUploadToken(dv, claim);
          await ctx.client.resource(PODS).create(upload ? uploadPod(dv, claim) : importerPod(dv, claim), { namespace: ns });
        } catch (e) {
          if (!isAlreadyExists(e)) throw e;
        }
      } else if (clone === 'copy' && claim && pod && source && src && !sourcePod) {
        waitForSource = !(await startSourcePod(dv, claim, source, pod, src));
      } else if (pod && (!upload || sourcePod) && phaseOf(sourcePod ?? pod) === 'Running') {
        const podIP = ((sourcePod ?? pod).status as { podIP?: string } | undefined)?.podIP;
        if (podIP) progress = await fetchProgress(podIP, dv.metadata.uid!);
      }

      const status = dataVolumeStatus(dv, { claim, pod: succeeded ? undefined : pod, succeeded, waitingForConsumer, progress, upload, clone, sourcePod: succeeded ? undefined : sourcePod }, rfc3339());
      if (!sameStatus(dv.status, status)) {
        try {
          await ctx.client.resource(DATAVOLUMES).patch(dv.metadata.name!, { status }, 'merge', { namespace: ns });
        } catch (e) {
          if (isNotFound(e)) return;
          if (isConflict(e)) return { requeueAfterMs: 100 };
          throw e;
        }
        if (status.phase !== dv.status?.phase) {
          const claimName = claim?.metadata.name ?? dv.metadata.name!;
          const cloneEvent = clone && src ? CLONE_EVENTS[status.phase!] : undefined;
          if (cloneEvent) recorder.event(dv, 'Normal', cloneEvent[0], cloneEvent[1](`${src!.namespace}/${src!.name}`, `${ns}/${claimName}`));
          // CDI's upload controller names its success differently from the import's.
          else if (upload && status.phase === 'Succeeded') recorder.event(dv, 'Normal', 'UploadSucceeded', `Successfully uploaded into ${claimName}`);
          else {
            const message = PHASE_EVENTS[status.phase!]?.(claimName);
            if (message) recorder.event(dv, 'Normal', status.phase!, message);
          }
        }
      }
      if (waitForSource) return { requeueAfterMs: SOURCE_WAIT_MS };
      if (!succeeded && (pod || clone === 'csi-clone')) return { requeueAfterMs: PROGRESS_POLL_MS };
    }

    return controller;
  },
};
